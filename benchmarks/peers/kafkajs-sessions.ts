// The plain kafkajs peer: a consumer group member (eachMessage or eachBatch) that sessionises the JSON events, reporting as JSON lines.
import { Kafka, logLevel } from 'kafkajs';
import { JsonSessionizer } from './json-sessionizer.ts';

interface PeerArguments {
  brokers: string;
  topic: string;
  groupId: string;
  mode: 'eachMessage' | 'eachBatch';
  partitions: number;
  expectedSessions: number;
  gapMs: number;
  outOfOrdernessMs: number;
  markerPrefix: string;
}

/** How often (wall clock) the peer looks for sessions the watermark has passed. */
const CLOSE_EVERY_MS = 100;

const say = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '') as PeerArguments;
  const kafka = new Kafka({ brokers: [args.brokers], clientId: 'bench-kafkajs-peer', logLevel: logLevel.WARN });
  const consumer = kafka.consumer({ groupId: args.groupId });
  let firstRecordAt = 0;
  let finished = false;
  const sessionizer = new JsonSessionizer({
    gapMs: args.gapMs,
    outOfOrdernessMs: args.outOfOrdernessMs,
    partitions: args.partitions,
    ignorePrefix: args.markerPrefix,
    onClose: () => {},
  });
  let lastClose = 0;
  /** Closes due sessions every CLOSE_EVERY_MS, and at once after an end marker (so the end is not detected late). */
  const afterInput = (sawMarker: boolean) => {
    const now = Date.now();
    if (now - lastClose < CLOSE_EVERY_MS && !sawMarker) return;
    lastClose = now;
    sessionizer.closeDue();
    if (!finished && sessionizer.closed >= args.expectedSessions) {
      finished = true;
      say({ event: 'done', at: Date.now(), firstRecordAt, sessions: sessionizer.closed });
    }
  };
  const cpuBefore = process.cpuUsage();
  await consumer.connect();
  await consumer.subscribe({ topics: [args.topic], fromBeginning: true });
  await consumer.run(
    args.mode === 'eachMessage'
      ? {
          eachMessage: async ({ partition, message }) => {
            if (firstRecordAt === 0) firstRecordAt = Date.now();
            const key = message.key!.toString('utf8');
            sessionizer.add(partition, key, message.value!);
            afterInput(key.startsWith(args.markerPrefix));
          },
        }
      : {
          eachBatch: async ({ batch }) => {
            if (firstRecordAt === 0) firstRecordAt = Date.now();
            let sawMarker = false;
            for (const message of batch.messages) {
              const key = message.key!.toString('utf8');
              sessionizer.add(batch.partition, key, message.value!);
              if (key.startsWith(args.markerPrefix)) sawMarker = true;
            }
            afterInput(sawMarker);
          },
        },
  );
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  const cpu = process.cpuUsage(cpuBefore);
  say({ event: 'result', cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssBytes: process.resourceUsage().maxRSS * 1024 });
  await consumer.disconnect();
}

main().catch((error: unknown) => {
  process.stderr.write(`kafkajs-peer: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});

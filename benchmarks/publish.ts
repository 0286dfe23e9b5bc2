// Writes the benchmark input once as Avro (the real input topic, through touchstream's own publisher) and once as contract JSON for the peers.
import { loadConfig } from '../app/config.ts';
import { ingest, openRuntime } from '../app/runtime.ts';
import type { Runtime } from '../app/runtime.ts';
import { sessionKeyOf } from '../schemas/events.ts';
import type { CxEvent } from '../schemas/events.ts';
import type { Source } from '../index.ts';
import { jsonBytes } from './dataset.ts';

const BATCH = 10_000;

export interface PublishedTopic {
  topic: string;
  records: number;
  /** Per partition, the offset of its last record (the marker). */
  markerOffsets: Map<number, number>;
  seconds: number;
}

export async function openHarnessRuntime(options: { brokers: string; clickhouseUrl: string; dataDir: string; avroTopic: string; partitions: number; runId: string }): Promise<Runtime> {
  const config = loadConfig(
    {
      dataDir: options.dataDir,
      transport: 'rdkafka',
      kafka: { brokers: [options.brokers], inputTopic: options.avroTopic, partitions: options.partitions, groupId: `bench-${options.runId}-setup` },
      clickhouse: { url: options.clickhouseUrl, dialect: 'legacy', database: `bench_${options.runId}_setup` },
      logLevel: 'warn',
    },
    {},
  );
  return openRuntime(config);
}

function arraySource(events: readonly CxEvent[]): Source {
  return {
    name: 'bench',
    async *batches() {
      for (let start = 0; start < events.length; start += BATCH) yield { events: events.slice(start, start + BATCH), rejected: [] };
    },
  };
}

async function markerOffsets(runtime: Runtime, topic: string): Promise<Map<number, number>> {
  const ends = await runtime.log.endOffsets(topic);
  return new Map(ends.map(({ partition, offset }) => [partition, offset - 1]));
}

/** Avro in the Confluent wire format, keyed by the session key: exactly what `touchstream ingest` writes. */
export async function publishAvro(runtime: Runtime, events: readonly CxEvent[]): Promise<PublishedTopic> {
  const started = performance.now();
  const topic = runtime.config.kafka.inputTopic;
  const result = await ingest(runtime, arraySource(events));
  return { topic, records: result.events, markerOffsets: await markerOffsets(runtime, topic), seconds: (performance.now() - started) / 1000 };
}

/** The contract's JSON form of the same events, same keys (so the same partitions), for the peers. */
export async function publishJson(runtime: Runtime, topic: string, events: readonly CxEvent[]): Promise<PublishedTopic> {
  const started = performance.now();
  await runtime.log.createTopics([{ topic, partitions: runtime.config.kafka.partitions }]);
  for (let start = 0; start < events.length; start += BATCH) {
    const batch = events.slice(start, start + BATCH);
    await runtime.producer.send(topic, batch.map((event) => ({ key: sessionKeyOf(event), value: jsonBytes(event) })));
  }
  return { topic, records: events.length, markerOffsets: await markerOffsets(runtime, topic), seconds: (performance.now() - started) / 1000 };
}

// The benchmark harness (`npm run bench`): one input on a real broker, touchstream and its peers measured on it in the same run, a table and JSON results.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { buildDataset } from './dataset.ts';
import { describeMachine } from './machine.ts';
import { measureDecode } from './measure/decode.ts';
import { measureKafkaStreams } from './measure/kafka-streams.ts';
import { measureKafkajsPeer } from './measure/kafkajs-peer.ts';
import { measureKcat } from './measure/kcat.ts';
import { measureLatency } from './measure/latency.ts';
import type { LatencyClock } from './measure/latency.ts';
import { measureStateMemory } from './measure/state-memory.ts';
import { measureSinks } from './measure/sinks.ts';
import { measureTouchstream } from './measure/touchstream.ts';
import type { ThroughputResult } from './measure/touchstream.ts';
import { benchOptionsSchema } from './options.ts';
import type { BenchOptions, Section } from './options.ts';
import { openHarnessRuntime, publishAvro, publishJson } from './publish.ts';
import { printReport, targetsOf, writeResults } from './report.ts';
import type { BenchResults } from './report.ts';

/** The node flags touchstream is deployed with (the Dockerfile's NODE_OPTIONS): a young generation sized for per-event garbage. */
const TOUCHSTREAM_NODE_FLAGS = ['--max-semi-space-size=64'];

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

async function main(options: BenchOptions): Promise<void> {
  const started = Date.now();
  const runId = `${new Date(started).toISOString().slice(0, 19).replace(/[-:T]/g, '')}_${randomBytes(2).toString('hex')}`;
  const workDir = resolve(options.workDir, runId);
  mkdirSync(workDir, { recursive: true });
  const wants = (section: Section) => options.sections.includes(section);
  const results: BenchResults = {
    runId,
    startedAt: new Date(started).toISOString(),
    machine: await describeMachine(),
    options: { ...options },
    input: { customers: options.customers, seed: options.seed, partitions: options.partitions },
    throughput: {},
    targets: [],
  };

  log(`generating the synthetic day (${options.customers} customers, seed ${options.seed})`);
  const dataset = buildDataset(options);
  Object.assign(results.input, {
    events: dataset.events.length,
    dayEvents: dataset.dayEvents,
    sessionEvents: dataset.sessionEvents,
    expectedSessions: dataset.expectedSessions,
  });
  log(`${dataset.events.length} events (${dataset.sessionEvents} session events, ${dataset.expectedSessions} sessions expected)`);

  const avroTopic = `bench.${runId}.events.avro`;
  const jsonTopic = `bench.${runId}.events.json`;
  const dataDir = join(workDir, 'harness');
  const runtime = await openHarnessRuntime({ brokers: options.brokers, clickhouseUrl: options.clickhouseUrl, dataDir, avroTopic, partitions: options.partitions, runId });
  let avro;
  let json;
  try {
    if (wants('decode')) {
      log('Avro decode rate');
      results.decode = await measureDecode(runtime.codecs.event, dataset.events);
    }
    log(`publishing Avro to ${avroTopic}`);
    avro = await publishAvro(runtime, dataset.events);
    log(`  ${avro.records} records in ${avro.seconds.toFixed(1)} s`);
    log(`publishing JSON to ${jsonTopic}`);
    json = await publishJson(runtime, jsonTopic, dataset.events);
    log(`  ${json.records} records in ${json.seconds.toFixed(1)} s`);
    Object.assign(results.input, { avroTopic, jsonTopic, avroPublishSeconds: avro.seconds, jsonPublishSeconds: json.seconds });
  } finally {
    await runtime.close();
  }
  const timeoutMs = options.runTimeoutSeconds * 1000;
  const records = dataset.events.length;
  const record = (result: ThroughputResult) => {
    results.throughput[result.label] = result;
    log(`  ${result.label}: ${result.ok ? `${Math.round(result.eventsPerSecond)} events/s (${result.seconds.toFixed(2)} s)` : `FAILED: ${result.error}`}`);
  };

  if (wants('kcat')) {
    log('kcat → /dev/null (Avro topic, then JSON topic)');
    record(await measureKcat({ brokers: options.brokers, topic: avroTopic, records, label: 'kcat-avro' }));
    record(await measureKcat({ brokers: options.brokers, topic: jsonTopic, records, label: 'kcat-json' }));
  }
  if (wants('kafkajs-peer')) {
    for (const mode of ['eachMessage', 'eachBatch'] as const) {
      log(`kafkajs peer (${mode}, JSON)`);
      record(await measureKafkajsPeer({ brokers: options.brokers, topic: jsonTopic, records, mode, expectedSessions: dataset.expectedSessions, partitions: options.partitions, runId, timeoutMs }));
    }
  }
  if (wants('kafka-streams')) {
    log('Kafka Streams peer (JSON)');
    record(await measureKafkaStreams({ brokers: options.brokers, topic: jsonTopic, records, expectedSessions: dataset.expectedSessions, workDir: resolve(options.workDir), runId, timeoutMs, log }));
  }
  // Each touchstream configuration twice: to the topics (the in-process loader off; ends when every output topic is
  // committed) and to the tables (the loader on, as `touchstream run` deploys it; ends when ClickHouse holds every row).
  const touchstreamRuns: Array<[Section, string, 'rdkafka' | 'kafkajs', number]> = [
    ['touchstream-rdkafka', 'touchstream-rdkafka', 'rdkafka', 1],
    ['touchstream-kafkajs', 'touchstream-kafkajs', 'kafkajs', 1],
    ['touchstream-two-workers', 'touchstream-rdkafka-2-workers', 'rdkafka', 2],
  ];
  const workerFlags = [...TOUCHSTREAM_NODE_FLAGS, ...(options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${resolve(options.profileDir)}`] : [])];
  const lastOffsets = avro.markerOffsets;
  const expectedEvents = new Set(dataset.events.map((event) => event.event_id)).size;
  for (const [section, name, transport, workers] of touchstreamRuns) {
    if (!wants(section)) continue;
    for (const to of ['topics', 'tables'] as const) {
      const label = `${name}-${to}`;
      log(`${label}: Avro in → output topics${to === 'tables' ? ' → loader → ClickHouse (HTTP, 18.16)' : ' (loader off)'}`);
      record(
        await measureTouchstream({
          label, to, workers, transport, brokers: options.brokers, clickhouseUrl: options.clickhouseUrl, inputTopic: avroTopic, records,
          lastOffsets, partitions: options.partitions, expectedSessions: dataset.expectedSessions, expectedEvents, dataDir, runId, timeoutMs,
          nodeFlags: workerFlags,
        }),
      );
    }
  }
  if (wants('latency') || wants('latency-outage')) {
    // Half the worker's maximum rate with default settings: the loader in its process, so the rate to the tables.
    const best = Math.max(
      ...['touchstream-rdkafka-tables', 'touchstream-kafkajs-tables'].map((label) => (results.throughput[label]?.ok ? results.throughput[label]!.eventsPerSecond : 0)),
    );
    const rate = options.latencyRate ?? Math.round(best * options.latencyRateShare);
    log(`event-to-signal latency at ${options.latencyRate ? 'a fixed rate of' : `${options.latencyRateShare} × ${Math.round(best)} =`} ${rate} events/s for ${options.latencySeconds} s`);
    const latencyRun = (clock: LatencyClock, outageSeconds?: number) =>
      measureLatency({
        brokers: options.brokers, clickhouseUrl: options.clickhouseUrl, dataDir, runId, partitions: options.partitions, seed: options.seed + 1,
        rate, seconds: options.latencySeconds, clock, nodeFlags: workerFlags, log, ...(outageSeconds ? { outageSeconds } : {}),
      });
    if (wants('latency')) {
      results.latency = await latencyRun('day');
      results.latencyLive = await latencyRun('live');
    }
    if (wants('latency-outage')) {
      log(`live latency with ClickHouse unreachable for ${options.outageSeconds} s mid-run`);
      results.latencyOutage = await latencyRun('live', options.outageSeconds);
    }
  }
  if (wants('memory')) {
    log(`state memory per live session at ${options.memorySessions.join(', ')} live sessions`);
    results.memory = await measureStateMemory(options.memorySessions, log);
  }
  if (wants('sinks')) {
    log(`ClickHouse sink rows/s (${options.sinkRows} rows: HTTP 18.16 and embedded chDB)`);
    results.sinks = await measureSinks({ rows: options.sinkRows, clickhouseUrl: options.clickhouseUrl, workDir, runId, log });
  }
  results.targets = targetsOf(results);
  results.finishedAt = new Date().toISOString();
  results.wallSeconds = (Date.now() - started) / 1000;
  printReport(results);
  const paths = writeResults(results, options.resultsDir);
  log(`results: ${paths.join(', ')} (${results.wallSeconds.toFixed(0)} s in all)`);
  rmSync(workDir, { recursive: true, force: true });
}

const program = new Command('bench')
  .description('touchstream benchmark: throughput to the topics and to the tables, latency, state size and sink rates against kcat, kafkajs and Kafka Streams on one input')
  .requiredOption('--brokers <host:port>', 'Kafka bootstrap server')
  .requiredOption('--clickhouse-url <url>', 'ClickHouse (18.16) HTTP URL')
  .option('--customers <n>', 'customers in the synthetic day (~19 events each)')
  .option('--seed <n>', 'generator seed')
  .option('--partitions <n>', 'input topic partitions')
  .option('--sections <list>', 'comma-separated subset of the measurements')
  .option('--latency-seconds <n>', 'seconds the latency run feeds events')
  .option('--latency-rate-share <x>', 'latency run rate as a share of the best touchstream rate')
  .option('--latency-rate <n>', 'latency run rate in events/s (instead of the share)')
  .option('--outage-seconds <n>', 'seconds ClickHouse is unreachable in the outage latency run')
  .option('--memory-sessions <list>', 'live sessions for the state-size measurement')
  .option('--sink-rows <n>', 'rows per ClickHouse sink measurement')
  .option('--run-timeout-seconds <n>', 'limit per throughput run')
  .option('--profile-dir <dir>', 'write CPU profiles of the touchstream workers here (node --cpu-prof)')
  .option('--results-dir <dir>', 'where results are written')
  .option('--work-dir <dir>', 'scratch directory')
  .action(async (flags: Record<string, unknown>) => {
    const parsed = benchOptionsSchema.safeParse(flags);
    if (!parsed.success) throw new Error(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '));
    await main(parsed.data);
  });

program.parseAsync().catch((error: unknown) => {
  process.stderr.write(`bench: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exitCode = 1;
});

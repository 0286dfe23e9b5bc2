// Sustained end-to-end throughput of touchstream: worker processes run the real pipeline (Kafka Avro in → sessions, KPIs, signals → Kafka and ClickHouse) until every session is in ClickHouse.
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import type { ClickHouseClient } from '@clickhouse/client';
import type { ConfigInput } from '../../app/config.ts';
import { spawnTypescript, stop } from '../child-process.ts';
import type { Running } from '../child-process.ts';
import { MARKER_PREFIX } from '../dataset.ts';
import type { WorkerArguments } from '../workers/touchstream-worker.ts';

export interface TouchstreamRunSpec {
  label: string;
  workers: number;
  transport: 'rdkafka' | 'kafkajs';
  brokers: string;
  clickhouseUrl: string;
  inputTopic: string;
  partitions: number;
  /** Total records on the input topic (the day plus the markers). */
  records: number;
  expectedSessions: number;
  dataDir: string;
  runId: string;
  timeoutMs: number;
  /** Extra node flags for the workers (e.g. --cpu-prof). */
  nodeFlags?: readonly string[];
}

export interface ThroughputResult {
  label: string;
  ok: boolean;
  error?: string;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  /** CPU seconds of the measured processes (all workers), when they report it. */
  cpuSeconds?: number;
  maxRssBytes?: number;
  /** touchstream only: seconds its loops waited for a checkpoint (backpressure), and checkpoints made (all workers). */
  flushWaitSeconds?: number;
  checkpoints?: number;
  sessions?: number;
  expectedSessions?: number;
}

/** How often the harness counts the sessions table while a run is under way. */
const COUNT_EVERY_MS = 100;

export async function measureTouchstream(spec: TouchstreamRunSpec): Promise<ThroughputResult> {
  const database = `bench_${spec.runId}_${spec.label.replace(/[^A-Za-z0-9]/g, '_')}`;
  const config: ConfigInput = {
    dataDir: spec.dataDir,
    transport: spec.transport,
    kafka: { brokers: [spec.brokers], groupId: `bench-${spec.runId}-${spec.label}`, inputTopic: spec.inputTopic, partitions: spec.partitions },
    clickhouse: { url: spec.clickhouseUrl, dialect: 'legacy', database, compression: false /* the server is on this host */ },
    logLevel: 'warn',
  };
  const args: WorkerArguments = { config };
  let firstRecordAt = Number.POSITIVE_INFINITY;
  const results: Record<string, unknown>[] = [];
  const workers: Running[] = [];
  const onReport = (report: Record<string, unknown>) => {
    if (report.event === 'first_record') firstRecordAt = Math.min(firstRecordAt, report.at as number);
    if (report.event === 'result') results.push(report);
  };
  for (let index = 0; index < spec.workers; index++) workers.push(spawnTypescript('./workers/touchstream-worker.ts', [JSON.stringify(args)], onReport, spec.nodeFlags));
  const base = { label: spec.label, events: spec.records, expectedSessions: spec.expectedSessions };
  // Quiet: until the worker has migrated, counting fails (no such database) and is simply retried.
  const client = createClient({ url: spec.clickhouseUrl, log: { level: ClickHouseLogLevel.OFF } });
  try {
    const doneAt = await untilSessions(client, database, spec, workers);
    const seconds = (doneAt - firstRecordAt) / 1000;
    await Promise.all(workers.map((worker) => stop(worker)));
    const sessions = await countSessions(client, database, true);
    const ok = sessions === spec.expectedSessions;
    return {
      ...base,
      ok,
      ...(ok ? {} : { error: `ClickHouse has ${sessions} sessions (FINAL), expected ${spec.expectedSessions}` }),
      seconds,
      eventsPerSecond: spec.records / seconds,
      cpuSeconds: results.reduce((sum, result) => sum + (result.cpuSeconds as number), 0),
      maxRssBytes: Math.max(...results.map((result) => result.maxRssBytes as number)),
      flushWaitSeconds: results.reduce((sum, result) => sum + (result.flushWaitSeconds as number), 0),
      checkpoints: results.reduce((sum, result) => sum + (result.checkpoints as number), 0),
      sessions,
    };
  } catch (error) {
    await Promise.all(workers.map((worker) => stop(worker)));
    return { ...base, ok: false, error: (error as Error).message, seconds: Number.NaN, eventsPerSecond: Number.NaN };
  } finally {
    await client.close();
  }
}

/** Waits until the sessions table holds every expected session; answers when it first did. */
async function untilSessions(client: ClickHouseClient, database: string, spec: TouchstreamRunSpec, workers: readonly Running[]): Promise<number> {
  const deadline = Date.now() + spec.timeoutMs;
  for (;;) {
    const dead = workers.find((worker) => worker.child.exitCode !== null);
    if (dead) throw new Error(`${spec.label}: a worker exited early (${dead.child.exitCode}): ${dead.stderrTail()}`);
    const checkedAt = Date.now();
    if ((await countSessions(client, database, false).catch(() => 0)) >= spec.expectedSessions) return checkedAt;
    if (checkedAt > deadline) throw new Error(`${spec.label}: timed out after ${Math.round(spec.timeoutMs / 1000)} s waiting for ${spec.expectedSessions} sessions in ClickHouse`);
    await new Promise((resolve) => setTimeout(resolve, COUNT_EVERY_MS));
  }
}

/** Sessions in ClickHouse, marker sessions excluded (they stay open); FINAL for the exact check after the run. */
async function countSessions(client: ClickHouseClient, database: string, final: boolean): Promise<number> {
  const result = await client.query({
    query: `SELECT count() AS sessions FROM \`${database}\`.sessions${final ? ' FINAL' : ''} WHERE NOT startsWith(customer_id, '${MARKER_PREFIX}')`,
    format: 'JSONEachRow',
  });
  const [row] = (await result.json()) as Array<{ sessions: string | number }>;
  return Number(row?.sessions ?? 0);
}

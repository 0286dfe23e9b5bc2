// Sustained end-to-end throughput of touchstream: worker processes run the real pipeline (Kafka Avro in → sessions, KPIs, signals → output and row topics → loader → ClickHouse) until the input's outputs are on the topics or in the tables.
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import type { ClickHouseClient } from '@clickhouse/client';
import type { ConfigInput } from '../../app/config.ts';
import { RdkafkaLog } from '../../log/index.ts';
import { TOPICS } from '../../schemas/outputs.ts';
import { spawnTypescript, stop, until } from '../child-process.ts';
import type { Running } from '../child-process.ts';
import { MARKER_PREFIX } from '../dataset.ts';
import { openHarnessRuntime } from '../publish.ts';
import type { WorkerArguments } from '../workers/touchstream-worker.ts';

/**
 * `topics`: the workers run with the in-process loader off; the run ends when every input record's outputs are
 * committed on the output topics (each partition's committed input offset reached its end: the checkpoint
 * transaction that commits the offsets also commits the outputs). `tables`: the loader on, as `touchstream run`
 * deploys it; the run ends when ClickHouse holds every session and every event of the input.
 */
export type Destination = 'topics' | 'tables';

export interface TouchstreamRunSpec {
  label: string;
  to: Destination;
  workers: number;
  transport: 'rdkafka' | 'kafkajs';
  brokers: string;
  clickhouseUrl: string;
  inputTopic: string;
  partitions: number;
  /** Total records on the input topic (the day plus the markers). */
  records: number;
  /** Per partition, the offset of its last record: the run is on the topics once every partition committed past it. */
  lastOffsets: ReadonlyMap<number, number>;
  expectedSessions: number;
  /** Rows the `events` table holds once loaded (distinct input events, markers included). */
  expectedEvents: number;
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
  /** touchstream only: where the run ended (output topics committed, or tables loaded). */
  to?: Destination;
  workers?: number;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  /** CPU seconds of the measured processes (all workers), when they report it. */
  cpuSeconds?: number;
  maxRssBytes?: number;
  /** touchstream only: seconds its loops waited for a checkpoint (backpressure), and checkpoints made (all workers). */
  flushWaitSeconds?: number;
  checkpoints?: number;
  /** touchstream to the tables: seconds from the first record until the outputs were on the topics (within the same run). */
  topicsSeconds?: number;
  /** touchstream to the tables: how long the tables were behind the topics at the end (tables loaded − topics committed), seconds. */
  loaderSeconds?: number;
  /** touchstream to the tables: rows the in-process loaders inserted (all workers; a chunk loaded again after a rebalance counts twice). */
  loadedRows?: number;
  loadedRowsByTable?: Record<string, number>;
  sessions?: number;
  expectedSessions?: number;
}

/** How often the harness counts the tables while a run is under way. */
const COUNT_EVERY_MS = 100;

export async function measureTouchstream(spec: TouchstreamRunSpec): Promise<ThroughputResult> {
  const database = `bench_${spec.runId}_${spec.label.replace(/[^A-Za-z0-9]/g, '_')}`;
  const config: ConfigInput = {
    dataDir: spec.dataDir,
    transport: spec.transport,
    kafka: { brokers: [spec.brokers], groupId: `bench-${spec.runId}-${spec.label}`, inputTopic: spec.inputTopic, partitions: spec.partitions },
    clickhouse: { url: spec.clickhouseUrl, dialect: 'legacy', database, compression: false /* the server is on this host */ },
    loader: { inProcess: spec.to === 'tables' },
    logLevel: 'warn',
  };
  const args: WorkerArguments = { config, reportCommits: true };
  let firstRecordAt = Number.POSITIVE_INFINITY;
  let topicsAt: number | undefined;
  const committed = new Map<number, number>();
  const results: Record<string, unknown>[] = [];
  const workers: Running[] = [];
  const onReport = (report: Record<string, unknown>) => {
    if (report.event === 'first_record') firstRecordAt = Math.min(firstRecordAt, report.at as number);
    if (report.event === 'committed') {
      for (const [partition, offset] of report.offsets as Array<[number, number]>) committed.set(partition, Math.max(committed.get(partition) ?? 0, offset));
      if (topicsAt === undefined && [...spec.lastOffsets].every(([partition, last]) => (committed.get(partition) ?? 0) > last)) topicsAt = report.at as number;
    }
    if (report.event === 'result') results.push(report);
  };
  const base = { label: spec.label, to: spec.to, workers: spec.workers, events: spec.records, expectedSessions: spec.expectedSessions };
  // Quiet: until the worker has migrated, counting fails (no such database) and is simply retried.
  const client = createClient({ url: spec.clickhouseUrl, log: { level: ClickHouseLogLevel.OFF } });
  const sessionsReader = spec.to === 'topics' ? await readSessions(spec) : undefined;
  const dead = () => {
    const exited = workers.find((worker) => worker.child.exitCode !== null);
    return exited ? `${spec.label}: a worker exited early (${exited.child.exitCode}): ${exited.stderrTail()}` : null;
  };
  try {
    for (let index = 0; index < spec.workers; index++) workers.push(spawnTypescript('./workers/touchstream-worker.ts', [JSON.stringify(args)], onReport, spec.nodeFlags));
    let doneAt: number;
    let sessions: number;
    if (spec.to === 'topics') {
      await until(() => topicsAt !== undefined, spec.timeoutMs, `${spec.label}: every partition's outputs committed on the topics`, dead);
      doneAt = topicsAt!;
      // Committed already: the reader sees the last sessions on its next polls.
      await until(() => sessionsReader!.count() >= spec.expectedSessions, 10_000, 'the sessions on touchstream.sessions').catch(() => {});
      sessions = sessionsReader!.count();
    } else {
      doneAt = await untilTables(client, database, spec, dead);
      sessions = Number.NaN;
    }
    const seconds = (doneAt - firstRecordAt) / 1000;
    await Promise.all(workers.map((worker) => stop(worker)));
    if (spec.to === 'tables') sessions = await countRows(client, database, 'sessions', 'final');
    const ok = sessions === spec.expectedSessions;
    const loaded = results.filter((result) => result.loadedRows).map((result) => result.loadedRows as Record<string, number>);
    const loadedRowsByTable: Record<string, number> = {};
    for (const rows of loaded) for (const [table, count] of Object.entries(rows)) loadedRowsByTable[table] = (loadedRowsByTable[table] ?? 0) + count;
    return {
      ...base,
      ok,
      ...(ok ? {} : { error: spec.to === 'topics' ? `touchstream.sessions got ${sessions} distinct sessions, expected ${spec.expectedSessions}` : `ClickHouse has ${sessions} sessions (FINAL), expected ${spec.expectedSessions}` }),
      seconds,
      eventsPerSecond: spec.records / seconds,
      cpuSeconds: results.reduce((sum, result) => sum + (result.cpuSeconds as number), 0),
      maxRssBytes: Math.max(...results.map((result) => result.maxRssBytes as number)),
      flushWaitSeconds: results.reduce((sum, result) => sum + (result.flushWaitSeconds as number), 0),
      checkpoints: results.reduce((sum, result) => sum + (result.checkpoints as number), 0),
      ...(spec.to === 'tables'
        ? {
            ...(topicsAt !== undefined ? { topicsSeconds: (topicsAt - firstRecordAt) / 1000, loaderSeconds: Math.max(0, doneAt - topicsAt) / 1000 } : {}),
            loadedRows: Object.values(loadedRowsByTable).reduce((sum, rows) => sum + rows, 0),
            loadedRowsByTable,
          }
        : {}),
      sessions,
    };
  } catch (error) {
    await Promise.all(workers.map((worker) => stop(worker)));
    return { ...base, ok: false, error: (error as Error).message, seconds: Number.NaN, eventsPerSecond: Number.NaN };
  } finally {
    await sessionsReader?.close();
    await client.close();
  }
}

/**
 * Reads touchstream.sessions (read_committed, from its end before the run) and counts the distinct non-marker
 * sessions: the check of a run to the topics. The topic is shared; other runs on this broker at the same time
 * could only add sessions, and a session is counted once whatever the number of its copies.
 */
async function readSessions(spec: TouchstreamRunSpec): Promise<{ count(): number; close(): Promise<void> }> {
  const name = `${spec.label.replace(/[^A-Za-z0-9]/g, '_')}_sessions`;
  const runtime = await openHarnessRuntime({ brokers: spec.brokers, clickhouseUrl: spec.clickhouseUrl, dataDir: spec.dataDir, avroTopic: spec.inputTopic, partitions: spec.partitions, runId: `${spec.runId}_${name}` });
  const log = new RdkafkaLog({ brokers: [spec.brokers], clientId: 'bench-sessions' });
  const seen = new Set<string>();
  let reading = true;
  const consumer = await log.consumer({ groupId: `bench-${spec.runId}-${name}`, topics: [TOPICS.sessions], start: 'latest' });
  const reader = (async () => {
    try {
      while (reading) {
        for (const record of await consumer.poll(5000, 100)) {
          const decoded = runtime.codecs.session.decodeKnown(record.value);
          if (decoded.ok && !decoded.value.customer_id.startsWith(MARKER_PREFIX)) seen.add(decoded.value.session_id);
        }
      }
    } finally {
      await consumer.close();
    }
  })();
  const close = async () => {
    reading = false;
    await reader.catch(() => {});
    await log.close();
    await runtime.close();
  };
  try {
    await until(() => consumer.assignment().length > 0, 60_000, 'the sessions reader joined its group');
  } catch (error) {
    await close();
    throw error;
  }
  return { count: () => seen.size, close };
}

/** Waits until the tables hold every expected session and every event; answers when they first did. */
async function untilTables(client: ClickHouseClient, database: string, spec: TouchstreamRunSpec, dead: () => string | null): Promise<number> {
  const deadline = Date.now() + spec.timeoutMs;
  let sessionsDone = false;
  for (;;) {
    const failure = dead();
    if (failure) throw new Error(failure);
    const checkedAt = Date.now();
    // A cheap count() every time; once it is there, the distinct count (rows written twice after a rebalance are merged later).
    const holds = async (table: 'sessions' | 'events', expected: number) =>
      (await countRows(client, database, table, 'rows').catch(() => 0)) >= expected && (await countRows(client, database, table, 'distinct').catch(() => 0)) >= expected;
    sessionsDone ||= await holds('sessions', spec.expectedSessions);
    if (sessionsDone && (await holds('events', spec.expectedEvents))) return checkedAt;
    if (checkedAt > deadline) throw new Error(`${spec.label}: timed out after ${Math.round(spec.timeoutMs / 1000)} s waiting for ${spec.expectedSessions} sessions and ${spec.expectedEvents} events in ClickHouse`);
    await new Promise((resolve) => setTimeout(resolve, COUNT_EVERY_MS));
  }
}

/** Rows of a table (all, distinct ids, or with FINAL for the exact check after the run), marker sessions excluded (they stay open). */
async function countRows(client: ClickHouseClient, database: string, table: 'sessions' | 'events', how: 'rows' | 'distinct' | 'final'): Promise<number> {
  const count = how === 'distinct' ? `uniqExact(${table === 'sessions' ? 'session_id' : 'event_id'})` : 'count()';
  const result = await client.query({
    query: `SELECT ${count} AS rows FROM \`${database}\`.${table}${how === 'final' ? ' FINAL' : ''}${table === 'sessions' ? ` WHERE NOT startsWith(customer_id, '${MARKER_PREFIX}')` : ''}`,
    format: 'JSONEachRow',
  });
  const [row] = (await result.json()) as Array<{ rows: string | number }>;
  return Number(row?.rows ?? 0);
}

// Event-to-signal latency: a live touchstream worker (the loader in its process, as `touchstream run` deploys it) fed at a fixed rate; each signal is matched to the produced event that triggered it.
// Two clocks: a synthetic day replayed fast (event time runs ~3,000× the wall clock: the engine's own latency), and live
// traffic (each event stamped with the wall time it is sent: what a consumer of the signals sees on a live stream).
// Optionally ClickHouse is unreachable for a while mid-run (the worker reaches it through a TCP proxy the harness shuts):
// the signals must keep their latency, and the tables catch up once it is back.
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { partitionOf, RdkafkaLog } from '../../log/index.ts';
import { eventToAvro } from '../../schemas/avro.ts';
import { sessionKeyOf } from '../../schemas/events.ts';
import type { CxEvent } from '../../schemas/events.ts';
import { TOPICS } from '../../schemas/outputs.ts';
import type { Signal } from '../../schemas/outputs.ts';
import { spawnTypescript, stop, until } from '../child-process.ts';
import { buildDataset, OUT_OF_ORDERNESS_MS } from '../dataset.ts';
import { openHarnessRuntime } from '../publish.ts';
import { TcpProxy } from '../tcp-proxy.ts';
import type { WorkerArguments } from '../workers/touchstream-worker.ts';

export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}

/** `day`: the day's own event times, replayed fast; `live`: each event's `occurred_at` is the wall time it is sent. */
export type LatencyClock = 'day' | 'live';

export interface LatencyResult {
  ok: boolean;
  error?: string;
  clock: LatencyClock;
  /** The rate asked for and the rate the feeder achieved (events/s). */
  rate: number;
  achievedRate: number;
  events: number;
  /** Emitted signals matched to their triggering event. */
  signals: number;
  /** Signals whose triggering event could not be identified (left out). */
  unmatched: number;
  /** signal.emitted_at − the wall time its triggering event was handed to the producer. */
  emittedAt: Percentiles;
  /** When the harness's consumer of touchstream.signals (read_committed) received it − the same produce time. */
  onTopic: Percentiles;
  /** The run with ClickHouse unreachable mid-run. */
  outage?: OutageResult;
}

export interface OutageResult {
  /** How long ClickHouse was unreachable, and when (seconds after the feed started). */
  seconds: number;
  startedAfterSeconds: number;
  /** Signals triggered while ClickHouse was unreachable. */
  signals: number;
  emittedAt: Percentiles;
  onTopic: Percentiles;
  /** From ClickHouse back to the `events` table holding every event sent before it came back; null if it did not within the wait. */
  catchUpSeconds: number | null;
  /** The worker's largest summed `touchstream_table_lag_records` (row-topic records not loaded yet) during the run. */
  maxTableLag: number;
  /** Rows the worker's loader inserted (all tables). */
  loadedRows: number;
}

/** Produce wall times of one partition's events, in event-time order (the feeder sends in that order). */
interface PartitionFeed {
  eventTimes: number[];
  wallTimes: number[];
}

const TICK_MS = 5;
/** After the feed: signals of the last events (and of sessions the day's last events close) are still on their way. */
const DRAIN_MS = 3_000;
/** How long the tables may take to catch up after an outage before the run gives up on measuring it. */
const CATCH_UP_LIMIT_MS = 180_000;

const percentiles = (values: number[]): Percentiles => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? Number.NaN };
};

/** Produce time of the first event of the partition whose event time is greater than `time`, or undefined. */
function firstAfter(feed: PartitionFeed, time: number): number | undefined {
  let low = 0;
  let high = feed.eventTimes.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (feed.eventTimes[middle]! <= time) low = middle + 1;
    else high = middle;
  }
  return low < feed.eventTimes.length ? feed.wallTimes[low] : undefined;
}

/**
 * The triggering event of a signal. A rule that fires on an event (its evidence includes an event whose event time is
 * the signal's triggered_at) is triggered by that event. A rule that fires when a session closes (cart_reminder:
 * triggered_at = last event + gap) is triggered by the event that moved the watermark past triggered_at, the
 * watermark being (largest event time − out-of-orderness): with `partition`, that partition's own watermark (sessions
 * close on their partition's watermark), so its first event later than triggered_at + out-of-orderness; without,
 * the minimum over partitions, so the latest-produced of each partition's first such event.
 */
export function triggerWallTime(
  signal: Pick<Signal, 'triggered_at' | 'evidence_event_ids'>,
  produced: ReadonlyMap<string, { eventTime: number; wallTime: number }>,
  feeds: readonly PartitionFeed[],
  partition?: number,
): number | undefined {
  let byEvent: number | undefined;
  for (const id of signal.evidence_event_ids) {
    const event = produced.get(id);
    if (event && event.eventTime === signal.triggered_at) byEvent = Math.max(byEvent ?? 0, event.wallTime);
  }
  if (byEvent !== undefined) return byEvent;
  if (partition !== undefined) return feeds[partition] ? firstAfter(feeds[partition], signal.triggered_at + OUT_OF_ORDERNESS_MS) : undefined;
  let latest = 0;
  for (const feed of feeds) {
    const wallTime = firstAfter(feed, signal.triggered_at + OUT_OF_ORDERNESS_MS);
    if (wallTime === undefined) return undefined;
    latest = Math.max(latest, wallTime);
  }
  return latest;
}

export async function measureLatency(options: {
  brokers: string;
  clickhouseUrl: string;
  dataDir: string;
  runId: string;
  partitions: number;
  seed: number;
  /** Events/s to feed; 0 when no throughput was measured to derive it from. */
  rate: number;
  /** Seconds of feed measured with ClickHouse up (an outage adds its own length to the feed). */
  seconds: number;
  clock: LatencyClock;
  /** ClickHouse unreachable for this many seconds, starting `seconds` / 2 into the feed. */
  outageSeconds?: number;
  nodeFlags: readonly string[];
  log(message: string): void;
}): Promise<LatencyResult> {
  const rate = options.rate;
  const live = options.clock === 'live';
  const outageMs = (options.outageSeconds ?? 0) * 1000;
  const nan = { p50: Number.NaN, p99: Number.NaN, max: Number.NaN };
  const empty: LatencyResult = { ok: false, clock: options.clock, rate, achievedRate: 0, events: 0, signals: 0, unmatched: 0, emittedAt: nan, onTopic: nan };
  if (!(rate > 0)) return { ...empty, error: 'no touchstream throughput measured in this run to derive the rate from' };
  // A synthetic day sized to the run: ~19 events per customer; the feed is the day without its end markers.
  const feedSeconds = options.seconds + outageMs / 1000;
  const dataset = buildDataset({ customers: Math.max(100, Math.ceil((rate * feedSeconds) / 19)), seed: options.seed, partitions: options.partitions });
  const events = dataset.events.slice(0, Math.min(dataset.dayEvents, Math.round(rate * feedSeconds)));
  const name = `latency_${options.clock}${outageMs > 0 ? '_outage' : ''}`;
  const topic = `bench.${options.runId}.${name}.avro`;
  const runtime = await openHarnessRuntime({ brokers: options.brokers, clickhouseUrl: options.clickhouseUrl, dataDir: options.dataDir, avroTopic: topic, partitions: options.partitions, runId: `${options.runId}_${name}` });
  const signalsLog = new RdkafkaLog({ brokers: [options.brokers], clientId: 'bench-latency' });
  const received: Array<{ signal: Signal; at: number }> = [];
  const database = `bench_${options.runId}_${name}`;
  // With an outage, the worker reaches ClickHouse through a proxy the harness shuts and opens again.
  const clickhouse = new URL(options.clickhouseUrl);
  const proxy = outageMs > 0 ? new TcpProxy(clickhouse.hostname, Number(clickhouse.port || 8123)) : undefined;
  await proxy?.open();
  const workerClickhouseUrl = proxy ? `${clickhouse.protocol}//127.0.0.1:${proxy.port}` : options.clickhouseUrl;
  const args: WorkerArguments = {
    config: {
      dataDir: options.dataDir,
      transport: 'rdkafka',
      kafka: { brokers: [options.brokers], groupId: `bench-${options.runId}-${name}`, inputTopic: topic, partitions: options.partitions },
      clickhouse: { url: workerClickhouseUrl, dialect: 'legacy', database, compression: false /* the server is on this host */ },
      logLevel: 'warn',
    },
    ...(proxy ? { reportTablesEveryMs: 200 } : {}),
  };
  let assigned = false;
  let maxTableLag = 0;
  let loadedRows = 0;
  const worker = spawnTypescript('./workers/touchstream-worker.ts', [JSON.stringify(args)], (report) => {
    if (report.event === 'assigned') assigned = true;
    if (report.event === 'tables') maxTableLag = Math.max(maxTableLag, report.lag as number);
    if (report.event === 'result' && report.loadedRows) loadedRows = Object.values(report.loadedRows as Record<string, number>).reduce((sum, rows) => sum + rows, 0);
  });
  const workerAlive = () => worker.child.exitCode === null && worker.child.signalCode === null;
  const client = proxy ? createClient({ url: options.clickhouseUrl, log: { level: ClickHouseLogLevel.OFF } }) : undefined;
  let reading = true;
  let reader: Promise<void> = Promise.resolve();
  try {
    const signals = await signalsLog.consumer({ groupId: `bench-${options.runId}-${name}-signals`, topics: [TOPICS.signals], start: 'latest' });
    reader = (async () => {
      try {
        while (reading) {
          const records = await signals.poll(1000, 100);
          const at = Date.now();
          for (const record of records) {
            const decoded = runtime.codecs.signal.decodeKnown(record.value);
            if (decoded.ok) received.push({ signal: decoded.value, at });
          }
        }
      } finally {
        await signals.close();
      }
    })();
    await until(() => assigned && signals.assignment().length > 0, 60_000, 'the latency worker and the signal reader joined their groups', () =>
      worker.child.exitCode !== null ? `worker exited (${worker.child.exitCode}): ${worker.stderrTail()}` : null,
    );
    // Feed at a fixed rate: every tick sends what is due by the wall clock; each event's produce time is recorded.
    const produced = new Map<string, { eventTime: number; wallTime: number }>();
    const feeds: PartitionFeed[] = Array.from({ length: options.partitions }, () => ({ eventTimes: [], wallTimes: [] }));
    const codec = runtime.codecs.event;
    const sends: Promise<void>[] = [];
    const started = Date.now();
    const outageFrom = started + (options.seconds / 2) * 1000;
    let outageAt: number | undefined;
    let backAt: number | undefined;
    let caughtUp: Promise<number | null> = Promise.resolve(null);
    let sent = 0;
    while (sent < events.length) {
      if (proxy && outageAt === undefined && Date.now() >= outageFrom) {
        await proxy.shut();
        outageAt = Date.now();
        options.log(`  ClickHouse unreachable for ${outageMs / 1000} s`);
      } else if (proxy && outageAt !== undefined && backAt === undefined && Date.now() >= outageAt + outageMs) {
        await proxy.open();
        backAt = Date.now();
        options.log('  ClickHouse back');
        caughtUp = untilCaughtUp(client!, database, produced, backAt, workerAlive);
      }
      const due = Math.min(events.length, Math.floor(((Date.now() - started) / 1000) * rate));
      if (due > sent) {
        const wallTime = Date.now();
        const batch: CxEvent[] = live ? events.slice(sent, due).map((event) => ({ ...event, occurred_at: wallTime })) : events.slice(sent, due);
        const records = batch.map((event) => {
          const key = sessionKeyOf(event);
          const feed = feeds[partitionOf(key, options.partitions)]!;
          feed.eventTimes.push(event.occurred_at);
          feed.wallTimes.push(wallTime);
          produced.set(event.event_id, { eventTime: event.occurred_at, wallTime });
          return { key, value: codec.encode(eventToAvro(event)) };
        });
        sends.push(runtime.producer.send(topic, records));
        sent = due;
      }
      await new Promise((resolve) => setTimeout(resolve, TICK_MS));
    }
    const fedSeconds = (Date.now() - started) / 1000;
    await Promise.all(sends);
    if (proxy && backAt === undefined) {
      // The feed ended first (a short feed): ClickHouse comes back now.
      if (outageAt === undefined) outageAt = Date.now();
      await proxy.open();
      backAt = Date.now();
      caughtUp = untilCaughtUp(client!, database, produced, backAt, workerAlive);
    }
    // Signals of the last events come as the worker catches up; give it a moment.
    const lastSeen = received.length;
    await new Promise((resolve) => setTimeout(resolve, DRAIN_MS));
    options.log(`  ${name}: fed ${events.length} events in ${fedSeconds.toFixed(1)} s; ${received.length} signals on the topic (${received.length - lastSeen} after the feed ended)`);
    const catchUpAt = await caughtUp;
    if (!workerAlive()) throw new Error(`the latency worker exited during the run (${worker.child.exitCode ?? worker.child.signalCode}): ${worker.stderrTail()}`);
    if (proxy) options.log(`  tables ${catchUpAt === null ? 'did not catch up' : `caught up ${((catchUpAt - backAt!) / 1000).toFixed(1)} s after ClickHouse came back`}`);
    const emittedAt: number[] = [];
    const onTopic: number[] = [];
    const duringEmittedAt: number[] = [];
    const duringOnTopic: number[] = [];
    let unmatched = 0;
    for (const { signal, at } of received) {
      const trigger = triggerWallTime(signal, produced, feeds, partitionOf(signal.customer_id, options.partitions));
      if (trigger === undefined) {
        unmatched++;
        continue;
      }
      emittedAt.push(signal.emitted_at - trigger);
      onTopic.push(at - trigger);
      if (outageAt !== undefined && trigger >= outageAt && trigger <= backAt!) {
        duringEmittedAt.push(signal.emitted_at - trigger);
        duringOnTopic.push(at - trigger);
      }
    }
    if (emittedAt.length === 0) return { ...empty, events: events.length, achievedRate: events.length / fedSeconds, unmatched, error: 'no signal could be matched to its trigger' };
    // Stop the worker before reading its loader's count (it reports it as it ends).
    await stop(worker);
    return {
      ok: true,
      clock: options.clock,
      rate,
      achievedRate: events.length / fedSeconds,
      events: events.length,
      signals: emittedAt.length,
      unmatched,
      emittedAt: percentiles(emittedAt),
      onTopic: percentiles(onTopic),
      ...(proxy
        ? {
            outage: {
              seconds: (backAt! - outageAt!) / 1000,
              startedAfterSeconds: (outageAt! - started) / 1000,
              signals: duringEmittedAt.length,
              emittedAt: percentiles(duringEmittedAt),
              onTopic: percentiles(duringOnTopic),
              catchUpSeconds: catchUpAt === null ? null : (catchUpAt - backAt!) / 1000,
              maxTableLag,
              loadedRows,
            },
          }
        : {}),
    };
  } catch (error) {
    return { ...empty, error: (error as Error).message };
  } finally {
    reading = false;
    await reader.catch(() => {});
    await stop(worker);
    await proxy?.shut();
    await client?.close();
    await signalsLog.close();
    await runtime.close();
  }
}

/**
 * When the `events` table (read directly, not through the proxy) first held every event sent before ClickHouse came
 * back: events whose event time is before the whole second `backAt` falls in (the legacy dialect stores seconds).
 * Live clock only (event time = send time). Null after CATCH_UP_LIMIT_MS.
 */
async function untilCaughtUp(
  client: ReturnType<typeof createClient>,
  database: string,
  produced: ReadonlyMap<string, { eventTime: number; wallTime: number }>,
  backAt: number,
  alive: () => boolean,
): Promise<number | null> {
  const second = Math.floor(backAt / 1000);
  let expected = 0;
  for (const { eventTime } of produced.values()) if (eventTime < second * 1000) expected++;
  const deadline = backAt + CATCH_UP_LIMIT_MS;
  while (Date.now() < deadline && alive()) {
    const checkedAt = Date.now();
    try {
      const result = await client.query({ query: `SELECT uniqExact(event_id) AS n FROM \`${database}\`.events WHERE occurred_at < toDateTime(${second})`, format: 'JSONEachRow' });
      const [row] = (await result.json()) as Array<{ n: string | number }>;
      if (Number(row?.n ?? 0) >= expected) return checkedAt;
    } catch {
      // The table is not there yet: try again.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return null;
}

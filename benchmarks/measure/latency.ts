// Event-to-signal latency: a live touchstream worker fed at a fixed rate; each signal is matched to the produced event that triggered it.
// Two clocks: a synthetic day replayed fast (event time runs ~3,000× the wall clock: the engine's own latency), and live
// traffic (each event stamped with the wall time it is sent: what a consumer of the signals sees on a live stream).
import { partitionOf, RdkafkaLog } from '../../log/index.ts';
import { eventToAvro } from '../../schemas/avro.ts';
import { sessionKeyOf } from '../../schemas/events.ts';
import type { CxEvent } from '../../schemas/events.ts';
import { TOPICS } from '../../schemas/outputs.ts';
import type { Signal } from '../../schemas/outputs.ts';
import { spawnTypescript, stop, until } from '../child-process.ts';
import { buildDataset, OUT_OF_ORDERNESS_MS } from '../dataset.ts';
import { openHarnessRuntime } from '../publish.ts';
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
  /** When the harness's consumer of touchstream.signals received it − the same produce time. */
  onTopic: Percentiles;
}

/** Produce wall times of one partition's events, in event-time order (the feeder sends in that order). */
interface PartitionFeed {
  eventTimes: number[];
  wallTimes: number[];
}

const TICK_MS = 5;
const DRAIN_MS = 5_000;
/**
 * On the live clock a signal is released once the watermark passes its trigger, i.e. once events later by the
 * out-of-orderness bound arrived: the feed goes on this long after the measured part, and what it triggers is not counted.
 */
const LIVE_TAIL_MS = OUT_OF_ORDERNESS_MS + 2_000;

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
 * triggered_at = last event + gap) is triggered by the event that moved the watermark past triggered_at: the watermark
 * is the minimum over partitions of (largest event time − out-of-orderness), so that is the latest-produced of each
 * partition's first event later than triggered_at + out-of-orderness.
 */
export function triggerWallTime(signal: Pick<Signal, 'triggered_at' | 'evidence_event_ids'>, produced: ReadonlyMap<string, { eventTime: number; wallTime: number }>, feeds: readonly PartitionFeed[]): number | undefined {
  let byEvent: number | undefined;
  for (const id of signal.evidence_event_ids) {
    const event = produced.get(id);
    if (event && event.eventTime === signal.triggered_at) byEvent = Math.max(byEvent ?? 0, event.wallTime);
  }
  if (byEvent !== undefined) return byEvent;
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
  seconds: number;
  clock: LatencyClock;
  nodeFlags: readonly string[];
  log(message: string): void;
}): Promise<LatencyResult> {
  const rate = options.rate;
  const live = options.clock === 'live';
  const empty: LatencyResult = { ok: false, clock: options.clock, rate, achievedRate: 0, events: 0, signals: 0, unmatched: 0, emittedAt: { p50: Number.NaN, p99: Number.NaN, max: Number.NaN }, onTopic: { p50: Number.NaN, p99: Number.NaN, max: Number.NaN } };
  if (!(rate > 0)) return { ...empty, error: 'no touchstream throughput measured in this run to derive the rate from' };
  // A synthetic day sized to the run: ~19 events per customer; the feed is the day without its end markers.
  const feedSeconds = options.seconds + (live ? LIVE_TAIL_MS / 1000 : 0);
  const dataset = buildDataset({ customers: Math.max(100, Math.ceil((rate * feedSeconds) / 19)), seed: options.seed, partitions: options.partitions });
  const events = dataset.events.slice(0, Math.min(dataset.dayEvents, Math.round(rate * feedSeconds)));
  const name = `latency_${options.clock}`;
  const topic = `bench.${options.runId}.${name}.avro`;
  const runtime = await openHarnessRuntime({ brokers: options.brokers, clickhouseUrl: options.clickhouseUrl, dataDir: options.dataDir, avroTopic: topic, partitions: options.partitions, runId: `${options.runId}_${name}` });
  const signalsLog = new RdkafkaLog({ brokers: [options.brokers], clientId: 'bench-latency' });
  const received: Array<{ signal: Signal; at: number }> = [];
  const database = `bench_${options.runId}_${name}`;
  const args: WorkerArguments = {
    config: {
      dataDir: options.dataDir,
      transport: 'rdkafka',
      kafka: { brokers: [options.brokers], groupId: `bench-${options.runId}-${name}`, inputTopic: topic, partitions: options.partitions },
      clickhouse: { url: options.clickhouseUrl, dialect: 'legacy', database, compression: false /* the server is on this host */ },
      logLevel: 'warn',
    },
  };
  let assigned = false;
  const worker = spawnTypescript('./workers/touchstream-worker.ts', [JSON.stringify(args)], (report) => {
    if (report.event === 'assigned') assigned = true;
  });
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
    let sent = 0;
    while (sent < events.length) {
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
    // Signals of the last sessions come as the worker catches up; give it a moment, then stop everything.
    const lastSeen = received.length;
    await new Promise((resolve) => setTimeout(resolve, DRAIN_MS));
    options.log(`  ${options.clock} clock: fed ${events.length} events in ${fedSeconds.toFixed(1)} s; ${received.length} signals on the topic (${received.length - lastSeen} after the feed ended)`);
    // Live: signals triggered in the tail are released only by later events; they are not part of the measurement.
    const measuredUntil = live ? started + options.seconds * 1000 : Number.POSITIVE_INFINITY;
    const emittedAt: number[] = [];
    const onTopic: number[] = [];
    let unmatched = 0;
    for (const { signal, at } of received) {
      const trigger = triggerWallTime(signal, produced, feeds);
      if (trigger === undefined) {
        unmatched++;
        continue;
      }
      if (trigger > measuredUntil) continue;
      emittedAt.push(signal.emitted_at - trigger);
      onTopic.push(at - trigger);
    }
    if (emittedAt.length === 0) return { ...empty, events: events.length, achievedRate: events.length / fedSeconds, unmatched, error: 'no signal could be matched to its trigger' };
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
    };
  } catch (error) {
    return { ...empty, error: (error as Error).message };
  } finally {
    reading = false;
    await reader.catch(() => {});
    await stop(worker);
    await signalsLog.close();
    await runtime.close();
  }
}

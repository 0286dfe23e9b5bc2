// Runs a topology over a log consumer: poll → decode → operators → watermark → sinks, then one checkpoint transaction (changelogs + offsets).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Log, LogConsumer, LogRecord, PartitionOffset, TransactionalProducer } from '../log/log.ts';
import { isRetriable, TouchstreamError } from '../schemas/errors.ts';
import { Changelogs } from './changelog.ts';
import type { Operator, OperatorContext, OutputMap, Outputs, Pace, Sink, SinkMap, StreamRecord } from './operator.ts';
import type { StateChange } from './state.ts';
import type { Metrics } from './metrics.ts';
import { noMetrics } from './metrics.ts';
import { WatermarkTracker } from './watermarks.ts';
import { StallError, StallWatchdog } from './stall-watchdog.ts';
import type { WatermarkOptions } from './watermarks.ts';

export interface Decoded<E> {
  record: LogRecord;
  value: E;
}

export interface StreamJobOptions<E, O extends OutputMap> {
  /** Names the job in metrics and logs. */
  name: string;
  consumer: LogConsumer;
  /** The topic this job reads; other assigned topics are ignored by the watermark. */
  inputTopic: string;
  /** Turns raw records into values; bad records become values on an output (e.g. dead letters), never exceptions. */
  decode(records: readonly LogRecord[], out: Outputs<O>): Promise<Decoded<E>[]>;
  keyOf(value: E): string;
  eventTimeOf(value: E): number;
  operators: readonly Operator<E, O>[];
  sinks: SinkMap<O>;
  watermarks: Omit<WatermarkOptions, 'wallClock'>;
  /** Bounded input: stop once every partition reached these offsets; the watermark then goes to infinity. */
  boundedBy?: readonly PartitionOffset[];
  poll?: { maxRecords?: number; timeoutMs?: number };
  /** Outputs are flushed to sinks (and offsets committed) at this many buffered values or this interval. */
  flush?: { maxBufferedValues?: number; intervalMs?: number };
  /** Backoff for retriable sink errors; the batch stays buffered and input is not polled meanwhile. */
  retry?: { initialDelayMs?: number; maxDelayMs?: number };
  /**
   * Watchdog: one external step (a poll, a sink write attempt, a transaction call, a restore) still pending after
   * this long fails the job with a retriable `engine_stalled` error, so a supervisor restarts it from the last
   * checkpoint instead of hanging. Retries that get an answer (a sink that is down) are progress. Default 60 s.
   */
  stallTimeoutMs?: number;
  /**
   * The partition a key's records go to in a topic of `partitions` partitions (the transport's partitioner): tells
   * operators where a key's state is checkpointed. Without it, operators are told nothing (`partitionOf` unset).
   */
  partitioner?: (key: string, partitions: number) => number;
  wallClock?: () => number;
  metrics?: Metrics;
  /** Told the input offsets each time they are committed (the composition root derives consumer lag from them). */
  onCommit?(offsets: readonly PartitionOffset[]): void;
  /** Abort to stop a live job: it flushes, commits and resolves. */
  signal?: AbortSignal;
  /**
   * Fault-tolerant state: operator stores and partition watermarks are checkpointed to compacted changelog topics
   * (`<changelogPrefix>-<store>-changelog`) in one transaction with the topic outputs and the input offsets, and
   * restored when partitions are assigned. Without it, state lives in memory only (bounded runs, tests).
   */
  state?: { log: Log; transactions: TransactionalProducer; changelogPrefix: string };
}

export interface StreamJobResult {
  records: number;
  watermark: number;
  emitted: Record<string, number>;
}

/**
 * Runs the job until bounded input ends, `signal` aborts, or a failure. Whichever way it ends, what it still has
 * running in the background (a flush in flight, its sink retries) is halted: it never commits afterwards.
 */
export async function runStreamJob<E, O extends OutputMap>(options: StreamJobOptions<E, O>): Promise<StreamJobResult> {
  const halt = new AbortController();
  try {
    return await runJob(options, halt.signal);
  } finally {
    halt.abort();
  }
}

async function runJob<E, O extends OutputMap>(options: StreamJobOptions<E, O>, halted: AbortSignal): Promise<StreamJobResult> {
  const wallClock = options.wallClock ?? Date.now;
  const metrics = options.metrics ?? noMetrics;
  const maxRecords = options.poll?.maxRecords ?? 10_000;
  const pollTimeoutMs = options.poll?.timeoutMs ?? 200;
  const maxBuffered = options.flush?.maxBufferedValues ?? 50_000;
  const flushIntervalMs = options.flush?.intervalMs ?? 1000;
  const stall = new StallWatchdog({ job: options.name, timeoutMs: options.stallTimeoutMs ?? 60_000, metrics });
  const watermarks = new WatermarkTracker({ ...options.watermarks, wallClock });
  let inputPartitions = 1;
  const partitioner = options.partitioner;
  const context: OperatorContext = partitioner ? { wallClock, metrics, partitionOf: (key) => partitioner(key, inputPartitions) } : { wallClock, metrics };
  const buffers = new Map<keyof O, unknown[]>();
  const emitted: Record<string, number> = {};
  let buffered = 0;
  const out: Outputs<O> = {
    emit(output, value) {
      let buffer = buffers.get(output);
      if (!buffer) buffers.set(output, (buffer = []));
      buffer.push(value);
      buffered++;
    },
  };
  /** Next offset to read per partition of the input topic, for what has been processed. */
  const processed = new Map<number, number>();
  const committed = new Map<number, number>();
  const end = options.boundedBy ? new Map(options.boundedBy.filter((p) => p.offset > 0).map((p) => [p.partition, p.offset])) : null;
  const state = options.state;
  const changelogs = state ? new Changelogs(state.log, state.changelogPrefix, options.operators) : null;
  if (state && changelogs) {
    inputPartitions = (await state.log.endOffsets(options.inputTopic)).length;
    await changelogs.createTopics(inputPartitions);
  }
  let generation: number | null = null;
  let lastWatermark = Number.NEGATIVE_INFINITY;
  let lastFlush = wallClock();
  let total = 0;
  /**
   * Whether the last poll came back full (a backlog): the flush's encoding then runs without pauses, to reach
   * ClickHouse and the broker as early as it can; live, it yields to the loop between slices so that the events
   * arriving meanwhile are not held up behind it (the latency tail).
   */
  let catchingUp = false;
  const pace = (): Promise<void> => (catchingUp ? Promise.resolve() : yieldToLoop());

  /**
   * A new generation (the first assignment, or a rebalance): whatever happened since the last checkpoint is dropped,
   * since the consumer reads every partition again from its committed offset; the state of the partitions owned now
   * comes back from the changelogs, consistent with those offsets because both were committed in one transaction.
   */
  const rebalanced = async () => {
    pendingAppendTimes.length = 0;
    buffers.clear();
    buffered = 0;
    processed.clear();
    committed.clear();
    watermarks.reset();
    for (const operator of options.operators) operator.reset?.();
    lastWatermark = Number.NEGATIVE_INFINITY;
    const partitions = options.consumer
      .assignment()
      .filter((tp) => tp.topic === options.inputTopic)
      .map((tp) => tp.partition)
      .sort((a, b) => a - b);
    if (changelogs && partitions.length > 0) {
      const started = wallClock();
      // Reading changelogs is bounded by the transport too (a crashed writer's open transaction holds it up to its timeout).
      const restored = await stall.bound('restore', changelogs.restore(partitions, watermarks), Math.max(stall.timeoutMs, 180_000));
      metrics.count('touchstream_state_restored_entries_total', restored, { job: options.name });
      metrics.observe('touchstream_state_restore_ms', wallClock() - started, { job: options.name });
    }
    watermarks.assign(partitions);
    metrics.gauge('touchstream_assigned_partitions', partitions.length, { job: options.name });
  };

  const reachedEnd = () => {
    if (!end) return false;
    for (const [partition, offset] of end) if ((processed.get(partition) ?? 0) < offset) return false;
    return true;
  };

  /** A rebalance since the records were processed: their work is redone from the committed offsets, not committed. */
  const stale = () => generation !== null && options.consumer.generation() !== generation;

  /** Log append time (median record) of each poll batch whose outputs are not durable yet. */
  const pendingAppendTimes: number[] = [];

  /**
   * The flush in flight (at most one): its outputs, state changes and offsets were captured when it started, so
   * processing goes on meanwhile; it never rejects, a failure is kept in `flushFailures` and thrown by the loop.
   */
  let inFlight: Promise<void> | null = null;
  /** Whether the flush in flight has ended (`settle` then returns at once). */
  let flushEnded = true;
  const flushFailures: unknown[] = [];

  /** Waits for the flush in flight (backpressure) and throws its failure; answers how long it waited. */
  const settle = async (): Promise<number> => {
    let waited = 0;
    if (inFlight) {
      const started = wallClock();
      await inFlight;
      inFlight = null;
      waited = wallClock() - started;
      metrics.count('touchstream_flush_wait_seconds_total', waited / 1000, { job: options.name });
    }
    if (flushFailures.length > 0) throw flushFailures[0];
    return waited;
  };

  /**
   * Starts a checkpoint of everything processed so far. Synchronously it takes the output buffers, the offsets to
   * commit, the appended-at times and a copy of the state changes, so the checkpoint holds exactly the state as of
   * now while the next batches are processed; then, in the background (in slices that leave a live loop its turns,
   * see `pace`), it serialises those changes, writes the sinks outside the log, and commits the one transaction.
   * Call only with no flush in flight (`settle` first).
   */
  const startFlush = (): void => {
    if (stale()) return;
    const flushBuffers = new Map(buffers);
    buffers.clear();
    buffered = 0;
    const appendTimes = pendingAppendTimes.splice(0);
    const offsets: PartitionOffset[] = [];
    for (const [partition, next] of processed) {
      if (committed.get(partition) !== next) offsets.push({ topic: options.inputTopic, partition, offset: next });
    }
    // The state as of now, copied (cheap); it is serialised in slices while the flush's sinks write.
    const changes = state && changelogs ? changelogs.capture(changelogs.collect(options.operators, watermarks)) : [];
    lastFlush = wallClock();
    flushEnded = false;
    inFlight = writeCheckpoint(flushBuffers, offsets, changes, appendTimes)
      .catch((error: unknown) => {
        flushFailures.push(error);
      })
      .finally(() => {
        flushEnded = true;
      });
  };

  const writeCheckpoint = async (
    flushBuffers: Map<keyof O, unknown[]>,
    offsets: PartitionOffset[],
    changes: readonly StateChange[],
    appendTimes: number[],
  ): Promise<void> => {
    const changeCount = changes.length;
    const encoding = state && changelogs ? handled(changelogs.encodeSliced(changes, ENCODE_SLICE_CHANGES, pace)) : null;
    // 1. Sinks outside the log (ClickHouse): durable and idempotent (deterministic ids); retried while input waits.
    const writes: Promise<void>[] = [];
    const inTransaction: Array<{ sink: Sink<unknown>; values: unknown[] }> = [];
    for (const [output, values] of flushBuffers) {
      if (values.length === 0) continue;
      const target = options.sinks[output];
      for (const sink of (Array.isArray(target) ? target : [target]) as Sink<unknown>[]) {
        if (state && sink.transactional) {
          inTransaction.push({ sink, values });
          continue;
        }
        // Sinks encode their batches in slices too; between sinks the loop takes its turn.
        await yieldToLoop();
        writes.push(handled(writeWithRetry(sink, values, pace, options.retry, metrics, stall, halted)));
      }
    }
    await Promise.all(writes);
    // The job ended meanwhile (a failure, a stall): its successor restores from the last commit; this one commits nothing.
    if (halted.aborted) return;
    const encoded = await encoding;
    if (state && changelogs && encoded) {
      // 2. One transaction: topic outputs, state changes and input offsets become visible together or not at all.
      if (inTransaction.length > 0 || changeCount > 0 || offsets.length > 0) {
        const transactions = state.transactions;
        try {
          await stall.bound('transaction begin', transactions.begin());
          const sends: Promise<void>[] = [];
          for (const { sink, values } of inTransaction) {
            await yieldToLoop();
            sends.push(handled(sink.write(values)));
          }
          await stall.bound('transaction send', Promise.all(sends));
          await yieldToLoop();
          await stall.bound('transaction send', changelogs.send(transactions, encoded));
          if (stale() || halted.aborted) {
            await stall.bound('transaction abort', transactions.abort());
            return;
          }
          await stall.bound('transaction commit', transactions.commit(options.consumer, offsets));
        } catch (error) {
          await stall.bound('transaction abort', transactions.abort()).catch(() => {});
          // A rebalance meanwhile: the new generation restores from what is committed, whichever way this ended.
          if (stale()) return;
          metrics.count('touchstream_checkpoint_failures_total', 1, { job: options.name });
          if (error instanceof StallError) throw error;
          // The in-memory state is ahead of what is committed now: only a restart (restore + re-read) is consistent.
          throw new TouchstreamError('checkpoint_failed', `checkpoint of ${options.name} failed: ${(error as Error).message}`, true, { cause: error });
        }
        metrics.count('touchstream_checkpoints_total', 1, { job: options.name });
        metrics.count('touchstream_state_changes_total', changeCount, { job: options.name });
      }
    } else if (offsets.length > 0) {
      if (stale()) return;
      await stall.bound('offset commit', options.consumer.commit(offsets));
    }
    for (const { partition, offset } of offsets) committed.set(partition, offset);
    if (offsets.length > 0) options.onCommit?.(offsets);
    // Input-to-durable latency: from when each poll batch was appended to the log to now, when its outputs are durable.
    const durableAt = wallClock();
    for (const appendedAt of appendTimes) metrics.observe('touchstream_event_to_output_seconds', Math.max(0, durableAt - appendedAt) / 1000, { job: options.name });
    for (const [output, values] of flushBuffers) {
      emitted[output as string] = (emitted[output as string] ?? 0) + values.length;
      metrics.count('touchstream_output_values_total', values.length, { job: options.name, output: String(output) });
    }
  };

  while (true) {
    if (flushFailures.length > 0) throw flushFailures[0];
    const stopping = options.signal?.aborted ?? false;
    const records = stopping ? [] : await stall.bound('poll', options.consumer.poll(maxRecords, end && reachedEnd() ? 0 : pollTimeoutMs), stall.timeoutMs + pollTimeoutMs);
    const current = options.consumer.generation();
    if (current !== generation) {
      // The flush in flight ends first (it sees the new generation and aborts, unless it committed already).
      await settle();
      await rebalanced();
      generation = current;
    }
    const logEnds = options.consumer.logEnds?.();
    if (logEnds && logEnds.length > 0) {
      // Records in the log not polled yet keep their partition from going idle (WatermarkTracker.arrived).
      const now = wallClock();
      for (const { topic, partition, offset } of logEnds) {
        if (topic !== options.inputTopic) continue;
        if (offset < 0) watermarks.unknownLogEnd(partition, now);
        else watermarks.arrived(partition, offset, processed.get(partition) ?? 0, now);
      }
    }
    catchingUp = records.length >= maxRecords;
    if (records.length > 0) {
      pendingAppendTimes.push(records[records.length >> 1]!.timestamp);
      total += records.length;
      metrics.count('touchstream_input_records_total', records.length, { job: options.name });
      const decoded = await stall.bound('decode', options.decode(records, out));
      const now = wallClock();
      if (catchingUp) watermarks.behind(now);
      const batch: StreamRecord<E>[] = new Array(decoded.length);
      for (let index = 0; index < decoded.length; index++) {
        const { record, value } = decoded[index]!;
        const eventTime = options.eventTimeOf(value);
        batch[index] = {
          value,
          key: options.keyOf(value),
          eventTime,
          partition: record.partition,
          offset: record.offset,
          partitionWatermark: watermarks.observe(record.partition, eventTime, now),
        };
      }
      for (const record of records) {
        if (record.topic === options.inputTopic) processed.set(record.partition, record.offset + 1);
      }
      for (const operator of options.operators) operator.process(batch, out, context);
    }
    const finished = reachedEnd();
    if (finished) watermarks.endOfInput();
    const watermark = watermarks.current();
    if (watermark > lastWatermark) {
      lastWatermark = watermark;
      for (const operator of options.operators) operator.onWatermark(watermark, out, context);
      if (Number.isFinite(watermark)) metrics.gauge('touchstream_watermark_ms', watermark, { job: options.name });
    }
    for (const operator of options.operators) {
      for (const [name, value] of Object.entries(operator.gauges?.() ?? {})) metrics.gauge(`touchstream_${name}`, value, { job: options.name });
    }
    const full = buffered >= maxBuffered;
    if (finished || stopping || full || wallClock() - lastFlush >= flushIntervalMs) {
      // At most one flush in flight. A flush that is due starts once the one in flight has ended; until then
      // processing goes on (the next flush just takes more), unless the buffered outputs reach `maxBuffered` or the
      // input ends: then the loop waits for it. Backpressure: input is not read while waiting (a slow or down sink is
      // retried there), and that wait is not partition idleness.
      if (flushEnded || finished || stopping || full) {
        watermarks.paused(await settle());
        startFlush();
      }
    }
    if (finished || stopping) {
      await settle();
      return { records: total, watermark: lastWatermark, emitted };
    }
  }
}

/** Changelog records serialised between two `pace` calls (a few ms of work). */
const ENCODE_SLICE_CHANGES = 500;

/** Lets the job's loop run (poll, process) between a flush's synchronous steps. */
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The same promise, marked as handled now: it is awaited only after later yields, and must not count as unhandled meanwhile. */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/**
 * Writes to a sink outside the log, retrying retriable failures with backoff for as long as it takes (input waits
 * meanwhile). Each attempt is bounded by the watchdog (an answer, even an error, is progress; no answer is a stall),
 * and the retries stop when the job has ended (`halted`), so a failed job leaves nothing running behind it.
 */
async function writeWithRetry(
  sink: Sink<unknown>, values: unknown[], pace: Pace, retry: StreamJobOptions<never, never>['retry'], metrics: Metrics, stall: StallWatchdog, halted: AbortSignal,
): Promise<void> {
  let delay = retry?.initialDelayMs ?? 100;
  const maxDelay = retry?.maxDelayMs ?? 5000;
  while (!halted.aborted) {
    try {
      await stall.bound(`write ${sink.name}`, sink.write(values, pace));
      return;
    } catch (error) {
      metrics.count('touchstream_sink_errors_total', 1, { sink: sink.name, retriable: String(isRetriable(error)) });
      if (!isRetriable(error) || error instanceof StallError) throw error;
      // The backoff ends early when the job ends (the abort rejects; the loop condition then stops).
      await sleep(delay, undefined, { signal: halted }).catch(() => {});
      delay = Math.min(maxDelay, delay * 2);
    }
  }
}

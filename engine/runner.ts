// Runs a topology over a log consumer: the poll loop (poll → decode → operators → watermarks), checkpointing as it goes (engine/checkpointer.ts).
import type { Log, LogConsumer, LogRecord, PartitionOffset, TransactionalProducer } from '../log/log.ts';
import { Changelogs } from './changelog.ts';
import { Checkpointer } from './checkpointer.ts';
import type { Operator, OperatorContext, OutputMap, Outputs, SinkMap, StreamRecord } from './operator.ts';
import { yieldToLoop } from './operator.ts';
import type { Metrics } from './metrics.ts';
import { noMetrics } from './metrics.ts';
import type { RetryOptions } from './retry.ts';
import { WatermarkTracker } from './watermarks.ts';
import { StallWatchdog } from './stall-watchdog.ts';
import type { WatermarkOptions } from './watermarks.ts';

/** A decoded input record: a value, or a request to forget a key (an erasure) at this place in the log. */
export type Decoded<E> = { record: LogRecord; value: E; forget?: undefined } | { record: LogRecord; forget: string };

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
  /**
   * Outputs are flushed to sinks (and offsets committed) at this many buffered values or this interval; while a
   * value of an `urgent` output (signals) is buffered and the job is live, within `urgentIntervalMs` (default 50).
   */
  flush?: { maxBufferedValues?: number; intervalMs?: number; urgent?: readonly (keyof O)[]; urgentIntervalMs?: number };
  /** Backoff for retriable sink errors; the batch stays buffered and input is not polled meanwhile. */
  retry?: RetryOptions;
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
  /**
   * Told which input partitions the operators' state answers for, for read-only views of it (interactive queries):
   * `'rebalancing'` as soon as the job sees a new assignment (before its state is dropped and restored) and when the
   * job ends; the partitions, sorted, once the state of every one of them is restored (it then follows their records).
   */
  onAssignment?(assignment: PartitionAssignment): void;
  /** Abort to stop a live job: it flushes, commits and resolves. */
  signal?: AbortSignal;
  /**
   * Fault-tolerant state: operator stores and partition watermarks are checkpointed to the compacted changelog topic
   * `<changelogPrefix>-state-changelog` (keys `<store>|<key>`) in one transaction with the topic outputs and the input offsets, and
   * restored when partitions are assigned. Without it, state lives in memory only (bounded runs, tests).
   */
  state?: { log: Log; transactions: TransactionalProducer; changelogPrefix: string; /** Extra configs of the compacted changelog topic when it is created. */ topicConfig?: Record<string, string> };
}

/** What `onAssignment` is told: the input partitions whose state is restored and current, or that it is changing. */
export type PartitionAssignment = readonly number[] | 'rebalancing';

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
    return await pollLoop(options, halt.signal);
  } finally {
    halt.abort();
    // Its state is no longer current (a restart or a new job restores its own).
    options.onAssignment?.('rebalancing');
  }
}

/** Shortest poll wait while a checkpoint is due but cannot start yet (one in flight): the loop checks back soon. */
const DUE_POLL_MS = 5;

/** The poll loop: reads, processes and moves time; the checkpointer commits behind it. */
async function pollLoop<E, O extends OutputMap>(options: StreamJobOptions<E, O>, halted: AbortSignal): Promise<StreamJobResult> {
  const wallClock = options.wallClock ?? Date.now;
  const metrics = options.metrics ?? noMetrics;
  const maxRecords = options.poll?.maxRecords ?? 10_000;
  const pollTimeoutMs = options.poll?.timeoutMs ?? 200;
  const stall = new StallWatchdog({ job: options.name, timeoutMs: options.stallTimeoutMs ?? 60_000, metrics });
  const watermarks = new WatermarkTracker({ ...options.watermarks, wallClock });
  let inputPartitions = 1;
  const partitioner = options.partitioner;
  const context: OperatorContext = partitioner ? { wallClock, metrics, partitionOf: (key) => partitioner(key, inputPartitions) } : { wallClock, metrics };
  /** Next offset to read per partition of the input topic, for what has been processed. */
  const processed = new Map<number, number>();
  const end = options.boundedBy ? new Map(options.boundedBy.filter((p) => p.offset > 0).map((p) => [p.partition, p.offset])) : null;
  const state = options.state;
  const changelogs = state ? new Changelogs(state.log, state.changelogPrefix, options.operators) : null;
  if (state && changelogs) {
    inputPartitions = (await state.log.endOffsets(options.inputTopic)).length;
    await changelogs.createTopics(inputPartitions, state.topicConfig);
  }
  let generation: number | null = null;
  /**
   * Whether the last poll came back full (a backlog): the flush's encoding then runs without pauses, to reach the
   * broker as early as it can, and urgent outputs wait for the interval like the rest (their events are old
   * already); live, the flush yields to the loop between slices so that the events arriving meanwhile are not held
   * up behind it (the latency tail), and signals are committed within the urgent interval.
   */
  let catchingUp = false;
  const checkpointer = new Checkpointer<O>({
    job: options.name,
    inputTopic: options.inputTopic,
    consumer: options.consumer,
    sinks: options.sinks,
    operators: options.operators as readonly Operator<never, O>[],
    watermarks,
    state: state && changelogs ? { changelogs, transactions: state.transactions } : null,
    intervalMs: options.flush?.intervalMs ?? 1000,
    maxBufferedValues: options.flush?.maxBufferedValues ?? 50_000,
    urgent: { outputs: new Set(options.flush?.urgent ?? []), intervalMs: options.flush?.urgentIntervalMs ?? 50 },
    ...(options.retry ? { retry: options.retry } : {}),
    metrics,
    stall,
    halted,
    wallClock,
    // A rebalance since the records were processed: their work is redone from the committed offsets, not committed.
    stale: () => generation !== null && options.consumer.generation() !== generation,
    pace: () => (catchingUp ? Promise.resolve() : yieldToLoop()),
    ...(options.onCommit ? { onCommit: options.onCommit } : {}),
  });
  const out = checkpointer.out;
  const time = new EventTime(options.operators, watermarks, out, context);

  /**
   * A new generation (the first assignment, or a rebalance): whatever happened since the last checkpoint is dropped,
   * since the consumer reads every partition again from its committed offset; the state of the partitions owned now
   * comes back from the changelogs, consistent with those offsets because both were committed in one transaction.
   */
  const rebalanced = async () => {
    checkpointer.reset();
    processed.clear();
    watermarks.reset();
    time.reset();
    for (const operator of options.operators) operator.reset?.();
    const partitions = options.consumer
      .assignment()
      .filter((tp) => tp.topic === options.inputTopic)
      .map((tp) => tp.partition)
      .sort((a, b) => a - b);
    // A bounded run that resumes where a previous run committed (a live run handing over to a bounded one) has
    // processed its partitions up to those offsets already: without this, reaching a bounded end needs a new record.
    for (const { topic, partition, offset } of (await options.consumer.committed?.()) ?? []) {
      if (topic === options.inputTopic && offset > 0) processed.set(partition, offset);
    }
    if (changelogs && partitions.length > 0) {
      const started = wallClock();
      // Reading changelogs is bounded by the transport too (a crashed writer's open transaction holds it up to its timeout).
      const restored = await stall.bound('restore', changelogs.restore(partitions, watermarks), Math.max(stall.timeoutMs, 180_000));
      metrics.count('touchstream_state_restored_entries_total', restored, { job: options.name });
      metrics.observe('touchstream_state_restore_ms', wallClock() - started, { job: options.name });
    }
    watermarks.assign(partitions);
    metrics.gauge('touchstream_assigned_partitions', partitions.length, { job: options.name });
    options.onAssignment?.(partitions);
  };

  const reachedEnd = () => {
    if (!end) return false;
    for (const [partition, offset] of end) if ((processed.get(partition) ?? 0) < offset) return false;
    return true;
  };

  /** Hands a polled batch to the operators, each record with its partition's watermark from before it. */
  const processBatch = async (records: LogRecord[]) => {
    checkpointer.noteAppended(records[records.length >> 1]!.timestamp);
    metrics.count('touchstream_input_records_total', records.length, { job: options.name });
    const decoded = await stall.bound('decode', options.decode(records, out));
    const now = wallClock();
    if (catchingUp) watermarks.behind(now);
    let batch: StreamRecord<E>[] = [];
    for (const item of decoded) {
      if (item.forget !== undefined) {
        // An erasure: what came before it in the batch is processed first, what comes after sees the key forgotten.
        if (batch.length > 0) for (const operator of options.operators) operator.process(batch, out, context);
        batch = [];
        for (const operator of options.operators) operator.forget?.(item.forget, item.record.partition, out, context);
        metrics.count('touchstream_keys_forgotten_total', 1, { job: options.name });
        continue;
      }
      const { record, value } = item;
      const eventTime = options.eventTimeOf(value);
      batch.push({
        value,
        key: options.keyOf(value),
        eventTime,
        partition: record.partition,
        offset: record.offset,
        partitionWatermark: watermarks.observe(record.partition, eventTime, now),
      });
    }
    for (const record of records) {
      if (record.topic === options.inputTopic) processed.set(record.partition, record.offset + 1);
    }
    for (const operator of options.operators) operator.process(batch, out, context);
  };

  let total = 0;
  while (true) {
    checkpointer.throwIfFailed();
    const stopping = options.signal?.aborted ?? false;
    // A checkpoint that falls due (an urgent signal) ends the wait for records; one that cannot start yet (a flush
    // in flight) is checked back on shortly.
    const dueIn = checkpointer.dueIn(wallClock(), !catchingUp);
    const timeoutMs = end && reachedEnd() ? 0 : dueIn > 0 ? Math.min(pollTimeoutMs, dueIn) : checkpointer.flushEnded ? 0 : DUE_POLL_MS;
    const records = stopping ? [] : await stall.bound('poll', options.consumer.poll(maxRecords, timeoutMs), stall.timeoutMs + pollTimeoutMs);
    const current = options.consumer.generation();
    if (current !== generation) {
      // Read-only views stop answering from the state of the old assignment before it is dropped.
      options.onAssignment?.('rebalancing');
      // The flush in flight ends first (it sees the new generation and aborts, unless it committed already).
      await checkpointer.settle();
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
      total += records.length;
      await processBatch(records);
    }
    const finished = reachedEnd();
    if (finished) watermarks.endOfInput();
    const watermark = time.advance();
    if (Number.isFinite(watermark)) metrics.gauge('touchstream_watermark_ms', watermark, { job: options.name });
    for (const operator of options.operators) {
      for (const [name, value] of Object.entries(operator.gauges?.() ?? {})) metrics.gauge(`touchstream_${name}`, value, { job: options.name });
    }
    const full = checkpointer.full;
    if (finished || stopping || full || checkpointer.dueIn(wallClock(), !catchingUp) === 0) {
      // At most one flush in flight. A flush that is due starts once the one in flight has ended; until then
      // processing goes on (the next flush just takes more), unless the buffered outputs reach their bound or the
      // input ends: then the loop waits for it. Backpressure: input is not read while waiting (a slow or down sink is
      // retried there), and that wait is not partition idleness.
      if (checkpointer.flushEnded || finished || stopping || full) {
        watermarks.paused(await checkpointer.settle());
        // Work an operator runs off the loop (key drivers) goes into this checkpoint. Input is not read meanwhile:
        // like the wait for a flush, that time is no partition's idleness (a busy thread must not make events late).
        const draining = wallClock();
        for (const operator of options.operators) if (operator.drain) await stall.bound('drain', operator.drain(out, context));
        watermarks.paused(wallClock() - draining);
        checkpointer.start(processed);
      }
    }
    if (finished || stopping) {
      await checkpointer.settle();
      return { records: total, watermark: time.global, emitted: checkpointer.emitted };
    }
  }
}

/**
 * Moves event time for the operators: each input partition's own watermark first (per-key results decide on it),
 * then the global one (aggregates across keys); each only when it advanced.
 */
class EventTime<E, O extends OutputMap> {
  readonly #partitions = new Map<number, number>();
  #global = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly operators: readonly Operator<E, O>[],
    private readonly watermarks: WatermarkTracker,
    private readonly out: Outputs<O>,
    private readonly context: OperatorContext,
  ) {}

  /** The last global watermark the operators were told. */
  get global(): number {
    return this.#global;
  }

  /** Tells the operators what moved; answers the global watermark. */
  advance(): number {
    const watermark = this.watermarks.current(); // first: it raises idle partitions' floors
    for (const partition of this.watermarks.partitions()) {
      const time = watermark === Number.POSITIVE_INFINITY ? watermark : this.watermarks.partitionWatermark(partition);
      if (!(time > (this.#partitions.get(partition) ?? Number.NEGATIVE_INFINITY))) continue;
      this.#partitions.set(partition, time);
      for (const operator of this.operators) operator.onPartitionWatermark?.(partition, time, this.out, this.context);
    }
    if (watermark > this.#global) {
      this.#global = watermark;
      for (const operator of this.operators) operator.onWatermark(watermark, this.out, this.context);
    }
    return watermark;
  }

  reset(): void {
    this.#partitions.clear();
    this.#global = Number.NEGATIVE_INFINITY;
  }
}

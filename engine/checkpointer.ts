// The job's checkpoints: buffers what operators emit, and commits it with the state changes and input offsets in one transaction, one flush in flight at a time.
import type { LogConsumer, PartitionOffset, ProduceRecord, TransactionalProducer } from '../log/log.ts';
import { TouchstreamError } from '../schemas/errors.ts';
import type { Changelogs } from './changelog.ts';
import type { Metrics } from './metrics.ts';
import type { Operator, OutputMap, Outputs, Pace, Sink, SinkMap } from './operator.ts';
import type { RetryOptions } from './retry.ts';
import { writeWithRetry } from './retry.ts';
import type { StateChange } from './state.ts';
import { StallError } from './stall-watchdog.ts';
import type { StallWatchdog } from './stall-watchdog.ts';
import type { WatermarkTracker } from './watermarks.ts';

export interface CheckpointerOptions<O extends OutputMap> {
  /** Names the job in metrics and errors. */
  job: string;
  inputTopic: string;
  consumer: LogConsumer;
  sinks: SinkMap<O>;
  operators: readonly Operator<never, O>[];
  watermarks: WatermarkTracker;
  /** With state: changelogs and the transactional producer; without, sinks are written and offsets committed plainly. */
  state: { changelogs: Changelogs; transactions: TransactionalProducer } | null;
  /** A checkpoint at least this often (ms), and when this many values are buffered. */
  intervalMs: number;
  maxBufferedValues: number;
  /**
   * Outputs someone waits for (signals): while one of their values is buffered and the job is live, a checkpoint
   * starts within `urgentIntervalMs` of it, instead of at the interval.
   */
  urgent: { outputs: ReadonlySet<keyof O>; intervalMs: number };
  retry?: RetryOptions;
  metrics: Metrics;
  stall: StallWatchdog;
  /** Aborted when the job ends: a flush still in flight then commits nothing. */
  halted: AbortSignal;
  wallClock: () => number;
  /** Whether the consumer's generation moved since the records were processed (their work is then redone, not committed). */
  stale(): boolean;
  /** Between slices of a long encoding: a turn of the event loop while live, nothing while catching up. */
  pace: Pace;
  onCommit?(offsets: readonly PartitionOffset[]): void;
}

/**
 * A flush holds the event loop at most about this long (ms) before it lets the loop poll and process (while live;
 * `CheckpointerOptions.pace`). A live checkpoint, a few hundred events' outputs, goes out in one go: turning the loop
 * between each of its ~20 sinks let the loop process a batch each time, and held signals back by 300 ms and more.
 */
const FLUSH_SLICE_MS = 4;

/**
 * Owns what a job has processed but not committed: the output buffers, the appended-at times of their input, and the
 * flush in flight (at most one). A flush captures its buffers, offsets and a copy of the state changes when it
 * starts, so processing goes on meanwhile; it never rejects, a failure is kept and thrown by `settle`/`throwIfFailed`.
 */
export class Checkpointer<O extends OutputMap> {
  readonly out: Outputs<O>;
  /** Values committed per output so far. */
  readonly emitted: Record<string, number> = {};
  readonly #buffers = new Map<keyof O, unknown[]>();
  #buffered = 0;
  /** When the oldest buffered value of an urgent output was emitted (null: none buffered). */
  #urgentSince: number | null = null;
  /** Log append time (median record) of each poll batch whose outputs are not durable yet. */
  readonly #appendTimes: number[] = [];
  /** The next offset per input partition as last committed. */
  readonly #committed = new Map<number, number>();
  #inFlight: Promise<void> | null = null;
  #flushEnded = true;
  readonly #failures: unknown[] = [];
  #lastFlush: number;
  /** When the flush in flight last got the loop back (`#pace`). */
  #turnAt = 0;
  /** `options.pace`, taken only once the flush has held the loop FLUSH_SLICE_MS since it last got it. */
  readonly #pace: Pace = async () => {
    if (performance.now() - this.#turnAt < FLUSH_SLICE_MS) return;
    await this.options.pace();
    this.#turnAt = performance.now();
  };

  constructor(private readonly options: CheckpointerOptions<O>) {
    this.#lastFlush = options.wallClock();
    const { urgent } = options;
    this.out = {
      emit: (output, value) => {
        let buffer = this.#buffers.get(output);
        if (!buffer) this.#buffers.set(output, (buffer = []));
        buffer.push(value);
        this.#buffered++;
        if (this.#urgentSince === null && urgent.outputs.has(output)) this.#urgentSince = options.wallClock();
      },
    };
  }

  /** Values buffered for the next flush. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Whether the flush in flight has ended (or none was started). */
  get flushEnded(): boolean {
    return this.#flushEnded;
  }

  /** Remembers a poll batch's append time, for the input-to-durable latency metric. */
  noteAppended(appendedAt: number): void {
    this.#appendTimes.push(appendedAt);
  }

  /** Forgets everything since the last commit: a new generation reads it again from the committed offsets. */
  reset(): void {
    this.#appendTimes.length = 0;
    this.#buffers.clear();
    this.#buffered = 0;
    this.#urgentSince = null;
    this.#committed.clear();
  }

  /**
   * How long (ms) until a checkpoint is due: 0 when it is due now (the interval passed, or an urgent value has
   * waited its interval while the job is live); the loop polls no longer than this.
   */
  dueIn(now: number, live: boolean): number {
    const byInterval = this.#lastFlush + this.options.intervalMs - now;
    const byUrgent = live && this.#urgentSince !== null ? this.#urgentSince + this.options.urgent.intervalMs - now : Number.POSITIVE_INFINITY;
    return Math.max(0, Math.min(byInterval, byUrgent));
  }

  /** Whether buffered outputs reached their bound (the loop then waits for the flush in flight). */
  get full(): boolean {
    return this.#buffered >= this.options.maxBufferedValues;
  }

  throwIfFailed(): void {
    if (this.#failures.length > 0) throw this.#failures[0];
  }

  /** Waits for the flush in flight (backpressure) and throws its failure; answers how long it waited. */
  async settle(): Promise<number> {
    let waited = 0;
    if (this.#inFlight) {
      const started = this.options.wallClock();
      await this.#inFlight;
      this.#inFlight = null;
      waited = this.options.wallClock() - started;
      this.options.metrics.count('touchstream_flush_wait_seconds_total', waited / 1000, { job: this.options.job });
    }
    this.throwIfFailed();
    return waited;
  }

  /**
   * Starts a checkpoint of everything processed so far (`processed`: the next offset per input partition).
   * Synchronously it takes the output buffers, the offsets to commit, the appended-at times and a copy of the state
   * changes, so the checkpoint holds exactly the state as of now while the next batches are processed; then, in the
   * background, it serialises those changes in slices, writes the sinks outside the log, and commits the one
   * transaction. Call only with no flush in flight (`settle` first).
   */
  start(processed: ReadonlyMap<number, number>): void {
    if (this.options.stale()) return;
    const buffers = new Map(this.#buffers);
    this.#buffers.clear();
    this.#buffered = 0;
    this.#urgentSince = null;
    const appendTimes = this.#appendTimes.splice(0);
    const offsets: PartitionOffset[] = [];
    for (const [partition, next] of processed) {
      if (this.#committed.get(partition) !== next) offsets.push({ topic: this.options.inputTopic, partition, offset: next });
    }
    const { state } = this.options;
    // The state as of now, serialised now: copying it first to serialise later in slices cost more than both.
    const changes = state ? state.changelogs.collect(this.options.operators, this.options.watermarks) : [];
    const encoded = state ? state.changelogs.encode(changes) : null;
    this.#lastFlush = this.options.wallClock();
    this.#flushEnded = false;
    this.#inFlight = this.#write(buffers, offsets, { encoded, count: changes.length }, appendTimes)
      .catch((error: unknown) => {
        this.#failures.push(error);
      })
      .finally(() => {
        this.#flushEnded = true;
      });
  }

  async #write(buffers: Map<keyof O, unknown[]>, offsets: PartitionOffset[], changes: { encoded: Map<string, ProduceRecord[]> | null; count: number }, appendTimes: number[]): Promise<void> {
    const { state, stall, metrics, halted, job } = this.options;
    this.#turnAt = performance.now();
    // 1. Sinks outside the log (none in the CX topology: its tables load from the topics): durable, idempotent, retried.
    const writes: Promise<boolean>[] = [];
    const inTransaction: Array<{ sink: Sink<unknown>; values: unknown[] }> = [];
    for (const [output, values] of buffers) {
      if (values.length === 0) continue;
      const target = this.options.sinks[output];
      for (const sink of (Array.isArray(target) ? target : [target]) as Sink<unknown>[]) {
        if (state && sink.transactional) {
          inTransaction.push({ sink, values });
          continue;
        }
        // Sinks encode their batches in slices too; between sinks the loop may take its turn.
        await this.#pace();
        writes.push(handled(writeWithRetry(sink, values, { pace: this.#pace, ...(this.options.retry ? { retry: this.options.retry } : {}), metrics, stall, halted })));
      }
    }
    await Promise.all(writes);
    // The job ended meanwhile (a failure, a stall): its successor restores from the last commit; this one commits nothing.
    if (halted.aborted) return;
    const { encoded } = changes;
    if (state && encoded) {
      // 2. One transaction: topic outputs, state changes and input offsets become visible together or not at all.
      const pending = inTransaction.length > 0 || changes.count > 0 || offsets.length > 0;
      if (pending && !(await this.#transaction(state, inTransaction, encoded, offsets, changes.count))) return;
    } else if (offsets.length > 0) {
      if (this.options.stale()) return;
      await stall.bound('offset commit', this.options.consumer.commit(offsets));
    }
    this.#committedNow(offsets, buffers, appendTimes);
  }

  /**
   * The checkpoint's transaction: begin, the topic sinks and the changelog, commit with the offsets. Answers whether
   * it committed (false: a rebalance or the job's end meanwhile; it aborted, and the successor redoes the work).
   */
  async #transaction(
    state: NonNullable<CheckpointerOptions<O>['state']>,
    inTransaction: ReadonlyArray<{ sink: Sink<unknown>; values: unknown[] }>,
    encoded: Map<string, ProduceRecord[]>,
    offsets: PartitionOffset[],
    changeCount: number,
  ): Promise<boolean> {
    const { stall, metrics, halted, job } = this.options;
    const { transactions, changelogs } = state;
    try {
      await stall.bound('transaction begin', transactions.begin());
      this.#turnAt = performance.now();
      const sends: Promise<void>[] = [];
      for (const { sink, values } of inTransaction) {
        // Topic sinks encode in slices too (`pace`); between sinks the loop may take its turn.
        await this.#pace();
        sends.push(handled(sink.write(values, this.#pace)));
      }
      await stall.bound('transaction send', Promise.all(sends));
      await stall.bound('transaction send', changelogs.send(transactions, encoded));
      if (this.options.stale() || halted.aborted) {
        await stall.bound('transaction abort', transactions.abort());
        return false;
      }
      await stall.bound('transaction commit', transactions.commit(this.options.consumer, offsets));
    } catch (error) {
      await stall.bound('transaction abort', transactions.abort()).catch(() => {});
      // A rebalance meanwhile: the new generation restores from what is committed, whichever way this ended.
      if (this.options.stale()) return false;
      metrics.count('touchstream_checkpoint_failures_total', 1, { job });
      if (error instanceof StallError) throw error;
      // The in-memory state is ahead of what is committed now: only a restart (restore + re-read) is consistent.
      throw new TouchstreamError('checkpoint_failed', `checkpoint of ${job} failed: ${(error as Error).message}`, true, { cause: error });
    }
    metrics.count('touchstream_checkpoints_total', 1, { job });
    metrics.count('touchstream_state_changes_total', changeCount, { job });
    return true;
  }

  #committedNow(offsets: readonly PartitionOffset[], buffers: Map<keyof O, unknown[]>, appendTimes: readonly number[]): void {
    const { metrics, job } = this.options;
    for (const { partition, offset } of offsets) this.#committed.set(partition, offset);
    if (offsets.length > 0) this.options.onCommit?.(offsets);
    // Input-to-durable latency: from when each poll batch was appended to the log to now, when its outputs are durable.
    const durableAt = this.options.wallClock();
    for (const appendedAt of appendTimes) metrics.observe('touchstream_event_to_output_seconds', Math.max(0, durableAt - appendedAt) / 1000, { job });
    for (const [output, values] of buffers) {
      this.emitted[output as string] = (this.emitted[output as string] ?? 0) + values.length;
      metrics.count('touchstream_output_values_total', values.length, { job, output: String(output) });
    }
  }
}

/** The same promise, marked as handled now: it is awaited only after later yields, and must not count as unhandled meanwhile. */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

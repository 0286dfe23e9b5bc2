// The hooks an operator implements (process a batch, react to the watermark, snapshot and restore its state) and the named outputs it emits to.
import type { Metrics } from './metrics.ts';
import type { StateChange } from './state.ts';

/** One input value as the engine hands it to operators: decoded, keyed, timed, with where it came from. */
export interface StreamRecord<E> {
  readonly value: E;
  readonly key: string;
  /** Event time (ms). */
  readonly eventTime: number;
  readonly partition: number;
  readonly offset: number;
  /** The watermark of this record's partition from before it: what lateness is decided against. */
  readonly partitionWatermark: number;
}

/** Named output streams of a topology, each with its value type, e.g. { sessions: SessionRow; signals: Signal }. */
export type OutputMap = Record<string, unknown>;

export interface Outputs<O extends OutputMap> {
  emit<K extends keyof O>(output: K, value: O[K]): void;
}

export interface OperatorContext {
  /** Wall-clock time now (ms): for `emitted_at`-style stamps only, never for event-time decisions. */
  wallClock(): number;
  /** Where the operator counts what it drops, merges or flags (late, duplicate…). */
  metrics: Metrics;
  /** The input partition records with this key come from (Kafka's murmur2 partitioner): where keyed state of that key is checkpointed. */
  partitionOf?(key: string): number;
}

export interface Operator<E, O extends OutputMap> {
  readonly name: string;
  /** Processes a batch of records in input order. */
  process(records: readonly StreamRecord<E>[], out: Outputs<O>, context: OperatorContext): void;
  /**
   * Called when one input partition's watermark advanced (Infinity at the end of bounded input), before
   * `onWatermark`: per-key results (sessions, a customer's decisions) are decided on their own partition's time,
   * never waiting for other partitions. Within a batch, each record's `partitionWatermark` is that time as of
   * just before the record, so an operator that acts on it record by record is deterministic for any batching.
   */
  onPartitionWatermark?(partition: number, watermark: number, out: Outputs<O>, context: OperatorContext): void;
  /** Called when the global watermark (the minimum over active partitions) advanced: aggregates across keys. */
  onWatermark(watermark: number, out: Outputs<O>, context: OperatorContext): void;
  /**
   * Awaited before each checkpoint starts: work the operator started off the event loop (in another thread) emits
   * its outputs here, so they are committed with the state that asked for them. Nothing else runs meanwhile.
   */
  drain?(out: Outputs<O>, context: OperatorContext): Promise<void>;
  /**
   * The names of the state stores the operator keeps (letters, digits, . _ -). Each is checkpointed to the compacted
   * topic `<group>-state-changelog` (partitioned like the input, keys `<store>|<key>`) in the same transaction as the
   * input offsets.
   */
  readonly stateStores?: readonly string[];
  /** The state changed since the last snapshot (the engine calls it at each checkpoint and writes it to the changelogs). */
  snapshot?(): StateChange[];
  /** Puts the restored entries of one store partition back; called after `reset`, before records of that partition. */
  restore?(store: string, partition: number, entries: ReadonlyMap<string, unknown>): void;
  /**
   * Forgets everything held about one key (an erasure request read from the input in its log order, after the
   * key's earlier records and before its later ones): its state entries go, and their deletes are checkpointed as
   * changelog tombstones in the next checkpoint. A later record of the key starts from nothing.
   */
  forget?(key: string, partition: number, out: Outputs<O>, context: OperatorContext): void;
  /** Forgets all state: on a rebalance the engine resets and restores the partitions it owns from the changelogs. */
  reset?(): void;
  /** Gauges the operator wants reported, e.g. { live_sessions: 12 }. */
  gauges?(): Record<string, number>;
}

/** Where an output stream goes. `write` resolves once the batch is durable there. */
/** Awaited between slices of a long synchronous job (see `Sink.write`). */
export type Pace = () => Promise<void>;

/** A pace that lets the event loop run (poll, process) between the slices of a long job. */
export const yieldToLoop: Pace = () => new Promise((resolve) => setImmediate(resolve));

export interface Sink<T> {
  readonly name: string;
  /**
   * True for a sink that writes into the log's checkpoint transaction (an output topic): the engine writes it inside
   * the transaction with the changelogs and offsets, after every other sink is durable.
   */
  readonly transactional?: boolean;
  /**
   * Writes a batch. A sink that encodes a large batch in slices awaits `pace` between them: the engine yields to its
   * event loop there while the job is live (events behind the flush are processed meanwhile), and resolves at once
   * while it catches up on a backlog (the flush then finishes as early as it can). Without it, no pauses.
   */
  write(batch: readonly T[], pace?: Pace): Promise<void>;
  close?(): Promise<void>;
}

export type SinkMap<O extends OutputMap> = { [K in keyof O]: Sink<O[K]> | readonly Sink<O[K]>[] };

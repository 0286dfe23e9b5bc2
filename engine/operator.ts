// The hooks an operator implements (process a batch, react to the watermark) and the named outputs it emits to.
import type { Metrics } from './metrics.ts';

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
}

export interface Operator<E, O extends OutputMap> {
  readonly name: string;
  /** Processes a batch of records in input order. */
  process(records: readonly StreamRecord<E>[], out: Outputs<O>, context: OperatorContext): void;
  /** Called when the global watermark advanced (Infinity at the end of bounded input). */
  onWatermark(watermark: number, out: Outputs<O>, context: OperatorContext): void;
  /** Per partition, the lowest input offset the operator's state still needs; offsets are committed no further. */
  retainedOffsets?(): Map<number, number>;
  /** Gauges the operator wants reported, e.g. { live_sessions: 12 }. */
  gauges?(): Record<string, number>;
}

/** Where an output stream goes. `write` resolves once the batch is durable there. */
export interface Sink<T> {
  readonly name: string;
  write(batch: readonly T[]): Promise<void>;
  close?(): Promise<void>;
}

export type SinkMap<O extends OutputMap> = { [K in keyof O]: Sink<O[K]> | readonly Sink<O[K]>[] };

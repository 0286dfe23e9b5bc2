// An operator built as a chain: a head derives items from each record (the record with its session, a session that closed) and every stage after it sees each item in order, with state stores of its own.
import type { Operator, OperatorContext, OutputMap, Outputs, StreamRecord } from './operator.ts';
import type { StateStore } from './state.ts';
import { StoreBackedOperator } from './state.ts';

/** One feature of a chain: it reacts to the items the head derives, and to time. */
export interface ChainStage<I, O extends OutputMap> {
  readonly name: string;
  /** One item, in the order the head derived it (a partition's log order); earlier stages have seen it already. */
  onItem?(item: I, out: Outputs<O>, context: OperatorContext): void;
  /** A partition's watermark advanced (after the head's items for it went down the chain). */
  onPartitionWatermark?(partition: number, watermark: number, out: Outputs<O>, context: OperatorContext): void;
  /** The global watermark advanced: aggregates across keys, evictions. */
  onWatermark?(watermark: number, out: Outputs<O>, context: OperatorContext): void;
  /** Awaited before each checkpoint: outputs of work the stage runs off the event loop (see `Operator.drain`). */
  drain?(out: Outputs<O>, context: OperatorContext): Promise<void>;
  /** The stage's own state stores, checkpointed and restored with the chain's. */
  readonly stores?: readonly StateStore[];
  /**
   * Forgets everything the stage holds about one key (an erasure). Without it, the chain asks each of the stage's
   * stores to `forget` the key; a stage whose state is keyed otherwise (e.g. by response) implements it.
   */
  forget?(key: string, partition: number, out: Outputs<O>, context: OperatorContext): void;
  /** Forgets what is not in a store (e.g. progress per partition); the chain clears the stores. */
  reset?(): void;
  gauges?(): Record<string, number>;
}

/** Hands an item down the chain. */
export type EmitItem<I> = (item: I) => void;

/** The first link: it turns records (and a partition's time) into items. */
export interface ChainHead<E, I, O extends OutputMap> extends Omit<ChainStage<I, O>, 'onItem' | 'onPartitionWatermark'> {
  /** Derives the record's items, handing each down the chain as soon as it is derived. */
  onRecord(record: StreamRecord<E>, emit: EmitItem<I>, out: Outputs<O>, context: OperatorContext): void;
  /** A partition's watermark advanced: the head may derive items from it (e.g. the sessions it closes). */
  onPartitionWatermark?(partition: number, watermark: number, emit: EmitItem<I>, out: Outputs<O>, context: OperatorContext): void;
}

/**
 * Runs a head and its stages as one engine operator: record by record, each item the head derives goes through every
 * stage before the next record, so what a stage sees never depends on batch boundaries. A new feature is a new stage.
 */
export class OperatorChain<E, I, O extends OutputMap> extends StoreBackedOperator implements Operator<E, O> {
  readonly #stores: readonly StateStore[];

  constructor(
    readonly name: string,
    private readonly head: ChainHead<E, I, O>,
    private readonly stages: readonly ChainStage<I, O>[],
  ) {
    super();
    this.#stores = [head, ...stages].flatMap((link) => link.stores ?? []);
    const names = this.#stores.map((store) => store.name);
    const repeated = names.find((name, index) => names.indexOf(name) !== index);
    if (repeated !== undefined) throw new Error(`operator chain ${name}: two stages keep a store named ${repeated}`);
  }

  process(records: readonly StreamRecord<E>[], out: Outputs<O>, context: OperatorContext): void {
    const emit = this.#emitter(out, context);
    for (const record of records) this.head.onRecord(record, emit, out, context);
  }

  onPartitionWatermark(partition: number, watermark: number, out: Outputs<O>, context: OperatorContext): void {
    this.head.onPartitionWatermark?.(partition, watermark, this.#emitter(out, context), out, context);
    for (const stage of this.stages) stage.onPartitionWatermark?.(partition, watermark, out, context);
  }

  onWatermark(watermark: number, out: Outputs<O>, context: OperatorContext): void {
    this.head.onWatermark?.(watermark, out, context);
    for (const stage of this.stages) stage.onWatermark?.(watermark, out, context);
  }

  async drain(out: Outputs<O>, context: OperatorContext): Promise<void> {
    for (const stage of this.stages) if (stage.drain) await stage.drain(out, context);
  }

  override reset(): void {
    super.reset();
    this.head.reset?.();
    for (const stage of this.stages) stage.reset?.();
  }

  /** An erasure: the head and every stage forget the key, in chain order. */
  override forget(key: string, partition: number, out: Outputs<O>, context: OperatorContext): void {
    for (const link of [this.head, ...this.stages] as ChainStage<I, O>[]) {
      if (link.forget) link.forget(key, partition, out, context);
      else for (const store of link.stores ?? []) store.forget?.(key);
    }
  }

  protected stores(): readonly StateStore[] {
    return this.#stores;
  }

  gauges(): Record<string, number> {
    return Object.assign({}, this.head.gauges?.(), ...this.stages.map((stage) => stage.gauges?.() ?? {}));
  }

  #emitter(out: Outputs<O>, context: OperatorContext): EmitItem<I> {
    const stages = this.stages;
    return (item) => {
      for (const stage of stages) stage.onItem?.(item, out, context);
    };
  }
}

// Changelog topics of the state stores: one compacted topic per store, partitioned like the input; written in the checkpoint transaction, read back on assignment.
import type { Log, LogRecord, ProduceRecord, TransactionalProducer } from '../log/log.ts';
import type { Operator, OutputMap } from './operator.ts';
import type { StateChange } from './state.ts';
import type { PartitionTimeState, WatermarkTracker } from './watermarks.ts';

/** The engine's own store: each input partition's event-time progress. */
export const WATERMARK_STORE = 'watermarks';
const EMPTY = Buffer.alloc(0);

export class Changelogs {
  readonly #stores: readonly string[];
  /** The operator that owns each store. */
  readonly #owners = new Map<string, Operator<never, OutputMap>>();

  constructor(
    private readonly log: Log,
    private readonly prefix: string,
    operators: readonly Operator<never, OutputMap>[],
  ) {
    const stores = [WATERMARK_STORE];
    for (const operator of operators) {
      for (const store of operator.stateStores ?? []) {
        if (stores.includes(store)) throw new Error(`state store ${store} is declared twice`);
        stores.push(store);
        this.#owners.set(store, operator);
      }
    }
    this.#stores = stores;
  }

  /** `<group>-<store>-changelog` (Kafka Streams' naming). */
  topicOf(store: string): string {
    return `${this.prefix}-${store}-changelog`;
  }

  /** Creates the compacted changelog topics with as many partitions as the input topic. */
  async createTopics(partitions: number): Promise<void> {
    await this.log.createTopics(
      this.#stores.map((store) => ({ topic: this.topicOf(store), partitions, config: { 'cleanup.policy': 'compact' } })),
    );
  }

  /** The changes to checkpoint now: every operator's snapshot and the partitions whose watermark moved. */
  collect(operators: readonly Operator<never, OutputMap>[], watermarks: WatermarkTracker): StateChange[] {
    const changes: StateChange[] = [];
    // A loop, not push(...snapshot): a snapshot can hold more changes than a call has argument slots (stack overflow).
    for (const operator of operators) if (operator.snapshot) for (const change of operator.snapshot()) changes.push(change);
    for (const { partition, state } of watermarks.changes()) changes.push({ store: WATERMARK_STORE, partition, key: String(partition), value: state });
    return changes;
  }

  /** Sends the changes into the open transaction: JSON values, a tombstone (empty value) for deletes. */
  async write(producer: TransactionalProducer, changes: readonly StateChange[]): Promise<void> {
    await this.send(producer, this.encode(changes));
  }

  /** Sends records made by `encode` into the open transaction. */
  async send(producer: TransactionalProducer, encoded: ReadonlyMap<string, ProduceRecord[]>): Promise<void> {
    await Promise.all([...encoded].map(([topic, records]) => producer.send(topic, records)));
  }

  /** Serialises the changes now, per changelog topic. */
  encode(changes: readonly StateChange[]): Map<string, ProduceRecord[]> {
    const byTopic = new Map<string, ProduceRecord[]>();
    this.#encodeInto(byTopic, changes, 0, changes.length);
    return byTopic;
  }

  /**
   * `encode`, `sliceChanges` changes at a time, each slice after a `pause`, so a large checkpoint never holds the
   * event loop for long. The values must not change meanwhile: hand it what `capture` answered.
   */
  async encodeSliced(changes: readonly StateChange[], sliceChanges: number, pause: () => Promise<void>): Promise<Map<string, ProduceRecord[]>> {
    const byTopic = new Map<string, ProduceRecord[]>();
    for (let from = 0; from < changes.length; from += sliceChanges) {
      await pause();
      this.#encodeInto(byTopic, changes, from, Math.min(changes.length, from + sliceChanges));
    }
    return byTopic;
  }

  #encodeInto(byTopic: Map<string, ProduceRecord[]>, changes: readonly StateChange[], from: number, to: number): void {
    for (let index = from; index < to; index++) {
      const change = changes[index]!;
      const topic = this.topicOf(change.store);
      let records = byTopic.get(topic);
      if (!records) byTopic.set(topic, (records = []));
      const value = change.value === null || change.value === undefined ? EMPTY : Buffer.from(JSON.stringify(change.value));
      records.push({ key: change.key, value, partition: change.partition });
    }
  }

  /**
   * The changes with every value copied as plain JSON data, so they hold the state as of now while processing goes
   * on and the checkpoint is serialised later (`encodeSliced`): a change's value is often an operator's live object.
   * A copy costs a fraction of serialising (no text, no UTF-8), so a checkpoint's synchronous start stays short.
   */
  capture(changes: readonly StateChange[]): StateChange[] {
    return changes.map((change) => (change.value === null || change.value === undefined ? change : { ...change, value: jsonCopy(change.value) }));
  }

  /** Reads each store's changelog partitions to their end and hands the latest value per key to its owner. */
  async restore(partitions: readonly number[], watermarks: WatermarkTracker): Promise<number> {
    let restored = 0;
    const stores = await Promise.all(this.#stores.map(async (store) => ({ store, records: await this.log.readPartitions(this.topicOf(store), partitions) })));
    for (const { store, records } of stores) {
      for (const [partition, entries] of latestByPartition(records)) {
        restored += entries.size;
        if (store === WATERMARK_STORE) {
          for (const state of entries.values()) watermarks.restore(partition, state as PartitionTimeState);
          continue;
        }
        const owner = this.#owners.get(store);
        if (!owner?.restore) throw new Error(`state store ${store} has no operator that restores it`);
        owner.restore(store, partition, entries);
      }
    }
    return restored;
  }
}

/** A deep copy of a value as `JSON.stringify` sees it (own enumerable keys, `toJSON`), without producing text. */
export function jsonCopy(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const copy = new Array<unknown>(value.length);
    for (let index = 0; index < value.length; index++) copy[index] = jsonCopy(value[index]);
    return copy;
  }
  const object = value as Record<string, unknown> & { toJSON?: () => unknown };
  if (typeof object.toJSON === 'function') return jsonCopy(object.toJSON());
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(object)) copy[key] = jsonCopy(object[key]);
  return copy;
}

/** Compaction by hand: the last value of each key per partition, deletes dropped. */
function latestByPartition(records: readonly LogRecord[]): Map<number, Map<string, unknown>> {
  const partitions = new Map<number, Map<string, unknown>>();
  for (const record of records) {
    let entries = partitions.get(record.partition);
    if (!entries) partitions.set(record.partition, (entries = new Map()));
    const key = record.key?.toString() ?? '';
    if (record.value.length === 0) entries.delete(key);
    else entries.set(key, JSON.parse(record.value.toString()));
  }
  return partitions;
}

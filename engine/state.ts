// Keyed state stores: what an operator keeps per key and input partition, the changes the engine checkpoints to a changelog, and how it comes back.

/** One key's new value in a store (null: deleted), for the changelog partition its input partition maps to. */
export interface StateChange {
  store: string;
  partition: number;
  key: string;
  /** JSON-serialisable; null deletes the key (a tombstone on the compacted changelog). */
  value: unknown;
}

/**
 * A named, partitioned key-value state the engine checkpoints. Implementations track which keys changed since the
 * last `changes()` call; the engine writes those to the changelog `<group>-state-changelog` in the checkpoint transaction.
 */
export interface StateStore {
  readonly name: string;
  /** The keys changed since the last call, with their current value (null when gone); forgets them as changed. */
  changes(): StateChange[];
  /** Puts one partition's restored entries back (before any record of that partition is processed). */
  restore(partition: number, entries: ReadonlyMap<string, unknown>): void;
  /** Forgets everything (a rebalance or a failed checkpoint: state is restored from the changelogs again). */
  clear(): void;
  /**
   * Forgets everything held under one key (an erasure): the entries it drops are checkpointed as deletes, so the
   * changelog gets tombstones and a restore does not bring them back. Stores without keys of a customer omit it.
   */
  forget?(key: string): void;
}

/** A plain key-value store with change tracking, for operators whose state is a map of JSON values. */
export class KeyedStateStore<V> implements StateStore {
  readonly #values = new Map<string, { partition: number; value: V }>();
  readonly #changed = new Map<string, number>();

  constructor(readonly name: string) {}

  get size(): number {
    return this.#values.size;
  }

  get(key: string): V | undefined {
    return this.#values.get(key)?.value;
  }

  /** Sets a key's value; call again after mutating a value in place so the change is checkpointed. */
  put(partition: number, key: string, value: V): void {
    this.#values.set(key, { partition, value });
    this.#changed.set(key, partition);
  }

  delete(key: string): void {
    const entry = this.#values.get(key);
    if (!entry) return;
    this.#values.delete(key);
    this.#changed.set(key, entry.partition);
  }

  forget(key: string): void {
    this.delete(key);
  }

  entries(): IterableIterator<[string, { partition: number; value: V }]> {
    return this.#values.entries();
  }

  changes(): StateChange[] {
    const changes: StateChange[] = [];
    for (const [key, partition] of this.#changed) {
      changes.push({ store: this.name, partition, key, value: this.#values.get(key)?.value ?? null });
    }
    this.#changed.clear();
    return changes;
  }

  restore(partition: number, entries: ReadonlyMap<string, unknown>): void {
    for (const [key, value] of entries) this.#values.set(key, { partition, value: value as V });
  }

  clear(): void {
    this.#values.clear();
    this.#changed.clear();
  }
}

/**
 * The state hooks of an operator (`stateStores`, `snapshot`, `restore`, `reset`) for one whose state is a list of
 * stores: a subclass names its stores, the engine checkpoints and restores them by name.
 */
export abstract class StoreBackedOperator {
  /** The stores checkpointed to changelogs and restored on restart and rebalance. */
  protected abstract stores(): readonly StateStore[];

  get stateStores(): string[] {
    return this.stores().map((store) => store.name);
  }

  snapshot(): StateChange[] {
    return this.stores().flatMap((store) => store.changes());
  }

  restore(name: string, partition: number, entries: ReadonlyMap<string, unknown>): void {
    const store = this.stores().find((candidate) => candidate.name === name);
    if (!store) throw new Error(`restore: no state store named ${name}`);
    store.restore(partition, entries);
  }

  reset(): void {
    for (const store of this.stores()) store.clear();
  }

  /** Forgets one key in every store that keeps keys (an erasure, in the input's log order). */
  forget(key: string, ..._where: unknown[]): void {
    for (const store of this.stores()) store.forget?.(key);
  }
}

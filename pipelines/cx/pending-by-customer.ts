// Items waiting for the watermark, kept per customer (the session key) in a checkpointed state store so they move with the customer's input partition.
import { KeyedStateStore } from '../../engine/index.ts';
import type { StateChange, StateStore } from '../../engine/index.ts';

/** A store of JSON items per customer, in arrival order; `takeDue` hands out (and forgets) the ones the watermark released. */
export class PendingByCustomer<T> implements StateStore {
  readonly #pending: KeyedStateStore<T[]>;
  #size = 0;

  constructor(readonly name: string) {
    this.#pending = new KeyedStateStore(name);
  }

  /** Items waiting, over all customers. */
  get size(): number {
    return this.#size;
  }

  add(customer: string, partition: number, item: T): void {
    const waiting = this.#pending.get(customer) ?? [];
    waiting.push(item);
    this.#pending.put(partition, customer, waiting);
    this.#size++;
  }

  /** Whether one of the customer's waiting items matches. */
  has(customer: string, matches: (item: T) => boolean): boolean {
    return this.#pending.get(customer)?.some(matches) ?? false;
  }

  /**
   * Removes and answers every item `isDue` accepts, customer by customer in arrival order (callers sort); with
   * `onlyPartition`, only of the customers whose records come from that input partition.
   */
  takeDue(isDue: (item: T) => boolean, onlyPartition?: number): T[] {
    const due: T[] = [];
    if (this.#size === 0) return due;
    for (const [customer, { partition, value: waiting }] of this.#pending.entries()) {
      if (onlyPartition !== undefined && partition !== onlyPartition) continue;
      let kept = 0;
      for (const item of waiting) {
        if (isDue(item)) due.push(item);
        else waiting[kept++] = item;
      }
      if (kept === waiting.length) continue;
      waiting.length = kept;
      if (kept === 0) this.#pending.delete(customer);
      else this.#pending.put(partition, customer, waiting);
    }
    this.#size -= due.length;
    return due;
  }

  /** Drops one customer's waiting items (an erasure): they are never released. */
  forget(customer: string): void {
    this.#size -= this.#pending.get(customer)?.length ?? 0;
    this.#pending.delete(customer);
  }

  changes(): StateChange[] {
    return this.#pending.changes();
  }

  restore(partition: number, entries: ReadonlyMap<string, unknown>): void {
    this.#pending.restore(partition, entries);
    for (const waiting of entries.values()) this.#size += (waiting as T[]).length;
  }

  clear(): void {
    this.#pending.clear();
    this.#size = 0;
  }
}

/** A state store whose state is one `PendingByCustomer`: its size and store hooks delegate to it. */
export abstract class PendingStore<T> implements StateStore {
  protected readonly pending: PendingByCustomer<T>;

  constructor(readonly name: string) {
    this.pending = new PendingByCustomer(name);
  }

  /** Items waiting, over all customers. */
  get size(): number {
    return this.pending.size;
  }

  forget(customer: string): void {
    this.pending.forget(customer);
  }

  changes(): StateChange[] {
    return this.pending.changes();
  }

  restore(partition: number, entries: ReadonlyMap<string, unknown>): void {
    this.pending.restore(partition, entries);
  }

  clear(): void {
    this.pending.clear();
  }
}

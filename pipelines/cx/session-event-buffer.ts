// Keeps chosen events of a customer's open sessions (compact entries, in a checkpointed store) until the session closes and a stage turns them into rows.
import { KeyedStateStore } from '../../engine/index.ts';
import type { StateChange, StateStore } from '../../engine/index.ts';

/** An entry: event time and event_id first (they order the entries), then what the stage needs. */
export type BufferedEntry = readonly [time: number, eventId: string, ...rest: Array<string | number>];

const byTimeThenId = (a: BufferedEntry, b: BufferedEntry) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);

/**
 * Per customer key, the entries of their open sessions. Sessions of one key never overlap in time, so a closing
 * session's entries are those in [start, last]; merges need nothing (the ranges just join). Late events (their
 * session closed) are never added, so nothing waits for a session that will not close again.
 */
export class SessionEventBuffer<E extends BufferedEntry> implements StateStore {
  readonly #entries: KeyedStateStore<E[]>;

  constructor(readonly name: string) {
    this.#entries = new KeyedStateStore(name);
  }

  get size(): number {
    return this.#entries.size;
  }

  add(key: string, partition: number, entry: E): void {
    const list = this.#entries.get(key) ?? [];
    list.push(entry);
    this.#entries.put(partition, key, list);
  }

  /** The key's entries in [start, last], ordered by (time, event_id), left in place. */
  peek(key: string, start: number, last: number): E[] {
    const list = this.#entries.get(key);
    if (!list) return [];
    return list.filter((entry) => entry[0] >= start && entry[0] <= last).sort(byTimeThenId);
  }

  /** Removes and answers the key's entries in [start, last], ordered by (time, event_id). */
  take(key: string, partition: number, start: number, last: number): E[] {
    const list = this.#entries.get(key);
    if (!list) return [];
    const taken: E[] = [];
    const kept: E[] = [];
    for (const entry of list) (entry[0] >= start && entry[0] <= last ? taken : kept).push(entry);
    if (taken.length === 0) return taken;
    if (kept.length === 0) this.#entries.delete(key);
    else this.#entries.put(partition, key, kept);
    return taken.sort(byTimeThenId);
  }

  /** Drops one key's buffered entries (an erasure). */
  forget(key: string): void {
    this.#entries.delete(key);
  }

  changes(): StateChange[] {
    return this.#entries.changes();
  }

  restore(partition: number, entries: ReadonlyMap<string, unknown>): void {
    this.#entries.restore(partition, entries);
  }

  clear(): void {
    this.#entries.clear();
  }
}

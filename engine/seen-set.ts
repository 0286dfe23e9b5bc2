// Remembers ids seen within an event-time horizon, so a duplicate (a retried send, a replayed file) is processed once; a checkpointed state store.
import type { StateChange, StateStore } from './state.ts';

export class SeenSet implements StateStore {
  readonly #seen = new Map<string, { time: number; partition: number }>();
  /** Ids in insertion order with their event time, for eviction from the front. */
  #order: Array<{ id: string; time: number }> = [];
  #head = 0;
  /** Ids added or evicted since the last checkpoint, with their partition. */
  readonly #changed = new Map<string, number>();

  /** @param horizonMs how long (in event time, behind the watermark) an id is remembered */
  constructor(
    readonly horizonMs: number,
    readonly name = 'seen-ids',
  ) {}

  get size(): number {
    return this.#seen.size;
  }

  /** Records an id; answers false when it was already seen (a duplicate). */
  add(id: string, eventTime: number, partition = 0): boolean {
    if (this.#seen.has(id)) return false;
    this.#seen.set(id, { time: eventTime, partition });
    this.#order.push({ id, time: eventTime });
    this.#changed.set(id, partition);
    return true;
  }

  /** Forgets ids whose event time is more than the horizon behind the watermark. */
  evict(watermark: number): void {
    const limit = watermark - this.horizonMs;
    while (this.#head < this.#order.length && this.#order[this.#head]!.time < limit) {
      const { id } = this.#order[this.#head]!;
      const entry = this.#seen.get(id);
      if (entry) {
        this.#seen.delete(id);
        this.#changed.set(id, entry.partition);
      }
      this.#head++;
    }
    if (this.#head > 4096 && this.#head * 2 > this.#order.length) {
      this.#order.splice(0, this.#head);
      this.#head = 0;
    }
  }

  changes(): StateChange[] {
    const changes: StateChange[] = [];
    for (const [id, partition] of this.#changed) changes.push({ store: this.name, partition, key: id, value: this.#seen.get(id)?.time ?? null });
    this.#changed.clear();
    return changes;
  }

  restore(partition: number, entries: ReadonlyMap<string, unknown>): void {
    const restored: Array<{ id: string; time: number }> = [];
    for (const [id, time] of entries) {
      if (typeof time !== 'number') continue;
      this.#seen.set(id, { time, partition });
      restored.push({ id, time });
    }
    // Eviction walks from the front: keep the order by event time.
    this.#order = this.#order.slice(this.#head).concat(restored).sort((a, b) => a.time - b.time);
    this.#head = 0;
  }

  clear(): void {
    this.#seen.clear();
    this.#order = [];
    this.#head = 0;
    this.#changed.clear();
  }
}

// Remembers ids seen within an event-time horizon, so a duplicate (a retried send, a replayed file) is processed once; a checkpointed state store.
import type { StateChange, StateStore } from './state.ts';

export class SeenSet implements StateStore {
  /** Id → event time: one map entry per id, no object per id. */
  readonly #seen = new Map<string, number>();
  /** Ids in insertion order with their event time and partition (parallel arrays), for eviction from the front. */
  #ids: string[] = [];
  #times: number[] = [];
  #partitions: number[] = [];
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
    this.#seen.set(id, eventTime);
    this.#ids.push(id);
    this.#times.push(eventTime);
    this.#partitions.push(partition);
    this.#changed.set(id, partition);
    return true;
  }

  /** Forgets ids whose event time is more than the horizon behind the watermark. */
  evict(watermark: number): void {
    const limit = watermark - this.horizonMs;
    while (this.#head < this.#ids.length && this.#times[this.#head]! < limit) {
      const id = this.#ids[this.#head]!;
      if (this.#seen.delete(id)) this.#changed.set(id, this.#partitions[this.#head]!);
      this.#head++;
    }
    if (this.#head > 4096 && this.#head * 2 > this.#ids.length) {
      this.#ids.splice(0, this.#head);
      this.#times.splice(0, this.#head);
      this.#partitions.splice(0, this.#head);
      this.#head = 0;
    }
  }

  changes(): StateChange[] {
    const changes: StateChange[] = [];
    for (const [id, partition] of this.#changed) changes.push({ store: this.name, partition, key: id, value: this.#seen.get(id) ?? null });
    this.#changed.clear();
    return changes;
  }

  restore(partition: number, entries: ReadonlyMap<string, unknown>): void {
    const order: Array<{ id: string; time: number; partition: number }> = [];
    for (let index = this.#head; index < this.#ids.length; index++) order.push({ id: this.#ids[index]!, time: this.#times[index]!, partition: this.#partitions[index]! });
    for (const [id, time] of entries) {
      if (typeof time !== 'number') continue;
      this.#seen.set(id, time);
      order.push({ id, time, partition });
    }
    // Eviction walks from the front: keep the order by event time.
    order.sort((a, b) => a.time - b.time);
    this.#ids = order.map((entry) => entry.id);
    this.#times = order.map((entry) => entry.time);
    this.#partitions = order.map((entry) => entry.partition);
    this.#head = 0;
  }

  clear(): void {
    this.#seen.clear();
    this.#ids = [];
    this.#times = [];
    this.#partitions = [];
    this.#head = 0;
    this.#changed.clear();
  }
}

// Remembers ids seen within an event-time horizon, so a duplicate (a retried send, a replayed file) is processed once.

export class SeenSet {
  readonly #seen = new Map<string, number>();
  /** Ids in insertion order with their event time, for eviction from the front. */
  readonly #order: Array<{ id: string; time: number }> = [];
  #head = 0;

  /** @param horizonMs how long (in event time, behind the watermark) an id is remembered */
  constructor(readonly horizonMs: number) {}

  get size(): number {
    return this.#seen.size;
  }

  /** Records an id; answers false when it was already seen (a duplicate). */
  add(id: string, eventTime: number): boolean {
    if (this.#seen.has(id)) return false;
    this.#seen.set(id, eventTime);
    this.#order.push({ id, time: eventTime });
    return true;
  }

  /** Forgets ids whose event time is more than the horizon behind the watermark. */
  evict(watermark: number): void {
    const limit = watermark - this.horizonMs;
    while (this.#head < this.#order.length && this.#order[this.#head]!.time < limit) {
      this.#seen.delete(this.#order[this.#head]!.id);
      this.#head++;
    }
    if (this.#head > 4096 && this.#head * 2 > this.#order.length) {
      this.#order.splice(0, this.#head);
      this.#head = 0;
    }
  }
}

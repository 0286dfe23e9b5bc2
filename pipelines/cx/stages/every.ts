// A cadence in event time: due once each time the watermark has moved an interval since the last time it was due.

/**
 * Evictions walk every customer, so they run once per hour of event time (by default), not per batch: entries stay at
 * most that much past their horizon, and every read of them filters by time anyway.
 */
export class Every {
  #last = Number.NEGATIVE_INFINITY;

  constructor(private readonly intervalMs = 60 * 60_000) {}

  due(watermark: number): boolean {
    if (watermark - this.#last < this.intervalMs) return false;
    this.#last = watermark;
    return true;
  }

  reset(): void {
    this.#last = Number.NEGATIVE_INFINITY;
  }
}

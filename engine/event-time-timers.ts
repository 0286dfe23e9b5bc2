// Event-time timers: callbacks due when the watermark reaches their time, fired in (time, id) order whatever order they were set in.

interface Timer<T> {
  id: string;
  time: number;
  payload: T;
}

/**
 * A min-heap of timers keyed by a caller's id: setting an id again moves its timer, deleting it cancels it.
 * `fire(watermark)` fires every timer with time ≤ watermark, earliest first, ties by id, so output order is
 * deterministic. In memory: an operator that checkpoints rebuilds its timers from its own restored state.
 */
export class EventTimeTimers<T> {
  readonly #heap: Timer<T>[] = [];
  /** The live timer of each id; heap entries whose object is not the live one are cancelled and skipped. */
  readonly #live = new Map<string, Timer<T>>();

  get size(): number {
    return this.#live.size;
  }

  /** The time of the earliest pending timer (Infinity when none). */
  get next(): number {
    this.#dropCancelled();
    return this.#heap[0]?.time ?? Number.POSITIVE_INFINITY;
  }

  timeOf(id: string): number | undefined {
    return this.#live.get(id)?.time;
  }

  set(id: string, time: number, payload: T): void {
    const timer = { id, time, payload };
    this.#live.set(id, timer);
    this.#push(timer);
  }

  delete(id: string): void {
    this.#live.delete(id);
  }

  /** Fires (and removes) every timer due at `watermark`; a callback may set new timers, which fire too if due. */
  fire(watermark: number, onTimer: (id: string, time: number, payload: T) => void): void {
    for (;;) {
      this.#dropCancelled();
      const top = this.#heap[0];
      if (!top || top.time > watermark) return;
      this.#pop();
      this.#live.delete(top.id);
      onTimer(top.id, top.time, top.payload);
    }
  }

  clear(): void {
    this.#heap.length = 0;
    this.#live.clear();
  }

  #dropCancelled(): void {
    while (this.#heap.length > 0 && this.#live.get(this.#heap[0]!.id) !== this.#heap[0]) this.#pop();
  }

  #push(timer: Timer<T>): void {
    const heap = this.#heap;
    heap.push(timer);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!before(heap[index]!, heap[parent]!)) break;
      [heap[index], heap[parent]] = [heap[parent]!, heap[index]!];
      index = parent;
    }
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === index) return;
      [heap[index], heap[smallest]] = [heap[smallest]!, heap[index]!];
      index = smallest;
    }
  }
}

function before<T>(a: Timer<T>, b: Timer<T>): boolean {
  return a.time < b.time || (a.time === b.time && a.id < b.id);
}

// Keyed event-time tumbling and hopping windows: fixed size and slide, allowed lateness with late firings, late events to a side output; a checkpointed state store.
import { EventTimeTimers } from './event-time-timers.ts';
import type { StateChange, StateStore } from './state.ts';

/** How a window's value is built from its events, one at a time. */
export interface WindowAggregator<E, A> {
  create(): A;
  add(accumulator: A, event: E, eventTime: number): void;
}

export interface TimeWindowSpec {
  /** Name of the state store, as it appears in metrics and changelogs. */
  name: string;
  /** Window length: a window covers event times [start, start + sizeMs). */
  sizeMs: number;
  /** Distance between window starts; default `sizeMs` (tumbling). Smaller than the size: hopping (overlapping) windows. */
  slideMs?: number;
  /** Window starts are `offsetMs + n × slideMs` (e.g. a time-zone shift for daily windows); default 0. */
  offsetMs?: number;
  /**
   * How long after a window fired it still accepts late events (each one re-emits the window, firing `late`);
   * default 0: a window is complete when it fires and later events for it go to the late side output.
   */
  allowedLatenessMs?: number;
}

/** One result of a window: emitted when the watermark reaches its end (`on_time`), and again per late event (`late`). */
export interface WindowResult<A> {
  readonly key: string;
  /** Event-time bounds: [start, end). */
  readonly start: number;
  readonly end: number;
  readonly partition: number;
  readonly firing: 'on_time' | 'late';
  readonly accumulator: A;
}

/** What `add` did with an event: the windows it joined, the late firings to emit now, or late for every window. */
export interface WindowAdd<A> {
  /** True when every window of the event was already complete: the event belongs to the late side output. */
  late: boolean;
  /** Windows that had fired already and now changed: emit them now (allowed lateness). */
  updated: readonly WindowResult<A>[];
}

interface WindowState<A> {
  start: number;
  fired: boolean;
  accumulator: A;
}

/** One key's windows as checkpointed. */
interface KeyState<A> {
  windows: Array<{ start: number; fired: boolean; accumulator: A }>;
}

const NONE: readonly WindowResult<never>[] = [];
const LATE: WindowAdd<never> = { late: true, updated: NONE };
const JOINED: WindowAdd<never> = { late: false, updated: NONE };

/**
 * Tumbling (`slideMs` = `sizeMs`) and hopping (`slideMs` < `sizeMs`) windows for one operator instance. A window
 * fires when the watermark reaches its end (no event in [start, end) can be on time any more) and is dropped when
 * the watermark reaches end + allowed lateness. An event is late when each of its windows is dropped by its
 * partition's watermark from before it (so lateness does not depend on batching or other partitions) or by the
 * watermark this store has already fired at. At the end of bounded input (watermark ∞) every window fires.
 */
export class TimeWindows<E, A> implements StateStore {
  readonly #size: number;
  readonly #slide: number;
  readonly #offset: number;
  readonly #lateness: number;
  readonly #windows = new Map<string, Map<number, WindowState<A>>>();
  readonly #partitionOf = new Map<string, number>();
  readonly #changed = new Set<string>();
  /** One timer per window: at its end (fire), then at end + lateness (drop). Ids sort by key, then start. */
  readonly #timers = new EventTimeTimers<{ key: string; start: number }>();
  #watermark = Number.NEGATIVE_INFINITY;
  #count = 0;

  /** Non-overlapping windows of `sizeMs`. */
  static tumbling<E, A>(spec: Omit<TimeWindowSpec, 'slideMs'>, aggregator: WindowAggregator<E, A>): TimeWindows<E, A> {
    return new TimeWindows({ ...spec, slideMs: spec.sizeMs }, aggregator);
  }

  /** Windows of `sizeMs` starting every `slideMs`: an event belongs to ⌈size / slide⌉ of them. */
  static hopping<E, A>(spec: TimeWindowSpec & { slideMs: number }, aggregator: WindowAggregator<E, A>): TimeWindows<E, A> {
    return new TimeWindows(spec, aggregator);
  }

  constructor(
    readonly spec: TimeWindowSpec,
    private readonly aggregator: WindowAggregator<E, A>,
  ) {
    this.#size = spec.sizeMs;
    this.#slide = spec.slideMs ?? spec.sizeMs;
    this.#offset = spec.offsetMs ?? 0;
    this.#lateness = spec.allowedLatenessMs ?? 0;
    if (!(this.#size > 0) || !(this.#slide > 0) || this.#slide > this.#size || !(this.#lateness >= 0)) {
      throw new RangeError(`time windows ${spec.name}: need size > 0, 0 < slide ≤ size, lateness ≥ 0 (got ${this.#size}, ${this.#slide}, ${this.#lateness})`);
    }
  }

  get name(): string {
    return this.spec.name;
  }

  /** Windows held (open, or fired and still within allowed lateness). */
  get size(): number {
    return this.#count;
  }

  /** The starts of the windows containing `eventTime`, earliest first. */
  windowStartsOf(eventTime: number): number[] {
    const last = this.#offset + Math.floor((eventTime - this.#offset) / this.#slide) * this.#slide;
    const starts: number[] = [];
    for (let start = last; start > eventTime - this.#size; start -= this.#slide) starts.unshift(start);
    return starts;
  }

  /** Adds an event to each of its windows that is still held; see `WindowAdd`. */
  add(key: string, eventTime: number, partitionWatermark: number, partition: number, event: E): WindowAdd<A> {
    const horizon = Math.max(partitionWatermark, this.#watermark);
    let joined = false;
    let updated: WindowResult<A>[] | null = null;
    for (const start of this.windowStartsOf(eventTime)) {
      const end = start + this.#size;
      if (end + this.#lateness <= horizon) continue; // dropped (or due to be): late for this window
      let windows = this.#windows.get(key);
      if (!windows) this.#windows.set(key, (windows = new Map()));
      let window = windows.get(start);
      if (!window) {
        window = { start, fired: false, accumulator: this.aggregator.create() };
        windows.set(start, window);
        this.#count++;
        this.#timers.set(timerId(key, start), end, { key, start });
      }
      this.aggregator.add(window.accumulator, event, eventTime);
      joined = true;
      if (window.fired) (updated ??= []).push(this.#result(key, window, partition, 'late'));
    }
    if (!joined) return LATE;
    this.#partitionOf.set(key, partition);
    this.#changed.add(key);
    return updated ? { late: false, updated } : JOINED;
  }

  /** Fires the windows whose end the watermark reached (in (end, key, start) order) and drops those past their lateness. */
  advance(watermark: number, onFire: (result: WindowResult<A>) => void): void {
    if (watermark <= this.#watermark) return;
    this.#watermark = watermark;
    this.#timers.fire(watermark, (_id, time, { key, start }) => {
      const windows = this.#windows.get(key);
      const window = windows?.get(start);
      if (!windows || !window) return;
      const end = start + this.#size;
      if (!window.fired && time === end) {
        window.fired = true;
        this.#changed.add(key);
        onFire(this.#result(key, window, this.#partitionOf.get(key) ?? 0, 'on_time'));
        if (this.#lateness > 0) {
          // Kept for late events until the watermark reaches end + lateness (fires now too when it already has).
          this.#timers.set(timerId(key, start), end + this.#lateness, { key, start });
          return;
        }
      }
      windows.delete(start);
      this.#count--;
      if (windows.size === 0) this.#windows.delete(key);
      this.#changed.add(key);
    });
  }

  /** The windows held for a key, earliest first (for operators that look at live values). */
  windowsOf(key: string): Array<{ start: number; end: number; fired: boolean; accumulator: A }> {
    const windows = [...(this.#windows.get(key)?.values() ?? [])].sort((a, b) => a.start - b.start);
    return windows.map(({ start, fired, accumulator }) => ({ start, end: start + this.#size, fired, accumulator }));
  }

  changes(): StateChange[] {
    const changes: StateChange[] = [];
    for (const key of this.#changed) {
      const partition = this.#partitionOf.get(key);
      if (partition === undefined) continue;
      const windows = this.#windows.get(key);
      if (!windows) {
        this.#partitionOf.delete(key);
        changes.push({ store: this.spec.name, partition, key, value: null });
        continue;
      }
      const value: KeyState<A> = {
        windows: [...windows.values()].sort((a, b) => a.start - b.start).map(({ start, fired, accumulator }) => ({ start, fired, accumulator })),
      };
      changes.push({ store: this.spec.name, partition, key, value });
    }
    this.#changed.clear();
    return changes;
  }

  restore(partition: number, entries: ReadonlyMap<string, unknown>): void {
    for (const [key, raw] of entries) {
      const state = raw as KeyState<A>;
      if (state.windows.length === 0) continue;
      const windows = new Map<number, WindowState<A>>();
      for (const { start, fired, accumulator } of state.windows) {
        windows.set(start, { start, fired, accumulator });
        const end = start + this.#size;
        this.#timers.set(timerId(key, start), fired ? end + this.#lateness : end, { key, start });
      }
      this.#windows.set(key, windows);
      this.#partitionOf.set(key, partition);
      this.#count += windows.size;
    }
  }

  clear(): void {
    this.#windows.clear();
    this.#partitionOf.clear();
    this.#changed.clear();
    this.#timers.clear();
    this.#watermark = Number.NEGATIVE_INFINITY;
    this.#count = 0;
  }

  #result(key: string, window: WindowState<A>, partition: number, firing: 'on_time' | 'late'): WindowResult<A> {
    return { key, start: window.start, end: window.start + this.#size, partition, firing, accumulator: window.accumulator };
  }
}

/** Timer ids sort by key, then by start (fixed-width, offset so negative times sort too). */
function timerId(key: string, start: number): string {
  return `${key}\u0000${(start + 8.64e15).toString(36).padStart(12, '0')}`;
}

// Keyed event-time session windows: an inactivity gap, merging when an event bridges two sessions, and lateness; a checkpointed state store.
import type { StateChange, StateStore } from './state.ts';

/** How a session's value is built incrementally; `merge` must give the same result as adding the events in order. */
export interface SessionAggregator<E, A> {
  create(event: E, eventTime: number): A;
  add(accumulator: A, event: E, eventTime: number): void;
  merge(into: A, from: A): void;
}

export interface Session<A> {
  readonly key: string;
  /** Smallest and largest event time in the session. */
  start: number;
  last: number;
  readonly partition: number;
  /** Lowest input offset among the session's events: the log must be kept from here until the session closes. */
  firstOffset: number;
  accumulator: A;
}

export interface SessionWindowSpec {
  /** Name of the state store, as it appears in metrics and changelogs. */
  name: string;
  /** Inactivity gap: an event within this distance of a session's events joins it. */
  gapMs: number;
}

const BUCKET_MS = 1000;

/**
 * Session windows for one operator instance. Lateness is decided against the *partition's* watermark
 * from before the event, so the same partition contents give the same sessions whatever the batch sizes or
 * the interleaving with other partitions; sessions are *emitted* when the global watermark passes them.
 */
/** One key's state as checkpointed: its open sessions and how far its closed sessions reach. */
interface KeyState<A> {
  sessions: Array<{ start: number; last: number; firstOffset: number; accumulator: A }>;
  closedUntil: number | null;
}

export class SessionWindows<E, A> implements StateStore {
  readonly #open = new Map<string, Session<A>[]>();
  /** The input partition of each key that has state, and the keys changed since the last checkpoint. */
  readonly #partitionOf = new Map<string, number>();
  readonly #changed = new Set<string>();
  /** Close deadlines (last + gap) in 1 s buckets; `#bucketIds` is kept sorted. */
  readonly #buckets = new Map<number, Set<Session<A>>>();
  readonly #bucketIds: number[] = [];
  /** Keys whose closed sessions still reach into the future: events up to this time are late. */
  readonly #closedUntil = new Map<string, number>();
  readonly #tombstones: Array<{ key: string; until: number }> = [];
  #size = 0;

  constructor(
    readonly spec: SessionWindowSpec,
    private readonly aggregator: SessionAggregator<E, A>,
  ) {}

  /** Live (open) sessions. */
  get size(): number {
    return this.#size;
  }

  get name(): string {
    return this.spec.name;
  }

  /**
   * Adds an event; answers its session, or null when the event is late (its session has closed or is
   * due to close by the partition watermark), in which case no state changes.
   */
  add(key: string, eventTime: number, partitionWatermark: number, partition: number, offset: number, event: E): Session<A> | null {
    const gap = this.spec.gapMs;
    const closedUntil = this.#closedUntil.get(key);
    if (closedUntil !== undefined && eventTime <= closedUntil) return null;
    const sessions = this.#open.get(key);
    let target: Session<A> | null = null;
    let end = eventTime;
    if (sessions) {
      for (const session of sessions) {
        if (eventTime < session.start - gap || eventTime > session.last + gap) continue;
        if (session.last + gap < partitionWatermark) return null; // bridges into a session that is already due
        end = Math.max(end, session.last);
      }
    }
    if (end + gap < partitionWatermark) return null; // would form a session that is complete already
    this.#partitionOf.set(key, partition);
    this.#changed.add(key);
    if (sessions) {
      for (let index = 0; index < sessions.length; index++) {
        const session = sessions[index]!;
        if (eventTime < session.start - gap || eventTime > session.last + gap) continue;
        if (target === null) {
          target = session;
          continue;
        }
        // The event bridges two sessions: fold the later one into the earlier one.
        this.aggregator.merge(target.accumulator, session.accumulator);
        this.#unschedule(target);
        this.#unschedule(session);
        target.start = Math.min(target.start, session.start);
        target.last = Math.max(target.last, session.last);
        target.firstOffset = Math.min(target.firstOffset, session.firstOffset);
        this.#schedule(target);
        sessions.splice(index--, 1);
        this.#size--;
      }
    }
    if (target === null) {
      target = { key, start: eventTime, last: eventTime, partition, firstOffset: offset, accumulator: this.aggregator.create(event, eventTime) };
      if (sessions) {
        sessions.push(target);
        sessions.sort((a, b) => a.start - b.start);
      } else this.#open.set(key, [target]);
      this.#size++;
      this.#schedule(target);
      return target;
    }
    this.aggregator.add(target.accumulator, event, eventTime);
    if (eventTime < target.start) target.start = eventTime;
    if (offset < target.firstOffset) target.firstOffset = offset;
    if (eventTime > target.last) {
      this.#unschedule(target);
      target.last = eventTime;
      this.#schedule(target);
    }
    return target;
  }

  /** Closes every session whose last event + gap the watermark has passed, in (deadline, key) order. */
  closeUpTo(watermark: number, onClose: (session: Session<A>) => void): void {
    const gap = this.spec.gapMs;
    const closing: Session<A>[] = [];
    while (this.#bucketIds.length > 0 && this.#bucketIds[0]! * BUCKET_MS < watermark) {
      const id = this.#bucketIds[0]!;
      const bucket = this.#buckets.get(id)!;
      for (const session of bucket) {
        if (session.last + gap < watermark) {
          closing.push(session);
          bucket.delete(session);
        }
      }
      if (bucket.size > 0) break;
      this.#buckets.delete(id);
      this.#bucketIds.shift();
    }
    closing.sort((a, b) => a.last - b.last || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const session of closing) {
      const sessions = this.#open.get(session.key)!;
      sessions.splice(sessions.indexOf(session), 1);
      if (sessions.length === 0) this.#open.delete(session.key);
      this.#size--;
      const until = session.last + gap;
      if ((this.#closedUntil.get(session.key) ?? Number.NEGATIVE_INFINITY) < until) {
        this.#closedUntil.set(session.key, until);
        this.#tombstones.push({ key: session.key, until });
      }
      this.#changed.add(session.key);
      onClose(session);
    }
    this.#evictTombstones(watermark);
  }

  /** Per partition, the lowest input offset that open sessions still need (commit no further than this). */
  retainedOffsets(): Map<number, number> {
    const lowest = new Map<number, number>();
    for (const sessions of this.#open.values()) {
      for (const session of sessions) {
        const current = lowest.get(session.partition);
        if (current === undefined || session.firstOffset < current) lowest.set(session.partition, session.firstOffset);
      }
    }
    return lowest;
  }

  /** The open sessions of a key (for rules that look at the live session). */
  sessionsOf(key: string): readonly Session<A>[] {
    return this.#open.get(key) ?? [];
  }

  changes(): StateChange[] {
    const changes: StateChange[] = [];
    for (const key of this.#changed) {
      const partition = this.#partitionOf.get(key);
      if (partition === undefined) continue;
      const sessions = this.#open.get(key);
      const closedUntil = this.#closedUntil.get(key);
      if (!sessions && closedUntil === undefined) {
        this.#partitionOf.delete(key);
        changes.push({ store: this.spec.name, partition, key, value: null });
        continue;
      }
      const value: KeyState<A> = {
        sessions: (sessions ?? []).map(({ start, last, firstOffset, accumulator }) => ({ start, last, firstOffset, accumulator })),
        closedUntil: closedUntil ?? null,
      };
      changes.push({ store: this.spec.name, partition, key, value });
    }
    this.#changed.clear();
    return changes;
  }

  restore(partition: number, entries: ReadonlyMap<string, unknown>): void {
    for (const [key, raw] of entries) {
      const state = raw as KeyState<A>;
      this.#partitionOf.set(key, partition);
      if (state.sessions.length > 0) {
        const sessions = state.sessions.map((saved) => ({ key, partition, ...saved }));
        sessions.sort((a, b) => a.start - b.start);
        this.#open.set(key, sessions);
        for (const session of sessions) this.#schedule(session);
        this.#size += sessions.length;
      }
      if (state.closedUntil !== null) {
        this.#closedUntil.set(key, state.closedUntil);
        this.#tombstones.push({ key, until: state.closedUntil });
      }
    }
    this.#tombstones.sort((a, b) => a.until - b.until);
  }

  clear(): void {
    this.#open.clear();
    this.#partitionOf.clear();
    this.#changed.clear();
    this.#buckets.clear();
    this.#bucketIds.length = 0;
    this.#closedUntil.clear();
    this.#tombstones.length = 0;
    this.#size = 0;
  }

  /** A tombstone matters only while an event could still arrive within its reach without being late anyway. */
  #evictTombstones(watermark: number): void {
    const gap = this.spec.gapMs;
    let evicted = 0;
    while (evicted < this.#tombstones.length && this.#tombstones[evicted]!.until + gap < watermark) {
      const { key, until } = this.#tombstones[evicted]!;
      if (this.#closedUntil.get(key) === until) {
        this.#closedUntil.delete(key);
        this.#changed.add(key);
      }
      evicted++;
    }
    if (evicted > 0) this.#tombstones.splice(0, evicted);
  }

  #schedule(session: Session<A>): void {
    const id = Math.floor((session.last + this.spec.gapMs) / BUCKET_MS);
    let bucket = this.#buckets.get(id);
    if (!bucket) {
      bucket = new Set();
      this.#buckets.set(id, bucket);
      insertSorted(this.#bucketIds, id);
    }
    bucket.add(session);
  }

  #unschedule(session: Session<A>): void {
    const id = Math.floor((session.last + this.spec.gapMs) / BUCKET_MS);
    this.#buckets.get(id)?.delete(session);
  }
}

function insertSorted(values: number[], value: number): void {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (values[middle]! < value) low = middle + 1;
    else high = middle;
  }
  values.splice(low, 0, value);
}

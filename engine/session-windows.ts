// Keyed event-time session windows: an inactivity gap, merging when an event bridges two sessions, and lateness; a checkpointed state store.
import type { StateChange, StateStore } from './state.ts';

/** How a session's value is built incrementally; `merge` must give the same result as adding the events in order. */
export interface SessionAggregator<E, A> {
  create(event: E, eventTime: number): A;
  add(accumulator: A, event: E, eventTime: number): void;
  merge(into: A, from: A): void;
  /** Rebuilds an accumulator from its checkpointed JSON (default: the JSON value itself). */
  restore?(saved: unknown): A;
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

/** An open session as the windows hold it: one object, `last` kept as an offset from `start` (a small integer, not a boxed number). */
class OpenSession<A> implements Session<A> {
  #span = 0;
  /** Its place in the close-deadline bucket it is scheduled in (-1: none), for removal without a search. */
  slot = -1;

  constructor(
    readonly key: string,
    public start: number,
    last: number,
    readonly partition: number,
    public firstOffset: number,
    public accumulator: A,
  ) {
    this.#span = last - start;
  }

  get last(): number {
    return this.start + this.#span;
  }

  set last(value: number) {
    this.#span = value - this.start;
  }

  /** Moves the start keeping `last`. */
  moveStart(value: number): void {
    this.#span += this.start - value;
    this.start = value;
  }
}

/** One input partition's close schedule: open sessions by deadline (last + gap) in 1 s buckets, and closed keys' reach. */
interface PartitionDeadlines<A> {
  readonly partition: number;
  readonly buckets: Map<number, OpenSession<A>[]>;
  /** The bucket ids, kept sorted. */
  readonly bucketIds: number[];
  /** Closed keys whose reach (`closedUntil`) is still remembered, by `until`. */
  readonly tombstones: Array<{ key: string; until: number }>;
}

/** A key's open sessions: one session (the common case) or several, ordered by start. */
type OpenOf<A> = OpenSession<A> | OpenSession<A>[];

/** One key's state as checkpointed: its open sessions and how far its closed sessions reach. */
interface KeyState<A> {
  sessions: Array<{ start: number; last: number; firstOffset: number; accumulator: A }>;
  closedUntil: number | null;
}

/**
 * Session windows for one operator instance. Lateness is decided against the *partition's* watermark
 * from before the event, so the same partition contents give the same sessions whatever the batch sizes or
 * the interleaving with other partitions; sessions close when their own partition's watermark passes them
 * (`closePartitionUpTo`), never waiting for other partitions.
 *
 * Per live session it holds one session object, its accumulator, one map entry (a key with one session points at it
 * directly, no array) and one slot in a close-deadline bucket (an array; a session knows its slot).
 */
export class SessionWindows<E, A> implements StateStore {
  readonly #open = new Map<string, OpenOf<A>>();
  /** Keys changed since the last checkpoint, with the input partition their changelog record goes to. */
  readonly #changed = new Map<string, number>();
  /** Per input partition: its sessions' close deadlines and its closed keys' reach (each partition closes on its own watermark). */
  readonly #partitions = new Map<number, PartitionDeadlines<A>>();
  /** Keys whose closed sessions still reach into the future: events up to this time are late. */
  readonly #closedUntil = new Map<string, number>();
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
    const open = this.#open.get(key);
    let end = eventTime;
    if (open !== undefined) {
      const count = Array.isArray(open) ? open.length : 1;
      for (let index = 0; index < count; index++) {
        const session = Array.isArray(open) ? open[index]! : open;
        const last = session.last;
        if (eventTime < session.start - gap || eventTime > last + gap) continue;
        if (last + gap < partitionWatermark) return null; // bridges into a session that is already due
        if (last > end) end = last;
      }
    }
    if (end + gap < partitionWatermark) return null; // would form a session that is complete already
    this.#changed.set(key, partition);
    let target: OpenSession<A> | null = null;
    if (open !== undefined) {
      if (!Array.isArray(open)) {
        if (eventTime >= open.start - gap && eventTime <= open.last + gap) target = open;
      } else {
        for (let index = 0; index < open.length; index++) {
          const session = open[index]!;
          if (eventTime < session.start - gap || eventTime > session.last + gap) continue;
          if (target === null) {
            target = session;
            continue;
          }
          // The event bridges two sessions: fold the later one into the earlier one.
          this.aggregator.merge(target.accumulator, session.accumulator);
          this.#unschedule(target);
          this.#unschedule(session);
          const last = Math.max(target.last, session.last);
          if (session.start < target.start) target.moveStart(session.start);
          target.last = last;
          target.firstOffset = Math.min(target.firstOffset, session.firstOffset);
          this.#schedule(target);
          open.splice(index--, 1);
          this.#size--;
        }
        if (open.length === 1) this.#open.set(key, open[0]!);
      }
    }
    if (target === null) {
      const session = new OpenSession(key, eventTime, eventTime, partition, offset, this.aggregator.create(event, eventTime));
      if (open === undefined) this.#open.set(key, session);
      else {
        // No session took the event, so none merged: `open` is as it was read.
        const list = Array.isArray(open) ? open : [open];
        list.push(session);
        list.sort((a, b) => a.start - b.start);
        this.#open.set(key, list);
      }
      this.#size++;
      this.#schedule(session);
      return session;
    }
    this.aggregator.add(target.accumulator, event, eventTime);
    if (eventTime < target.start) target.moveStart(eventTime);
    if (offset < target.firstOffset) target.firstOffset = offset;
    if (eventTime > target.last) {
      const from = this.#deadlineBucket(target);
      target.last = eventTime;
      if (this.#deadlineBucket(target) !== from) this.#moveBucket(target, from);
    }
    return target;
  }

  /** Closes every session, of any partition, whose last event + gap the watermark has passed, in (deadline, key) order. */
  closeUpTo(watermark: number, onClose: (session: Session<A>) => void): void {
    const closing: OpenSession<A>[] = [];
    for (const deadlines of this.#partitions.values()) this.#takeDue(deadlines, watermark, closing);
    this.#close(closing, onClose);
    for (const deadlines of this.#partitions.values()) this.#evictTombstones(deadlines, watermark);
  }

  /**
   * Closes the sessions of one input partition whose last event + gap its own watermark has passed, in (deadline,
   * key) order: a customer's sessions never wait for other partitions (CONTRACT §2).
   */
  closePartitionUpTo(partition: number, watermark: number, onClose: (session: Session<A>) => void): void {
    const deadlines = this.#partitions.get(partition);
    if (deadlines === undefined) return;
    if (deadlines.bucketIds.length > 0 && deadlines.bucketIds[0]! * BUCKET_MS < watermark) {
      const closing: OpenSession<A>[] = [];
      this.#takeDue(deadlines, watermark, closing);
      this.#close(closing, onClose);
    }
    this.#evictTombstones(deadlines, watermark);
  }

  /** Moves a partition's sessions that are due at this watermark into `closing` (out of their deadline buckets). */
  #takeDue(deadlines: PartitionDeadlines<A>, watermark: number, closing: OpenSession<A>[]): void {
    const gap = this.spec.gapMs;
    const { buckets, bucketIds } = deadlines;
    while (bucketIds.length > 0 && bucketIds[0]! * BUCKET_MS < watermark) {
      const id = bucketIds[0]!;
      const bucket = buckets.get(id)!;
      for (let index = 0; index < bucket.length; index++) {
        const session = bucket[index]!;
        if (session.last + gap < watermark) {
          closing.push(session);
          this.#removeAt(bucket, index--);
        }
      }
      if (bucket.length > 0) break;
      buckets.delete(id);
      bucketIds.shift();
    }
  }

  #close(closing: OpenSession<A>[], onClose: (session: Session<A>) => void): void {
    const gap = this.spec.gapMs;
    closing.sort((a, b) => a.last - b.last || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const session of closing) {
      const open = this.#open.get(session.key)!;
      if (Array.isArray(open)) {
        open.splice(open.indexOf(session), 1);
        if (open.length === 1) this.#open.set(session.key, open[0]!);
      } else this.#open.delete(session.key);
      this.#size--;
      const until = session.last + gap;
      if ((this.#closedUntil.get(session.key) ?? Number.NEGATIVE_INFINITY) < until) {
        this.#closedUntil.set(session.key, until);
        this.#deadlinesOf(session.partition).tombstones.push({ key: session.key, until });
      }
      if (!this.#changed.has(session.key)) this.#changed.set(session.key, session.partition);
      onClose(session);
    }
  }

  /** Per partition, the lowest input offset that open sessions still need (commit no further than this). */
  retainedOffsets(): Map<number, number> {
    const lowest = new Map<number, number>();
    const note = (session: OpenSession<A>) => {
      const current = lowest.get(session.partition);
      if (current === undefined || session.firstOffset < current) lowest.set(session.partition, session.firstOffset);
    };
    for (const open of this.#open.values()) {
      if (Array.isArray(open)) for (const session of open) note(session);
      else note(open);
    }
    return lowest;
  }

  /**
   * Removes, without closing them, the key's open sessions that an event at `eventTime` would join, and answers them:
   * their events now belong to another key (identity stitching hands an anonymous session over to the customer). No
   * close, no reach kept: the key's next event starts afresh.
   */
  remove(key: string, eventTime: number): Session<A>[] {
    const open = this.#open.get(key);
    if (open === undefined) return [];
    const gap = this.spec.gapMs;
    const sessions = Array.isArray(open) ? open : [open];
    const removed = sessions.filter((session) => eventTime >= session.start - gap && eventTime <= session.last + gap);
    if (removed.length === 0) return [];
    const kept = sessions.filter((session) => !removed.includes(session));
    for (const session of removed) {
      this.#unschedule(session);
      this.#size--;
    }
    if (kept.length === 0) this.#open.delete(key);
    else this.#open.set(key, kept.length === 1 ? kept[0]! : kept);
    if (!this.#changed.has(key)) this.#changed.set(key, removed[0]!.partition);
    return removed;
  }

  /** The open sessions of a key (for rules that look at the live session). */
  sessionsOf(key: string): readonly Session<A>[] {
    const open = this.#open.get(key);
    return open === undefined ? [] : Array.isArray(open) ? open : [open];
  }

  /**
   * Forgets a key (an erasure): its open sessions go without closing (no row, no rule fires on them) and so does the
   * reach of its closed ones, so its next event starts a new session whatever its time. The next checkpoint writes
   * the key's tombstone.
   */
  forget(key: string): void {
    const open = this.#open.get(key);
    let partition: number | undefined;
    if (open !== undefined) {
      for (const session of Array.isArray(open) ? open : [open]) {
        this.#unschedule(session);
        this.#size--;
        partition = session.partition;
      }
      this.#open.delete(key);
    }
    if (this.#closedUntil.has(key)) {
      this.#closedUntil.delete(key);
      // The partition's tombstone list keeps the entry; it is skipped at eviction (its `until` no longer matches).
      for (const deadlines of this.#partitions.values()) if (deadlines.tombstones.some((entry) => entry.key === key)) partition ??= deadlines.partition;
    }
    partition ??= this.#changed.get(key);
    if (partition !== undefined) this.#changed.set(key, partition);
  }

  changes(): StateChange[] {
    const changes: StateChange[] = [];
    for (const [key, partition] of this.#changed) {
      const open = this.#open.get(key);
      const closedUntil = this.#closedUntil.get(key);
      if (open === undefined && closedUntil === undefined) {
        changes.push({ store: this.spec.name, partition, key, value: null });
        continue;
      }
      const sessions = open === undefined ? [] : Array.isArray(open) ? open : [open];
      const value: KeyState<A> = {
        sessions: sessions.map(({ start, last, firstOffset, accumulator }) => ({ start, last, firstOffset, accumulator })),
        closedUntil: closedUntil ?? null,
      };
      changes.push({ store: this.spec.name, partition, key, value });
    }
    this.#changed.clear();
    return changes;
  }

  restore(partition: number, entries: ReadonlyMap<string, unknown>): void {
    const revive = this.aggregator.restore;
    for (const [key, raw] of entries) {
      const state = raw as KeyState<unknown>;
      if (state.sessions.length > 0) {
        const sessions = state.sessions.map(
          (saved) => new OpenSession<A>(key, saved.start, saved.last, partition, saved.firstOffset, revive ? revive(saved.accumulator) : (saved.accumulator as A)),
        );
        sessions.sort((a, b) => a.start - b.start);
        this.#open.set(key, sessions.length === 1 ? sessions[0]! : sessions);
        for (const session of sessions) this.#schedule(session);
        this.#size += sessions.length;
      }
      if (state.closedUntil !== null) {
        this.#closedUntil.set(key, state.closedUntil);
        this.#deadlinesOf(partition).tombstones.push({ key, until: state.closedUntil });
      }
    }
    this.#deadlinesOf(partition).tombstones.sort((a, b) => a.until - b.until);
  }

  clear(): void {
    this.#open.clear();
    this.#changed.clear();
    this.#partitions.clear();
    this.#closedUntil.clear();
    this.#size = 0;
  }

  /** A tombstone matters only while an event could still arrive within its reach without being late anyway. */
  #evictTombstones(deadlines: PartitionDeadlines<A>, watermark: number): void {
    const gap = this.spec.gapMs;
    const { tombstones, partition } = deadlines;
    let evicted = 0;
    while (evicted < tombstones.length && tombstones[evicted]!.until + gap < watermark) {
      const { key, until } = tombstones[evicted]!;
      if (this.#closedUntil.get(key) === until) {
        this.#closedUntil.delete(key);
        if (!this.#changed.has(key)) this.#changed.set(key, partition);
      }
      evicted++;
    }
    if (evicted > 0) tombstones.splice(0, evicted);
  }

  #deadlinesOf(partition: number): PartitionDeadlines<A> {
    let deadlines = this.#partitions.get(partition);
    if (deadlines === undefined) {
      deadlines = { partition, buckets: new Map(), bucketIds: [], tombstones: [] };
      this.#partitions.set(partition, deadlines);
    }
    return deadlines;
  }

  #deadlineBucket(session: OpenSession<A>): number {
    return Math.floor((session.last + this.spec.gapMs) / BUCKET_MS);
  }

  #schedule(session: OpenSession<A>): void {
    const id = this.#deadlineBucket(session);
    const deadlines = this.#deadlinesOf(session.partition);
    let bucket = deadlines.buckets.get(id);
    if (!bucket) {
      bucket = [];
      deadlines.buckets.set(id, bucket);
      insertSorted(deadlines.bucketIds, id);
    }
    session.slot = bucket.length;
    bucket.push(session);
  }

  #unschedule(session: OpenSession<A>): void {
    this.#unscheduleFrom(session, this.#deadlineBucket(session));
  }

  #unscheduleFrom(session: OpenSession<A>, id: number): void {
    const bucket = this.#partitions.get(session.partition)?.buckets.get(id);
    if (bucket !== undefined && bucket[session.slot] === session) this.#removeAt(bucket, session.slot);
  }

  #moveBucket(session: OpenSession<A>, from: number): void {
    this.#unscheduleFrom(session, from);
    this.#schedule(session);
  }

  /** Swap-remove: the bucket's last session takes the freed slot. */
  #removeAt(bucket: OpenSession<A>[], index: number): void {
    bucket[index]!.slot = -1;
    const moved = bucket.pop()!;
    if (index < bucket.length) {
      bucket[index] = moved;
      moved.slot = index;
    }
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

// Event-time watermarks: per partition (max event time − out-of-orderness) and the global minimum over active partitions.

export interface WatermarkOptions {
  /** Bounded out-of-orderness: how far behind the largest event time an event may still arrive in order. */
  outOfOrdernessMs: number;
  /** Wall-clock time after which a partition with no new event stops holding the watermark back. */
  idleTimeoutMs: number;
  /** Wall clock (ms); injectable so tests control idleness. */
  wallClock: () => number;
}

interface PartitionTime {
  maxEventTime: number;
  /** Raised to the global watermark while the partition idles, so time it missed still counts for it. */
  floor: number;
  lastEventWallTime: number;
}

/** A partition's event-time progress as checkpointed (null for −∞), so lateness after a restore matches an uninterrupted run. */
export interface PartitionTimeState {
  maxEventTime: number | null;
  floor: number | null;
}

/** How long a partition the consumer has not fetched yet is kept from going idle (`unknownLogEnd`). */
export const UNKNOWN_LOG_END_HOLD_MS = 30_000;

const toState = (value: number): number | null => (Number.isFinite(value) ? value : null);
const fromState = (value: number | null | undefined): number => value ?? Number.NEGATIVE_INFINITY;

export class WatermarkTracker {
  readonly #partitions = new Map<number, PartitionTime>();
  /** Partitions whose time moved since the last `changes()`. */
  readonly #changed = new Set<number>();
  /** Each partition's log end as last reported by the consumer (`arrived`). */
  readonly #logEnds = new Map<number, number>();
  /** When each partition was first reported not fetched yet (`unknownLogEnd`). */
  readonly #unknownSince = new Map<number, number>();
  #current = Number.NEGATIVE_INFINITY;
  /** When every partition went idle: the wall time and the watermark then, so time moves with the clock. */
  #allIdleSince: { wallTime: number; watermark: number } | null = null;
  #ended = false;

  constructor(private readonly options: WatermarkOptions) {}

  /** Sets the partitions this worker owns; new ones start empty (holding time back until they idle). */
  assign(partitions: readonly number[]): void {
    const now = this.options.wallClock();
    for (const partition of [...this.#partitions.keys()]) {
      if (!partitions.includes(partition)) {
        this.#partitions.delete(partition);
        this.#logEnds.delete(partition);
        this.#unknownSince.delete(partition);
      }
    }
    for (const partition of partitions) {
      if (!this.#partitions.has(partition)) {
        this.#partitions.set(partition, { maxEventTime: Number.NEGATIVE_INFINITY, floor: Number.NEGATIVE_INFINITY, lastEventWallTime: now });
      }
    }
  }

  /** The partitions this worker tracks, in ascending order. */
  partitions(): number[] {
    return [...this.#partitions.keys()].sort((a, b) => a - b);
  }

  /** The watermark of one partition from the events it has seen so far: deterministic for a given partition prefix. */
  partitionWatermark(partition: number): number {
    const time = this.#partitions.get(partition);
    if (!time) return Number.NEGATIVE_INFINITY;
    return Math.max(time.maxEventTime - this.options.outOfOrdernessMs, time.floor);
  }

  /** Records an event's time for its partition; returns the partition watermark from *before* this event. */
  observe(partition: number, eventTime: number, wallTime: number): number {
    let time = this.#partitions.get(partition);
    if (!time) {
      time = { maxEventTime: Number.NEGATIVE_INFINITY, floor: Number.NEGATIVE_INFINITY, lastEventWallTime: wallTime };
      this.#partitions.set(partition, time);
    }
    const before = Math.max(time.maxEventTime - this.options.outOfOrdernessMs, time.floor);
    if (this.#allIdleSince !== null) {
      // Input resumes after every partition went quiet: a burst reaches the partitions one after another, so each
      // gets a fresh idle timeout to show its part before the first one's time may pass it (else its events are late).
      this.#allIdleSince = null;
      for (const other of this.#partitions.values()) other.lastEventWallTime = wallTime;
    }
    if (eventTime > time.maxEventTime) {
      time.maxEventTime = eventTime;
      this.#changed.add(partition);
    }
    time.lastEventWallTime = wallTime;
    return before;
  }

  /**
   * The consumer saw `partition`'s log end at `logEnd` while the job has read it up to `readTo` (next offset). When
   * the log grew and holds records the job has not polled yet, input is arriving for that partition: it is not
   * idle, although none of it was polled yet (librdkafka and kafkajs hand out partitions' records one after the
   * other, so a poll can hold one partition's part of a burst while the others' wait in the client). Without this,
   * the first partition polled after a quiet spell moved the watermark past the rest of the burst, and their
   * events came out late (the ClickHouse outage test's "hang": 15–33 events late, sessions never matched).
   * Only growth counts: a log end that stays ahead of what can be read (an aborted transaction's records, commit
   * markers) cannot hold a partition active forever.
   */
  arrived(partition: number, logEnd: number, readTo: number, wallTime: number): void {
    const time = this.#partitions.get(partition);
    if (!time) return;
    const previous = this.#logEnds.get(partition);
    this.#logEnds.set(partition, logEnd);
    if ((previous !== undefined && logEnd <= previous) || logEnd <= readTo) return;
    if (this.#allIdleSince !== null) {
      // Input resumes after every partition went quiet: each gets a fresh idle timeout, as in `observe`.
      this.#allIdleSince = null;
      for (const other of this.#partitions.values()) other.lastEventWallTime = Math.max(other.lastEventWallTime, wallTime);
    }
    if (time.lastEventWallTime < wallTime) time.lastEventWallTime = wallTime;
  }

  /**
   * The consumer has not fetched `partition` yet since it was assigned (its log end is unknown, e.g. while a
   * restarted broker has no leader for it): records may be waiting there, so it is not idle, for at most
   * UNKNOWN_LOG_END_HOLD_MS after it was first found so (a partition that stays unreachable must not stop time).
   * Found by the broker-restart test: after the restart's restore, one partition's records came first and the
   * others, not fetched for over the idle timeout, went idle; 256 of their events came out late.
   */
  unknownLogEnd(partition: number, wallTime: number): void {
    const time = this.#partitions.get(partition);
    if (!time || this.#logEnds.has(partition)) return;
    const since = this.#unknownSince.get(partition) ?? wallTime;
    this.#unknownSince.set(partition, since);
    if (wallTime - since < UNKNOWN_LOG_END_HOLD_MS && time.lastEventWallTime < wallTime) time.lastEventWallTime = wallTime;
  }

  /**
   * The job did not read input for `durationMs` of wall time (its sinks were down and it waited for them): that time
   * does not count as idleness. Idle means "nothing arrived while we were reading"; counting a pause would declare
   * every partition idle when reading resumes, and let the first partition read jump the watermark past the backlog
   * of all the others (their events would wrongly be late).
   */
  paused(durationMs: number): void {
    if (!(durationMs > 0)) return;
    for (const time of this.#partitions.values()) time.lastEventWallTime += durationMs;
    if (this.#allIdleSince !== null) this.#allIdleSince.wallTime += durationMs;
  }

  /**
   * A poll came back full: the log holds more input than one poll takes, so any partition may have events waiting
   * behind the ones just read. None counts as idle now (their idle clocks restart); otherwise a backlog read one
   * partition at a time would let the first partition's time pass the others' and make their events late.
   */
  behind(wallTime: number): void {
    for (const time of this.#partitions.values()) if (time.lastEventWallTime < wallTime) time.lastEventWallTime = wallTime;
  }

  /** Bounded input is over: the watermark goes to infinity and every window closes. */
  endOfInput(): void {
    this.#ended = true;
  }

  /** The global watermark now: monotonic, the minimum over partitions that are not idle. */
  current(): number {
    if (this.#ended) return (this.#current = Number.POSITIVE_INFINITY);
    const now = this.options.wallClock();
    let minimum = Number.POSITIVE_INFINITY;
    let active = 0;
    for (const time of this.#partitions.values()) {
      if (now - time.lastEventWallTime >= this.options.idleTimeoutMs) continue;
      active++;
      minimum = Math.min(minimum, Math.max(time.maxEventTime - this.options.outOfOrdernessMs, time.floor));
    }
    if (active > 0) {
      this.#allIdleSince = null;
      if (minimum > this.#current) this.#current = minimum;
    } else if (this.#partitions.size > 0) {
      // Quiet input must not freeze time: advance with the wall clock from the last value.
      if (this.#allIdleSince === null) this.#allIdleSince = { wallTime: now, watermark: this.#current };
      const base = this.#allIdleSince.watermark;
      if (base > Number.NEGATIVE_INFINITY) {
        const advanced = base + (now - this.#allIdleSince.wallTime);
        if (advanced > this.#current) this.#current = advanced;
      }
    }
    for (const [partition, time] of this.#partitions) {
      if (now - time.lastEventWallTime >= this.options.idleTimeoutMs && time.floor < this.#current) {
        time.floor = this.#current;
        this.#changed.add(partition);
      }
    }
    return this.#current;
  }

  /** The partitions whose time moved since the last call, with their state to checkpoint. */
  changes(): Array<{ partition: number; state: PartitionTimeState }> {
    const changes: Array<{ partition: number; state: PartitionTimeState }> = [];
    for (const partition of this.#changed) {
      const time = this.#partitions.get(partition);
      if (time) changes.push({ partition, state: { maxEventTime: toState(time.maxEventTime), floor: toState(time.floor) } });
    }
    this.#changed.clear();
    return changes;
  }

  /** Puts a partition's checkpointed time back; its idle clock starts now. */
  restore(partition: number, state: PartitionTimeState): void {
    this.#partitions.set(partition, {
      maxEventTime: fromState(state.maxEventTime),
      floor: fromState(state.floor),
      lastEventWallTime: this.options.wallClock(),
    });
  }

  /** Forgets every partition and the global watermark (before restoring after a rebalance). */
  reset(): void {
    this.#partitions.clear();
    this.#changed.clear();
    this.#logEnds.clear();
    this.#unknownSince.clear();
    this.#current = Number.NEGATIVE_INFINITY;
    this.#allIdleSince = null;
    this.#ended = false;
  }

  /** The last global watermark without re-reading the clock. */
  get last(): number {
    return this.#current;
  }
}

// Which worker (HTTP base URL) serves which input partition: each worker announces its partitions on a compacted topic, and every worker reads all announcements.
import { randomUUID } from 'node:crypto';
import type { Log, LogConsumer, LogProducer, LogRecord } from '../log/log.ts';

/** A worker that serves some input partitions. */
export interface PartitionOwner {
  memberId: string;
  /** Its HTTP base URL (scheme, host, port; no trailing slash), where the serving API is mounted. */
  url: string;
}

/** Where a request for a partition goes: to its one owner, or nowhere yet (the API answers 503 with Retry-After). */
export type PartitionRoute =
  | { kind: 'owner'; owner: PartitionOwner }
  | { kind: 'unavailable'; reason: 'rebalancing' | 'claimed_twice' | 'no_owner' | 'directory_loading'; message: string };

/** What the serving API asks about partitions it does not hold itself. */
export interface PartitionDirectory {
  /** This worker's member id (marks the requests it forwards). */
  readonly memberId: string;
  ownerOf(partition: number): PartitionRoute;
}

/**
 * The directory of a worker that holds every partition (the embedded default: one process, in-process log): a
 * partition it does not serve is one it is still restoring, never one another worker has.
 */
export function soleWorkerDirectory(memberId = 'embedded'): PartitionDirectory {
  return {
    memberId,
    ownerOf: (partition) => ({
      kind: 'unavailable',
      reason: 'rebalancing',
      message: `partition ${partition} is being assigned or restored on this worker`,
    }),
  };
}

/** One member's announcement, the value on the members topic (JSON). */
export interface MemberAnnouncement {
  member_id: string;
  url: string;
  /** Input partitions served now; empty while rebalancing. */
  partitions: number[];
  rebalancing: boolean;
  /** Wall clock of the announcement (ms). Announcements older than the member TTL are ignored (a crashed worker). */
  at: number;
}

export interface LogPartitionDirectoryOptions {
  /** The transport (memory, kafkajs, rdkafka), passed in by the composition root. */
  log: Log;
  /** The compacted members topic, `<group>-serving-members` (one partition). */
  topic: string;
  /** This worker's stable id (the engine's worker id when set). Default: random. */
  memberId?: string;
  /** This worker's partitions now (the LiveState's `ownedPartitions`), polled every `checkIntervalMs`. */
  ownership: () => readonly number[] | 'rebalancing';
  /** How often the ownership is compared with the last announcement (default 100 ms). */
  checkIntervalMs?: number;
  /** A member re-announces itself this often even when nothing changed (default 5 s). */
  heartbeatMs?: number;
  /** Announcements older than this are ignored: a worker that died without a tombstone (default 3 heartbeats). */
  memberTtlMs?: number;
  /** `start` resolves after this long even when the backlog is not read yet (default 30 s). */
  startTimeoutMs?: number;
  wallClock?: () => number;
  /** Told about a failure of the background loop (it keeps going; the directory answers from what it knows). */
  onError?: (error: unknown) => void;
}

/**
 * The partition-owner directory over a `Log` (Kafka Streams' `application.server` metadata, in a topic): every
 * worker publishes `{ member_id, url, partitions, rebalancing, at }` keyed by its member id to a compacted topic on
 * each change of its partitions, and again every heartbeat; at shutdown a tombstone. Every worker reads the topic
 * from the beginning with a group of its own (so it gets every announcement) and keeps partition → owner.
 *
 * A partition is routable only when exactly one live member claims it; two claims (an old owner that has not
 * announced its revocation yet) or none (a rebalance, a restore, a dead worker's entry expired) are 503s.
 */
export class LogPartitionDirectory implements PartitionDirectory {
  readonly memberId: string;
  readonly #options: LogPartitionDirectoryOptions;
  readonly #wallClock: () => number;
  readonly #members = new Map<string, MemberAnnouncement>();
  #url: string | null = null;
  #producer: LogProducer | null = null;
  #consumer: LogConsumer | null = null;
  #loop: Promise<void> | null = null;
  #stop = new AbortController();
  #lastAnnounced: string | null = null;
  #lastAnnouncedAt = 0;
  /** Offsets to reach before the directory answers (the topic's end when it started). */
  #caughtUp = false;
  #target = 0;
  #read = 0;

  constructor(options: LogPartitionDirectoryOptions) {
    this.#options = options;
    this.memberId = options.memberId ?? randomUUID();
    this.#wallClock = options.wallClock ?? Date.now;
  }

  get #heartbeatMs(): number {
    return this.#options.heartbeatMs ?? 5000;
  }

  get #ttlMs(): number {
    return this.#options.memberTtlMs ?? 3 * this.#heartbeatMs;
  }

  /**
   * Creates the topic, starts reading it and announcing this worker at `url`; resolves once it has read the topic's
   * backlog (or after `startTimeoutMs`: until it has, partitions of other workers answer `directory_loading`).
   */
  async start(url: string): Promise<void> {
    if (this.#loop) throw new Error('directory already started');
    this.#url = url.replace(/\/+$/, '');
    const { log, topic } = this.#options;
    await log.createTopics([{ topic, partitions: 1, config: { 'cleanup.policy': 'compact' } }]);
    this.#producer = await log.producer();
    this.#target = (await log.endOffsets(topic)).reduce((sum, { offset }) => sum + offset, 0);
    this.#caughtUp = this.#target === 0;
    // A group of its own, never committed: every worker reads every announcement, from the beginning each start.
    this.#consumer = await log.consumer({ groupId: `${topic}-reader-${this.memberId}-${randomUUID().slice(0, 8)}`, topics: [topic], start: 'earliest' });
    await this.#announce(true);
    let timer: NodeJS.Timeout | undefined;
    const caughtUp = new Promise<void>((resolve) => {
      this.#loop = this.#run(resolve);
      // A directory that cannot read its topic must not hold up the worker: it answers `directory_loading` meanwhile.
      timer = setTimeout(resolve, this.#options.startTimeoutMs ?? 30_000);
    });
    await caughtUp;
    clearTimeout(timer);
  }

  ownerOf(partition: number): PartitionRoute {
    if (!this.#caughtUp) return { kind: 'unavailable', reason: 'directory_loading', message: 'this worker is still reading the partition directory' };
    const now = this.#wallClock();
    const owners: MemberAnnouncement[] = [];
    let rebalancing = false;
    for (const member of this.#members.values()) {
      if (now - member.at > this.#ttlMs) continue;
      if (member.rebalancing) rebalancing = true;
      if (member.partitions.includes(partition)) owners.push(member);
    }
    if (owners.length === 1) return { kind: 'owner', owner: { memberId: owners[0]!.member_id, url: owners[0]!.url } };
    if (owners.length > 1) {
      return { kind: 'unavailable', reason: 'claimed_twice', message: `partition ${partition} is being rebalanced: ${owners.length} workers claim it` };
    }
    return rebalancing
      ? { kind: 'unavailable', reason: 'rebalancing', message: `partition ${partition} is being rebalanced` }
      : { kind: 'unavailable', reason: 'no_owner', message: `no worker serves partition ${partition} now` };
  }

  /** The live members as this worker sees them (for /readyz-style diagnostics and tests). */
  members(): MemberAnnouncement[] {
    const now = this.#wallClock();
    return [...this.#members.values()].filter((member) => now - member.at <= this.#ttlMs);
  }

  /** Publishes a tombstone for this worker and stops reading. */
  async close(): Promise<void> {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort();
    await this.#loop?.catch(() => {});
    try {
      if (this.#producer) await this.#producer.send(this.#options.topic, [{ key: this.memberId, value: Buffer.alloc(0) }]);
    } finally {
      await this.#consumer?.close().catch(() => {});
      await this.#producer?.close().catch(() => {});
    }
  }

  async #run(caughtUp: () => void): Promise<void> {
    const checkMs = this.#options.checkIntervalMs ?? 100;
    if (this.#caughtUp) caughtUp();
    while (!this.#stop.signal.aborted) {
      try {
        const records = await this.#consumer!.poll(1000, checkMs);
        for (const record of records) this.#apply(record);
        // Past the backlog: by the last record read, or by the reader's position (compaction leaves gaps at the end too).
        const position = records.length === 0 ? Math.max(-1, ...(this.#consumer!.positions?.() ?? []).map(({ offset }) => offset)) : -1;
        if (!this.#caughtUp && (this.#read >= this.#target || position >= this.#target)) {
          this.#caughtUp = true;
          caughtUp();
        }
        if (!this.#stop.signal.aborted) await this.#announce(false);
      } catch (error) {
        this.#options.onError?.(error);
        await new Promise((resolve) => setTimeout(resolve, checkMs));
      }
    }
  }

  #apply(record: LogRecord): void {
    this.#read = Math.max(this.#read, record.offset + 1);
    const memberId = record.key?.toString('utf8');
    if (!memberId) return;
    if (record.value.length === 0) {
      this.#members.delete(memberId);
      return;
    }
    try {
      const announcement = JSON.parse(record.value.toString('utf8')) as MemberAnnouncement;
      if (typeof announcement.url !== 'string' || !Array.isArray(announcement.partitions)) return;
      const known = this.#members.get(memberId);
      if (!known || known.at <= announcement.at) this.#members.set(memberId, { ...announcement, member_id: memberId });
    } catch {
      // Not ours (a foreign writer on the topic): ignored.
    }
  }

  /** Announces this worker when its partitions changed or a heartbeat is due. */
  async #announce(force: boolean): Promise<void> {
    const owned = this.#options.ownership();
    const rebalancing = owned === 'rebalancing';
    const partitions = rebalancing ? [] : [...owned].sort((a, b) => a - b);
    const state = JSON.stringify({ partitions, rebalancing });
    const now = this.#wallClock();
    if (!force && state === this.#lastAnnounced && now - this.#lastAnnouncedAt < this.#heartbeatMs) return;
    const announcement: MemberAnnouncement = { member_id: this.memberId, url: this.#url!, partitions, rebalancing, at: now };
    await this.#producer!.send(this.#options.topic, [{ key: this.memberId, value: Buffer.from(JSON.stringify(announcement)) }]);
    this.#lastAnnounced = state;
    this.#lastAnnouncedAt = now;
  }
}

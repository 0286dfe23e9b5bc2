// Remembers ids seen within an event-time horizon, so a duplicate (a retried send, a replayed file) is processed once; a compact, checkpointed state store.
import { hashId } from './id-hash.ts';
import type { StateChange, StateStore } from './state.ts';

/**
 * Ids are kept as 128-bit hashes (engine/id-hash.ts says why collisions do not happen in practice), grouped into
 * buckets of one input partition and one minute of event time. A bucket holds its hashes and each id's offset in ms
 * from the bucket's start in typed arrays (18 bytes per id); an open-addressing index (linear probing, 8 bytes a
 * slot, at most 80% full) finds an id's bucket and position. No object or string per id is kept.
 *
 * Eviction is exact in event time and per input partition: an id is a duplicate only while its event time ≥ its
 * partition's watermark − horizon (the partition watermark handed in with that partition's records). So, like
 * lateness, the answer depends on the partition's own contents, not on how fast other partitions are read, how
 * they are spread over workers, or which of them idle; the global watermark would make it depend on all three (a
 * worker whose other partitions ran an hour ahead forgot ids a lagging partition's duplicates still needed). A
 * duplicate comes on its original's partition (the input is keyed), so only that partition's ids are compared.
 * Whole buckets behind their partition's limit are dropped; in the bucket a limit falls into, ids behind it are
 * treated as gone at lookup.
 *
 * Changelog: one record per bucket and checkpoint, not per id. The ids a bucket gained since the last checkpoint
 * are written once, as a chunk under the key `<bucket start>/<sequence>` (base64 of the hash and offset bytes
 * inside the JSON value, at most 8,192 ids a record); when the whole bucket is evicted each of its chunk keys gets
 * a tombstone. The key `limit` holds the partition's eviction limit, so a restored set treats the ids of a partly
 * evicted bucket exactly as before. A record of the earlier format (key: the id, value: its event time) is read too.
 */
const BUCKET_MS = 60_000; // offsets within a bucket fit a Uint16
const MAX_IDS_PER_RECORD = 8192; // 8,192 × 18 bytes in base64 ≈ 200 KB: far below Kafka's 1 MB record limit
const LIMIT_KEY = 'limit';
const INITIAL_INDEX = 1024;
const INITIAL_BUCKET = 64;

/** A bucket's chunk as checkpointed. */
interface SavedChunk {
  start: number;
  /** Four little-endian 32-bit words per id. */
  hashes: string;
  /** Little-endian 16-bit ms offsets from `start`, one per id. */
  offsets: string;
}

class IdBucket {
  hashes: Int32Array;
  offsets: Uint16Array;
  count = 0;
  /** Ids [0, written) are in the changelog already. */
  written = 0;
  /** The changelog keys holding this bucket's chunks (tombstoned when the bucket is evicted). */
  readonly keys: string[] = [];
  nextSequence = 0;

  constructor(
    readonly partition: number,
    readonly start: number,
    readonly handle: number,
    capacity = INITIAL_BUCKET,
  ) {
    this.hashes = new Int32Array(capacity * 4);
    this.offsets = new Uint16Array(capacity);
  }

  append(hash: Int32Array, hashAt: number, offset: number): number {
    if (this.count === this.offsets.length) {
      const capacity = Math.ceil(this.offsets.length * 1.25);
      const hashes = new Int32Array(capacity * 4);
      hashes.set(this.hashes);
      const offsets = new Uint16Array(capacity);
      offsets.set(this.offsets);
      this.hashes = hashes;
      this.offsets = offsets;
    }
    const position = this.count++;
    this.hashes.set(hash.subarray(hashAt, hashAt + 4), position * 4);
    this.offsets[position] = offset;
    return position;
  }
}

export class SeenSet implements StateStore {
  /** Live buckets by handle (index slots name a bucket by its handle); free handles are reused. */
  #buckets: Array<IdBucket | undefined> = [];
  readonly #freeHandles: number[] = [];
  /** Partition → bucket start → bucket; and every bucket ordered by start, for eviction from the front. */
  readonly #byPartition = new Map<number, Map<number, IdBucket>>();
  readonly #byStart: IdBucket[] = [];
  #lastBucket: IdBucket | undefined;
  /** Index slots: bucket handle + 1 (0 = empty) and the id's position in that bucket. */
  #slotBuckets = new Int32Array(INITIAL_INDEX);
  #slotPositions = new Int32Array(INITIAL_INDEX);
  #mask = INITIAL_INDEX - 1;
  #size = 0;
  /** Per partition: ids with an event time below this are forgotten (its watermark − horizon). */
  readonly #limits = new Map<number, number>();
  /** Partitions whose limit moved since the last `changes()` (each gets a `limit` record). */
  readonly #limitsChanged = new Set<number>();
  /** A limit moved since the last `evict`: buckets may be due. */
  #evictDue = false;
  readonly #dirty = new Set<IdBucket>();
  readonly #tombstones: Array<{ partition: number; key: string }> = [];
  readonly #hash = new Int32Array(4);

  /** @param horizonMs how long (in event time, behind the watermark) an id is remembered */
  constructor(
    readonly horizonMs: number,
    readonly name = 'seen-ids',
  ) {}

  /** Ids held (including ids behind the limit in a partly evicted bucket). */
  get size(): number {
    return this.#size;
  }

  /**
   * Records an id; answers false when it was already seen (a duplicate). `partitionWatermark`, the watermark of the
   * record's partition from before it, moves that partition's limit first.
   */
  add(id: string, eventTime: number, partition = 0, partitionWatermark = Number.NEGATIVE_INFINITY): boolean {
    this.#raise(partition, partitionWatermark - this.horizonMs);
    const limit = this.#limits.get(partition) ?? Number.NEGATIVE_INFINITY;
    // Already beyond the horizon: an uninterrupted run would forget it at once, so nothing is kept.
    if (eventTime < limit) return true;
    const hash = this.#hash;
    hashId(id, hash);
    if (this.#contains(hash, partition, limit)) return false;
    const start = Math.floor(eventTime / BUCKET_MS) * BUCKET_MS;
    const bucket = this.#bucketFor(partition, start);
    const position = bucket.append(hash, 0, eventTime - start);
    this.#insert(hash[0]!, bucket.handle, position);
    this.#dirty.add(bucket);
    return true;
  }

  /**
   * Drops the buckets wholly behind their partition's limit. With `watermark`, every partition's limit first moves to
   * at least `watermark` − horizon (time that passed for all of them, e.g. in tests); an operator passes none and lets
   * each partition's own watermark decide.
   */
  evict(watermark?: number): void {
    if (watermark !== undefined) for (const partition of this.#byPartition.keys()) this.#raise(partition, watermark - this.horizonMs);
    if (!this.#evictDue) return;
    this.#evictDue = false;
    let kept = 0;
    for (const bucket of this.#byStart) {
      if (bucket.start + BUCKET_MS <= (this.#limits.get(bucket.partition) ?? Number.NEGATIVE_INFINITY)) this.#drop(bucket);
      else this.#byStart[kept++] = bucket;
    }
    this.#byStart.length = kept;
    if (this.#size * 8 < this.#mask + 1 && this.#mask + 1 > INITIAL_INDEX) this.#resize((this.#mask + 1) / 2);
  }

  changes(): StateChange[] {
    const changes: StateChange[] = [];
    for (const bucket of this.#dirty) {
      for (let from = bucket.written; from < bucket.count; from += MAX_IDS_PER_RECORD) {
        const to = Math.min(bucket.count, from + MAX_IDS_PER_RECORD);
        const key = `${bucket.start}/${bucket.nextSequence++}`;
        const value: SavedChunk = {
          start: bucket.start,
          hashes: Buffer.from(bucket.hashes.buffer, bucket.hashes.byteOffset + from * 16, (to - from) * 16).toString('base64'),
          offsets: Buffer.from(bucket.offsets.buffer, bucket.offsets.byteOffset + from * 2, (to - from) * 2).toString('base64'),
        };
        bucket.keys.push(key);
        changes.push({ store: this.name, partition: bucket.partition, key, value });
      }
      bucket.written = bucket.count;
    }
    this.#dirty.clear();
    for (const { partition, key } of this.#tombstones) changes.push({ store: this.name, partition, key, value: null });
    this.#tombstones.length = 0;
    for (const partition of this.#limitsChanged) {
      const limit = this.#limits.get(partition)!;
      if (Number.isFinite(limit)) changes.push({ store: this.name, partition, key: LIMIT_KEY, value: { limit } });
    }
    this.#limitsChanged.clear();
    return changes;
  }

  restore(partition: number, entries: ReadonlyMap<string, unknown>): void {
    const hash = this.#hash;
    for (const [key, value] of entries) {
      if (typeof value === 'number') {
        // A record of the earlier format: one key per id, its event time as the value.
        const start = Math.floor(value / BUCKET_MS) * BUCKET_MS;
        const bucket = this.#bucketFor(partition, start);
        hashId(key, hash);
        this.#insert(hash[0]!, bucket.handle, bucket.append(hash, 0, value - start));
        this.#markRestored(bucket, key, -1);
        continue;
      }
      if (key === LIMIT_KEY) {
        this.#raise(partition, (value as { limit: number }).limit);
        this.#limitsChanged.delete(partition);
        continue;
      }
      const chunk = value as SavedChunk;
      const hashes = Buffer.from(chunk.hashes, 'base64');
      const offsets = Buffer.from(chunk.offsets, 'base64');
      const bucket = this.#bucketFor(partition, chunk.start);
      const words = new Int32Array(hashes.buffer.slice(hashes.byteOffset, hashes.byteOffset + hashes.length));
      for (let index = 0; index < offsets.length / 2; index++) {
        const position = bucket.append(words, index * 4, offsets.readUInt16LE(index * 2));
        this.#insert(words[index * 4]!, bucket.handle, position);
      }
      this.#markRestored(bucket, key, Number(key.slice(key.indexOf('/') + 1)));
    }
  }

  clear(): void {
    this.#buckets = [];
    this.#freeHandles.length = 0;
    this.#byPartition.clear();
    this.#byStart.length = 0;
    this.#lastBucket = undefined;
    this.#slotBuckets = new Int32Array(INITIAL_INDEX);
    this.#slotPositions = new Int32Array(INITIAL_INDEX);
    this.#mask = INITIAL_INDEX - 1;
    this.#size = 0;
    this.#limits.clear();
    this.#limitsChanged.clear();
    this.#evictDue = false;
    this.#dirty.clear();
    this.#tombstones.length = 0;
  }

  /** Moves a partition's limit forward (never back). */
  #raise(partition: number, limit: number): void {
    if (!(limit > (this.#limits.get(partition) ?? Number.NEGATIVE_INFINITY))) return;
    this.#limits.set(partition, limit);
    this.#limitsChanged.add(partition);
    this.#evictDue = true;
  }

  #markRestored(bucket: IdBucket, key: string, sequence: number): void {
    bucket.keys.push(key);
    bucket.written = bucket.count;
    if (sequence >= bucket.nextSequence) bucket.nextSequence = sequence + 1;
    this.#dirty.delete(bucket);
  }

  #bucketFor(partition: number, start: number): IdBucket {
    const last = this.#lastBucket;
    if (last !== undefined && last.start === start && last.partition === partition) return last;
    let buckets = this.#byPartition.get(partition);
    if (!buckets) {
      buckets = new Map();
      this.#byPartition.set(partition, buckets);
    }
    let bucket = buckets.get(start);
    if (!bucket) {
      const handle = this.#freeHandles.pop() ?? this.#buckets.length;
      bucket = new IdBucket(partition, start, handle);
      this.#buckets[handle] = bucket;
      buckets.set(start, bucket);
      insertByStart(this.#byStart, bucket);
    }
    this.#lastBucket = bucket;
    return bucket;
  }

  /** True when the index holds this hash for this partition with an event time not behind `limit`. */
  #contains(hash: Int32Array, partition: number, limit: number): boolean {
    const h0 = hash[0]!;
    const h1 = hash[1]!;
    const h2 = hash[2]!;
    const h3 = hash[3]!;
    const mask = this.#mask;
    for (let slot = h0 & mask; ; slot = (slot + 1) & mask) {
      const handle = this.#slotBuckets[slot]!;
      if (handle === 0) return false;
      const bucket = this.#buckets[handle - 1]!;
      const position = this.#slotPositions[slot]!;
      const at = position * 4;
      const hashes = bucket.hashes;
      // An id re-added after it expired has a second, newer entry: keep looking past the expired one.
      if (hashes[at] === h0 && hashes[at + 1] === h1 && hashes[at + 2] === h2 && hashes[at + 3] === h3 && bucket.partition === partition && bucket.start + bucket.offsets[position]! >= limit) return true;
    }
  }

  #insert(h0: number, handle: number, position: number): void {
    // At most 80% full: linear probing stays short with a well-mixed hash, and slots are most of the memory.
    if ((this.#size + 1) * 5 > (this.#mask + 1) * 4) this.#resize((this.#mask + 1) * 2);
    const mask = this.#mask;
    let slot = h0 & mask;
    while (this.#slotBuckets[slot] !== 0) slot = (slot + 1) & mask;
    this.#slotBuckets[slot] = handle + 1;
    this.#slotPositions[slot] = position;
    this.#size++;
  }

  #homeOf(slot: number): number {
    return this.#buckets[this.#slotBuckets[slot]! - 1]!.hashes[this.#slotPositions[slot]! * 4]! & this.#mask;
  }

  /** Removes a whole bucket: its index slots (backward-shift deletion keeps probe chains intact) and its records. */
  #drop(bucket: IdBucket): void {
    const mask = this.#mask;
    const slotBuckets = this.#slotBuckets;
    const slotPositions = this.#slotPositions;
    const tag = bucket.handle + 1;
    for (let position = 0; position < bucket.count; position++) {
      let hole = bucket.hashes[position * 4]! & mask;
      while (slotBuckets[hole] !== tag || slotPositions[hole] !== position) hole = (hole + 1) & mask;
      for (let next = (hole + 1) & mask; slotBuckets[next] !== 0; next = (next + 1) & mask) {
        // The entry at `next` may fill the hole if the hole lies between its home slot and `next`.
        if (((next - this.#homeOf(next)) & mask) >= ((next - hole) & mask)) {
          slotBuckets[hole] = slotBuckets[next]!;
          slotPositions[hole] = slotPositions[next]!;
          hole = next;
        }
      }
      slotBuckets[hole] = 0;
      this.#size--;
    }
    for (const key of bucket.keys) this.#tombstones.push({ partition: bucket.partition, key });
    this.#dirty.delete(bucket);
    this.#byPartition.get(bucket.partition)?.delete(bucket.start);
    this.#buckets[bucket.handle] = undefined;
    this.#freeHandles.push(bucket.handle);
    if (this.#lastBucket === bucket) this.#lastBucket = undefined;
  }

  #resize(capacity: number): void {
    const oldBuckets = this.#slotBuckets;
    const oldPositions = this.#slotPositions;
    this.#slotBuckets = new Int32Array(capacity);
    this.#slotPositions = new Int32Array(capacity);
    this.#mask = capacity - 1;
    const mask = this.#mask;
    for (let old = 0; old < oldBuckets.length; old++) {
      const tag = oldBuckets[old]!;
      if (tag === 0) continue;
      const position = oldPositions[old]!;
      let slot = this.#buckets[tag - 1]!.hashes[position * 4]! & mask;
      while (this.#slotBuckets[slot] !== 0) slot = (slot + 1) & mask;
      this.#slotBuckets[slot] = tag;
      this.#slotPositions[slot] = position;
    }
  }
}

function insertByStart(buckets: IdBucket[], bucket: IdBucket): void {
  let low = 0;
  let high = buckets.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (buckets[middle]!.start <= bucket.start) low = middle + 1;
    else high = middle;
  }
  buckets.splice(low, 0, bucket);
}

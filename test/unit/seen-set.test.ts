// Pins the dedup set: exact eviction in event time, few changelog records (one per bucket and checkpoint), and a restore that dedups exactly as before.
import { describe, expect, it } from 'vitest';
import { hashId } from '../../engine/id-hash.ts';
import { SeenSet } from '../../engine/seen-set.ts';
import type { StateChange } from '../../engine/state.ts';
import { compactedChangelog } from '../support/compacted-changelog.ts';

const MINUTE = 60_000;

function restoreAll(set: SeenSet, changes: readonly StateChange[]): void {
  for (const [partition, entries] of compactedChangelog(changes)) set.restore(partition, entries);
}

describe('hashId', () => {
  it('is MurmurHash3 x86_128 of the UTF-16LE bytes with seed 0x5eed (reference values from the mmh3 library)', () => {
    const words = new Int32Array(4);
    const asNumber = (id: string) => {
      hashId(id, words);
      const [a, b, c, d] = Array.from(words, (word) => BigInt(word >>> 0));
      return ((d! << 96n) | (c! << 64n) | (b! << 32n) | a!).toString();
    };
    expect(asNumber('evt-1')).toBe('39465426249158727582649818418522158699');
    expect(asNumber('')).toBe('2401379619529162156229845839250826071');
    expect(asNumber('abcdefgh')).toBe('238492633198631110444939061643804531598');
    expect(asNumber('abcdefghi')).toBe('97949764300678305900823750031336274614');
    expect(asNumber('evt-42-ab3f9z-123456')).toBe('333675939383712240594004092335617395599');
    expect(asNumber('ümlaut-€')).toBe('285785525735264880652464153343417182901');
  });
});

describe('SeenSet', () => {
  it('answers false for an id seen before and forgets exactly the ids more than the horizon behind the watermark', () => {
    const seen = new SeenSet(1000, 'ids');
    expect(seen.add('a', 100)).toBe(true);
    expect(seen.add('b', 1050)).toBe(true);
    expect(seen.add('a', 100)).toBe(false);
    seen.evict(1100); // limit 100: 'a' (100) is not behind it
    expect(seen.add('a', 100)).toBe(false);
    seen.evict(1101); // limit 101: 'a' is forgotten, 'b' is not
    expect(seen.add('b', 1050)).toBe(false);
    expect(seen.add('a', 100)).toBe(true); // beyond the horizon: not a duplicate, and not remembered either
    expect(seen.add('a', 100)).toBe(true);
    expect(seen.add('a', 2000)).toBe(true); // the same id again within the horizon: remembered from now on
    expect(seen.add('a', 2000)).toBe(false);
  });

  it('drops whole minute buckets once the limit passes them and keeps finding the ids of other buckets', () => {
    const seen = new SeenSet(MINUTE, 'ids');
    // Ids of three minutes interleaved, so their index slots share probe chains.
    for (let index = 0; index < 3000; index++) seen.add(`id-${index}`, (index % 3) * MINUTE + index, index % 2);
    expect(seen.size).toBe(3000);
    seen.evict(2 * MINUTE); // limit one minute: the first bucket [0, 1 min) is dropped
    expect(seen.size).toBe(2000);
    for (let index = 0; index < 3000; index++) {
      const time = (index % 3) * MINUTE + index;
      expect(seen.add(`id-${index}`, time, index % 2)).toBe(index % 3 === 0);
    }
    seen.evict(Number.POSITIVE_INFINITY);
    expect(seen.size).toBe(0);
  });

  it('writes one changelog record per bucket and checkpoint, each id once, and tombstones a bucket when it is evicted', () => {
    const seen = new SeenSet(MINUTE, 'ids');
    for (let index = 0; index < 100; index++) seen.add(`p0-${index}`, 1000 + index, 0);
    for (let index = 0; index < 50; index++) seen.add(`p1-${index}`, MINUTE + index, 1);
    const first = seen.changes();
    expect(first.map(({ partition, key }) => [partition, key])).toEqual([[0, '0/0'], [1, '60000/0']]);
    expect(first[0]!.value).toMatchObject({ start: 0 });
    expect(Buffer.from((first[0]!.value as { hashes: string }).hashes, 'base64')).toHaveLength(100 * 16);
    expect(Buffer.from((first[0]!.value as { offsets: string }).offsets, 'base64')).toHaveLength(100 * 2);
    expect(seen.changes()).toEqual([]); // nothing changed since
    seen.add('p0-late', 2000, 0);
    seen.add('p0-0', 1000, 0); // a duplicate changes nothing
    const second = seen.changes();
    expect(second.map(({ partition, key }) => [partition, key])).toEqual([[0, '0/1']]);
    expect(Buffer.from((second[0]!.value as { hashes: string }).hashes, 'base64')).toHaveLength(16);
    seen.evict(2 * MINUTE); // limit 1 min: partition 0's bucket goes, partition 1's stays
    expect(seen.changes()).toEqual([
      { store: 'ids', partition: 0, key: '0/0', value: null },
      { store: 'ids', partition: 0, key: '0/1', value: null },
      { store: 'ids', partition: 0, key: 'limit', value: { limit: MINUTE } },
      { store: 'ids', partition: 1, key: 'limit', value: { limit: MINUTE } },
    ]);
  });

  it('splits a large bucket into records of at most 8,192 ids', () => {
    const seen = new SeenSet(MINUTE, 'ids');
    for (let index = 0; index < 20_000; index++) seen.add(`id-${index}`, index % MINUTE, 0);
    expect(seen.changes().map(({ key }) => key)).toEqual(['0/0', '0/1', '0/2']);
  });

  it('restored from its changelog into a fresh set, it finds the same duplicates and evicts the same ids as an uninterrupted run', () => {
    const feed = (seen: SeenSet, from: number, to: number) => {
      const answers: boolean[] = [];
      for (let index = from; index < to; index++) answers.push(seen.add(`id-${index % 700}`, 30_000 + (index % 700) * 100, index % 4));
      return answers;
    };
    const uninterrupted = new SeenSet(MINUTE, 'ids');
    const original = new SeenSet(MINUTE, 'ids');
    const changelog: StateChange[] = [];
    for (const seen of [uninterrupted, original]) {
      feed(seen, 0, 500);
      seen.evict(MINUTE + 45_000); // limit 45 s: in the first bucket, ids of 30–45 s are gone and 45–60 s remain
    }
    changelog.push(...original.changes());
    feed(original, 500, 600);
    changelog.push(...original.changes());

    const restored = new SeenSet(MINUTE, 'ids');
    restoreAll(restored, changelog);
    expect(restored.size).toBe(original.size);
    feed(uninterrupted, 500, 600);
    // Ids 0–699 again: 150–499 and 500–599 were seen within the horizon; 0–149 (30–45 s) were evicted; 600–699 are new.
    const expected = Array.from({ length: 700 }, (_, id) => id < 150 || id >= 600);
    expect(feed(uninterrupted, 700, 1400)).toEqual(expected);
    expect(feed(restored, 700, 1400)).toEqual(expected);

    // The restored set goes on checkpointing: new ids get fresh keys, and evicting everything tombstones every key it holds.
    restored.add('new', 100_000, 0);
    const more = restored.changes();
    const held = new Set([...compactedChangelog([...changelog, ...more]).values()].flatMap((entries) => [...entries.keys()]));
    expect(more.filter((change) => change.key !== 'limit').every((change) => !compactedChangelog(changelog).get(change.partition)?.has(change.key))).toBe(true);
    restored.evict(Number.POSITIVE_INFINITY);
    const tombstoned = restored.changes().filter((change) => change.value === null).map((change) => change.key);
    expect(new Set(tombstoned)).toEqual(new Set([...held].filter((key) => key !== 'limit')));
  });

  it('forgets by each partition\'s own watermark: a partition an hour ahead does not make a lagging one forget its ids', () => {
    const HOUR = 60 * MINUTE;
    const seen = new SeenSet(HOUR, 'ids');
    // Partition 1 is read an hour ahead of partition 0 (another worker's leftovers, or simply faster).
    expect(seen.add('b-1', 2 * HOUR, 1, 2 * HOUR - 500)).toBe(true);
    seen.evict();
    expect(seen.add('a-1', 10_000, 0, 9_500)).toBe(true);
    expect(seen.add('a-1', 10_000, 0, 9_500)).toBe(false); // partition 0's duplicate: still within its horizon
    expect(seen.add('b-1', 2 * HOUR, 1, 2 * HOUR)).toBe(false);
    // Partition 0's own time passing forgets its ids, exactly at the horizon.
    expect(seen.add('a-2', HOUR + 10_000, 0, HOUR + 10_000)).toBe(true);
    expect(seen.add('a-1', 10_000, 0, HOUR + 10_000)).toBe(false);
    expect(seen.add('a-1', 10_000, 0, HOUR + 10_001)).toBe(true);
    seen.evict();
    expect(seen.changes().filter((change) => change.key === 'limit')).toEqual([
      { store: 'ids', partition: 1, key: 'limit', value: { limit: HOUR } },
      { store: 'ids', partition: 0, key: 'limit', value: { limit: 10_001 } },
    ]);
  });

  it('restores each partition\'s limit to that partition only: one with no checkpoint yet keeps every id', () => {
    const HOUR = 60 * MINUTE;
    const earlier = new SeenSet(HOUR, 'ids');
    earlier.add('b-1', 2 * HOUR, 1, 2 * HOUR - 500); // partition 1 checkpointed far ahead; partition 0 not at all
    earlier.evict(2 * HOUR - 500);
    const restored = new SeenSet(HOUR, 'ids');
    restoreAll(restored, earlier.changes());
    restored.restore(0, new Map());
    // Found by the three-worker test: the restored set took partition 1's limit for every partition, and partition
    // 0's duplicates, an hour behind it, were counted twice.
    for (const id of ['a-1', 'a-2', 'a-3']) expect(restored.add(id, 10_000, 0, 9_000)).toBe(true);
    for (const id of ['a-1', 'a-2', 'a-3']) expect(restored.add(id, 10_000, 0, 9_000)).toBe(false);
    expect(restored.add('b-1', 2 * HOUR, 1, 2 * HOUR)).toBe(false);
  });

  it('reads changelog records of the earlier format (one key per id, its event time as the value)', () => {
    const seen = new SeenSet(1000, 'ids');
    seen.restore(3, new Map<string, unknown>([['e1', 100], ['e2', 900]]));
    expect(seen.add('e2', 900, 3)).toBe(false);
    expect(seen.add('e1', 100, 3)).toBe(false);
    expect(seen.add('e3', 900, 3)).toBe(true);
    seen.changes();
    seen.evict(Number.POSITIVE_INFINITY);
    expect(seen.changes().filter((change) => change.value === null).map((change) => change.key).sort()).toEqual(['0/0', 'e1', 'e2']);
  });
});

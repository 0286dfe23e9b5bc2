// Checkpointed state pins: what a store's changes carry, and that a restore from them gives the run an uninterrupted one would have.
import { describe, expect, it } from 'vitest';
import { Changelogs, WATERMARK_STORE } from '../../engine/changelog.ts';
import { SeenSet } from '../../engine/seen-set.ts';
import type { SessionAggregator } from '../../engine/session-windows.ts';
import { SessionWindows } from '../../engine/session-windows.ts';
import { KeyedStateStore } from '../../engine/state.ts';
import type { StateChange } from '../../engine/state.ts';
import { WatermarkTracker } from '../../engine/watermarks.ts';
import { MemoryLog } from '../../log/memory.ts';

const GAP = 1000;
/** Collects the event names of a session: order-insensitive after sorting. */
const names: SessionAggregator<string, { names: string[] }> = {
  create: (event) => ({ names: [event] }),
  add: (acc, event) => void acc.names.push(event),
  merge: (into, from) => void into.names.push(...from.names),
};

/** What a store's changelog holds after these changes: the last value per key, deletes dropped (compaction). */
function compact(changes: readonly StateChange[], partition: number): Map<string, unknown> {
  const entries = new Map<string, unknown>();
  for (const change of changes) {
    if (change.partition !== partition) continue;
    if (change.value === null) entries.delete(change.key);
    else entries.set(change.key, JSON.parse(JSON.stringify(change.value)));
  }
  return entries;
}

describe('SessionWindows as a state store', () => {
  it('reports changed keys with their open sessions and closed reach, and deletes keys whose state is gone', () => {
    const windows = new SessionWindows({ name: 's', gapMs: GAP }, names);
    windows.add('a', 1000, -Infinity, 0, 10, 'a1');
    windows.add('b', 1500, -Infinity, 1, 20, 'b1');
    expect(windows.changes()).toEqual([
      { store: 's', partition: 0, key: 'a', value: { sessions: [{ start: 1000, last: 1000, firstOffset: 10, accumulator: { names: ['a1'] } }], closedUntil: null } },
      { store: 's', partition: 1, key: 'b', value: { sessions: [{ start: 1500, last: 1500, firstOffset: 20, accumulator: { names: ['b1'] } }], closedUntil: null } },
    ]);
    expect(windows.changes()).toEqual([]);
    windows.closeUpTo(2001, () => {});
    // a closed (1000 + 1000 < 2001): no open session, its reach 2000 stays so a late event is still recognised.
    expect(windows.changes()).toEqual([{ store: 's', partition: 0, key: 'a', value: { sessions: [], closedUntil: 2000 } }]);
    windows.closeUpTo(3001, () => {}); // b closes (1500 + 1000 < 3001); a's reach is evicted (2000 + gap < 3001)
    expect(windows.changes()).toEqual([
      { store: 's', partition: 1, key: 'b', value: { sessions: [], closedUntil: 2500 } },
      { store: 's', partition: 0, key: 'a', value: null },
    ]);
  });

  it('restored from its changes, it closes the same sessions and rejects the same late events as an uninterrupted run', () => {
    const feed = (windows: SessionWindows<string, { names: string[] }>, from: number, to: number) => {
      const events: Array<[string, number, number, string]> = [
        ['a', 1000, -Infinity, 'a1'], ['b', 1200, -Infinity, 'b1'], ['a', 1800, 500, 'a2'], ['a', 4000, 1300, 'a3'],
        ['a', 2500, 3500, 'a-late'], ['b', 2100, 3500, 'b2'], ['a', 3500, 3500, 'a-bridge'],
      ];
      return events.slice(from, to).map(([key, time, watermark, name], index) => windows.add(key, time, watermark, 0, from + index, name) !== null);
    };
    const closedOf = (windows: SessionWindows<string, { names: string[] }>) => {
      const closed: string[] = [];
      windows.closeUpTo(Infinity, (session) => closed.push(`${session.key}:${session.start}-${session.last}:${[...session.accumulator.names].sort().join(',')}`));
      return closed;
    };
    const uninterrupted = new SessionWindows({ name: 's', gapMs: GAP }, names);
    expect([...feed(uninterrupted, 0, 4), ...feed(uninterrupted, 4, 7)]).toEqual([true, true, true, true, false, false, true]);

    const before = new SessionWindows({ name: 's', gapMs: GAP }, names);
    feed(before, 0, 4);
    const restored = new SessionWindows({ name: 's', gapMs: GAP }, names);
    restored.restore(0, compact(before.changes(), 0));
    expect(feed(restored, 4, 7)).toEqual([false, false, true]);
    expect(closedOf(restored)).toEqual(closedOf(uninterrupted));
    expect(closedOf(uninterrupted)).toEqual([]); // closed once already above
  });
});

describe('SeenSet as a state store', () => {
  it('checkpoints ids per partition bucket, and a restored set knows the duplicates of its partitions only', () => {
    const seen = new SeenSet(1000, 'ids');
    expect(seen.add('e1', 100, 2)).toBe(true);
    expect(seen.add('e2', 900, 3)).toBe(true);
    const first = seen.changes();
    expect(first.map(({ store, partition, key }) => ({ store, partition, key }))).toEqual([
      { store: 'ids', partition: 2, key: '0/0' },
      { store: 'ids', partition: 3, key: '0/0' },
    ]);
    seen.evict(61_001); // the minute bucket [0, 60 s) is more than 1000 behind: both chunks are tombstoned
    expect(seen.changes().filter((change) => change.value === null)).toEqual([
      { store: 'ids', partition: 2, key: '0/0', value: null },
      { store: 'ids', partition: 3, key: '0/0', value: null },
    ]);

    const restored = new SeenSet(1000, 'ids');
    restored.restore(3, compact(first, 3));
    expect(restored.add('e2', 900, 3)).toBe(false);
    expect(restored.add('e1', 100, 2)).toBe(true); // partition 2 belongs to another worker: not restored here
  });
});

describe('WatermarkTracker checkpoint', () => {
  it('restores a partition watermark so lateness after a restart is decided as before', () => {
    let now = 0;
    const tracker = new WatermarkTracker({ outOfOrdernessMs: 100, idleTimeoutMs: 10_000, wallClock: () => now });
    tracker.assign([0, 1]);
    tracker.observe(0, 5000, now);
    expect(tracker.changes()).toEqual([{ partition: 0, state: { maxEventTime: 5000, floor: null } }]);
    const after = new WatermarkTracker({ outOfOrdernessMs: 100, idleTimeoutMs: 10_000, wallClock: () => now });
    after.restore(0, { maxEventTime: 5000, floor: null });
    after.assign([0, 1]);
    expect(after.observe(0, 4000, now)).toBe(4900);
    expect(after.partitionWatermark(1)).toBe(-Infinity);
  });
});

describe('Changelogs on the in-process log', () => {
  it('writes every store\'s changes to <group>-state-changelog (keys <store>|<key>) in the checkpoint transaction and restores the latest value per store and key', async () => {
    const log = new MemoryLog({ defaultPartitions: 2 });
    const store = new KeyedStateStore<{ n: number }>('counts');
    const operator = {
      name: 'counter', stateStores: ['counts'], process() {}, onWatermark() {},
      snapshot: () => store.changes(),
      restore: (_name: string, partition: number, entries: ReadonlyMap<string, unknown>) => store.restore(partition, entries),
    };
    const changelogs = new Changelogs(log, 'grp', [operator]);
    await changelogs.createTopics(2);
    const tracker = new WatermarkTracker({ outOfOrdernessMs: 0, idleTimeoutMs: 10_000, wallClock: () => 0 });
    tracker.observe(1, 700, 0);
    store.put(0, 'x', { n: 1 });
    store.put(1, 'y', { n: 2 });
    store.put(1, 'z', { n: 3 });
    const transactions = await log.transactionalProducer({ transactionalId: 't' });
    const consumer = await log.consumer({ groupId: 'grp', topics: ['input'] });
    await transactions.begin();
    await changelogs.write(transactions, changelogs.collect([operator], tracker));
    expect(log.read('grp-state-changelog')).toEqual([]); // not visible before the commit
    await transactions.commit(consumer, [{ topic: 'input', partition: 1, offset: 5 }]);
    store.delete('z');
    store.put(1, 'y', { n: 4 });
    await transactions.begin();
    await changelogs.write(transactions, changelogs.collect([operator], tracker));
    await transactions.commit(consumer, []);
    // One topic for every store, a record's partition its key's input partition; a deleted key is a tombstone.
    expect(log.read('grp-state-changelog').map((record) => [record.partition, record.key?.toString(), record.value.toString()])).toEqual([
      [0, 'counts|x', '{"n":1}'],
      [1, 'counts|y', '{"n":2}'],
      [1, 'counts|z', '{"n":3}'],
      [1, `${WATERMARK_STORE}|1`, '{"maxEventTime":700,"floor":null}'],
      [1, 'counts|z', ''],
      [1, 'counts|y', '{"n":4}'],
    ]);

    store.clear();
    const restoredTime = new WatermarkTracker({ outOfOrdernessMs: 0, idleTimeoutMs: 10_000, wallClock: () => 0 });
    expect(await changelogs.restore([1], restoredTime)).toBe(2);
    expect([...store.entries()]).toEqual([['y', { partition: 1, value: { n: 4 } }]]);
    expect(restoredTime.partitionWatermark(1)).toBe(700);
  });
});

describe('a checkpoint serialised when it starts', () => {
  /** A live value as operators keep them: a class with toJSON and private fields, nested arrays, odd numbers. */
  class Live {
    #offset = 3;
    ids = ['a'];
    toJSON() {
      return { at: 100 + this.#offset, ids: this.ids, gone: undefined, nan: Number.NaN, when: new Date(0) };
    }
  }

  it('encodes values as JSON sees them now, unaffected by later changes in place, deletes as tombstones', () => {
    const log = new MemoryLog({ defaultPartitions: 2 });
    const changelogs = new Changelogs(log, 'grp', [{ name: 'op', stateStores: ['a'], process() {}, onWatermark() {} }]);
    const live = { n: 1, nested: { list: [1, [2, 3]], live: new Live() }, skipped: undefined };
    const before = JSON.stringify(live);
    const encoded = changelogs.encode([{ store: 'a', partition: 1, key: 'k', value: live }, { store: 'a', partition: 0, key: 'gone', value: null }]);
    live.n = 2;
    live.nested.list.push(4);
    (live.nested.list[1] as number[]).push(5);
    live.nested.live.ids.push('b');
    expect(JSON.stringify(live)).not.toBe(before);
    expect([...encoded.keys()]).toEqual(['grp-state-changelog']);
    expect(encoded.get('grp-state-changelog')!.map((r) => [r.partition, String(r.key), r.value.toString()])).toEqual([[1, 'a|k', before], [0, 'a|gone', '']]);
    expect(changelogs.encode([]).size).toBe(0);
  });
});

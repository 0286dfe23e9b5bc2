// The partition-owner directory on the in-process log: one claim routes, two claims or none are unavailable, a crashed worker's claim expires, a new worker reads the backlog first.
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryLog } from '../../log/memory.ts';
import { LogPartitionDirectory, soleWorkerDirectory } from '../../serving/partition-directory.ts';
import { waitFor } from '../support/environment.ts';

const TOPIC = 'touchstream-serving-members';

describe('LogPartitionDirectory', () => {
  const open: LogPartitionDirectory[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((directory) => directory.close()));
  });

  let clock = 1_000_000;
  const wallClock = () => clock;
  const start = async (log: MemoryLog, memberId: string, ownership: () => readonly number[] | 'rebalancing', url = `http://${memberId}:9464/`) => {
    const directory = new LogPartitionDirectory({ log, topic: TOPIC, memberId, ownership, heartbeatMs: 1000, wallClock, checkIntervalMs: 10 });
    open.push(directory);
    await directory.start(url);
    return directory;
  };
  const routeOf = (directory: LogPartitionDirectory, partition: number) => {
    const route = directory.ownerOf(partition);
    return route.kind === 'owner' ? route.owner : route.reason;
  };

  it('routes each partition to its one claimant, with the URL it announced (no trailing slash)', async () => {
    const log = new MemoryLog();
    const a = await start(log, 'a', () => [0, 1]);
    await start(log, 'b', () => [3, 2]);
    await waitFor(async () => (a.ownerOf(2).kind === 'owner' ? true : undefined), 5000, 'a to read b');
    expect(routeOf(a, 0)).toEqual({ memberId: 'a', url: 'http://a:9464' });
    expect(routeOf(a, 2)).toEqual({ memberId: 'b', url: 'http://b:9464' });
    expect(routeOf(a, 3)).toEqual({ memberId: 'b', url: 'http://b:9464' });
    expect(routeOf(a, 4)).toBe('no_owner');
  });

  it('a worker that starts later has read every announcement before start resolves', async () => {
    const log = new MemoryLog();
    await start(log, 'a', () => [0, 1]);
    await start(log, 'b', () => [2, 3]);
    const c = await start(log, 'c', () => []);
    expect(routeOf(c, 1)).toEqual({ memberId: 'a', url: 'http://a:9464' });
    expect(routeOf(c, 2)).toEqual({ memberId: 'b', url: 'http://b:9464' });
  });

  it('two claims on a partition are a rebalance; a rebalancing worker claims nothing; changes are announced', async () => {
    const log = new MemoryLog();
    let ownedByB: readonly number[] | 'rebalancing' = [1, 2];
    const a = await start(log, 'a', () => [0, 1]);
    await start(log, 'b', () => ownedByB);
    await waitFor(async () => (a.members().length === 2 ? true : undefined), 5000, 'a to read b');
    expect(routeOf(a, 1)).toBe('claimed_twice');
    expect(routeOf(a, 2)).toEqual({ memberId: 'b', url: 'http://b:9464' });
    ownedByB = 'rebalancing';
    await waitFor(async () => (routeOf(a, 2) === 'rebalancing' ? true : undefined), 5000, 'a to see b rebalancing');
    expect(routeOf(a, 1)).toEqual({ memberId: 'a', url: 'http://a:9464' });
    ownedByB = [2];
    await waitFor(async () => (typeof routeOf(a, 2) === 'object' ? true : undefined), 5000, 'a to see b back');
  });

  it('forgets a worker that closed at once (tombstone), and one that stopped announcing (crashed) after the TTL', async () => {
    const log = new MemoryLog();
    const a = await start(log, 'a', () => [0]);
    const b = await start(log, 'b', () => [1]);
    // c announced once and died: no heartbeat, no tombstone.
    const producer = await log.producer();
    const announcement = { member_id: 'c', url: 'http://c:9464', partitions: [2], rebalancing: false, at: clock };
    await producer.send(TOPIC, [{ key: 'c', value: Buffer.from(JSON.stringify(announcement)) }]);
    await waitFor(async () => (a.members().length === 3 ? true : undefined), 5000, 'a to read b and c');
    await b.close();
    await waitFor(async () => (routeOf(a, 1) === 'no_owner' ? true : undefined), 5000, "a to read b's tombstone");
    expect(routeOf(a, 2)).toEqual({ memberId: 'c', url: 'http://c:9464' });
    clock += 3000; // 3 heartbeats: still within the TTL
    expect(routeOf(a, 2)).toEqual({ memberId: 'c', url: 'http://c:9464' });
    clock += 1; // past it; a heartbeats itself on meanwhile
    expect(routeOf(a, 2)).toBe('no_owner');
    await waitFor(async () => (typeof routeOf(a, 0) === 'object' ? true : undefined), 5000, 'a to re-announce itself');
    expect(a.members().map((member) => member.member_id)).toEqual(['a']);
  });

  it('sole worker: every partition it does not serve is rebalancing', () => {
    expect(soleWorkerDirectory().ownerOf(3)).toMatchObject({ kind: 'unavailable', reason: 'rebalancing' });
  });
});

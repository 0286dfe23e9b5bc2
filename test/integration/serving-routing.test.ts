// Two workers on the real broker: each announces its partitions on the members topic, a request to the non-owner is forwarded to the owner, and rebalance windows answer 503 with Retry-After.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logLevel } from 'kafkajs';
import { KafkajsLog } from '../../log/kafkajs.ts';
import { RdkafkaLog } from '../../log/rdkafka.ts';
import { partitionOf } from '../../log/partitioner.ts';
import type { Log } from '../../log/log.ts';
import { SERVED_BY_HEADER } from '../../serving/customer-api.ts';
import { LogPartitionDirectory } from '../../serving/partition-directory.ts';
import { requireEnvironment, runId, waitFor } from '../support/environment.ts';
import { FixtureLiveState, kpis, signal, startWorker } from '../support/live-state-fixture.ts';
import type { Worker } from '../support/live-state-fixture.ts';

const PARTITIONS = 4;
const KEY = 'integration-key';
const auth = { authorization: `Bearer ${KEY}` };
const partitionOfKey = (key: string) => partitionOf(key, PARTITIONS);

/** The first customer id `<prefix>-N` whose key falls in `partition`. */
function customerIn(partition: number, prefix = 'cust'): string {
  for (let index = 0; ; index++) if (partitionOfKey(`${prefix}-${index}`) === partition) return `${prefix}-${index}`;
}

const get = async (url: string, headers: Record<string, string> = auth) => {
  const response = await fetch(url, { headers });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : null };
};

/** Polls the URL until its answer has `status` (the directory learns changes from the topic, asynchronously). */
const answerWith = (url: string, status: number, what: string, headers: Record<string, string> = auth) =>
  waitFor(async () => {
    const answer = await get(url, headers);
    return answer.status === status ? answer : undefined;
  }, 30_000, what);

const transports: { name: string; create: (brokers: string[]) => Log }[] = [
  { name: 'rdkafka', create: (brokers) => new RdkafkaLog({ brokers }) },
  { name: 'kafkajs', create: (brokers) => new KafkajsLog({ brokers, logLevel: logLevel.ERROR }) },
];

describe.each(transports)('serving routing over $name', ({ create }) => {
  const brokers = requireEnvironment('TOUCHSTREAM_TEST_KAFKA_BROKERS').split(',');
  const topic = `serving-test-${runId()}-serving-members`;
  const logs: Log[] = [];
  const stateA = new FixtureLiveState([0, 1]);
  const stateB = new FixtureLiveState([2, 3]);
  let workerA: Worker;
  let workerB: Worker;
  let directoryA: LogPartitionDirectory;
  let directoryB: LogPartitionDirectory;
  const onA = customerIn(0);
  const onB = customerIn(2);
  const onB3 = customerIn(3);

  beforeAll(async () => {
    stateA.customers.set(onA, { session: { status: 'open', kpis: kpis(onA, { events: 11 }) } });
    stateB.customers.set(onB, { session: { status: 'open', kpis: kpis(onB, { events: 22 }) }, signals: [signal(onB, { expires_at: Date.now() + 3_600_000 })] });
    stateB.customers.set(onB3, { session: { status: 'closed', kpis: kpis(onB3, { events: 33 }) } });
    const directoryOf = (memberId: string, state: FixtureLiveState) => {
      const log = create(brokers);
      logs.push(log);
      return new LogPartitionDirectory({ log, topic, memberId, ownership: () => state.ownedPartitions(), heartbeatMs: 1000 });
    };
    directoryA = directoryOf('worker-a', stateA);
    directoryB = directoryOf('worker-b', stateB);
    workerA = await startWorker({ state: stateA, partitionOf: partitionOfKey, apiKeys: [KEY], directory: directoryA });
    workerB = await startWorker({ state: stateB, partitionOf: partitionOfKey, apiKeys: [KEY], directory: directoryB });
    await Promise.all([directoryA.start(workerA.url), directoryB.start(workerB.url)]);
  });

  afterAll(async () => {
    await Promise.allSettled([directoryA?.close(), directoryB?.close()]);
    await Promise.allSettled([workerA?.close(), workerB?.close()]);
    await Promise.allSettled(logs.map((log) => log.close()));
  });

  it('forwards a request to the non-owner to the owner, with the caller\'s key, both ways', async () => {
    const viaA = await answerWith(`${workerA.url}/v1/customers/${onB}/session`, 200, 'worker A to forward to worker B');
    expect(viaA.headers.get(SERVED_BY_HEADER)).toBe('worker-b');
    expect(viaA.body).toMatchObject({ customer_id: onB, status: 'open', session: { events: 22 } });
    const signals = await get(`${workerA.url}/v1/customers/${onB}/signals`);
    expect(signals.status).toBe(200);
    expect((signals.body as { signals: unknown[] }).signals).toHaveLength(1);
    const viaB = await answerWith(`${workerB.url}/v1/customers/${onA}/session`, 200, 'worker B to forward to worker A');
    expect(viaB.headers.get(SERVED_BY_HEADER)).toBe('worker-a');
    expect(viaB.body).toMatchObject({ customer_id: onA, session: { events: 11 } });
    // The owner's 404 for a customer it does not know, relayed.
    const unknown = await get(`${workerA.url}/v1/customers/${customerIn(2, 'nobody')}/journey`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get(SERVED_BY_HEADER)).toBe('worker-b');
    expect(unknown.body).toMatchObject({ error: 'unknown_customer' });
    expect(directoryA.members().map((member) => member.member_id).sort()).toEqual(['worker-a', 'worker-b']);
  });

  it('refuses a request without a key or with a wrong key before forwarding', async () => {
    const asked = stateB.asked.length;
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer not-the-key' }]) {
      const answer = await get(`${workerA.url}/v1/customers/${onB}/session`, headers);
      expect(answer.status).toBe(401);
      expect(answer.body).toMatchObject({ error: 'unauthorized' });
    }
    expect(stateB.asked.length).toBe(asked);
  });

  it('answers 503 with Retry-After while the owner is rebalancing, and forwards again after', async () => {
    stateB.owned = 'rebalancing';
    const during = await answerWith(`${workerA.url}/v1/customers/${onB}/session`, 503, 'worker A to see worker B rebalancing');
    expect(during.headers.get('retry-after')).toBe('1');
    expect(during.body).toMatchObject({ error: 'partition_unavailable', retriable: true });
    // Worker B itself answers 503 too (its state is not serving).
    expect((await get(`${workerB.url}/v1/customers/${onB}/session`)).status).toBe(503);
    stateB.owned = [2, 3];
    const after = await answerWith(`${workerA.url}/v1/customers/${onB}/session`, 200, 'worker A to forward again');
    expect(after.headers.get(SERVED_BY_HEADER)).toBe('worker-b');
  });

  it('answers 503 while two workers claim the same partition', async () => {
    const log = create(brokers);
    logs.push(log);
    // A worker that still claims partition 2 (an old owner that has not announced its revocation yet).
    const stale = new LogPartitionDirectory({ log, topic, memberId: 'worker-c', ownership: () => [2], heartbeatMs: 1000 });
    await stale.start('http://127.0.0.1:9');
    try {
      const during = await answerWith(`${workerA.url}/v1/customers/${onB}/session`, 503, 'worker A to see two claims on partition 2');
      expect(during.headers.get('retry-after')).toBe('1');
      expect(during.body).toMatchObject({ error: 'partition_unavailable', message: 'partition 2 is being rebalanced: 2 workers claim it' });
      // Partition 3 has one claim: still forwarded.
      const other = await get(`${workerA.url}/v1/customers/${onB3}/session`);
      expect(other.status).toBe(200);
      expect(other.body).toMatchObject({ status: 'closed', session: { events: 33 } });
    } finally {
      await stale.close();
    }
    // The tombstone ends the conflict.
    await answerWith(`${workerA.url}/v1/customers/${onB}/session`, 200, 'worker A to forward after worker C left');
  });

  it('follows a partition that moves from one worker to the other', async () => {
    stateA.customers.set(onB, { session: { status: 'open', kpis: kpis(onB, { events: 44 }) } });
    stateB.owned = [3];
    stateA.owned = [0, 1, 2];
    // A answers locally now; B forwards to A once it has read A's new announcement.
    const local = await get(`${workerA.url}/v1/customers/${onB}/session`);
    expect(local.status).toBe(200);
    expect(local.headers.get(SERVED_BY_HEADER)).toBe('worker-a');
    const viaB = await answerWith(`${workerB.url}/v1/customers/${onB}/session`, 200, 'worker B to forward partition 2 to worker A');
    expect(viaB.headers.get(SERVED_BY_HEADER)).toBe('worker-a');
    expect(viaB.body).toMatchObject({ session: { events: 44 } });
  });

  it('answers 503 for the partitions of a worker that shut down', async () => {
    await directoryB.close();
    const gone = await answerWith(`${workerA.url}/v1/customers/${onB3}/session`, 503, 'worker A to see worker B gone');
    expect(gone.headers.get('retry-after')).toBe('1');
    expect(gone.body).toMatchObject({ error: 'partition_unavailable', message: 'no worker serves partition 3 now' });
    expect(directoryA.members().map((member) => member.member_id)).toEqual(['worker-a']);
  });
});

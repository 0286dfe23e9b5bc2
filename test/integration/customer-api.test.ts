// The customer API of `touchstream run` workers in one group on the real broker: any worker answers any customer's live session, signals and journey as fed, and a rebalance answers 503 with Retry-After, then recovers.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import type { Runtime } from '../../app/runtime.ts';
import { inputPublisher, openRuntime } from '../../app/runtime.ts';
import { partitionOf } from '../../log/partitioner.ts';
import type { CxEvent } from '../../schemas/events.ts';
import { SERVED_BY_HEADER } from '../../serving/customer-api.ts';
import { requireEnvironment, runId, waitFor } from '../support/environment.ts';
import type { Worker, WorkerSettings } from '../support/workers.ts';
import { startWorker } from '../support/workers.ts';

const PARTITIONS = 4;
const API_KEY = 'customer-api-test-key';
/** Sessions stay open for the whole test (event time is the wall clock here). */
const TIMING = { gapMs: 10 * 60_000, outOfOrdernessMs: 500, idleTimeoutMs: 1500 };

type Answer = { status: number; retryAfter: string | null; servedBy: string | null; body: Record<string, any> };

const ask = async (base: string, path: string): Promise<Answer> => {
  const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${API_KEY}` }, signal: AbortSignal.timeout(5000) });
  return { status: response.status, retryAfter: response.headers.get('retry-after'), servedBy: response.headers.get(SERVED_BY_HEADER), body: (await response.json()) as Record<string, any> };
};

describe('the customer API of two workers in one group', () => {
  const run = runId();
  const dataDir = mkdtempSync(join(tmpdir(), 'touchstream-api-'));
  const settings: WorkerSettings = {
    brokers: '', clickhouseUrl: '', database: `ts_api_${run}`, inputTopic: `api-${run}-input`, groupId: `api-${run}`,
    partitions: PARTITIONS, dataDir, ...TIMING,
    extraEnv: { TOUCHSTREAM_API_KEYS: API_KEY, TOUCHSTREAM_SERVING_HEARTBEAT_MS: '1000' },
  };
  /** Two customers per input partition, so each worker holds some. */
  const customers: string[] = [];
  for (let index = 0; customers.length < 2 * PARTITIONS; index++) {
    const id = `api-${run}-c${index}`;
    if (customers.filter((customer) => partitionOf(customer, PARTITIONS) === partitionOf(id, PARTITIONS)).length < 2) customers.push(id);
  }
  /** What was fed per customer: its events' times (one session: the gap is longer than the test). */
  const fed = new Map<string, number[]>(customers.map((customer) => [customer, []]));
  const workers: Worker[] = [];
  const urls = new Map<string, string>();
  let runtime: Runtime;
  let sequence = 0;

  const urlOf = (worker: Worker) =>
    waitFor(async () => {
      try {
        return /serving (http:\/\/[^\s:]+:\d+):/.exec(readFileSync(join(dataDir, `${worker.id}.log`), 'utf8'))?.[1];
      } catch {
        return undefined;
      }
    }, 60_000, `${worker.id}'s serving URL`);

  const start = async (id: string) => {
    const worker = startWorker(settings, id);
    workers.push(worker);
    urls.set(id, await urlOf(worker));
    return worker;
  };

  /** One round: a page view for every customer now, a checkout error for the first customer of each partition. */
  const feed = async (withErrors = false) => {
    const now = Date.now();
    const events: CxEvent[] = [];
    for (const [index, customer] of customers.entries()) {
      const base = { occurred_at: now, customer_id: customer, anonymous_id: null, channel: 'web', touchpoint: 'shop', experiment: null } as const;
      events.push({ ...base, event_id: `api-${run}-e${++sequence}`, type: 'page_view', properties: { page: `/p/${sequence % 5}`, page_type: 'product' } } as CxEvent);
      if (withErrors && index % 2 === 0) events.push({ ...base, event_id: `api-${run}-e${++sequence}`, type: 'checkout_error', properties: { code: 'TIMEOUT' } } as CxEvent);
    }
    await inputPublisher(runtime).publish(events);
    for (const event of events) fed.get(event.customer_id!)!.push(event.occurred_at);
  };

  /**
   * Until every worker answers every customer's session with all that was fed, each served by one of the workers
   * (all of them serving some: the group has settled its assignment); answers the bodies by worker.
   */
  const untilCaughtUp = (ids: readonly string[]) =>
    waitFor(async () => {
      const bodies = new Map<string, Answer[]>();
      for (const id of ids) {
        const answers = await Promise.all(customers.map((customer) => ask(urls.get(id)!, `/v1/customers/${customer}/session`)));
        const complete = answers.every((answer, index) => answer.status === 200 && answer.body.session.events === fed.get(customers[index]!)!.length);
        const servedBy = new Set(answers.map((answer) => answer.servedBy));
        if (!complete || servedBy.size !== ids.length || !ids.every((each) => servedBy.has(each))) return undefined;
        bodies.set(id, answers);
      }
      return bodies;
    }, 45_000, `workers ${ids.join(', ')} to answer every customer's session as fed, each serving some`);

  beforeAll(async () => {
    settings.brokers = requireEnvironment('TOUCHSTREAM_TEST_KAFKA_BROKERS');
    settings.clickhouseUrl = requireEnvironment('TOUCHSTREAM_TEST_CLICKHOUSE_URL');
    const config = loadConfig({
      dataDir, transport: 'rdkafka',
      kafka: { brokers: settings.brokers, inputTopic: settings.inputTopic, groupId: settings.groupId, partitions: PARTITIONS },
      clickhouse: { url: settings.clickhouseUrl, dialect: 'legacy', database: settings.database },
      session: TIMING,
    }, {});
    runtime = await openRuntime(config);
    await Promise.all([start('api-a'), start('api-b')]);
  });

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop('SIGKILL')));
    await runtime?.close();
  });

  it('answers the same live session on either worker for customers on both workers\' partitions, while events flow', async () => {
    await feed();
    await untilCaughtUp(['api-a', 'api-b']);
    await feed(true);
    await feed(true);
    const bodies = await untilCaughtUp(['api-a', 'api-b']);
    const [viaA, viaB] = [bodies.get('api-a')!, bodies.get('api-b')!];
    // Both workers served some customers themselves: the partitions are split between them.
    expect(new Set(viaA.map((answer) => answer.servedBy))).toEqual(new Set(['api-a', 'api-b']));
    customers.forEach((customer, index) => {
      expect(viaB[index]!.body).toEqual(viaA[index]!.body);
      expect(viaB[index]!.servedBy).toBe(viaA[index]!.servedBy);
      const times = fed.get(customer)!;
      expect(viaA[index]!.body).toMatchObject({
        customer_id: customer,
        status: 'open',
        session: {
          events: times.length,
          page_views: 3,
          checkout_errors: index % 2 === 0 ? 2 : 0,
          started_at: new Date(Math.min(...times)).toISOString(),
          ended_at: new Date(Math.max(...times)).toISOString(),
          touchpoint: 'shop',
        },
      });
    });

    // Signals: the second checkout error in a session fired the live chat offer (open for 30 min).
    for (const [index, customer] of customers.entries()) {
      for (const url of [urls.get('api-a')!, urls.get('api-b')!]) {
        const signals = await ask(url, `/v1/customers/${customer}/signals`);
        expect(signals.status).toBe(200);
        expect(signals.body.signals.map((signal: { rule_id: string }) => signal.rule_id)).toEqual(index % 2 === 0 ? ['live_chat_offer'] : []);
        const journey = await ask(url, `/v1/customers/${customer}/journey`);
        expect(journey.status).toBe(200);
        expect(journey.body.sessions).toEqual([expect.objectContaining({ status: 'open', session_id: viaA[index]!.body.session.session_id, checkout_errors: index % 2 === 0 ? 2 : 0 })]);
      }
    }
    const unknown = await ask(urls.get('api-a')!, `/v1/customers/api-${run}-nobody/session`);
    expect(unknown.status).toBe(404);
    const anonymous = await fetch(`${urls.get('api-b')!}/v1/customers/${customers[0]}/session`);
    expect(anonymous.status).toBe(401);
  });

  /**
   * Asks every customer on these workers' sessions in sweeps while events flow (a round every 300 ms), until `trigger`
   * resolved, some answer was a 503 and a whole sweep is 200s again (or the time is up); answers every answer seen.
   */
  const observe = async (ids: readonly string[], trigger: Promise<unknown>, timeoutMs = 40_000) => {
    const seen: Answer[] = [];
    let triggered = false;
    void trigger.then(() => (triggered = true), () => (triggered = true));
    let fedAt = 0;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (Date.now() - fedAt > 300) {
        await feed();
        fedAt = Date.now();
      }
      const sweep = await Promise.all(ids.flatMap((id) => customers.map((customer) => ask(urls.get(id)!, `/v1/customers/${customer}/session`))));
      seen.push(...sweep);
      if (triggered && seen.some((answer) => answer.status === 503) && sweep.every((answer) => answer.status === 200)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await trigger;
    return seen;
  };

  it('answers 503 with Retry-After while a worker joins and while one leaves, then every worker answers again', async () => {
    // A third worker joins: the group rebalances while events flow.
    const duringJoin = await observe(['api-a', 'api-b'], start('api-c'));
    const refused = duringJoin.filter((answer) => answer.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    for (const answer of refused) {
      expect(answer.retryAfter).toBe('1');
      expect(answer.body).toMatchObject({ retriable: true });
      expect(['partition_unavailable', 'owner_unreachable']).toContain(answer.body.error);
    }
    expect(duringJoin.every((answer) => answer.status === 200 || answer.status === 503)).toBe(true);
    const afterJoin = await untilCaughtUp(['api-a', 'api-b', 'api-c']);
    expect(new Set(afterJoin.get('api-a')!.map((answer) => answer.servedBy))).toEqual(new Set(['api-a', 'api-b', 'api-c']));

    // It leaves again (SIGTERM: it drains and withdraws its announcement): its partitions are 503 until taken over.
    const c = workers.find((worker) => worker.id === 'api-c')!;
    const stopped = c.stop();
    const duringLeave = await observe(['api-a', 'api-b'], stopped);
    expect(await stopped).toBe(0);
    expect(duringLeave.filter((answer) => answer.status === 503).length).toBeGreaterThan(0);
    const afterLeave = await untilCaughtUp(['api-a', 'api-b']);
    expect(new Set(afterLeave.get('api-b')!.map((answer) => answer.servedBy))).toEqual(new Set(['api-a', 'api-b']));
    customers.forEach((customer, index) => expect(afterLeave.get('api-b')![index]!.body.session.events).toBe(fed.get(customer)!.length));
  });
});

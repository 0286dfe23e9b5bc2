// The customer API plugin over real HTTP with an in-test LiveState: answers, filtering, 404/400/401/503, pseudonymised keys, forwarding rules and the OpenAPI document.
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MetricsRecorder } from '../../engine/index.ts';
import { FORWARDED_HEADER, SERVED_BY_HEADER } from '../../serving/customer-api.ts';
import { journeyResponseSchema, sessionResponseSchema, signalsResponseSchema } from '../../serving/live-state.ts';
import type { PartitionDirectory, PartitionRoute } from '../../serving/partition-directory.ts';
import { FixtureLiveState, T0, kpis, signal, startWorker } from '../support/live-state-fixture.ts';
import type { Worker } from '../support/live-state-fixture.ts';

const KEY = 'k-secret-1';
const auth = { authorization: `Bearer ${KEY}` };
/** Four partitions; the partition is the id's last digit mod 4, so tests choose owners by name. */
const partitionOf = (key: string) => Number(key.at(-1)) % 4;

const get = async (url: string, headers: Record<string, string> = auth) => {
  const response = await fetch(url, { headers });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : null };
};

function routeTo(route: PartitionRoute, memberId = 'worker-a'): PartitionDirectory {
  return { memberId, ownerOf: () => route };
}

describe('customer API answers from live state', () => {
  const state = new FixtureLiveState([0, 1]);
  let worker: Worker;
  const now = T0 + 3_600_000;

  beforeAll(async () => {
    state.customers.set('c0', {
      session: { status: 'open', kpis: kpis('c0', { events: 7, checkout_errors: 2 }) },
      signals: [
        signal('c0', { action: 'cart_reminder', priority: 40 }),
        signal('c0', { action: 'live_chat_offer', channel: 'chat', priority: 80, rule_id: 'live_chat_offer', expires_at: T0 + 2 * 3_600_000 }),
        signal('c0', { action: 'proactive_help', status: 'suppressed' }),
        signal('c0', { action: 'support_callback', expires_at: now - 1 }),
      ],
      journey: {
        sessions: [
          { session_id: 's-old', status: 'closed', started_at: T0 - 86_400_000, ended_at: T0 - 86_000_000, channel: 'app', touchpoint: 'push', converted: true, cart_abandoned: false, help_views: 0, checkout_errors: 0 },
          { session_id: 's-c0', status: 'open', started_at: T0, ended_at: T0 + 90_000, channel: 'web', touchpoint: null, converted: false, cart_abandoned: true, help_views: 1, checkout_errors: 2 },
        ],
        feedback: [{ responded_at: T0 - 80_000_000, metric: 'nps', score: 4, survey_id: 'nps-q1', session_id: 's-old' }],
        contacts: [{ contacted_at: T0 - 70_000_000, kind: 'call', channel: 'call_center' }],
        negative_mentions: [T0 - 60_000_000],
      },
    });
    state.customers.set('c1', { session: { status: 'closed', kpis: kpis('c1', { cart_abandoned: false, orders: 1, converted: true, revenue: 120.5 }) } });
    worker = await startWorker({ state, partitionOf, apiKeys: [KEY, 'other-key'], directory: routeTo({ kind: 'unavailable', reason: 'no_owner', message: 'no worker serves it' }), wallClock: () => now });
  });
  afterAll(() => worker.close());

  it('answers the open session with its KPIs so far, times as ISO-8601', async () => {
    const { status, headers, body } = await get(`${worker.url}/v1/customers/c0/session`);
    expect(status).toBe(200);
    expect(headers.get(SERVED_BY_HEADER)).toBe('worker-a');
    expect(sessionResponseSchema.parse(body)).toEqual(body);
    expect(body).toEqual({
      customer_id: 'c0',
      status: 'open',
      session: {
        ...kpis('c0', { events: 7, checkout_errors: 2 }),
        started_at: '2026-03-02T10:00:00.000Z',
        ended_at: '2026-03-02T10:01:30.000Z',
      },
    });
  });

  it('answers the last closed session when none is open', async () => {
    const { status, body } = await get(`${worker.url}/v1/customers/c1/session`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ customer_id: 'c1', status: 'closed', session: { converted: true, revenue: 120.5, orders: 1 } });
  });

  it('lists only emitted, unexpired signals, highest priority first', async () => {
    const { status, body } = await get(`${worker.url}/v1/customers/c0/signals`);
    expect(status).toBe(200);
    expect(signalsResponseSchema.parse(body)).toEqual(body);
    const signals = (body as { signals: { action: string; expires_at: string; context: unknown; status: string }[] }).signals;
    expect(signals.map((entry) => entry.action)).toEqual(['live_chat_offer', 'cart_reminder']);
    expect(signals[0]).toMatchObject({ expires_at: '2026-03-02T12:00:00.000Z', status: 'emitted', context: null });
  });

  it('answers an empty list for a known customer without open signals', async () => {
    const { status, body } = await get(`${worker.url}/v1/customers/c1/signals`);
    expect(status).toBe(200);
    expect(body).toEqual({ customer_id: 'c1', signals: [] });
  });

  it('answers the journey: sessions, feedback, contacts and negative mentions', async () => {
    const { status, body } = await get(`${worker.url}/v1/customers/c0/journey`);
    expect(status).toBe(200);
    expect(journeyResponseSchema.parse(body)).toEqual(body);
    expect(body).toMatchObject({
      customer_id: 'c0',
      sessions: [{ session_id: 's-old', status: 'closed', ended_at: '2026-03-01T10:06:40.000Z' }, { session_id: 's-c0', status: 'open' }],
      feedback: [{ metric: 'nps', score: 4, survey_id: 'nps-q1', session_id: 's-old', responded_at: '2026-03-01T11:46:40.000Z' }],
      contacts: [{ kind: 'call', channel: 'call_center', contacted_at: '2026-03-01T14:33:20.000Z' }],
      negative_mentions: [{ occurred_at: '2026-03-01T17:20:00.000Z' }],
    });
  });

  it('answers 404 for a customer its own partition does not know', async () => {
    for (const route of ['session', 'signals', 'journey']) {
      const { status, body } = await get(`${worker.url}/v1/customers/nobody-1/${route}`);
      expect(status).toBe(404);
      expect(body).toEqual({ error: 'unknown_customer', message: 'no live state for this customer', retriable: false });
    }
  });

  it('answers 400 for an id longer than 128 characters', async () => {
    const { status, body } = await get(`${worker.url}/v1/customers/${'x'.repeat(128)}0/session`);
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: 'invalid_customer_id' });
  });

  it('refuses requests without a key, with a wrong key, or with another scheme', async () => {
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong' }, { authorization: `Basic ${Buffer.from(`${KEY}:`).toString('base64')}` }, { authorization: KEY }]) {
      const { status, headers: answer, body } = await get(`${worker.url}/v1/customers/c0/session`, headers);
      expect(status).toBe(401);
      expect(answer.get('www-authenticate')).toBe('Bearer');
      expect(body).toMatchObject({ error: 'unauthorized', retriable: false });
    }
    expect((await get(`${worker.url}/v1/customers/c0/session`, { authorization: 'Bearer other-key' })).status).toBe(200);
    expect(state.asked.filter((key) => key === 'c0').length).toBeGreaterThan(0);
  });

  it('answers 503 with Retry-After for a partition no worker serves now', async () => {
    const { status, headers, body } = await get(`${worker.url}/v1/customers/c2/session`);
    expect(status).toBe(503);
    expect(headers.get('retry-after')).toBe('1');
    expect(body).toEqual({ error: 'partition_unavailable', message: 'no worker serves it', retriable: true });
  });
});

describe('customer API ownership and forwarding rules', () => {
  const workers: Worker[] = [];
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.close()));
  });

  it('looks customers up by their pseudonymised key', async () => {
    const state = new FixtureLiveState([0, 1, 2, 3]);
    state.customers.set('pseudo(alice)', { session: { status: 'open', kpis: kpis('pseudo(alice)') } });
    const seen: string[] = [];
    const worker = await startWorker({
      state, apiKeys: [KEY], pseudonymise: (raw) => `pseudo(${raw})`,
      partitionOf: (key) => (seen.push(key), 0),
    });
    workers.push(worker);
    const { status, body } = await get(`${worker.url}/v1/customers/alice/session`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ customer_id: 'pseudo(alice)', session: { customer_id: 'pseudo(alice)' } });
    expect(seen).toEqual(['pseudo(alice)']);
    expect(state.asked).toEqual(['pseudo(alice)']);
  });

  it('answers 503 while its own state is rebalancing (embedded: the sole worker)', async () => {
    const state = new FixtureLiveState('rebalancing');
    state.customers.set('c0', { session: { status: 'open', kpis: kpis('c0') } });
    const worker = await startWorker({ state, partitionOf, apiKeys: [KEY], retryAfterSeconds: 3 });
    workers.push(worker);
    const { status, headers, body } = await get(`${worker.url}/v1/customers/c0/session`);
    expect(status).toBe(503);
    expect(headers.get('retry-after')).toBe('3');
    expect(body).toMatchObject({ error: 'partition_unavailable', retriable: true });
    expect(state.asked).toEqual([]);
  });

  it('forwards to the owner with the caller\'s key and relays its answer', async () => {
    const ownerState = new FixtureLiveState([2, 3]);
    ownerState.customers.set('c2', { session: { status: 'open', kpis: kpis('c2') } });
    const owner = await startWorker({ state: ownerState, partitionOf, apiKeys: [KEY], directory: routeTo({ kind: 'unavailable', reason: 'no_owner', message: '-' }, 'worker-b') });
    workers.push(owner);
    const metrics = new MetricsRecorder();
    const asker = await startWorker({ state: new FixtureLiveState([0, 1]), partitionOf, apiKeys: [KEY], metrics, directory: routeTo({ kind: 'owner', owner: { memberId: 'worker-b', url: owner.url } }) });
    workers.push(asker);
    const { status, headers, body } = await get(`${asker.url}/v1/customers/c2/session`);
    expect(status).toBe(200);
    expect(headers.get(SERVED_BY_HEADER)).toBe('worker-b');
    expect(body).toMatchObject({ customer_id: 'c2', status: 'open' });
    // The owner's 404 comes back as it is.
    expect((await get(`${asker.url}/v1/customers/nobody-2/journey`)).status).toBe(404);
    // Without a key the asker refuses before forwarding.
    expect((await get(`${asker.url}/v1/customers/c2/session`, {})).status).toBe(401);
    expect(Object.fromEntries(metrics.counters)).toEqual({
      'touchstream_serving_requests_total{route="/v1/customers/:id/session",served="forwarded",status="200"}': 1,
      'touchstream_serving_requests_total{route="/v1/customers/:id/journey",served="forwarded",status="404"}': 1,
      'touchstream_serving_requests_total{route="/v1/customers/:id/session",served="refused",status="401"}': 1,
    });
  });

  it('never forwards a forwarded request again: a non-owner that receives one answers 503', async () => {
    const bystanderState = new FixtureLiveState([0, 1, 2, 3]);
    bystanderState.customers.set('c3', { signals: [signal('c3')] });
    const bystander = await startWorker({ state: bystanderState, partitionOf, apiKeys: [KEY] });
    workers.push(bystander);
    const worker = await startWorker({
      state: new FixtureLiveState([0, 1]), partitionOf, apiKeys: [KEY],
      directory: routeTo({ kind: 'owner', owner: { memberId: 'worker-c', url: bystander.url } }),
    });
    workers.push(worker);
    const { status, headers, body } = await get(`${worker.url}/v1/customers/c3/signals`, { ...auth, [FORWARDED_HEADER]: 'worker-x' });
    expect(status).toBe(503);
    expect(headers.get('retry-after')).toBe('1');
    expect(body).toMatchObject({ error: 'partition_unavailable' });
    expect(bystanderState.asked).toEqual([]);
    // The same request, not marked, is forwarded (so the 503 above is the mark's doing).
    expect((await get(`${worker.url}/v1/customers/c3/signals`)).status).toBe(200);
    expect(bystanderState.asked).toEqual(['c3']);
  });

  it('answers 503 owner_unreachable when the owner does not answer', async () => {
    const gone = await startWorker({ state: new FixtureLiveState([]), partitionOf, apiKeys: [KEY] });
    const goneUrl = gone.url;
    await gone.close();
    const worker = await startWorker({
      state: new FixtureLiveState([0]), partitionOf, apiKeys: [KEY],
      directory: routeTo({ kind: 'owner', owner: { memberId: 'worker-gone', url: goneUrl } }),
    });
    workers.push(worker);
    const { status, headers, body } = await get(`${worker.url}/v1/customers/c1/session`);
    expect(status).toBe(503);
    expect(headers.get('retry-after')).toBe('1');
    expect(body).toMatchObject({ error: 'owner_unreachable', retriable: true });
  });

  it('answers 500 in its error shape, without the failure\'s message, when the state fails', async () => {
    const state = new FixtureLiveState([0, 1, 2, 3]);
    state.session = () => {
      throw new Error('secret detail of c0');
    };
    const worker = await startWorker({ state, partitionOf, apiKeys: [KEY] });
    workers.push(worker);
    const { status, body } = await get(`${worker.url}/v1/customers/c0/session`);
    expect(status).toBe(500);
    expect(body).toEqual({ error: 'internal_error', message: 'the worker failed to answer', retriable: false });
  });

  it('without API keys serves loopback clients only', async () => {
    const state = new FixtureLiveState([0, 1, 2, 3]);
    state.customers.set('c0', { session: { status: 'open', kpis: kpis('c0') } });
    const worker = await startWorker({ state, partitionOf, apiKeys: [] });
    workers.push(worker);
    expect((await get(`${worker.url}/v1/customers/c0/session`, {})).status).toBe(200);
    const remote = await worker.app.inject({ method: 'GET', url: '/v1/customers/c0/session', remoteAddress: '10.1.2.3' });
    expect(remote.statusCode).toBe(401);
    expect(remote.json()).toMatchObject({ error: 'unauthorized' });
    expect(remote.json().message).toContain('TOUCHSTREAM_API_KEYS');
    const remoteDocument = await worker.app.inject({ method: 'GET', url: '/openapi.json', remoteAddress: '10.1.2.3' });
    expect(remoteDocument.statusCode).toBe(200);
  });
});

describe('/openapi.json', () => {
  let worker: Worker;
  const state = new FixtureLiveState([0, 1, 2, 3]);
  beforeAll(async () => {
    state.customers.set('c0', {
      session: { status: 'open', kpis: kpis('c0', { experiment_id: 'exp-1', variant: 'B' }) },
      signals: [signal('c0'), signal('c0', { action: 'social_care', session_id: null, channel: 'social', context: { sentiment: -0.7 } } as never)],
    });
    worker = await startWorker({ state, partitionOf, apiKeys: [KEY] });
  });
  afterAll(() => worker.close());

  it('is a valid OpenAPI 3.1 document, served without a key', async () => {
    const { status, body } = await get(`${worker.url}/openapi.json`, {});
    expect(status).toBe(200);
    const result = await new Validator().validate(body!);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(body!.openapi).toBe('3.1.0');
  });

  it('describes the three routes with their response schemas', async () => {
    const { body } = await get(`${worker.url}/openapi.json`, {});
    const document = body as { paths: Record<string, { get: { responses: Record<string, { content?: Record<string, { schema: { $ref: string } }> }> } }>; components: { schemas: Record<string, unknown> } };
    const expected = { session: 'SessionResponse', signals: 'SignalsResponse', journey: 'JourneyResponse' };
    expect(Object.keys(document.paths).sort()).toEqual(['/v1/customers/{id}/journey', '/v1/customers/{id}/session', '/v1/customers/{id}/signals']);
    for (const [route, schema] of Object.entries(expected)) {
      const responses = document.paths[`/v1/customers/{id}/${route}`]!.get.responses;
      expect(responses['200']!.content!['application/json']!.schema.$ref).toBe(`#/components/schemas/${schema}`);
      for (const code of ['401', '404', '503']) expect(responses[code]!.content!['application/json']!.schema.$ref).toBe('#/components/schemas/Error');
      expect(document.components.schemas[schema]).toBeDefined();
    }
  });

  it('matches what the routes answer: each answer validates against its documented schema, and a wrong one does not', async () => {
    const { body } = await get(`${worker.url}/openapi.json`, {});
    const ajv = new Ajv2020({ strict: false });
    addFormats.default(ajv);
    ajv.addSchema({ $id: 'touchstream-api', components: (body as { components: unknown }).components });
    const validate = (name: string) => ajv.getSchema(`touchstream-api#/components/schemas/${name}`)!;
    for (const [route, name] of [['session', 'SessionResponse'], ['signals', 'SignalsResponse'], ['journey', 'JourneyResponse']] as const) {
      const answer = await get(`${worker.url}/v1/customers/c0/${route}`);
      expect(answer.status).toBe(200);
      const check = validate(name);
      expect(check(answer.body), `${route}: ${JSON.stringify(check.errors)}`).toBe(true);
    }
    const error = await get(`${worker.url}/v1/customers/nobody-0/session`);
    expect(validate('Error')(error.body)).toBe(true);
    const session = (await get(`${worker.url}/v1/customers/c0/session`)).body as { session: Record<string, unknown> };
    expect(validate('SessionResponse')({ ...session, session: { ...session.session, started_at: 12 } })).toBe(false);
  });
});

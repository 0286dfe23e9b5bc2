// Pins the HTTP collector's answers: auth, single and batch intake, limits, per-event reasons, dead letters, and no 2xx before the log acknowledged.
import { describe, expect, it } from 'vitest';
import { MetricsRecorder } from '../../engine/metrics.ts';
import type { CxEvent } from '../../schemas/events.ts';
import type { DeadLetter } from '../../schemas/outputs.ts';
import { createHttpCollector } from '../../sources/collector/http-collector.ts';

const NOW = Date.parse('2026-11-02T12:00:00.000Z');
const KEY = 'wk-test-1';
const auth = { authorization: `Bearer ${KEY}` };

const pageView = (id: string, extra: Record<string, unknown> = {}) => ({
  event_id: id,
  type: 'page_view',
  occurred_at: '2026-11-02T10:00:00.000Z',
  customer_id: 'c-1',
  channel: 'web',
  properties: { page: '/home', page_type: 'home' },
  ...extra,
});

function setup(options: { failPublish?: boolean; maxBatchEvents?: number; maxBodyBytes?: number } = {}) {
  const published: CxEvent[] = [];
  const letters: DeadLetter[] = [];
  const metrics = new MetricsRecorder();
  const app = createHttpCollector(
    { writeKeys: [KEY, 'wk-other'], maxBatchEvents: options.maxBatchEvents ?? 3, maxBodyBytes: options.maxBodyBytes ?? 10_000, maxEventBytes: 2000 },
    {
      publisher: {
        async publish(events) {
          if (options.failPublish) throw Object.assign(new Error('broker down'), { retriable: true });
          published.push(...events);
        },
      },
      async deadLetters(batch) {
        letters.push(...batch);
      },
      metrics,
      wallClock: () => NOW,
    },
  );
  return { app, published, letters, metrics };
}

describe('HTTP collector', () => {
  it('refuses to start without write keys', () => {
    expect(() => createHttpCollector({}, { publisher: { publish: async () => {} }, deadLetters: async () => {}, metrics: new MetricsRecorder() })).toThrow(/collector.writeKeys/);
  });

  it('answers 401 without a valid write key, takes nothing and dead-letters nothing', async () => {
    const { app, published, letters } = setup();
    for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: KEY }]) {
      const response = await app.inject({ method: 'POST', url: '/v1/events', headers, payload: pageView('e-1') });
      expect(response.statusCode).toBe(401);
    }
    expect(published).toEqual([]);
    expect(letters).toEqual([]);
  });

  it('accepts a write key as the Basic user name too', async () => {
    const { app, published } = setup();
    const basic = `Basic ${Buffer.from('wk-other:').toString('base64')}`;
    const response = await app.inject({ method: 'POST', url: '/v1/events', headers: { authorization: basic }, payload: pageView('e-basic') });
    expect(response.statusCode).toBe(202);
    expect(published.map((event) => event.event_id)).toEqual(['e-basic']);
  });

  it('accepts one valid event with 202 after publishing it', async () => {
    const { app, published, letters } = setup();
    const response = await app.inject({ method: 'POST', url: '/v1/events', headers: auth, payload: pageView('e-1') });
    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({ accepted: 1, rejected: 0, results: [{ index: 0, status: 'accepted', event_id: 'e-1' }] });
    expect(published).toHaveLength(1);
    expect(published[0]!.occurred_at).toBe(Date.parse('2026-11-02T10:00:00.000Z'));
    expect(letters).toEqual([]);
  });

  it('refuses an invalid single event with 400, the field and rule, and a dead letter holding the body', async () => {
    const { app, published, letters } = setup();
    const body = JSON.stringify(pageView('e-bad', { channel: 'fax' }));
    const response = await app.inject({ method: 'POST', url: '/v1/events', headers: { ...auth, 'content-type': 'application/json' }, payload: body });
    expect(response.statusCode).toBe(400);
    const answer = response.json();
    expect(answer.accepted).toBe(0);
    expect(answer.results[0]).toMatchObject({ index: 0, status: 'rejected', code: 'invalid_event', event_id: 'e-bad' });
    expect(answer.results[0].message).toMatch(/^channel: /);
    expect(published).toEqual([]);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ reason_code: 'invalid_event', source: 'collector', event_id: 'e-bad', topic: null, offset: null });
    expect(letters[0]!.original.toString()).toBe(body);
  });

  it('refuses a body that is not JSON as invalid_json with its bytes', async () => {
    const { app, letters } = setup();
    const response = await app.inject({ method: 'POST', url: '/v1/events', headers: { ...auth, 'content-type': 'application/json' }, payload: '{"event_id": ' });
    expect(response.statusCode).toBe(400);
    expect(response.json().results[0].code).toBe('invalid_json');
    expect(letters.map((letter) => [letter.reason_code, letter.original.toString()])).toEqual([['invalid_json', '{"event_id": ']]);
  });

  it('answers a mixed batch with 207 and one result per event, in order', async () => {
    const { app, published, letters, metrics } = setup();
    const batch = [pageView('b-1'), pageView('b-2', { type: 'teleport' }), pageView('b-3', { occurred_at: '2026-11-04T12:00:00.000Z' })];
    const response = await app.inject({ method: 'POST', url: '/v1/events/batch', headers: auth, payload: batch });
    expect(response.statusCode).toBe(207);
    const answer = response.json();
    expect(answer.accepted).toBe(1);
    expect(answer.rejected).toBe(2);
    expect(answer.results.map((result: { index: number; status: string; code?: string }) => [result.index, result.status, result.code ?? null])).toEqual([
      [0, 'accepted', null],
      [1, 'rejected', 'unknown_type'],
      [2, 'rejected', 'future_timestamp'],
    ]);
    expect(published.map((event) => event.event_id)).toEqual(['b-1']);
    expect(letters.map((letter) => [letter.event_id, letter.reason_code])).toEqual([
      ['b-2', 'unknown_type'],
      ['b-3', 'future_timestamp'],
    ]);
    expect(JSON.parse(letters[0]!.original.toString())).toEqual(batch[1]);
    expect(metrics.total('touchstream_source_events_total')).toBe(1);
    expect(metrics.total('touchstream_rejected_total')).toBe(2);
  });

  it('takes { "events": [...] } as a batch too, and answers 202 when all are valid', async () => {
    const { app, published } = setup();
    const response = await app.inject({ method: 'POST', url: '/v1/events/batch', headers: auth, payload: { events: [pageView('x-1'), pageView('x-2')] } });
    expect(response.statusCode).toBe(202);
    expect(published.map((event) => event.event_id)).toEqual(['x-1', 'x-2']);
  });

  it('refuses a batch over the batch-size limit with 413 and one oversized dead letter', async () => {
    const { app, published, letters } = setup({ maxBatchEvents: 2 });
    const response = await app.inject({ method: 'POST', url: '/v1/events/batch', headers: auth, payload: [pageView('o-1'), pageView('o-2'), pageView('o-3')] });
    expect(response.statusCode).toBe(413);
    expect(response.json().results[0]).toMatchObject({ code: 'oversized_payload', message: 'batch of 3 events exceeds 2' });
    expect(published).toEqual([]);
    expect(letters.map((letter) => letter.reason_code)).toEqual(['oversized_payload']);
  });

  it('refuses a body over the body-size limit with 413 and an oversized dead letter', async () => {
    const { app, published, letters } = setup({ maxBodyBytes: 500 });
    const response = await app.inject({ method: 'POST', url: '/v1/events', headers: { ...auth, 'content-type': 'application/json' }, payload: JSON.stringify(pageView('big', { touchpoint: 'x'.repeat(600) })) });
    expect(response.statusCode).toBe(413);
    expect(response.json().results[0].code).toBe('oversized_payload');
    expect(published).toEqual([]);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ reason_code: 'oversized_payload', source: 'collector' });
  });

  it('refuses one oversized event inside a batch and keeps the rest', async () => {
    const { app, published, letters } = setup();
    const big = pageView('big', { properties: { page: 'p'.repeat(2100), page_type: 'home' } });
    const response = await app.inject({ method: 'POST', url: '/v1/events/batch', headers: auth, payload: [pageView('ok'), big] });
    expect(response.statusCode).toBe(207);
    expect(published.map((event) => event.event_id)).toEqual(['ok']);
    expect(letters.map((letter) => [letter.event_id, letter.reason_code])).toEqual([['big', 'oversized_payload']]);
  });

  it('answers 503 (retriable) and accepts nothing when the log does not acknowledge', async () => {
    const { app } = setup({ failPublish: true });
    const response = await app.inject({ method: 'POST', url: '/v1/events', headers: auth, payload: pageView('e-1') });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ error: 'log_unavailable', retriable: true });
    expect(response.headers['retry-after']).toBe('1');
  });
});

describe('HTTP collector: erasure requests', () => {
  const withErasures = () => {
    const requested: string[] = [];
    const letters: DeadLetter[] = [];
    const app = createHttpCollector({ writeKeys: [KEY] }, {
      publisher: { async publish() {} },
      async deadLetters(batch) {
        letters.push(...batch);
      },
      metrics: new MetricsRecorder(),
      erasures: {
        async request(id) {
          requested.push(id);
          return { requestId: `req-${requested.length}` };
        },
      },
    });
    return { app, requested, letters };
  };

  it('takes { customer_id } with a write key, answers 202 with the request id, and dead-letters nothing of a bad body', async () => {
    const { app, requested, letters } = withErasures();
    const ok = await app.inject({ method: 'POST', url: '/v1/erasure', headers: auth, payload: { customer_id: 'alice@example.com' } });
    expect([ok.statusCode, ok.json()]).toEqual([202, { request_id: 'req-1', status: 'requested' }]);
    expect(requested).toEqual(['alice@example.com']);
    const bad = await app.inject({ method: 'POST', url: '/v1/erasure', headers: auth, payload: 'alice@example.com' });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).not.toContain('alice');
    expect(letters).toEqual([]);
    expect((await app.inject({ method: 'POST', url: '/v1/erasure', payload: { customer_id: 'x' } })).statusCode).toBe(401);
  });

  it('answers 501 where no erasure path is configured', async () => {
    const { app } = setup();
    expect((await app.inject({ method: 'POST', url: '/v1/erasure', headers: auth, payload: { customer_id: 'x' } })).statusCode).toBe(501);
  });
});

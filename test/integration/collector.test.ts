// The HTTP collector, survey and social webhooks on the real broker and ClickHouse: what lands in the input topic, on touchstream.dlq and in rejected_events, count for count.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector } from '../../app/collect.ts';
import type { RunningCollector } from '../../app/collect.ts';
import { loadConfig } from '../../app/config.ts';
import type { Runtime } from '../../app/runtime.ts';
import { loadTables, openRuntime } from '../../app/runtime.ts';
import { MetricsRecorder } from '../../engine/metrics.ts';
import type { LogRecord } from '../../log/log.ts';
import { eventFromAvro } from '../../schemas/avro.ts';
import type { DeadLetter } from '../../schemas/outputs.ts';
import { TOPICS } from '../../schemas/outputs.ts';
import { requireEnvironment, runId, waitFor } from '../support/environment.ts';

/** Reads a topic from the start with a fresh group until `enough` holds for what was read. */
async function readTopic(runtime: Runtime, topic: string, enough: (records: LogRecord[]) => boolean): Promise<LogRecord[]> {
  const consumer = await runtime.log.consumer({ groupId: `it-read-${runId()}`, topics: [topic], start: 'earliest' });
  const records: LogRecord[] = [];
  try {
    await waitFor(async () => {
      records.push(...(await consumer.poll(10_000, 500)));
      return enough(records) ? true : undefined;
    }, 60_000, `records on ${topic}`);
    return records;
  } finally {
    await consumer.close();
  }
}

describe('collector and webhooks on the real broker and ClickHouse', () => {
  const run = runId();
  const key = `wk-${run}`;
  const metrics = new MetricsRecorder();
  let runtime: Runtime;
  let collector: RunningCollector;

  const post = (path: string, body: string | object, headers: Record<string, string> = {}) =>
    fetch(`${collector.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const event = (suffix: string, extra: Record<string, unknown> = {}) => ({
    event_id: `${run}-${suffix}`,
    type: 'add_to_cart',
    occurred_at: '2026-11-02T10:00:00.000Z',
    customer_id: `${run}-c1`,
    channel: 'web',
    properties: { product_id: 'sku-1', price: 19.99, quantity: 1 },
    ...extra,
  });

  beforeAll(async () => {
    const config = loadConfig({
      dataDir: mkdtempSync(join(tmpdir(), 'touchstream-collector-')),
      transport: 'rdkafka',
      kafka: { brokers: requireEnvironment('TOUCHSTREAM_TEST_KAFKA_BROKERS'), inputTopic: `it-collector-${run}`, groupId: `it-collector-${run}` },
      clickhouse: { url: requireEnvironment('TOUCHSTREAM_TEST_CLICKHOUSE_URL'), dialect: 'legacy', database: `ts_collector_${run}` },
      collector: { port: 0, writeKeys: [key], maxBatchEvents: 10 },
    }, {});
    runtime = await openRuntime(config, { metrics });
    collector = await startCollector(runtime);
  });

  afterAll(async () => {
    await collector?.close();
    await runtime?.close();
  });

  it('publishes accepted events before answering, and dead-letters every refused one on the DLQ and in rejected_events', async () => {
    // Not authorized: refused before anything is read, so neither published nor dead-lettered.
    expect((await post('/v1/events', event('unauthorized'), { authorization: 'Bearer wrong' })).status).toBe(401);

    const batch = await post('/v1/events/batch', [event('b1'), event('b2'), event('b3', { channel: 'fax' }), event('b4'), event('b5', { properties: { product_id: 'sku-1', price: -1, quantity: 1 } })]);
    expect(batch.status).toBe(207);
    expect(await batch.json()).toMatchObject({ accepted: 3, rejected: 2 });

    expect((await post('/v1/events', event('s1'))).status).toBe(202);
    expect((await post('/v1/events', `{"event_id": "${run}-broken`)).status).toBe(400);
    expect((await post('/v1/events/batch', Array.from({ length: 11 }, (_, index) => event(`big${index}`)))).status).toBe(413);

    const survey = await post('/v1/webhooks/survey', [
      { response_id: `${run}-r1`, respondent: `${run}-c1`, survey: 'post-purchase', question_type: 'nps', score: 4, comment: 'Lieferung zu spät', submitted_at: '2026-11-02T11:00:00Z' },
      { response_id: `${run}-r2`, respondent: `${run}-c1`, survey: 'post-purchase', question_type: 'nps', score: 11, submitted_at: '2026-11-02T11:00:00Z' },
    ]);
    expect(survey.status).toBe(207);

    const social = await post(
      '/v1/webhooks/social',
      [JSON.stringify({ id: `${run}-p1`, platform: 'x', author: `${run}-anna`, text: 'Terrible support, waited an hour on the phone.', created_at: '2026-11-02T12:00:00Z' }), `{"id": "${run}-p2", broken`].join('\n'),
      { 'content-type': 'application/x-ndjson' },
    );
    expect(social.status).toBe(207);

    // Input topic: exactly the 6 accepted events, decoded back to contract events.
    const input = await readTopic(runtime, runtime.config.kafka.inputTopic, (records) => records.length >= 6);
    const [decoded] = [await runtime.codecs.event.decodeBatch(input.map((record) => record.value as Buffer))];
    const ids = decoded.map((result) => (result.ok ? eventFromAvro(result.value)!.event_id : `!${result.code}`)).sort();
    expect(ids).toEqual([`${run}-b1`, `${run}-b2`, `${run}-b4`, `${run}-s1`, 'survey:post-purchase:' + `${run}-r1`, `x:${run}-p1`].sort());
    expect(input.map((record) => record.key?.toString()).sort()).toEqual([...Array(5).fill(`${run}-c1`), `x:${run}-anna`].sort());

    // DLQ (shared topic): the 6 refused inputs of this run, with source and reason.
    const expected = [
      ['collector', 'invalid_event'],
      ['collector', 'invalid_event'],
      ['collector', 'invalid_json'],
      ['collector', 'oversized_payload'],
      ['webhook:social', 'invalid_json'],
      ['webhook:survey', 'invalid_event'],
    ];
    const mine = (records: LogRecord[]) => records.map((record) => runtime.codecs.deadLetter.decodeKnown(record.value as Buffer)).flatMap((result) => (result.ok && result.value.original.toString().includes(run) ? [result.value] : []));
    const dlq = mine(await readTopic(runtime, TOPICS.deadLetters, (records) => mine(records).length >= expected.length));
    expect(dlq.map((letter: DeadLetter) => [letter.source, letter.reason_code]).sort()).toEqual(expected);

    // rejected_events is loaded from its row topic, like every table (the loader of `run` or `load`).
    const loaded = await loadTables(runtime, { bounded: true });
    expect(loaded.rows.rejected_events).toBe(expected.length);
    const rows = await runtime.clickhouse.rows<{ source: string; reason_code: string }>(`SELECT source, reason_code FROM ts_collector_${run}.rejected_events FINAL ORDER BY source, reason_code`);
    expect(rows.map((row) => [row.source, row.reason_code])).toEqual(expected);
    expect(metrics.total('touchstream_source_events_total')).toBe(6);
    expect(metrics.total('touchstream_rejected_total')).toBe(6);
  });
});

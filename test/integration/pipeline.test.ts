// End to end on real infrastructure: known events → Avro on the real Kafka broker → engine → exact rows in ClickHouse and signals on the topic.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import type { Runtime } from '../../app/runtime.ts';
import { ingest, openRuntime, runPipeline } from '../../app/runtime.ts';
import type { LogRecord } from '../../log/log.ts';
import { partitionOf } from '../../log/partitioner.ts';
import { TOPICS } from '../../schemas/outputs.ts';
import type { DeadLetter } from '../../schemas/outputs.ts';
import { ndjsonReplay } from '../../sources/replay/ndjson-replay.ts';
import { requireEnvironment, runId, waitFor } from '../support/environment.ts';

const DAY1 = '2026-11-02';
const DAY2 = '2026-11-03';
const at = (day: string, time: string) => `${day}T${time}.000Z`;

function journey(run: string) {
  const c = (name: string) => `${run}-${name}`;
  let sequence = 0;
  const event = (customer: Record<string, string>, type: string, occurredAt: string, properties: Record<string, unknown>, channel = 'web', extra: Record<string, unknown> = {}) => ({
    event_id: `${run}-e${++sequence}`,
    type,
    occurred_at: occurredAt,
    channel,
    ...customer,
    ...extra,
    properties,
  });
  const c1 = { customer_id: c('c1') };
  const c2 = { customer_id: c('c2') };
  const a3 = { anonymous_id: c('a3') };
  const c4 = { customer_id: c('c4') };
  const c5 = { customer_id: c('c5') };
  // A customer in the same partition as c5 whose later event moves that partition's watermark past c5's session.
  const partitionOfC5 = partitionOf(c('c5'), 4);
  let pusher = 0;
  while (partitionOf(c(`p${pusher}`), 4) !== partitionOfC5) pusher++;
  const p = { customer_id: c(`p${pusher}`) };

  const c1Home = event(c1, 'page_view', at(DAY1, '10:00:00'), { page: '/', page_type: 'home' }, 'web', { experiment: { id: 'checkout-redesign', variant: 'B' }, touchpoint: 'home' });
  const c1AddToCart = event(c1, 'add_to_cart', at(DAY1, '10:02:00'), { product_id: 'sku-1', price: 25, quantity: 2 });
  const c5Late = event(c5, 'click', at(DAY2, '10:10:00'), { element: 'late' });
  const c2Detractor = event(c2, 'survey_response', at(DAY1, '11:30:00'), { survey_id: 's1', metric: 'nps', score: 3 }, 'survey');
  // In time order per partition, as real traffic comes, but for the deliberately out-of-order events.
  const lines: unknown[] = [
    c1Home,
    c1Home, // the same event_id again: processed once
    event(c2, 'page_view', at(DAY1, '10:00:00'), { page: '/home', page_type: 'home' }, 'app'),
    event(a3, 'page_view', at(DAY1, '10:00:00'), { page: '/', page_type: 'home' }),
    event(c1, 'page_view', at(DAY1, '10:01:00'), { page: '/p/1', page_type: 'product' }),
    c1AddToCart,
    event(c1, 'page_view', at(DAY1, '10:05:00'), { page: '/help', page_type: 'help' }),
    event(c2, 'add_to_cart', at(DAY1, '10:10:00'), { product_id: 'sku-2', price: 10, quantity: 1 }, 'app'),
    event(c2, 'checkout_start', at(DAY1, '10:12:00'), {}, 'app'),
    event(c2, 'purchase', at(DAY1, '10:13:00'), { order_id: 'o-1', revenue: 10, currency: 'EUR' }, 'app'),
    event(a3, 'click', at(DAY1, '10:25:00'), { element: 'menu' }),
    event(a3, 'click', at(DAY1, '10:15:00'), { element: 'search' }), // out of order, within its open session
    event(c2, 'page_view', at(DAY1, '11:00:00'), { page: '/home', page_type: 'home' }, 'app'),
    c2Detractor, // an NPS detractor: fires support_callback (default rules, CONTRACT §4)
    event(c4, 'page_view', at(DAY2, '10:00:00'), { page: '/a', page_type: 'category' }),
    event(c4, 'page_view', at(DAY2, '10:30:03'), { page: '/b', page_type: 'product' }), // 30 min 3 s later: a second session…
    event(c4, 'click', at(DAY2, '10:15:00'), { element: 'bridge' }), // …until this event bridges them into one
    event(c5, 'page_view', at(DAY2, '10:00:00'), { page: '/c', page_type: 'home' }),
    event(p, 'page_view', at(DAY2, '12:00:00'), { page: '/d', page_type: 'home' }),
    c5Late, // its session is due by the partition watermark: late
    // Bad input: each becomes a dead letter, none stops the pipeline.
    event(c1, 'survey_response', at(DAY1, '12:00:00'), { survey_id: 's1', metric: 'nps', score: 11 }, 'survey'),
    { event_id: `${run}-bad-type`, type: 'teleport', occurred_at: at(DAY1, '12:00:00'), channel: 'web', customer_id: c('c1'), properties: {} },
  ];
  const text = `${lines.map((line) => JSON.stringify(line)).join('\n')}\n{"event_id": "${run}-broken", "type":\n`;
  return { text, c, c1AddToCart, c1Home, c5Late, c2Detractor, pusherId: p.customer_id };
}

function idBytes(id: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(id);
  return bytes;
}

const s = (day: string, time: string) => Date.parse(at(day, time)) / 1000;

describe.each([
  { transport: 'rdkafka' as const, clickhouse: 'embedded chDB' },
  { transport: 'kafkajs' as const, clickhouse: 'HTTP server' },
])('pipeline on Kafka via $transport into $clickhouse', ({ transport, clickhouse }) => {
  const run = runId();
  const { text, c, c1AddToCart, c1Home, c5Late, c2Detractor, pusherId } = journey(run);
  let runtime: Runtime;
  const database = `ts_it_${run}`;
  let emitted: Record<string, number> = {};

  beforeAll(async () => {
    const brokers = requireEnvironment('TOUCHSTREAM_TEST_KAFKA_BROKERS');
    const dataDir = mkdtempSync(join(tmpdir(), 'touchstream-it-'));
    const config = loadConfig(
      {
        dataDir,
        transport,
        kafka: { brokers, inputTopic: `it-events-${run}`, groupId: `it-${run}` },
        clickhouse:
          clickhouse === 'HTTP server'
            ? { url: requireEnvironment('TOUCHSTREAM_TEST_CLICKHOUSE_URL'), dialect: 'legacy', database }
            : { database },
      },
      {},
    );
    runtime = await openRuntime(config);
    const file = join(dataDir, 'journeys.ndjson');
    writeFileSync(file, text);
    const ingested = await ingest(runtime, ndjsonReplay({ path: file }));
    expect(ingested).toEqual({ events: 20, rejected: 3 });
    // Bytes that are not an event at all, straight onto the topic.
    await runtime.producer.send(config.kafka.inputTopic, [
      { key: c('c1'), value: Buffer.from('not avro at all') },
      { key: c('c1'), value: Buffer.from([0, 0, 0, 0x7f, 0x7f, 1, 2, 3]) }, // a schema id no registry knows
      { key: c('c1'), value: Buffer.concat([Buffer.from([0]), idBytes(runtime.codecs.event.schemaId), Buffer.from([0xff, 0xff, 0xff])]) }, // a known id, a body that is not Avro
    ]);
    const boundedBy = await runtime.log.endOffsets(config.kafka.inputTopic);
    const result = await runPipeline(runtime, { boundedBy });
    emitted = result.emitted;
  });

  afterAll(async () => {
    await runtime?.close();
  });

  it('writes exactly the expected session rows', async () => {
    const rows = await runtime.clickhouse.rows<Record<string, unknown>>(`
      SELECT customer_id, toUInt32(toUnixTimestamp(started_at)) AS started, toUInt32(toUnixTimestamp(ended_at)) AS ended, duration_ms,
             events, page_views, clicks, bounced, orders, revenue, converted, cart_adds, cart_value, cart_abandoned,
             checkout_errors, help_views, videos_started, videos_completed, entry_page, exit_page, channel, experiment_id, variant
      FROM ${database}.sessions FINAL ORDER BY customer_id, started_at`);
    const normalised = rows.map((row) => Object.fromEntries(Object.entries(row).map(([key, value]) => [key, typeof value === 'string' && /^\d+$/.test(value) && key !== 'customer_id' ? Number(value) : value])));
    const session = (customer: string, started: number, ended: number, kpis: Record<string, unknown>) => ({
      customer_id: customer, started, ended, duration_ms: (ended - started) * 1000,
      events: 0, page_views: 0, clicks: 0, bounced: 0, orders: 0, revenue: 0, converted: 0, cart_adds: 0, cart_value: 0, cart_abandoned: 0,
      checkout_errors: 0, help_views: 0, videos_started: 0, videos_completed: 0, entry_page: null, exit_page: null, channel: 'web', experiment_id: null, variant: null,
      ...kpis,
    });
    expect(normalised).toEqual([
      session(c('a3'), s(DAY1, '10:00:00'), s(DAY1, '10:25:00'), { events: 3, page_views: 1, clicks: 2, entry_page: '/', exit_page: '/' }),
      session(c('c1'), s(DAY1, '10:00:00'), s(DAY1, '10:05:00'), {
        events: 4, page_views: 3, cart_adds: 1, cart_value: 50, cart_abandoned: 1, help_views: 1, entry_page: '/', exit_page: '/help',
        experiment_id: 'checkout-redesign', variant: 'B',
      }),
      session(c('c2'), s(DAY1, '10:00:00'), s(DAY1, '10:13:00'), {
        events: 4, page_views: 1, cart_adds: 1, cart_value: 10, orders: 1, revenue: 10, converted: 1, entry_page: '/home', exit_page: '/home', channel: 'app',
      }),
      session(c('c2'), s(DAY1, '11:00:00'), s(DAY1, '11:00:00'), { events: 1, page_views: 1, bounced: 1, entry_page: '/home', exit_page: '/home', channel: 'app' }),
      session(c('c4'), s(DAY2, '10:00:00'), s(DAY2, '10:30:03'), { events: 3, page_views: 2, clicks: 1, entry_page: '/a', exit_page: '/b' }),
      session(c('c5'), s(DAY2, '10:00:00'), s(DAY2, '10:00:00'), { events: 1, page_views: 1, bounced: 1, entry_page: '/c', exit_page: '/c' }),
      session(pusherId, s(DAY2, '12:00:00'), s(DAY2, '12:00:00'), { events: 1, page_views: 1, bounced: 1, entry_page: '/d', exit_page: '/d' }),
    ]);
    expect(emitted.sessions).toBe(7);
  });

  it('lands every accepted event once, with the late one flagged', async () => {
    const rows = await runtime.clickhouse.rows<{ event_id: string; late: number | string }>(`SELECT event_id, late FROM ${database}.events FINAL ORDER BY event_id`);
    expect(rows).toHaveLength(19);
    expect(rows.filter((row) => Number(row.late) === 1).map((row) => row.event_id)).toEqual([c5Late.event_id]);
    expect(rows.filter((row) => row.event_id === c1Home.event_id)).toHaveLength(1);
  });

  it('sends the dead letters to rejected_events and the DLQ topic with their reasons', async () => {
    const rows = await runtime.clickhouse.rows<{ reason_code: string; source: string; event_id: string | null }>(
      `SELECT reason_code, source, event_id FROM ${database}.rejected_events FINAL ORDER BY reason_code, source`);
    expect(rows.map((row) => [row.reason_code, row.source])).toEqual([
      ['corrupt_avro', `kafka:it-events-${run}`],
      ['unknown_schema_id', `kafka:it-events-${run}`],
      ['invalid_event', 'replay'],
      ['invalid_json', 'replay'],
      ['not_wire_format', `kafka:it-events-${run}`],
      ['unknown_type', 'replay'],
    ].sort());
    const consumer = await runtime.log.consumer({ groupId: `it-dlq-${run}`, topics: [TOPICS.deadLetters], start: 'earliest' });
    // The topic is shared with every earlier run on this broker: this run's letters may come in different polls.
    const mine: DeadLetter[] = [];
    const letters = await waitFor(async () => {
      const records = [];
      for (let polls = 0; polls < 50; polls++) records.push(...(await consumer.poll(10_000, 200)));
      const decoded = await runtime.codecs.deadLetter.decodeBatch(records.map((record) => record.value));
      mine.push(...decoded.flatMap((result) =>
        result.ok && (String(result.value.source).includes(run) || (result.value.original as Buffer).toString().includes(run)) ? [result.value] : []));
      return mine.length >= 6 ? mine : undefined;
    }, 60_000, 'six dead letters on the DLQ topic');
    await consumer.close();
    expect(letters).toHaveLength(6);
    const invalid = letters.find((letter) => letter.reason_code === 'invalid_event')!;
    expect(String(invalid.message)).toContain('properties.score: nps score must be 0–10');
  });

  it('emits the cart reminder and the detractor callback to ClickHouse and the signals topic', async () => {
    const sessions = await runtime.clickhouse.rows<{ session_id: string }>(`SELECT session_id FROM ${database}.sessions FINAL WHERE customer_id = '${c('c1')}'`);
    const signals = await runtime.clickhouse.rows<Record<string, unknown>>(`
      SELECT signal_id, customer_id, session_id, action, channel, priority, rule_id, reason, evidence_event_ids,
             toUInt32(toUnixTimestamp(triggered_at)) AS triggered, toUInt32(toUnixTimestamp(expires_at)) AS expires, status, audience
      FROM ${database}.signals FINAL ORDER BY triggered_at, priority DESC`);
    expect(signals).toEqual([
      {
        signal_id: expect.stringMatching(/^[0-9a-f]{32}$/),
        customer_id: c('c1'),
        session_id: sessions[0]!.session_id,
        action: 'cart_reminder',
        channel: 'email',
        priority: expect.anything(),
        rule_id: 'cart_reminder',
        reason: 'Left 1 item worth 50.00 in the cart without buying.',
        evidence_event_ids: [c1AddToCart.event_id],
        triggered: s(DAY1, '10:35:00'),
        expires: s(DAY1, '10:35:00') + 48 * 3600,
        status: 'emitted',
        audience: 'customer',
      },
      {
        signal_id: expect.stringMatching(/^[0-9a-f]{32}$/),
        customer_id: c('c2'),
        session_id: null,
        action: 'support_callback',
        channel: 'call_center',
        priority: expect.anything(),
        rule_id: 'support_callback',
        reason: 'Scored NPS 3 in survey s1: a detractor worth a call back.',
        evidence_event_ids: [c2Detractor.event_id],
        triggered: s(DAY1, '11:30:00'),
        expires: s(DAY1, '11:30:00') + 24 * 3600,
        status: 'emitted',
        audience: 'customer',
      },
      // The detractor fan-out's internal actions (no comment: no R&D ticket).
      ...[['support_case', 'call_center', 'NPS detractor (score 3 in survey s1): open a support case for the call back.'], ['crm_update', 'survey', 'Latest NPS 3 for the customer record.']].map(
        ([action, channel, reason]) => ({
          signal_id: expect.stringMatching(/^[0-9a-f]{32}$/), customer_id: c('c2'), session_id: null, action, channel, priority: expect.anything(), rule_id: 'support_callback', reason,
          evidence_event_ids: [c2Detractor.event_id], triggered: s(DAY1, '11:30:00'), expires: s(DAY1, '11:30:00') + 7 * 24 * 3600, status: 'emitted', audience: 'internal',
        }),
      ),
    ]);
    expect(signals.map((signal) => Number(signal.priority))).toEqual([40, 100, 90, 20]);
    // Every signal's context as analysts see it: JSON text.
    const [context] = await runtime.clickhouse.rows<{ score: string; trigger: string }>(
      `SELECT visitParamExtractRaw(context, 'score') AS score, visitParamExtractString(context, 'type') AS trigger FROM ${database}.signals FINAL WHERE action = 'crm_update'`,
    );
    expect(context).toEqual({ score: '3', trigger: 'survey_response' });

    const consumer = await runtime.log.consumer({ groupId: `it-signals-${run}`, topics: [TOPICS.signals], start: 'earliest' });
    // The topic is shared with every earlier run on this broker: this run's records may come in different polls.
    const mine: LogRecord[] = [];
    const onTopic = await waitFor(async () => {
      for (let polls = 0; polls < 20; polls++) mine.push(...(await consumer.poll(10_000, 200)).filter((record) => record.key?.toString().startsWith(run)));
      return mine.length >= 4 ? mine : undefined;
    }, 60_000, 'the cart reminder and the detractor fan-out on touchstream.signals');
    await consumer.close();
    expect(onTopic).toHaveLength(4);
    const decoded = await runtime.codecs.signal.decodeBatch(onTopic.map((record) => record.value));
    const byAction = decoded.map((result) => (result.ok ? result.value : null)).sort((a, b) => String(a?.action).localeCompare(String(b?.action)));
    expect(byAction).toMatchObject([
      { signal_id: signals[0]!.signal_id, customer_id: c('c1'), action: 'cart_reminder', status: 'emitted', audience: 'customer', context: { cart: { value: 50, items: [{ product_id: 'sku-1', price: 25, quantity: 2 }] } } },
      { signal_id: signals[3]!.signal_id, customer_id: c('c2'), action: 'crm_update', status: 'emitted', audience: 'internal', context: { experience: { last_nps: 3 } } },
      { signal_id: signals[1]!.signal_id, customer_id: c('c2'), action: 'support_callback', status: 'emitted', audience: 'customer', context: { feedback: { score: 3, comment: null } } },
      { signal_id: signals[2]!.signal_id, customer_id: c('c2'), action: 'support_case', status: 'emitted', audience: 'internal' },
    ]);
  });
});

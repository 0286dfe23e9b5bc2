// CX analytics end to end: hand-built journeys → Avro on the real Kafka broker → engine → exact feedback, switches, mentions, attribution, rollups and signals in chDB.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import type { Runtime } from '../../app/runtime.ts';
import { ingest, openRuntime, runPipeline } from '../../app/runtime.ts';
import { ndjsonReplay } from '../../sources/replay/ndjson-replay.ts';
import { requireEnvironment, runId } from '../support/environment.ts';

const DAY = '2026-11-05';
const iso = (time: string, day = DAY) => `${day}T${time}.000Z`;
const text = (time: string, day = DAY) => `${day} ${time}.000`;
const COMPLAINT = 'Terrible support, waited an hour on the phone.';

describe('CX analytics on Kafka (rdkafka) into embedded chDB', () => {
  const run = runId();
  const c = (name: string) => `${run}-${name}`;
  const database = `ts_cx_${run}`;
  let runtime: Runtime;
  let sequence = 0;
  const ids: Record<string, string> = {};
  const event = (name: string, customer: string, type: string, time: string, properties: Record<string, unknown>, channel = 'web', touchpoint?: string, day = DAY) => {
    ids[name] = `${run}-${++sequence}-${name}`;
    return { event_id: ids[name], type, occurred_at: iso(time, day), customer_id: c(customer), channel, ...(touchpoint ? { touchpoint } : {}), properties };
  };

  beforeAll(async () => {
    const brokers = requireEnvironment('TOUCHSTREAM_TEST_KAFKA_BROKERS');
    const dataDir = mkdtempSync(join(tmpdir(), 'touchstream-cx-'));
    const config = loadConfig({ dataDir, transport: 'rdkafka', kafka: { brokers, inputTopic: `cx-events-${run}`, groupId: `cx-${run}` }, clickhouse: { database } }, {});
    runtime = await openRuntime(config);
    const lines = [
      // x: tries online (help, two checkout errors, cart left), calls, then answers an NPS survey as a detractor.
      event('x1', 'x', 'page_view', '09:00:00', { page: '/', page_type: 'home' }, 'web', 'home'),
      event('x2', 'x', 'page_view', '09:01:00', { page: '/help', page_type: 'help' }),
      event('x3', 'x', 'add_to_cart', '09:02:00', { product_id: 'sku-1', price: 40, quantity: 1 }),
      event('x4', 'x', 'checkout_error', '09:03:00', { code: 'DECLINED' }),
      event('x5', 'x', 'checkout_error', '09:04:00', { code: 'TIMEOUT' }),
      event('x6', 'x', 'contact', '09:20:00', { kind: 'call', reason: 'payment' }, 'call_center', 'hotline'),
      event('x7', 'x', 'survey_response', '09:30:00', { survey_id: 'post-call', metric: 'nps', score: 2, comment: COMPLAINT, language: 'en' }, 'survey', 'post-journey'),
      // y: an ad two days before, an email click, then a purchase.
      event('y1', 'y', 'ad_impression', '10:00:00', { campaign_id: 'winter', placement: 'feed' }, 'ads', 'paid', '2026-11-03'),
      event('y2', 'y', 'email_click', '08:00:00', { campaign_id: 'bf', url: 'https://shop.example/bf' }, 'email', 'newsletter'),
      event('y3', 'y', 'page_view', '09:58:00', { page: '/p/7', page_type: 'product' }, 'web', 'product'),
      event('y4', 'y', 'purchase', '10:00:00', { order_id: 'o-y', revenue: 80, currency: 'EUR' }, 'web', 'checkout'),
      // z: a negative social mention about a product.
      event('z1', 'z', 'social_mention', '09:10:00', { platform: 'x', text: COMPLAINT, language: 'en', product_id: 'sku-7' }, 'social'),
    ].sort((a, b) => a.occurred_at.localeCompare(b.occurred_at));
    const file = join(dataDir, 'journeys.ndjson');
    writeFileSync(file, `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`);
    expect(await ingest(runtime, ndjsonReplay({ path: file }))).toEqual({ events: 12, rejected: 0 });
    await runPipeline(runtime, { boundedBy: await runtime.log.endOffsets(config.kafka.inputTopic) });
  });

  afterAll(async () => {
    await runtime?.close();
  });

  const sessionIdOf = async (customer: string) =>
    (await runtime.clickhouse.rows<{ session_id: string }>(`SELECT session_id FROM ${database}.sessions FINAL WHERE customer_id = '${c(customer)}'`))[0]!.session_id;

  it('fires the default rules inside the live session, with the contact policy applied', async () => {
    const rows = await runtime.clickhouse.rows<Record<string, unknown>>(`
      SELECT customer_id, session_id, action, channel, priority, rule_id, reason, evidence_event_ids, toString(triggered_at) AS triggered_at, toString(expires_at) AS expires_at, status
      FROM ${database}.signals FINAL ORDER BY triggered_at, priority DESC`);
    const xSession = await sessionIdOf('x');
    expect(rows).toEqual([
      { customer_id: c('x'), session_id: xSession, action: 'live_chat_offer', channel: 'chat', priority: 80, rule_id: 'live_chat_offer', reason: 'Hit 2 checkout errors in this session (last: TIMEOUT).',
        evidence_event_ids: [ids.x4, ids.x5], triggered_at: text('09:04:00'), expires_at: text('09:34:00'), status: 'emitted' },
      { customer_id: c('z'), session_id: null, action: 'social_care', channel: 'social', priority: 70, rule_id: 'social_care', reason: expect.stringMatching(/^Posted a negative mention on x \(sentiment -0\.\d\d\)\.$/),
        evidence_event_ids: [ids.z1], triggered_at: text('09:10:00'), expires_at: text('09:10:00', '2026-11-06'), status: 'emitted' },
      { customer_id: c('x'), session_id: null, action: 'support_callback', channel: 'call_center', priority: 100, rule_id: 'support_callback', reason: 'Scored NPS 2 in survey post-call: a detractor worth a call back.',
        evidence_event_ids: [ids.x7], triggered_at: text('09:30:00'), expires_at: text('09:30:00', '2026-11-06'), status: 'emitted' },
      // The detractor fan-out's internal actions: outside the contact policy (the comment names no product or fault: no R&D ticket).
      { customer_id: c('x'), session_id: null, action: 'support_case', channel: 'call_center', priority: 90, rule_id: 'support_callback',
        reason: 'NPS detractor (score 2 in survey post-call): open a support case for the call back.',
        evidence_event_ids: [ids.x7], triggered_at: text('09:30:00'), expires_at: text('09:30:00', '2026-11-12'), status: 'emitted' },
      { customer_id: c('x'), session_id: null, action: 'crm_update', channel: 'survey', priority: 20, rule_id: 'support_callback', reason: 'Latest NPS 2 for the customer record.',
        evidence_event_ids: [ids.x7], triggered_at: text('09:30:00'), expires_at: text('09:30:00', '2026-11-12'), status: 'emitted' },
      { customer_id: c('x'), session_id: xSession, action: 'cart_reminder', channel: 'email', priority: 40, rule_id: 'cart_reminder', reason: 'Left 1 item worth 40.00 in the cart without buying.',
        evidence_event_ids: [ids.x3], triggered_at: text('09:34:00'), expires_at: text('09:34:00', '2026-11-07'), status: 'emitted' },
    ]);
  });

  it('links the survey response to the session before it (X+O) with the comment’s sentiment', async () => {
    const rows = await runtime.clickhouse.rows<Record<string, unknown>>(`
      SELECT * EXCEPT (responded_at, session_ended_at, sentiment_score), toString(responded_at) AS responded, toString(session_ended_at) AS session_ended, sentiment_score < -0.05 AS negative_score
      FROM ${database}.feedback FINAL`);
    expect(rows).toEqual([
      {
        response_event_id: ids.x7, customer_id: c('x'), survey_id: 'post-call', metric: 'nps', score: 2, nps_group: 'detractor', channel: 'survey', touchpoint: 'post-journey',
        comment: COMPLAINT, language: 'en', sentiment_label: 'negative', session_id: await sessionIdOf('x'), session_channel: 'web', session_touchpoint: 'home',
        converted: 0, cart_abandoned: 1, responded: text('09:30:00'), session_ended: text('09:04:00'), negative_score: 1,
      },
    ]);
  });

  it('records the call after the failed online attempt as a channel switch', async () => {
    const rows = await runtime.clickhouse.rows<Record<string, unknown>>(`
      SELECT * EXCEPT (contacted_at, session_ended_at), toString(contacted_at) AS contacted, toString(session_ended_at) AS session_ended FROM ${database}.channel_switches FINAL`);
    expect(rows).toEqual([
      {
        contact_event_id: ids.x6, customer_id: c('x'), contact_kind: 'call', contact_channel: 'call_center', contact_reason: 'payment', session_id: await sessionIdOf('x'),
        session_channel: 'web', gap_ms: 16 * 60_000, help_views: 1, checkout_errors: 2, converted: 0, contacted: text('09:20:00'), session_ended: text('09:04:00'),
      },
    ]);
  });

  it('scores the social mention and attributes the purchase to the touches before it', async () => {
    const mentions = await runtime.clickhouse.rows<Record<string, unknown>>(`
      SELECT mention_event_id, customer_id, toString(occurred_at) AS occurred, platform, product_id, rating, text, language, sentiment_label, sentiment_score < -0.05 AND sentiment_score >= -1 AS in_range
      FROM ${database}.social_mentions FINAL`);
    expect(mentions).toEqual([
      { mention_event_id: ids.z1, customer_id: c('z'), occurred: text('09:10:00'), platform: 'x', product_id: 'sku-7', rating: null, text: COMPLAINT, language: 'en', sentiment_label: 'negative', in_range: 1 },
    ]);
    const attribution = await runtime.clickhouse.rows<Record<string, unknown>>(`
      SELECT * EXCEPT (purchased_at, first_touch_at), toString(purchased_at) AS purchased, toString(first_touch_at) AS first_touch FROM ${database}.purchase_attribution FINAL`);
    expect(attribution).toEqual([
      {
        purchase_event_id: ids.y4, order_id: 'o-y', customer_id: c('y'), revenue: 80, currency: 'EUR', channel: 'web', touchpoints: 2, ad_impressions: 1, email_opens: 0, email_clicks: 1,
        distinct_campaigns: 2, campaigns: ['bf', 'winter'], last_touch_campaign: 'bf', purchased: text('10:00:00'), first_touch: text('10:00:00', '2026-11-03'),
      },
    ]);
  });

  it('rolls the day up per minute, channel and touchpoint', async () => {
    const rows = await runtime.clickhouse.rows<Record<string, unknown>>(`
      SELECT toString(minute) AS minute, channel, touchpoint, sum(events) AS events, sum(page_views) AS page_views, sum(orders) AS orders, sum(revenue) AS revenue,
             sum(sessions) AS sessions, sum(conversions) AS conversions, sum(cart_abandonments) AS cart_abandonments, sum(responses) AS responses,
             sum(nps_responses) AS nps_responses, sum(detractors) AS detractors
      FROM ${database}.kpi_minute FINAL WHERE channel IN ('web', 'survey') GROUP BY minute, channel, touchpoint ORDER BY minute, channel, touchpoint`);
    const row = (minute: string, channel: string, touchpoint: string, values: Record<string, number>) => ({
      minute: text(minute), channel, touchpoint, events: 0, page_views: 0, orders: 0, revenue: 0, sessions: 0, conversions: 0, cart_abandonments: 0, responses: 0, nps_responses: 0, detractors: 0, ...values,
    });
    expect(rows).toEqual([
      row('09:00:00', 'web', 'home', { events: 1, page_views: 1 }),
      row('09:01:00', 'web', '', { events: 1, page_views: 1 }),
      row('09:02:00', 'web', '', { events: 1 }),
      row('09:03:00', 'web', '', { events: 1 }),
      row('09:04:00', 'web', '', { events: 1 }),
      row('09:04:00', 'web', 'home', { sessions: 1, cart_abandonments: 1 }), // x's session ended 09:04, entered at `home`
      row('09:30:00', 'survey', 'post-journey', { events: 1, responses: 1, nps_responses: 1, detractors: 1 }),
      row('09:58:00', 'web', 'product', { events: 1, page_views: 1 }),
      row('10:00:00', 'web', 'checkout', { events: 1, orders: 1, revenue: 80 }),
      row('10:00:00', 'web', 'product', { sessions: 1, conversions: 1 }),
    ]);
  });
});

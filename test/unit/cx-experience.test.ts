// Pins the journey and experience KPIs on hand-built journeys: X+O link, channel switches, social mentions, touchpoints before purchase, minute rollups, anomalies.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PurchaseAttributionOperator } from '../../pipelines/cx/purchase-attribution.ts';
import { DAY, HOUR, Harness, MIN, T0, WALL_CLOCK, at, event, journeyHarness } from '../support/cx-harness.ts';

const sessionId = (customer: string, startedAt: number) => createHash('sha256').update(`${customer}\0${startedAt}`).digest('hex').slice(0, 32);
const page = (id: string, minutes: number, customer: string, pageType = 'home', touchpoint: string | null = null) =>
  event(id, 'page_view', minutes, { page: `/${pageType}`, page_type: pageType }, { customer, touchpoint });
const response = (id: string, minutes: number, customer: string, metric: 'nps' | 'csat' | 'ces', score: number, comment: string | null = null, touchpoint: string | null = 'post-journey') =>
  event(id, 'survey_response', minutes, { survey_id: `sv-${metric}`, metric, score, comment, language: comment ? 'en' : null }, { customer, channel: 'survey', touchpoint });

describe('X+O link (feedback)', () => {
  const unlinked = { session_id: null, session_ended_at: null, session_channel: null, session_touchpoint: null, converted: null, cart_abandoned: null };

  it('links each response to the most recent session that ended at or before it within 7 days, once the watermark makes it final', () => {
    const harness = journeyHarness({ rules: [] });
    harness.process([
      page('a1', 0, 'c1', 'home', 'home'),
      event('a2', 'add_to_cart', 5, { product_id: 'p', price: 9, quantity: 1 }, { customer: 'c1' }),
      response('r1', 10, 'c1', 'nps', 9, 'GOOD stuff'), // the session (ended 10:05) is still open when this arrives
    ]);
    harness.watermark(at(40));
    expect(harness.outputs.feedback).toEqual([]); // 10:10 + 30 min gap not yet passed
    harness.watermark(at(40) + 1);
    expect(harness.outputs.feedback).toEqual([
      {
        response_event_id: 'r1', customer_id: 'c1', responded_at: at(10), survey_id: 'sv-nps', metric: 'nps', score: 9, nps_group: 'promoter', channel: 'survey',
        touchpoint: 'post-journey', comment: 'GOOD stuff', language: 'en', sentiment_score: 0.6, sentiment_label: 'positive',
        session_id: sessionId('c1', at(0)), session_ended_at: at(5), session_channel: 'web', session_touchpoint: 'home', converted: false, cart_abandoned: true,
      },
    ]);
    harness.process([
      page('b1', 3 * 24 * 60, 'c1', 'product', 'search'),
      event('b2', 'purchase', 3 * 24 * 60 + 2, { order_id: 'o', revenue: 9, currency: 'EUR' }, { customer: 'c1' }),
      response('r2', 3 * 24 * 60 + 120, 'c1', 'csat', 4), // the newer session, not the first
      response('r3', 11 * 24 * 60, 'c1', 'ces', 2), // 8 days after the last session: no link
      page('d1', 50, 'c2', 'home', null),
      response('r4', 50, 'c2', 'nps', 6, null, null), // at the session's very end: linked
      response('r5', 60, 'c3', 'nps', 0), // no session at all
    ]);
    harness.watermark(Number.POSITIVE_INFINITY);
    expect(harness.outputs.feedback.slice(1)).toEqual([
      {
        response_event_id: 'r4', customer_id: 'c2', responded_at: at(50), survey_id: 'sv-nps', metric: 'nps', score: 6, nps_group: 'detractor', channel: 'survey', touchpoint: null,
        comment: null, language: null, sentiment_score: null, sentiment_label: null,
        session_id: sessionId('c2', at(50)), session_ended_at: at(50), session_channel: 'web', session_touchpoint: null, converted: false, cart_abandoned: false,
      },
      {
        response_event_id: 'r5', customer_id: 'c3', responded_at: at(60), survey_id: 'sv-nps', metric: 'nps', score: 0, nps_group: 'detractor', channel: 'survey', touchpoint: 'post-journey',
        comment: null, language: null, sentiment_score: null, sentiment_label: null, ...unlinked,
      },
      {
        response_event_id: 'r2', customer_id: 'c1', responded_at: at(3 * 24 * 60 + 120), survey_id: 'sv-csat', metric: 'csat', score: 4, nps_group: null, channel: 'survey',
        touchpoint: 'post-journey', comment: null, language: null, sentiment_score: null, sentiment_label: null,
        session_id: sessionId('c1', at(3 * 24 * 60)), session_ended_at: at(3 * 24 * 60 + 2), session_channel: 'web', session_touchpoint: 'search', converted: true, cart_abandoned: false,
      },
      {
        response_event_id: 'r3', customer_id: 'c1', responded_at: at(11 * 24 * 60), survey_id: 'sv-ces', metric: 'ces', score: 2, nps_group: null, channel: 'survey',
        touchpoint: 'post-journey', comment: null, language: null, sentiment_score: null, sentiment_label: null, ...unlinked,
      },
    ]);
  });
});

describe('channel switches', () => {
  it('records a contact within 24 h after a session with help views or checkout errors, linked to the latest such session', () => {
    const contact = (id: string, minutes: number, customer: string) => event(id, 'contact', minutes, { kind: 'call', reason: 'question' }, { customer, channel: 'call_center' });
    const harness = journeyHarness({ rules: [] }).process([
      page('h1', 0, 'c1', 'help'),
      contact('k1', 40, 'c1'), // 40 min after the help session: a switch
      contact('k2', 25 * 60, 'c1'), // 25 h after: none
      page('n2', 0, 'c2', 'home'),
      contact('k3', 10, 'c2'), // after a session without help or errors: none
      event('x3', 'checkout_error', 0, { code: 'E' }, { customer: 'c3' }),
      page('n3', 60, 'c3', 'home'),
      contact('k4', 90, 'c3'), // the latest session had neither: the earlier one with the error counts
      page('h4', 0, 'c4', 'help'),
      contact('k5', 5, 'c4'), // during the session (it goes on until 10:10): not after its end
      page('n4', 10, 'c4', 'home'),
    ]);
    harness.watermark(Number.POSITIVE_INFINITY);
    const base = { contact_kind: 'call', contact_channel: 'call_center', contact_reason: 'question', session_channel: 'web', converted: false };
    expect(harness.outputs.channel_switches).toEqual([
      { ...base, contact_event_id: 'k1', customer_id: 'c1', contacted_at: at(40), session_id: sessionId('c1', at(0)), session_ended_at: at(0), gap_ms: 40 * MIN, help_views: 1, checkout_errors: 0 },
      { ...base, contact_event_id: 'k4', customer_id: 'c3', contacted_at: at(90), session_id: sessionId('c3', at(0)), session_ended_at: at(0), gap_ms: 90 * MIN, help_views: 0, checkout_errors: 1 },
    ]);
  });
});

describe('social mentions', () => {
  it('lands every mention with its sentiment', () => {
    const harness = journeyHarness({ rules: [] }).process([
      event('m1', 'social_mention', 0, { platform: 'trustpilot', text: 'BAD jacket', language: 'en', rating: 1, product_id: 'sku-9' }, { customer: 'c1', channel: 'social' }),
      event('m2', 'social_mention', 1, { platform: 'x', text: 'ok', language: null, rating: null, product_id: null }, { customer: 'c2', channel: 'social' }),
    ]);
    expect(harness.outputs.social_mentions).toEqual([
      { mention_event_id: 'm1', customer_id: 'c1', occurred_at: at(0), platform: 'trustpilot', product_id: 'sku-9', rating: 1, text: 'BAD jacket', language: 'en', sentiment_score: -0.8, sentiment_label: 'negative' },
      { mention_event_id: 'm2', customer_id: 'c2', occurred_at: at(1), platform: 'x', product_id: null, rating: null, text: 'ok', language: 'en', sentiment_score: 0, sentiment_label: 'neutral' },
    ]);
  });
});

describe('minute rollups (kpi_minute)', () => {
  it('counts event measures in the event minute and session measures in the minute the session ended, once the minute is final', () => {
    const zero = { input_partition: 0, events: 0, page_views: 0, orders: 0, revenue: 0, sessions: 0, conversions: 0, cart_abandonments: 0, responses: 0, nps_responses: 0, promoters: 0, passives: 0, detractors: 0, csat_responses: 0, csat_satisfied: 0, ces_responses: 0, ces_sum: 0 };
    const harness = journeyHarness({ rules: [] }).process([
      page('v1', 0, 'c1', 'home', 'home'),
      page('v2', 0.5, 'c1', 'product', 'home'),
      event('p1', 'purchase', 1.5, { order_id: 'o', revenue: 12.5, currency: 'EUR' }, { customer: 'c1', touchpoint: 'checkout' }),
      response('s1', 0.1, 'd1', 'nps', 10, null, 'post'),
      response('s2', 0.2, 'd2', 'nps', 6, null, 'post'),
      response('s3', 0.3, 'd3', 'csat', 5, null, 'post'),
      response('s4', 0.4, 'd4', 'ces', 3, null, 'post'),
    ]);
    harness.watermark(at(31));
    expect(harness.outputs.kpi_minute).toEqual([]);
    harness.watermark(at(31) + 1);
    expect(harness.outputs.kpi_minute).toEqual([
      { ...zero, minute: at(0), channel: 'survey', touchpoint: 'post', events: 4, responses: 4, nps_responses: 2, promoters: 1, detractors: 1, csat_responses: 1, csat_satisfied: 1, ces_responses: 1, ces_sum: 3 },
      { ...zero, minute: at(0), channel: 'web', touchpoint: 'home', events: 2, page_views: 2 },
    ]);
    harness.watermark(Number.POSITIVE_INFINITY);
    expect(harness.outputs.kpi_minute.slice(2)).toEqual([
      { ...zero, minute: at(1), channel: 'web', touchpoint: 'checkout', events: 1, orders: 1, revenue: 12.5 },
      { ...zero, minute: at(1), channel: 'web', touchpoint: 'home', sessions: 1, conversions: 1 },
    ]);
    harness.process([response('s5', 0.5, 'd5', 'nps', 9, null, 'post')]); // for a minute already written
    harness.watermark(Number.POSITIVE_INFINITY);
    expect(harness.outputs.kpi_minute).toHaveLength(4);
    expect(harness.metrics.total('touchstream_rollup_late_total')).toBe(1);
  });
});

describe('touchpoints before purchase', () => {
  it('counts the customer’s ad impressions, email opens and clicks in the 7 days before each purchase', () => {
    const touch = (id: string, type: 'ad_impression' | 'email_open' | 'email_click', minutes: number, campaign: string, customer = 'c1') =>
      event(id, type, minutes, type === 'email_click' ? { campaign_id: campaign, url: 'https://x' } : type === 'ad_impression' ? { campaign_id: campaign, placement: 'feed' } : { campaign_id: campaign }, { customer, channel: type === 'ad_impression' ? 'ads' : 'email' });
    const harness = new Harness(new PurchaseAttributionOperator());
    const adOneHourBefore = touch('t4', 'ad_impression', -60, 'B');
    harness.process([
      touch('t1', 'ad_impression', -8 * 24 * 60, 'A'), // 8 days before: out
      touch('t2', 'email_open', -2 * 24 * 60, 'A'),
      touch('t3', 'email_click', -24 * 60, 'A'),
      adOneHourBefore,
      adOneHourBefore, // a duplicate
      touch('t9', 'email_open', -10, 'Z', 'c2'), // another customer
      event('o1', 'purchase', 0, { order_id: 'ord-1', revenue: 99.9, currency: 'EUR' }, { customer: 'c1', channel: 'app' }),
      touch('t5', 'email_click', -30, 'C'), // arrives after the purchase, happened before it: counted
      touch('t6', 'email_open', 1, 'D'), // after the purchase: out
    ]);
    harness.watermark(at(0));
    expect(harness.outputs.purchase_attribution).toEqual([]);
    harness.watermark(at(0) + 1);
    expect(harness.outputs.purchase_attribution).toEqual([
      {
        purchase_event_id: 'o1', order_id: 'ord-1', customer_id: 'c1', purchased_at: at(0), revenue: 99.9, currency: 'EUR', channel: 'app',
        touchpoints: 4, ad_impressions: 1, email_opens: 1, email_clicks: 2, distinct_campaigns: 3, campaigns: ['A', 'B', 'C'],
        first_touch_at: at(-2 * 24 * 60), last_touch_campaign: 'C',
      },
    ]);
  });
});

describe('anomaly detector', () => {
  it('raises an anomaly when the detractor share of a touchpoint leaves its baseline, and never on a single response', () => {
    const harness = journeyHarness({
      rules: [],
      anomaly: { enabled: true, bucketMs: HOUR, baselineBuckets: 24, minBaselineBuckets: 3, minVolume: 5, threshold: 3, minIncrease: 0.1 },
    });
    const events = [];
    for (let hour = 0; hour < 4; hour++) {
      const detractors = hour === 3 ? 6 : 1;
      for (let index = 0; index < 10; index++) events.push(response(`h${hour}-${index}`, hour * 60 + index, `d${hour}-${index}`, 'nps', index < detractors ? 2 : 9, null, 'checkout'));
    }
    events.push(response('single', 4 * 60 + 1, 'lonely', 'nps', 0, null, 'checkout')); // 100 % detractors, of one response
    harness.process(events).watermark(Number.POSITIVE_INFINITY);
    // An alert, not a customer signal (CONTRACT §4): nothing on `signals`.
    expect(harness.outputs.signals).toEqual([]);
    expect(harness.outputs.alerts).toEqual([
      {
        alert_id: expect.stringMatching(/^[0-9a-f]{32}$/), kpi: 'detractor_share', dimension: 'touchpoint', dimension_value: 'checkout', channel: 'survey',
        window_start: T0 + 3 * HOUR, window_end: T0 + 4 * HOUR, rate: 0.6, baseline: expect.closeTo(0.1, 10), z_score: expect.closeTo(5.3, 1), bad: 6, total: 10,
        reason: 'The detractor share of NPS responses for touchpoint "checkout" was 60.0% (6 of 10) between 13:00 and 14:00 UTC, against a baseline of 10.0% (z = 5.3).',
        evidence_event_ids: ['h3-0', 'h3-1', 'h3-2', 'h3-3', 'h3-4', 'h3-5'], triggered_at: T0 + 4 * HOUR, emitted_at: WALL_CLOCK,
      },
    ]);
  });
});

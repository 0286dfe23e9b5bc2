// Pins the page, video and campaign KPIs on hand-built journeys (CONTRACT §3): dwell and clicks per page view, video engagement per session, campaign contributions and a session's first/last campaign.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { driverAnalysisConfigSchema } from '../../pipelines/cx/driver-analysis.ts';
import { generateDay } from '../../sources/generator/synthetic-day.ts';
import { DAY, MIN, at, event, journeyHarness } from '../support/cx-harness.ts';

const sessionId = (customer: string, startedAt: number) => createHash('sha256').update(`${customer}\0${startedAt}`).digest('hex').slice(0, 32);
const page = (id: string, minutes: number, path: string, pageType = 'product', customer = 'c1') => event(id, 'page_view', minutes, { page: path, page_type: pageType }, { customer });
const click = (id: string, minutes: number, customer = 'c1') => event(id, 'click', minutes, { element: 'button' }, { customer });

describe('page views', () => {
  it('gives each page view its dwell to the next, the clicks in between, and the exit page its dwell to the last event', () => {
    const harness = journeyHarness({ rules: [] });
    // Out of order on purpose: the rows follow event time, not arrival.
    harness.process([page('p2', 3, '/b'), page('p1', 0, '/a', 'home'), click('k1', 1), click('k2', 2), click('k3', 4),
      event('x1', 'add_to_cart', 6, { product_id: 'p', price: 5, quantity: 1 })]);
    harness.process([page('q1', 0, '/only', 'home', 'c2')]);
    expect(harness.outputs.page_views).toEqual([]); // still live
    // c2's one-page session ends first, so it closes (and its row comes) first.
    harness.watermark(at(6) + 30 * MIN + 1);
    const id = sessionId('c1', at(0));
    expect(harness.outputs.page_views).toEqual([
      { page_view_event_id: 'q1', session_id: sessionId('c2', at(0)), customer_id: 'c2', viewed_at: at(0), page: '/only', page_type: 'home', dwell_ms: 0, clicks: 0, is_exit: true },
      { page_view_event_id: 'p1', session_id: id, customer_id: 'c1', viewed_at: at(0), page: '/a', page_type: 'home', dwell_ms: 3 * MIN, clicks: 2, is_exit: false },
      { page_view_event_id: 'p2', session_id: id, customer_id: 'c1', viewed_at: at(3), page: '/b', page_type: 'product', dwell_ms: 3 * MIN, clicks: 1, is_exit: true },
    ]);
  });

  it('keeps the page views of a later open session of the same customer for that session', () => {
    const harness = journeyHarness({ rules: [] });
    harness.process([page('p1', 0, '/a'), page('p2', 60, '/b')]);
    harness.watermark(at(0) + 30 * MIN + 1);
    expect(harness.outputs.page_views.map((row) => row.page_view_event_id)).toEqual(['p1']);
    harness.watermark(at(60) + 30 * MIN + 1);
    expect(harness.outputs.page_views.map((row) => [row.page_view_event_id, row.session_id])).toEqual([['p1', sessionId('c1', at(0))], ['p2', sessionId('c1', at(60))]]);
  });
});

describe('video engagement', () => {
  it('per session and video: starts, the furthest percent and completion', () => {
    const harness = journeyHarness({ rules: [] });
    harness.process([
      event('v1', 'video_start', 0, { video_id: 'intro' }),
      event('v2', 'video_progress', 1, { video_id: 'intro', percent: 40 }),
      event('v3', 'video_progress', 2, { video_id: 'intro', percent: 25 }),
      event('v4', 'video_start', 3, { video_id: 'demo' }),
      event('v5', 'video_complete', 4, { video_id: 'demo' }),
      event('v6', 'video_start', 5, { video_id: 'intro' }),
    ]);
    harness.watermark(at(5) + 30 * MIN + 1);
    const id = sessionId('c1', at(0));
    expect(harness.outputs.video_engagement).toEqual([
      { session_id: id, customer_id: 'c1', video_id: 'demo', first_seen_at: at(3), starts: 1, furthest_percent: 100, completed: true },
      { session_id: id, customer_id: 'c1', video_id: 'intro', first_seen_at: at(0), starts: 2, furthest_percent: 40, completed: false },
    ]);
  });
});

describe('campaign KPIs', () => {
  it('counts touches, and sessions and purchases within 7 days after a touch, once per campaign, placement and touch type; sets first and last campaign', () => {
    const harness = journeyHarness({ rules: [] });
    const minutes = (days: number) => (days * DAY) / MIN;
    harness.process([
      event('t0', 'email_open', -minutes(8), { campaign_id: 'old' }, { channel: 'email' }), // more than 7 days before: no session or purchase
      event('t1', 'ad_impression', -120, { campaign_id: 'spring', placement: 'search' }, { channel: 'ads' }),
      event('t2', 'ad_impression', -60, { campaign_id: 'spring', placement: 'search' }, { channel: 'ads' }),
      event('t3', 'email_open', -30, { campaign_id: 'news', }, { channel: 'email' }),
      page('p1', 0, '/landing'),
      event('t4', 'ad_click', 2, { campaign_id: 'late', placement: 'social' }, { channel: 'ads' }), // during the session: last campaign only
      event('o1', 'purchase', 5, { order_id: 'o', revenue: 30, currency: 'EUR' }),
    ]);
    const touches = harness.outputs.campaign_kpis.map((row) => [row.kind, row.campaign_id, row.placement, row.source_id]);
    expect(touches).toEqual([
      ['open', 'old', '', 't0'], ['impression', 'spring', 'search', 't1'], ['impression', 'spring', 'search', 't2'], ['open', 'news', '', 't3'], ['click', 'late', 'social', 't4'],
    ]);
    harness.watermark(at(5) + 30 * MIN + 1);
    const id = sessionId('c1', at(0));
    const after = harness.outputs.campaign_kpis.slice(5).map((row) => [row.kind, row.campaign_id, row.placement, row.touch_type, row.source_id, row.orders, row.revenue]);
    expect(after).toEqual([
      ['session', 'spring', 'search', 'ad_impression', id, 0, 0],
      ['session', 'news', '', 'email_open', id, 0, 0],
      ['purchase', 'spring', 'search', 'ad_impression', id, 1, 30],
      ['purchase', 'news', '', 'email_open', id, 1, 30],
      ['purchase', 'late', 'social', 'ad_click', id, 1, 30],
    ]);
    expect(harness.outputs.sessions).toHaveLength(1);
    expect(harness.outputs.sessions[0]).toMatchObject({ first_campaign: 'spring', last_campaign: 'late', touchpoint: null });
  });
});

describe('key drivers in the journey chain', () => {
  const run = async (plantedDrivers: boolean) => {
    const harness = journeyHarness({ keyDrivers: driverAnalysisConfigSchema.parse({}) });
    await harness.process(generateDay({ seed: 5, customers: 3000, plantedDrivers })).watermark(Number.POSITIVE_INFINITY).drained();
    const nps = harness.outputs.driver_analysis.filter((row) => row.metric === 'nps');
    const last = Math.max(...nps.map((row) => row.computed_at));
    return nps.filter((row) => row.computed_at === last).sort((a, b) => b.importance - a.importance);
  };

  it('finds the generator\'s planted drivers of NPS from linked feedback and ranks them first', async () => {
    const rows = await run(true);
    expect(rows.length).toBeGreaterThanOrEqual(3);
    expect(rows.slice(0, 3).map((row) => row.driver).sort()).toEqual(['checkout_errors', 'help_views', 'videos_completed']);
    expect(rows.slice(0, 3).every((row) => row.significant)).toBe(true);
    expect(rows.find((row) => row.driver === 'videos_completed')!.effect).toBeGreaterThan(0);
    expect(rows.find((row) => row.driver === 'checkout_errors')!.effect).toBeLessThan(0);
    expect(rows.reduce((sum, row) => sum + row.importance, 0)).toBeCloseTo(1, 6);
  });

  it('finds nothing on a day without the effect', async () => {
    const rows = await run(false);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.filter((row) => row.significant)).toEqual([]);
    expect(rows[0]!.p_value).toBeGreaterThanOrEqual(0.05);
  });
});

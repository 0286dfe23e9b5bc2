// Journey depth end to end (CONTRACT §3): a hand-built journey → Avro on the real Kafka broker → engine → exact page_views, video_engagement, campaign_kpis and session campaign columns, and sane driver_analysis rows, in ClickHouse 18.16 and in embedded chDB.
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import type { Runtime } from '../../app/runtime.ts';
import { ingest, openRuntime, runPipeline } from '../../app/runtime.ts';
import { KEY_DRIVERS } from '../../pipelines/cx/key-drivers.ts';
import { ndjsonReplay } from '../../sources/replay/ndjson-replay.ts';
import { requireEnvironment, runId } from '../support/environment.ts';

const DAY = '2026-11-05';
/** Whole seconds only: the 18.16 server stores DateTime in seconds. */
const ms = (time: string, day = DAY) => Date.parse(`${day}T${time}.000Z`);
const seconds = (time: string, day = DAY) => ms(time, day) / 1000;
const MIN = 60_000;
/** CONTRACT §2: the deterministic session id, sha256 of the session's key and its start. */
const sessionIdOf = (customer: string, startedAt: number) => createHash('sha256').update(customer).update('\0').update(String(startedAt)).digest('hex').slice(0, 32);

/**
 * The NPS customers' sessions, for the driver analysis: customer n<i> has a click at 12:00 + 2i min, e checkout
 * errors at +1 and +2 min, an add_to_cart at +3 min when `cart` (left in the cart: cart_abandoned), a click at
 * +4 min (every session lasts exactly 4 min), and answers NPS 10 min after its session ended. The score is planted:
 * 9 − 3 × checkout errors, plus a little noise. No page views and no videos in these sessions: they add no
 * page_views or video_engagement rows, and help_views, videos_completed, page_views, duration_ms and channel_switch
 * are constant over the sample.
 */
const NPS = [
  { errors: 0, cart: false, score: 10 },
  { errors: 1, cart: false, score: 6 },
  { errors: 2, cart: false, score: 2 },
  { errors: 0, cart: true, score: 9 },
  { errors: 1, cart: true, score: 7 },
  { errors: 2, cart: true, score: 3 },
  { errors: 0, cart: false, score: 8 },
  { errors: 1, cart: false, score: 6 },
  { errors: 2, cart: false, score: 4 },
  { errors: 0, cart: true, score: 9 }, // the 10th response: 12:00 + 18 min + 4 min + 10 min = 12:32
  { errors: 1, cart: true, score: 5 },
  { errors: 2, cart: true, score: 3 },
];
const npsStart = (i: number) => ms('12:00:00') + 2 * i * MIN;

function journey(run: string) {
  const c = (name: string) => `${run}-${name}`;
  let sequence = 0;
  const ids: Record<string, string> = {};
  const event = (name: string, customer: string, type: string, occurredAt: number, properties: Record<string, unknown>, channel = 'web', touchpoint?: string) => {
    ids[name] = `${run}-${++sequence}-${name}`;
    return { event_id: ids[name], type, occurred_at: new Date(occurredAt).toISOString(), customer_id: c(customer), channel, ...(touchpoint ? { touchpoint } : {}), properties };
  };
  const lines = [
    // c1's marketing touches: one e-mail open more than 7 days before the session, an e-mail open and click two days
    // before, two impressions and a click of an ad the hour before, and an impression of another ad during the session.
    event('t0', 'c1', 'email_open', ms('09:00:00', '2026-10-28'), { campaign_id: 'old' }, 'email', 'newsletter'),
    event('t1', 'c1', 'email_open', ms('08:00:00', '2026-11-03'), { campaign_id: 'news' }, 'email', 'newsletter'),
    event('t2', 'c1', 'email_click', ms('08:05:00', '2026-11-03'), { campaign_id: 'news', url: 'https://shop.example/news' }, 'email', 'newsletter'),
    event('t3', 'c1', 'ad_impression', ms('09:00:00'), { campaign_id: 'spring', placement: 'search' }, 'ads'),
    event('t4', 'c1', 'ad_impression', ms('09:15:00'), { campaign_id: 'spring', placement: 'search' }, 'ads'),
    event('t5', 'c1', 'ad_click', ms('09:30:00'), { campaign_id: 'spring', placement: 'search' }, 'ads'),
    // c1's session 10:00–10:09: four pages with clicks in between, a video watched to the end, one left at 40 %, a purchase.
    event('p1', 'c1', 'page_view', ms('10:00:00'), { page: '/', page_type: 'home' }, 'web', 'landing'),
    event('k1', 'c1', 'click', ms('10:00:30'), { element: 'teaser' }),
    event('k2', 'c1', 'click', ms('10:01:00'), { element: 'menu' }),
    event('p2', 'c1', 'page_view', ms('10:02:00'), { page: '/p/video', page_type: 'product' }),
    event('v1', 'c1', 'video_start', ms('10:02:10'), { video_id: 'intro' }),
    event('v2', 'c1', 'video_progress', ms('10:03:00'), { video_id: 'intro', percent: 50 }),
    event('v3', 'c1', 'video_complete', ms('10:04:00'), { video_id: 'intro' }),
    event('k3', 'c1', 'click', ms('10:04:30'), { element: 'play' }),
    event('v4', 'c1', 'video_start', ms('10:05:00'), { video_id: 'demo' }),
    event('v5', 'c1', 'video_progress', ms('10:05:40'), { video_id: 'demo', percent: 40 }),
    event('p3', 'c1', 'page_view', ms('10:06:00'), { page: '/cart', page_type: 'cart' }),
    event('a1', 'c1', 'add_to_cart', ms('10:07:00'), { product_id: 'sku-1', price: 60, quantity: 1 }),
    event('t6', 'c1', 'ad_impression', ms('10:07:30'), { campaign_id: 'retarget', placement: 'feed' }, 'ads'),
    event('p4', 'c1', 'page_view', ms('10:08:00'), { page: '/checkout', page_type: 'checkout' }, 'web', 'checkout'),
    event('k4', 'c1', 'click', ms('10:08:20'), { element: 'pay' }),
    event('o1', 'c1', 'purchase', ms('10:09:00'), { order_id: 'o-1', revenue: 60, currency: 'EUR' }),
    // c2: an ad impression 8 days before a one-page help session: outside the 7 days, it counts for nothing.
    event('u1', 'c2', 'ad_impression', ms('10:00:00', '2026-10-28'), { campaign_id: 'spring', placement: 'search' }, 'ads'),
    event('q1', 'c2', 'page_view', ms('11:00:00'), { page: '/faq', page_type: 'help' }, 'web', 'faq'),
    // The NPS customers (see NPS).
    ...NPS.flatMap(({ errors, cart, score }, i) => {
      const start = npsStart(i);
      return [
        event(`n${i}-first`, `n${i}`, 'click', start, { element: 'search' }),
        ...Array.from({ length: errors }, (_, e) => event(`n${i}-error${e}`, `n${i}`, 'checkout_error', start + (e + 1) * MIN, { code: 'DECLINED' })),
        ...(cart ? [event(`n${i}-cart`, `n${i}`, 'add_to_cart', start + 3 * MIN, { product_id: 'sku-2', price: 10, quantity: 1 })] : []),
        event(`n${i}-last`, `n${i}`, 'click', start + 4 * MIN, { element: 'close' }),
        event(`n${i}-nps`, `n${i}`, 'survey_response', start + 14 * MIN, { survey_id: 'relationship', metric: 'nps', score }, 'survey'),
      ];
    }),
  ].sort((a, b) => a.occurred_at.localeCompare(b.occurred_at));
  return { lines, ids, c };
}

/** Driver rows per target, to compare the two targets at the end. */
const driverRowsOf: Record<string, Array<Record<string, number | string | boolean>>> = {};

describe.each([
  { transport: 'rdkafka' as const, target: 'embedded chDB' },
  { transport: 'kafkajs' as const, target: 'ClickHouse 18.16' },
])('journey depth on Kafka via $transport into $target', ({ transport, target }) => {
  const run = runId();
  const { lines, ids, c } = journey(run);
  const database = `ts_depth_${run}`;
  let runtime: Runtime;
  const c1Session = sessionIdOf(c('c1'), ms('10:00:00'));
  const c2Session = sessionIdOf(c('c2'), ms('11:00:00'));

  beforeAll(async () => {
    const brokers = requireEnvironment('TOUCHSTREAM_TEST_KAFKA_BROKERS');
    const dataDir = mkdtempSync(join(tmpdir(), 'touchstream-depth-'));
    const config = loadConfig({
      dataDir,
      transport,
      kafka: { brokers, inputTopic: `depth-events-${run}`, groupId: `depth-${run}` },
      clickhouse: target === 'ClickHouse 18.16' ? { url: requireEnvironment('TOUCHSTREAM_TEST_CLICKHOUSE_URL'), dialect: 'legacy', database } : { database },
      // The smallest sample the config allows (10), and a computation every 10 responses (or each hour of event time).
      keyDrivers: { minResponses: 10, everyResponses: 10 },
    }, {});
    runtime = await openRuntime(config);
    const file = join(dataDir, 'journey.ndjson');
    writeFileSync(file, `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`);
    expect(await ingest(runtime, ndjsonReplay({ path: file }))).toEqual({ events: lines.length, rejected: 0 });
    await runPipeline(runtime, { boundedBy: await runtime.log.endOffsets(config.kafka.inputTopic) });
  }, 60_000);

  afterAll(async () => {
    if (runtime && target === 'ClickHouse 18.16') await runtime.clickhouse.command(`DROP DATABASE IF EXISTS ${database}`).catch(() => {});
    await runtime?.close();
  });

  it('writes one page_views row per page view: dwell to the next page view (the exit page to the last event), clicks in between', async () => {
    const rows = await runtime.clickhouse.rows(`
      SELECT page_view_event_id, session_id, customer_id, toUInt32(toUnixTimestamp(viewed_at)) AS viewed, page, page_type,
             toUInt32(dwell_ms) AS dwell_ms, toUInt32(clicks) AS clicks, toUInt8(is_exit) AS is_exit
      FROM ${database}.page_views FINAL ORDER BY customer_id, viewed_at`);
    const row = (id: string, customer: string, session: string, time: string, page: string, pageType: string, dwellMs: number, clicks: number, isExit: number) => ({
      page_view_event_id: ids[id], session_id: session, customer_id: c(customer), viewed: seconds(time), page, page_type: pageType, dwell_ms: dwellMs, clicks, is_exit: isExit,
    });
    expect(rows).toEqual([
      row('p1', 'c1', c1Session, '10:00:00', '/', 'home', 2 * MIN, 2, 0), // to /p/video at 10:02; clicks at 10:00:30 and 10:01
      row('p2', 'c1', c1Session, '10:02:00', '/p/video', 'product', 4 * MIN, 1, 0), // to /cart at 10:06; the click at 10:04:30 (video events are no clicks)
      row('p3', 'c1', c1Session, '10:06:00', '/cart', 'cart', 2 * MIN, 0, 0), // to /checkout at 10:08; no click (add_to_cart and the ad are none)
      row('p4', 'c1', c1Session, '10:08:00', '/checkout', 'checkout', 1 * MIN, 1, 1), // exit: to the purchase at 10:09, the session's last event; the click at 10:08:20
      row('q1', 'c2', c2Session, '11:00:00', '/faq', 'help', 0, 0, 1), // a one-page session: nothing followed
    ]);
  });

  it('writes one video_engagement row per session and video: starts, furthest percent, completion', async () => {
    const rows = await runtime.clickhouse.rows(`
      SELECT session_id, customer_id, video_id, toUInt32(toUnixTimestamp(first_seen_at)) AS first_seen, toUInt32(starts) AS starts,
             toFloat64(furthest_percent) AS furthest_percent, toUInt8(completed) AS completed
      FROM ${database}.video_engagement FINAL ORDER BY customer_id, session_id, video_id`);
    expect(rows).toEqual([
      // demo: started at 10:05, left at 40 %.
      { session_id: c1Session, customer_id: c('c1'), video_id: 'demo', first_seen: seconds('10:05:00'), starts: 1, furthest_percent: 40, completed: 0 },
      // intro: started at 10:02:10, 50 % at 10:03, complete at 10:04: watched to the end, 100 %.
      { session_id: c1Session, customer_id: c('c1'), video_id: 'intro', first_seen: seconds('10:02:10'), starts: 1, furthest_percent: 100, completed: 1 },
    ]);
  });

  it('writes campaign_kpis: every touch, and the session and purchase within 7 days after, once per campaign, placement and touch type', async () => {
    const rows = await runtime.clickhouse.rows(`
      SELECT campaign_id, placement, kind, touch_type, customer_id, toUInt32(toUnixTimestamp(at)) AS at, source_id, toUInt32(orders) AS orders, toFloat64(revenue) AS revenue
      FROM ${database}.campaign_kpis FINAL ORDER BY campaign_id, placement, kind, touch_type, source_id`);
    const touch = (id: string, customer: string, campaign: string, placement: string, kind: string, type: string, at: number) => ({
      campaign_id: campaign, placement, kind, touch_type: type, customer_id: c(customer), at: at / 1000, source_id: ids[id], orders: 0, revenue: 0,
    });
    // The session started at 10:00 (touches in [10-29 10:00, 11-05 10:00)); its first purchase at 10:09 (touches in [10-29 10:09, 11-05 10:09)), 1 order of 60.
    const session = (campaign: string, placement: string, type: string) => ({
      campaign_id: campaign, placement, kind: 'session', touch_type: type, customer_id: c('c1'), at: seconds('10:00:00'), source_id: c1Session, orders: 0, revenue: 0,
    });
    const purchase = (campaign: string, placement: string, type: string) => ({
      campaign_id: campaign, placement, kind: 'purchase', touch_type: type, customer_id: c('c1'), at: seconds('10:09:00'), source_id: c1Session, orders: 1, revenue: 60,
    });
    const expected = [
      touch('t0', 'c1', 'old', '', 'open', 'email_open', ms('09:00:00', '2026-10-28')), // 8 days before: a touch, nothing after it
      touch('t1', 'c1', 'news', '', 'open', 'email_open', ms('08:00:00', '2026-11-03')),
      touch('t2', 'c1', 'news', '', 'click', 'email_click', ms('08:05:00', '2026-11-03')),
      session('news', '', 'email_open'),
      session('news', '', 'email_click'),
      purchase('news', '', 'email_open'),
      purchase('news', '', 'email_click'),
      touch('t6', 'c1', 'retarget', 'feed', 'impression', 'ad_impression', ms('10:07:30')),
      purchase('retarget', 'feed', 'ad_impression'), // during the session: before the purchase, not before the start
      touch('t5', 'c1', 'spring', 'search', 'click', 'ad_click', ms('09:30:00')),
      touch('t3', 'c1', 'spring', 'search', 'impression', 'ad_impression', ms('09:00:00')),
      touch('t4', 'c1', 'spring', 'search', 'impression', 'ad_impression', ms('09:15:00')),
      touch('u1', 'c2', 'spring', 'search', 'impression', 'ad_impression', ms('10:00:00', '2026-10-28')), // c2's session is 8 days later: nothing after it
      session('spring', 'search', 'ad_click'),
      session('spring', 'search', 'ad_impression'), // two impressions, one session row
      purchase('spring', 'search', 'ad_click'),
      purchase('spring', 'search', 'ad_impression'),
    ];
    const order = (row: Record<string, unknown>) => [row.campaign_id, row.placement, row.kind, row.touch_type, row.source_id].join('\u0001');
    expect(rows).toEqual([...expected].sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0)));
  });

  it("sets each session's entry touchpoint and its first and last campaign", async () => {
    const rows = await runtime.clickhouse.rows(`
      SELECT customer_id, session_id, touchpoint, first_campaign, last_campaign FROM ${database}.sessions FINAL ORDER BY customer_id, started_at`);
    expect(rows).toEqual([
      // first: the earliest touch in the 7 days before 10:00 (news, 11-03 08:00; old is 8 days back); last: the latest up to the end (retarget, 10:07:30).
      { customer_id: c('c1'), session_id: c1Session, touchpoint: 'landing', first_campaign: 'news', last_campaign: 'retarget' },
      { customer_id: c('c2'), session_id: c2Session, touchpoint: 'faq', first_campaign: null, last_campaign: null },
      ...NPS.map((_, i) => ({ customer_id: c(`n${i}`), session_id: sessionIdOf(c(`n${i}`), npsStart(i)), touchpoint: null, first_campaign: null, last_campaign: null })),
    ].sort((a, b) => (a.customer_id < b.customer_id ? -1 : 1)));
  });

  it('computes the key drivers of NPS from the linked sessions, with shares summing to 1 per computation', async () => {
    const rows = await runtime.clickhouse.rows<Record<string, number | string>>(`
      SELECT metric, driver, toUInt32(toUnixTimestamp(computed_at)) AS computed_at, toFloat64(importance) AS importance, toFloat64(ci_low) AS ci_low, toFloat64(ci_high) AS ci_high,
             toUInt32(responses) AS responses, toFloat64(effect) AS effect, toUInt8(significant) AS significant, toFloat64(r_squared) AS r_squared, toFloat64(p_value) AS p_value
      FROM ${database}.driver_analysis FINAL ORDER BY computed_at, driver`);
    driverRowsOf[target] = rows;
    // Responses at 12:14, 12:16, …, 12:36. The 10th (12:32) completes the first computation (everyResponses = 10, the
    // minimum sample: rows); the 11th and 12th fall before the hour boundary 13:00, which computes the second over all 12.
    const computations = [{ at: seconds('12:32:00'), responses: 10 }, { at: seconds('13:00:00'), responses: 12 }];
    expect([...new Set(rows.map((row) => row.computed_at))]).toEqual(computations.map(({ at }) => at));
    for (const { at, responses } of computations) {
      const computation = rows.filter((row) => row.computed_at === at);
      // One row per driver, each a sessions column (or channel_switch), only NPS was answered.
      expect(computation.map((row) => row.driver)).toEqual([...KEY_DRIVERS].sort());
      expect(computation.every((row) => row.metric === 'nps' && row.responses === responses)).toBe(true);
      for (const row of computation) {
        expect(row.importance).toBeGreaterThanOrEqual(0);
        expect(row.importance).toBeLessThanOrEqual(1);
        expect(row.ci_low).toBeGreaterThanOrEqual(0);
        expect(row.ci_low).toBeLessThanOrEqual(row.ci_high as number);
        expect(row.ci_high).toBeLessThanOrEqual(1);
        expect(row.r_squared).toBe(computation[0]!.r_squared);
      }
      expect(computation.reduce((sum, row) => sum + (row.importance as number), 0)).toBeCloseTo(1, 9);
      const share = Object.fromEntries(computation.map((row) => [row.driver, row]));
      // Constant over the sample (see NPS): they explain nothing and take no share (but for rounding: the R² of the
      // subsets with and without them are computed at different steps of the sweep).
      for (const driver of ['help_views', 'videos_completed', 'duration_ms', 'page_views', 'channel_switch']) {
        expect(share[driver]!.importance, driver).toBeLessThan(1e-9);
        expect(share[driver]!.ci_high, driver).toBeLessThan(1e-9);
      }
      // The planted driver: the score falls by 3 per checkout error (noise ±1), so it takes most of R² with a negative
      // effect, and the model explains the score (correlation below −0.9 on 10 responses).
      expect(share.checkout_errors!.importance).toBeGreaterThan(0.8);
      expect(share.checkout_errors!.importance).toBeGreaterThan(share.cart_abandoned!.importance as number);
      expect(share.checkout_errors!.effect).toBeLessThan(0);
      expect(share.checkout_errors!.significant).toBe(1);
      expect(share.checkout_errors!.r_squared).toBeGreaterThan(0.8);
      expect(share.checkout_errors!.p_value).toBeLessThan(0.05);
    }
  });
});

describe('journey depth on both targets', () => {
  it('gives the same driver_analysis rows in ClickHouse 18.16 and in chDB', () => {
    const [chdb, server] = [driverRowsOf['embedded chDB'], driverRowsOf['ClickHouse 18.16']];
    expect(chdb).toHaveLength(14);
    expect(server).toHaveLength(14);
    for (const [index, row] of server!.entries()) {
      for (const [column, value] of Object.entries(row)) {
        if (typeof value === 'number') expect(value, column).toBeCloseTo(chdb![index]![column] as number, 9);
        else expect(value, column).toBe(chdb![index]![column]);
      }
    }
  });
});

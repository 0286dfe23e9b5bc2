// Restart pins for the CX state stores: checkpoint → restore into a fresh operator → continue gives exactly the outputs of an uninterrupted run.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Operator, StateChange } from '../../engine/index.ts';
import type { CxOutputs } from '../../pipelines/cx/journey-operator.ts';
import { PurchaseAttributionOperator } from '../../pipelines/cx/purchase-attribution.ts';
import type { CxEvent } from '../../schemas/events.ts';
import { Harness, MIN, T0, at, event, inSequence, journeyHarness } from '../support/cx-harness.ts';
import { JourneyOperator } from '../../pipelines/cx/journey-operator.ts';

type CxOperator = Operator<CxEvent, CxOutputs>;
type Step = (harness: Harness<CxOperator>) => unknown;
type AllOutputs = Harness<CxOperator>['outputs'];

const sessionId = (customer: string, startedAt: number) => createHash('sha256').update(`${customer}\0${startedAt}`).digest('hex').slice(0, 32);

/**
 * Runs the steps on one operator, checkpointing after each (as the engine does at every flush). Before each step in
 * `restartBefore` the operator "crashes": a fresh one is reset and restored from the changelogs (compacted: the last
 * value per store, partition and key, tombstones drop keys, values go through JSON) and the run continues on it.
 * Answers the outputs of all operators in order, and the late-rollup count.
 */
function run(create: () => CxOperator, steps: readonly Step[], restartBefore: readonly number[] = []) {
  const changelog: StateChange[] = [];
  let harness = new Harness(create());
  const harnesses = [harness];
  steps.forEach((step, index) => {
    if (restartBefore.includes(index)) {
      harness = new Harness(create());
      harnesses.push(harness);
      restore(harness.operator, changelog);
    }
    step(harness);
    changelog.push(...harness.operator.snapshot!());
  });
  const outputs = {} as Record<keyof AllOutputs, unknown[]>;
  for (const name of Object.keys(harness.outputs) as Array<keyof AllOutputs>) outputs[name] = harnesses.flatMap((each) => each.outputs[name] as unknown[]);
  const rollupLate = harnesses.reduce((sum, each) => sum + each.metrics.total('touchstream_rollup_late_total'), 0);
  return { outputs: outputs as unknown as AllOutputs, rollupLate };
}

function restore(operator: CxOperator, changelog: readonly StateChange[]): void {
  const stores = new Map<string, Map<number, Map<string, unknown>>>();
  for (const change of changelog) {
    let partitions = stores.get(change.store);
    if (!partitions) stores.set(change.store, (partitions = new Map()));
    let entries = partitions.get(change.partition);
    if (!entries) partitions.set(change.partition, (entries = new Map()));
    if (change.value === null) entries.delete(change.key);
    else entries.set(change.key, JSON.parse(JSON.stringify(change.value)));
  }
  operator.reset!();
  for (const [store, partitions] of stores) {
    expect(operator.stateStores).toContain(store);
    for (const [partition, entries] of partitions) if (entries.size > 0) operator.restore!(store, partition, entries);
  }
}

/** Runs the scenario uninterrupted and with restarts; both must give `expected` (picked from the outputs by `pick`). */
function expectRestartSafe<T>(create: () => CxOperator, steps: readonly Step[], restartBefore: readonly number[], pick: (outputs: AllOutputs) => T, expected: T) {
  const uninterrupted = run(create, steps);
  const restarted = run(create, steps, restartBefore);
  expect(pick(uninterrupted.outputs)).toEqual(expected);
  expect(pick(restarted.outputs)).toEqual(expected);
  expect(restarted.outputs).toEqual(uninterrupted.outputs);
  return { uninterrupted, restarted };
}

const journey = () => journeyHarness().operator as CxOperator;
const nps = (id: string, minutes: number, customer: string, score: number) =>
  event(id, 'survey_response', minutes, { survey_id: 'sv', metric: 'nps', score, comment: null, language: null }, { customer, channel: 'survey' });
const page = (id: string, minutes: number, customer: string, pageType = 'home', touchpoint: string | null = null) =>
  event(id, 'page_view', minutes, { page: `/${pageType}`, page_type: pageType }, { customer, touchpoint });
const call = (id: string, minutes: number, customer: string) => event(id, 'contact', minutes, { kind: 'call', reason: 'order' }, { customer, channel: 'call_center' });

describe('the journey operator declares every CX state store', () => {
  it('checkpoints sessions, dedup ids, contact policy, customer journeys, X+O link, channel switches, the KPI roll-up and what the serving API reads', () => {
    expect(journey().stateStores).toEqual([
      'journey-sessions', 'journey-seen-ids', 'journey-consent', 'journey-customers', 'journey-pending-feedback',
      'journey-pending-contacts', 'journey-page-views', 'journey-videos', 'journey-campaign-touches', 'journey-kpi-rollup', 'contact-policy',
      'journey-signal-context', 'journey-last-sessions', 'journey-open-signals', 'journey-linked-visitors',
    ]);
    expect(new PurchaseAttributionOperator().stateStores).toEqual(['attribution-touches', 'attribution-pending-purchases']);
  });
});

describe('restart-safe CX state', () => {
  it('contact policy: signals decided before the crash stay decided, and the restored policy still suppresses', () => {
    const steps: Step[] = [
      (h) => h.process([nps('r1', 0, 'c1', 3)]).watermark(at(0) + 1), // decided before the crash
      (h) => h.process([nps('r2', 10, 'c2', 2)]).watermark(at(5)), // decided when it fired, before the watermark reached it
      (h) => h.process([nps('r3', 20, 'c1', 1)]).watermark(Number.POSITIVE_INFINITY), // c1's second callback within 24 h
    ];
    // Internal actions of the fan-out (support_case, crm_update) are outside the policy: emitted every time.
    expectRestartSafe(journey, steps, [2], (o) => o.signals.map((s) => [s.action, s.customer_id, s.triggered_at, s.status]), [
      ['support_callback', 'c1', at(0), 'emitted'], ['support_case', 'c1', at(0), 'emitted'], ['crm_update', 'c1', at(0), 'emitted'],
      ['support_callback', 'c2', at(10), 'emitted'], ['support_case', 'c2', at(10), 'emitted'], ['crm_update', 'c2', at(10), 'emitted'],
      ['support_callback', 'c1', at(20), 'suppressed'], ['support_case', 'c1', at(20), 'emitted'], ['crm_update', 'c1', at(20), 'emitted'],
    ]);
  });

  it('rule evaluator: a rule that fired in a live session does not fire again in it after a restart', () => {
    const steps: Step[] = [
      (h) => h.process([event('e1', 'checkout_error', 0, { code: 'X' }), event('e2', 'checkout_error', 1, { code: 'X' })]).watermark(at(1) + 1),
      (h) => h.process([event('e3', 'checkout_error', 2, { code: 'X' })]).watermark(Number.POSITIVE_INFINITY),
    ];
    expectRestartSafe(journey, steps, [1], (o) => o.signals.map((s) => [s.rule_id, s.evidence_event_ids, s.status]), [['live_chat_offer', ['e1', 'e2'], 'emitted']]);
  });

  it('customer journeys: a session closed before the crash is still the X+O link and journey fact afterwards', () => {
    const steps: Step[] = [
      (h) => h.process([page('a1', 0, 'c1', 'home', 'home'), event('a2', 'add_to_cart', 5, { product_id: 'p', price: 9, quantity: 1 }, { customer: 'c1' })]),
      (h) => h.watermark(at(35) + 1), // the session (last 10:05) closes into the history
      (h) => h.process([nps('r1', 40, 'c1', 9)]).watermark(Number.POSITIVE_INFINITY),
    ];
    expectRestartSafe(journey, steps, [2], (o) => o.feedback.map((row) => [row.response_event_id, row.session_id, row.session_ended_at, row.session_touchpoint, row.cart_abandoned]), [
      ['r1', sessionId('c1', at(0)), at(5), 'home', true],
    ]);
  });

  it('X+O link: a response waiting for its session to be final survives', () => {
    const steps: Step[] = [
      (h) => h.process([page('a1', 0, 'c1', 'product', 'search'), nps('r1', 10, 'c1', 6)]).watermark(at(10) + 1), // session still open
      (h) => h.watermark(Number.POSITIVE_INFINITY),
    ];
    expectRestartSafe(journey, steps, [1], (o) => o.feedback.map((row) => [row.response_event_id, row.nps_group, row.session_id, row.session_ended_at, row.session_touchpoint]), [
      ['r1', 'detractor', sessionId('c1', at(0)), at(0), 'search'],
    ]);
  });

  it('channel switches: a waiting contact survives, and so does the closed help session it links to', () => {
    const steps: Step[] = [
      (h) => h.process([page('a1', 0, 'c1', 'help'), page('b1', 0, 'c2', 'home'), event('b2', 'checkout_error', 2, { code: 'E' }, { customer: 'c2' })]),
      (h) => h.watermark(at(31)), // c1's session closes into the history; c2's (last 10:02) is still open
      (h) => h.process([call('k1', 60, 'c1'), call('k2', 20, 'c2')]).watermark(at(40)), // both contacts wait (contacted_at + gap)
      (h) => h.watermark(Number.POSITIVE_INFINITY),
    ];
    expectRestartSafe(journey, steps, [2, 3], (o) => o.channel_switches.map((row) => [row.contact_event_id, row.session_id, row.gap_ms, row.help_views, row.checkout_errors]), [
      ['k2', sessionId('c2', at(0)), 18 * MIN, 0, 1],
      ['k1', sessionId('c1', at(0)), 60 * MIN, 1, 0],
    ]);
  });

  it('KPI roll-up: the rows of several partitions survive, and a minute emitted before the crash stays emitted', () => {
    const purchase = (id: string, minutes: number, revenue: number) => event(id, 'purchase', minutes, { order_id: `o-${id}`, revenue, currency: 'EUR' }, { customer: 'c2' });
    const steps: Step[] = [
      (h) => h.process([page('p1', 0, 'c1')], Number.NEGATIVE_INFINITY, 0).process([purchase('o1', 0.5, 10.25)], Number.NEGATIVE_INFINITY, 1),
      (h) => h.process([page('p2', 0.75, 'c3')], Number.NEGATIVE_INFINITY, 0).process([purchase('o2', 0.9, 4.5)], Number.NEGATIVE_INFINITY, 1),
      (h) => h.watermark(at(40)), // minute 10:00 is final (+1 min + 30 min gap), all three sessions closed in it
      (h) => h.process([page('p3', 0.2, 'c4')], Number.NEGATIVE_INFINITY, 2).watermark(at(50)), // too late for 10:00, from a partition new after the restart
    ];
    const none = { cart_abandonments: 0, responses: 0, nps_responses: 0, promoters: 0, passives: 0, detractors: 0, csat_responses: 0, csat_satisfied: 0, ces_responses: 0, ces_sum: 0 };
    const { restarted } = expectRestartSafe(journey, steps, [1, 3], (o) => o.kpi_minute, [
      // One row per input partition: c1's and c3's page views and sessions in 0, c2's purchases and converted session in 1.
      { minute: T0, channel: 'web', touchpoint: '', input_partition: 0, events: 2, page_views: 2, orders: 0, revenue: 0, sessions: 2, conversions: 0, ...none },
      { minute: T0, channel: 'web', touchpoint: '', input_partition: 1, events: 2, page_views: 0, orders: 2, revenue: 14.75, sessions: 1, conversions: 1, ...none },
    ]);
    expect(restarted.rollupLate).toBe(2); // p3's event and, when it closes, its session
  });

  it('purchase attribution: touches and a purchase waiting for the watermark survive', () => {
    const open = (id: string, minutes: number, campaign: string) => event(id, 'email_open', minutes, { campaign_id: campaign }, { customer: 'c1', channel: 'email' });
    const ad = (id: string, minutes: number, campaign: string) => event(id, 'ad_impression', minutes, { campaign_id: campaign, placement: 'feed' }, { customer: 'c1', channel: 'ads' });
    const steps: Step[] = [
      (h) => h.process([open('t1', -120, 'A'), ad('t2', -60, 'B')]),
      (h) => h.process([event('o1', 'purchase', 0, { order_id: 'ord-1', revenue: 20, currency: 'EUR' }, { customer: 'c1' }), ad('t3', -30, 'B'), ad('t2', -60, 'B')]),
      (h) => h.process([open('t4', -10, 'C')]).watermark(at(0) + 1),
    ];
    expectRestartSafe(() => new PurchaseAttributionOperator(), steps, [1, 2], (o) => o.purchase_attribution, [
      {
        purchase_event_id: 'o1', order_id: 'ord-1', customer_id: 'c1', purchased_at: at(0), revenue: 20, currency: 'EUR', channel: 'web',
        touchpoints: 4, ad_impressions: 2, email_opens: 2, email_clicks: 0, distinct_campaigns: 3, campaigns: ['A', 'B', 'C'],
        first_touch_at: at(-120), last_touch_campaign: 'C',
      },
    ]);
  });

  it('a customer\'s linked anonymous ids: an erasure after a restart still asks for each', () => {
    const withAnonymous = (value: CxEvent, anonymous: string) => ({ ...value, anonymous_id: anonymous }) as CxEvent;
    const steps: Step[] = [
      (h) => h.process([withAnonymous(page('l1', 0, 'c1'), 'a1')]),
      (h) => h.process([withAnonymous(page('l2', 1, 'c1'), 'a2'), withAnonymous(page('l3', 2, 'c1'), 'a1')]),
      (h) => h.forget('c1'),
      (h) => h.forget('c1'), // forgotten with the customer: nothing asked twice
    ];
    expectRestartSafe(journey, steps, [1, 2, 3], (o) => o.erasure_requests.map((request) => request.customer_id), ['a1', 'a2']);
  });

  it('purchase attribution under the journey\'s consent: a purchase waiting without its person stays so', () => {
    const create = () => {
      const operator = journeyHarness().operator as JourneyOperator;
      return inSequence('pipeline', [operator, new PurchaseAttributionOperator({ consent: operator.analyticsConsent })]);
    };
    const withheld = { ...event('o1', 'purchase', 0, { order_id: 'ord-1', revenue: 20, currency: 'EUR' }, { customer: 'c1' }), consent: { analytics: false, marketing: null } } as CxEvent;
    const steps: Step[] = [
      (h) => h.process([withheld, event('o2', 'purchase', 1, { order_id: 'ord-2', revenue: 5, currency: 'EUR' }, { customer: 'c2' })]),
      (h) => h.watermark(at(5)),
    ];
    expectRestartSafe(create, steps, [1], (o) => o.purchase_attribution.map((row) => [row.purchase_event_id, row.customer_id]), [['o1', ''], ['o2', 'c2']]);
  });
});

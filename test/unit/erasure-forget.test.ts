// Erasure in live state: after `forget`, no stage of the CX chain (nor attribution) holds the customer, the changelog gets a tombstone for every entry it held, and a later event starts from nothing.
import { describe, expect, it } from 'vitest';
import type { Operator, StateChange } from '../../engine/index.ts';
import type { CxOutputs } from '../../pipelines/cx/journey-operator.ts';
import { PurchaseAttributionOperator } from '../../pipelines/cx/purchase-attribution.ts';
import type { CxEvent } from '../../schemas/events.ts';
import { driverAnalysisConfigSchema } from '../../pipelines/cx/driver-analysis.ts';
import { HOUR, Harness, MIN, at, event, journeyHarness, stubSentiment } from '../support/cx-harness.ts';
import { JourneyOperator } from '../../pipelines/cx/journey-operator.ts';
import { DEFAULT_CONTACT_POLICY } from '../../pipelines/cx/contact-policy.ts';
import { DEFAULT_RULES } from '../../pipelines/cx/rules/default-rules.ts';
import { compileRules } from '../../pipelines/cx/rules/rule-set.ts';
import type { ErasureApplied, ErasureRecord } from '../../schemas/erasure.ts';
import { ErasuresInBatch } from '../../app/erasure.ts';

type CxOperator = Operator<CxEvent, CxOutputs>;
const page = (id: string, minutes: number, customer: string, pageType = 'home') => event(id, 'page_view', minutes, { page: `/${pageType}`, page_type: pageType }, { customer });
const call = (id: string, minutes: number, customer: string) => event(id, 'contact', minutes, { kind: 'call', reason: 'order' }, { customer, channel: 'call_center' });
const nps = (id: string, minutes: number, customer: string, score: number) =>
  event(id, 'survey_response', minutes, { survey_id: 'sv', metric: 'nps', score, comment: null, language: null }, { customer, channel: 'survey' });

/** The compacted changelog: the last value per store and key (tombstones drop the key). */
function compact(changes: readonly StateChange[]): Map<string, unknown> {
  const latest = new Map<string, unknown>();
  for (const change of changes) {
    const key = `${change.store}|${change.key}`;
    if (change.value === null) latest.delete(key);
    else latest.set(key, JSON.parse(JSON.stringify(change.value)));
  }
  return latest;
}
const mentions = (changelog: Map<string, unknown>, customer: string) => [...changelog].filter(([key, value]) => key.includes(customer) || JSON.stringify(value).includes(`"${customer}"`)).map(([key]) => key.split('|')[0]);

/** c1 and c2 each: a closed help session in the history, an open session with page views, a waiting contact and response, a campaign touch, an emitted signal. */
function busyDay(h: Harness<CxOperator>, changelog: StateChange[]) {
  for (const customer of ['c1', 'c2']) {
    h.process([page(`${customer}-a`, 0, customer, 'help'), event(`${customer}-e`, 'email_open', 1, { campaign_id: 'camp' }, { customer, channel: 'email' })]);
  }
  h.watermark(at(32)); // both help sessions close into the history
  for (const customer of ['c1', 'c2']) {
    h.process([page(`${customer}-b`, 40, customer, 'product'), call(`${customer}-k`, 41, customer), nps(`${customer}-r`, 42, customer, 2)]);
  }
  changelog.push(...h.operator.snapshot!());
}

describe('forget (erasure) in every stage', () => {
  it('drops the customer from every store, writes tombstones, leaves other customers alone', () => {
    const h = journeyHarness();
    const changelog: StateChange[] = [];
    busyDay(h, changelog);
    const before = compact(changelog);
    const held = new Set(mentions(before, 'c1'));
    // What the day put in state for c1: sessions (open + closed reach), history, waiting contact and response, buffered page views, touches, policy,
    // and what the serving API reads (the last closed session, the open signals).
    expect([...held].sort()).toEqual([
      'contact-policy', 'journey-campaign-touches', 'journey-customers', 'journey-last-sessions', 'journey-open-signals', 'journey-page-views',
      'journey-pending-contacts', 'journey-pending-feedback', 'journey-sessions',
    ].sort());
    h.forget('c1');
    changelog.push(...h.operator.snapshot!());
    const after = compact(changelog);
    expect(mentions(after, 'c1')).toEqual([]);
    expect(new Set(mentions(after, 'c2'))).toEqual(new Set(mentions(before, 'c2')));
    // Tombstones: one per store that held c1.
    const tombstones = changelog.filter((change) => change.value === null && change.key === 'c1').map((change) => change.store);
    expect(new Set(tombstones)).toEqual(held);
  });

  it('a later event starts from nothing: no channel switch, no X+O link, no session, journey facts or contact policy of before', () => {
    const h = journeyHarness();
    busyDay(h, []);
    h.forget('c1');
    h.watermark(Number.POSITIVE_INFINITY);
    // c1's open session, waiting contact and response are gone: no rows of them; c2's are all there.
    expect(h.outputs.sessions.filter((row) => row.customer_id === 'c1').map((row) => row.started_at)).toEqual([at(0)]);
    expect(h.outputs.feedback.map((row) => row.customer_id)).toEqual(['c2']);
    expect(h.outputs.channel_switches.map((row) => row.customer_id)).toEqual(['c2']);
    expect(h.outputs.page_views.filter((row) => row.customer_id === 'c1').map((row) => row.viewed_at)).toEqual([at(0)]);
  });

  it('after forget, a contact right after a help session links to nothing of before', () => {
    const h = journeyHarness();
    h.process([page('a1', 0, 'c1', 'help')]).watermark(at(31)); // help session closed into the history
    h.forget('c1');
    h.process([call('k1', 40, 'c1'), nps('r1', 41, 'c1', 9)]).watermark(Number.POSITIVE_INFINITY);
    expect(h.outputs.channel_switches).toEqual([]);
    expect(h.outputs.feedback.map((row) => [row.response_event_id, row.session_id])).toEqual([['r1', null]]);
  });

  it('the same run without forget links them (the test can fail)', () => {
    const h = journeyHarness();
    h.process([page('a1', 0, 'c1', 'help')]).watermark(at(31));
    h.process([call('k1', 40, 'c1'), nps('r1', 41, 'c1', 9)]).watermark(Number.POSITIVE_INFINITY);
    expect(h.outputs.channel_switches.map((row) => row.contact_event_id)).toEqual(['k1']);
    expect(h.outputs.feedback[0]!.session_id).not.toBeNull();
  });

  it('an event within the reach of a forgotten session starts a new session instead of being late', () => {
    const h = journeyHarness();
    h.process([page('a1', 0, 'c1')]).watermark(at(31)); // closed: events up to 10:30 would be late for it
    h.forget('c1');
    h.process([page('a2', 20, 'c1')], at(31)).watermark(Number.POSITIVE_INFINITY);
    expect(h.outputs.events.find((row) => row.event.event_id === 'a2')!.late).toBe(false);
    expect(h.outputs.sessions.map((row) => [row.started_at, row.page_views])).toEqual([[at(0), 1], [at(20), 1]]);
  });

  it('the key-driver analysis forgets the customer\'s linked responses', () => {
    const h = journeyHarness({ keyDrivers: driverAnalysisConfigSchema.parse({}) });
    for (const customer of ['c1', 'c2']) h.process([page(`${customer}-a`, 0, customer, 'help')]);
    h.watermark(at(31));
    for (const customer of ['c1', 'c2']) h.process([nps(`${customer}-r`, 40, customer, 3)]);
    h.watermark(at(200)); // responses linked and handed to the analysis
    const changelog = h.operator.snapshot!();
    const drivers = (customer: string) => [...compact(changelog)].filter(([key]) => key.startsWith('journey-driver-responses|')).filter(([key]) => key.split(/[|\u001f]/).includes(customer));
    expect(drivers('c1').length).toBeGreaterThan(0);
    h.forget('c1');
    changelog.push(...h.operator.snapshot!());
    expect(drivers('c1')).toEqual([]);
    expect(drivers('c2').length).toBeGreaterThan(0);
  });

  it('purchase attribution forgets touches and waiting purchases', () => {
    const h = new Harness(new PurchaseAttributionOperator() as CxOperator);
    h.process([event('e1', 'email_open', 0, { campaign_id: 'camp' }, { customer: 'c1', channel: 'email' }), event('p1', 'purchase', 10, { order_id: 'o1', revenue: 10, currency: 'EUR', items: 1 }, { customer: 'c1' })]);
    const changelog = h.operator.snapshot!();
    expect(mentions(compact(changelog), 'c1').length).toBeGreaterThan(0);
    h.forget('c1');
    changelog.push(...h.operator.snapshot!());
    expect(mentions(compact(changelog), 'c1')).toEqual([]);
    h.watermark(Number.POSITIVE_INFINITY);
    expect(h.outputs.purchase_attribution).toEqual([]);
  });

  describe('a customer\'s linked anonymous journeys', () => {
    /** An anonymous visitor's event (keyed by the anonymous id), and the customer's own events carrying it (the login, routed or copied ones). */
    const anonymousPage = (id: string, minutes: number, anonymous: string) => ({ ...page(id, minutes, 'x'), customer_id: null, anonymous_id: anonymous }) as CxEvent;
    const withAnonymous = (value: CxEvent, anonymous: string) => ({ ...value, anonymous_id: anonymous }) as CxEvent;
    const requests = new Map<string, ErasureRecord>();
    const journey = () => {
      const operator = new JourneyOperator({
        sessionGapMs: 30 * MIN, dedupHorizonMs: HOUR, rules: compileRules(DEFAULT_RULES), contactPolicy: DEFAULT_CONTACT_POLICY, scoreSentiment: stubSentiment,
        erasureRequestOf: (key) => requests.get(key),
      });
      return new Harness(operator as CxOperator);
    };
    requests.set('c1', { request_id: 'req-1', customer_id: 'c1', requested_at: 1_000, source: 'http' });
    requests.set('a1', { request_id: 'req-1-linked-1', customer_id: 'a1', requested_at: 1_000, source: 'linked' });

    it('erasing the customer asks, once per anonymous id, for the erasure of each (keyed by the id, named after the request); the links are forgotten', () => {
      const h = journey();
      h.process([anonymousPage('v1', 0, 'a1'), anonymousPage('v2', 1, 'a1'), anonymousPage('w1', 0, 'a2')], Number.NEGATIVE_INFINITY, 1);
      h.process([withAnonymous(page('l1', 2, 'c1'), 'a1'), withAnonymous(page('l2', 3, 'c1'), 'a1'), withAnonymous(page('l3', 4, 'c1'), 'a3'), page('x1', 2, 'c2')]);
      const changelog = h.operator.snapshot!();
      expect(mentions(compact(changelog), 'a1')).toContain('journey-linked-visitors');
      h.forget('c1');
      expect(h.outputs.erasure_requests).toEqual([
        { request_id: 'req-1-linked-1', customer_id: 'a1', requested_at: 1_000, source: 'linked' },
        { request_id: 'req-1-linked-2', customer_id: 'a3', requested_at: 1_000, source: 'linked' },
      ]);
      changelog.push(...h.operator.snapshot!());
      expect(mentions(compact(changelog), 'c1')).toEqual([]);
      // The anonymous journey is its own key (here on partition 1): still held until its own request is applied there.
      expect(mentions(compact(changelog), 'a1').length).toBeGreaterThan(0);
      // The engine applies that request on a1's partition: nothing of a1 is left, a2 (never linked) keeps its state, and no further request is asked.
      h.forget('a1', 1);
      changelog.push(...h.operator.snapshot!());
      expect(mentions(compact(changelog), 'a1')).toEqual([]);
      expect(mentions(compact(changelog), 'a2').length).toBeGreaterThan(0);
      expect(h.outputs.erasure_requests).toHaveLength(2);
      h.watermark(Number.POSITIVE_INFINITY);
      expect(h.outputs.sessions.map((row) => row.customer_id).sort()).toEqual(['a2', 'c2']);
    });

    it('a customer without linked ids asks for nothing; an anonymous event keyed by itself links nothing', () => {
      const h = journey();
      h.process([anonymousPage('v1', 0, 'a1'), page('l1', 2, 'c2')]);
      h.forget('c2');
      h.forget('a1');
      expect(h.outputs.erasure_requests).toEqual([]);
    });
  });
});

describe('the erasures of a batch (what the journey names linked requests after)', () => {
  const applied = (request: string, customer: string): ErasureApplied => ({ request_id: request, customer_id: customer, requested_at: 0, source: 'cli', logged_id: customer });

  it('hands each request of a key once, in log order; the next batch drops what the last one left', () => {
    const batch = new ErasuresInBatch();
    batch.set([applied('r1', 'c1'), applied('r2', 'c2'), applied('r3', 'c1')]);
    expect([batch.take('c1')?.request_id, batch.take('c1')?.request_id, batch.take('c1')]).toEqual(['r1', 'r3', undefined]);
    batch.set([]);
    expect(batch.take('c2')).toBeUndefined();
  });
});

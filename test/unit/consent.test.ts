// Consent with hand-built journeys: marketing signals without marketing consent are suppressed (no_consent) and do not count against the contact policy; analytics: false keeps rows in aggregates but without the person; the event schema's consent round-trips.
import { describe, expect, it } from 'vitest';
import { JourneyOperator } from '../../pipelines/cx/journey-operator.ts';
import { PurchaseAttributionOperator } from '../../pipelines/cx/purchase-attribution.ts';
import { DEFAULT_CONTACT_POLICY } from '../../pipelines/cx/contact-policy.ts';
import { DEFAULT_RULES } from '../../pipelines/cx/rules/default-rules.ts';
import { compileRules } from '../../pipelines/cx/rules/rule-set.ts';
import { parseEvent } from '../../schemas/events.ts';
import type { Consent, CxEvent } from '../../schemas/events.ts';
import { Harness, HOUR, MIN, at, event, inSequence, journeyHarness, stubSentiment } from '../support/cx-harness.ts';

const withConsent = (value: CxEvent, consent: Partial<Consent>): CxEvent => ({ ...value, consent: { analytics: consent.analytics ?? null, marketing: consent.marketing ?? null } });
/** An abandoned cart worth 30 (the default rules' e-mail cart_reminder when the session closes), then two checkout errors (live chat). */
const journey = (customer: string, start: number, consent?: Partial<Consent>) => {
  const first = event(`${customer}-${start}-1`, 'add_to_cart', start, { product_id: 'sku', price: 30, quantity: 1 }, { customer });
  return [consent ? withConsent(first, consent) : first,
    event(`${customer}-${start}-2`, 'checkout_error', start + 1, { code: 'X' }, { customer }), event(`${customer}-${start}-3`, 'checkout_error', start + 2, { code: 'X' }, { customer })];
};
const decided = (h: Harness<JourneyOperator>) => h.outputs.signals.map((signal) => [signal.customer_id, signal.action, signal.status, signal.status === 'suppressed' ? signal.reason : '']);
const optIn = () => new Harness(new JourneyOperator({
  sessionGapMs: 30 * MIN, dedupHorizonMs: HOUR, rules: compileRules(DEFAULT_RULES), contactPolicy: DEFAULT_CONTACT_POLICY, scoreSentiment: stubSentiment, consent: { marketingOptIn: true },
}));

describe('marketing consent', () => {
  it('suppresses e-mail signals of a customer who said no, with reason no_consent; other channels and customers are untouched', () => {
    const h = journeyHarness();
    h.process([...journey('yes', 0, { marketing: true }), ...journey('no', 0, { marketing: false }), ...journey('unsaid', 0)]).watermark(Number.POSITIVE_INFINITY);
    expect(decided(h).sort()).toEqual([
      ['no', 'cart_reminder', 'suppressed', 'no_consent'], ['no', 'live_chat_offer', 'emitted', ''],
      ['unsaid', 'cart_reminder', 'emitted', ''], ['unsaid', 'live_chat_offer', 'emitted', ''],
      ['yes', 'cart_reminder', 'emitted', ''], ['yes', 'live_chat_offer', 'emitted', ''],
    ].sort());
  });

  it('is kept per customer: a later event without consent does not restore it; a later yes does (the suppressed one did not use up the once-per-24-h policy)', () => {
    const h = journeyHarness();
    h.process([withConsent(event('p', 'page_view', 0, { page: '/', page_type: 'home' }, { customer: 'c1' }), { marketing: false })]);
    h.process(journey('c1', 60)).watermark(at(200));
    h.process([withConsent(event('q', 'page_view', 300, { page: '/', page_type: 'home' }, { customer: 'c1' }), { marketing: true, analytics: null }), ...journey('c1', 301).slice(0, 1)]).watermark(Number.POSITIVE_INFINITY);
    expect(decided(h).filter((row) => row[1] === 'cart_reminder')).toEqual([['c1', 'cart_reminder', 'suppressed', 'no_consent'], ['c1', 'cart_reminder', 'emitted', '']]);
  });

  it('with opt-in required, nothing but a stated yes lets a marketing signal through', () => {
    const h = optIn();
    h.process([...journey('yes', 0, { marketing: true }), ...journey('unsaid', 0)]).watermark(Number.POSITIVE_INFINITY);
    expect(decided(h).filter((row) => row[1] === 'cart_reminder').sort()).toEqual([['unsaid', 'cart_reminder', 'suppressed', 'no_consent'], ['yes', 'cart_reminder', 'emitted', '']]);
  });
});

describe('analytics: false', () => {
  it('keeps the rows without the person: they count in the KPI roll-up, no row names the customer', () => {
    const counted = (consent: Partial<Consent> | undefined) => {
      const h = journeyHarness();
      h.process(journey('c1', 0, consent)).watermark(Number.POSITIVE_INFINITY);
      return h;
    };
    const off = counted({ analytics: false });
    const on = counted(undefined);
    expect(off.outputs.events.map((row) => row.event.customer_id)).toEqual(['', '', '']);
    expect(off.outputs.sessions.map((row) => row.customer_id)).toEqual(['']);
    expect(on.outputs.sessions.map((row) => row.customer_id)).toEqual(['c1']);
    // Same aggregates either way.
    expect(off.outputs.kpi_minute).toEqual(on.outputs.kpi_minute);
    expect(off.outputs.kpi_minute.length).toBeGreaterThan(0);
    // Signals are operational, not analytics: still decided for the customer.
    expect(off.outputs.signals.map((signal) => signal.customer_id)).toEqual(['c1', 'c1']);
  });

  it('applies from the event that says so, in log order: earlier rows keep the customer', () => {
    const h = journeyHarness();
    h.process([event('a', 'page_view', 0, { page: '/', page_type: 'home' }, { customer: 'c1' })]);
    h.process([withConsent(event('b', 'page_view', 1, { page: '/', page_type: 'home' }, { customer: 'c1' }), { analytics: false })]);
    h.process([event('c', 'page_view', 2, { page: '/', page_type: 'home' }, { customer: 'c1' })]).watermark(Number.POSITIVE_INFINITY);
    expect(h.outputs.events.map((row) => [row.event.event_id, row.event.customer_id])).toEqual([['a', 'c1'], ['b', ''], ['c', '']]);
  });
});

describe('analytics: false for purchase attribution (another operator, the journey\'s consent store)', () => {
  const purchase = (id: string, minutes: number, customer = 'c1') => event(id, 'purchase', minutes, { order_id: `ord-${id}`, revenue: 10, currency: 'EUR' }, { customer, channel: 'app' });
  const click = (id: string, minutes: number, customer = 'c1') => event(id, 'email_click', minutes, { campaign_id: 'A', url: 'https://x' }, { customer, channel: 'email' });
  const pipeline = () => {
    const journey = journeyHarness().operator;
    return new Harness(inSequence('pipeline', [journey, new PurchaseAttributionOperator({ consent: journey.analyticsConsent })]));
  };
  const attributed = (h: Harness<ReturnType<typeof inSequence>>) => h.outputs.purchase_attribution.map((row) => [row.purchase_event_id, row.customer_id, row.touchpoints]);

  it('writes a purchase of a customer who said no without them, still counted with its touches; others keep theirs', () => {
    const h = pipeline();
    h.process([withConsent(click('t1', -10), { analytics: false }), purchase('o1', 0), click('t2', -5, 'c2'), purchase('o2', 0, 'c2')]).watermark(Number.POSITIVE_INFINITY);
    expect(attributed(h).sort()).toEqual([['o1', '', 1], ['o2', 'c2', 1]]);
    expect(h.metrics.total('touchstream_rows_deidentified_total')).toBeGreaterThan(0);
  });

  it('follows the purchase\'s own statement first', () => {
    const h = pipeline();
    h.process([withConsent(purchase('o1', 0), { analytics: false }), withConsent(purchase('o2', 1, 'c2'), { analytics: true })]).watermark(Number.POSITIVE_INFINITY);
    expect(attributed(h).sort()).toEqual([['o1', '', 0], ['o2', 'c2', 0]]);
  });

  it('decides at the purchase\'s place in the log, the same for any batching: a later no (or yes) in the same batch does not reach back', () => {
    const log = [
      purchase('o1', 0), // consent unsaid: keeps the customer
      withConsent(event('p1', 'page_view', 1, { page: '/', page_type: 'home' }), { analytics: false }),
      purchase('o2', 2), // after the no: without them
      withConsent(event('p2', 'page_view', 3, { page: '/', page_type: 'home' }), { analytics: true }),
      purchase('o3', 4), // after the yes: the customer again
    ];
    const expected = [['o1', 'c1', 0], ['o2', '', 0], ['o3', 'c1', 0]];
    for (const size of [1, 2, 3, log.length]) {
      const h = pipeline();
      for (let start = 0; start < log.length; start += size) h.process(log.slice(start, start + size));
      h.watermark(Number.POSITIVE_INFINITY);
      expect(attributed(h), `batches of ${size}`).toEqual(expected);
    }
  });

  it('without the journey\'s consent (the operator alone) rows keep the customer', () => {
    const h = new Harness(new PurchaseAttributionOperator());
    h.process([withConsent(purchase('o1', 0), { analytics: false })]).watermark(Number.POSITIVE_INFINITY);
    expect(attributed(h)).toEqual([['o1', 'c1', 0]]);
  });
});

describe('consent on the event', () => {
  it('parses from JSON (absent: null) and refuses a non-boolean', () => {
    const base = { event_id: 'e', type: 'click', occurred_at: '2026-11-02T10:00:00Z', channel: 'web', customer_id: 'c', properties: { element: 'x' } };
    const parsed = parseEvent({ ...base, consent: { marketing: false } }, Date.now());
    expect(parsed.ok && parsed.event.consent).toEqual({ analytics: null, marketing: false });
    const none = parseEvent(base, Date.now());
    expect(none.ok && none.event.consent).toBeNull();
    expect(parseEvent({ ...base, consent: { marketing: 'no' } }, Date.now()).ok).toBe(false);
  });
});

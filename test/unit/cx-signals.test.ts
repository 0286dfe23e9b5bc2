// Pins the next-best-action semantics on hand-built journeys: the default rules fire inside the live session, once per session, in priority order, then the contact policy.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RuleSpec } from '../../pipelines/cx/rules/rule.ts';
import { DAY, HOUR, MIN, WALL_CLOCK, at, event, journeyHarness } from '../support/cx-harness.ts';

const sha = (...parts: string[]) => createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 32);
/** CONTRACT: signal_id from rule, customer and trigger event; session_id from key and start. */
const signalId = (rule: string, customer: string, trigger: string) => sha(rule, customer, trigger);
const sessionId = (customer: string, startedAt: number) => sha(customer, String(startedAt));

const page = (id: string, minutes: number, pageType: string, customer = 'c1') => event(id, 'page_view', minutes, { page: `/${pageType}`, page_type: pageType }, { customer });

function journeys() {
  return [
    // c1: two checkout errors, three help views without buying, an abandoned cart, and an NPS detractor response.
    page('e1', 0, 'home'),
    page('e2', 1, 'help'),
    event('e3', 'add_to_cart', 2, { product_id: 'sku-1', price: 15, quantity: 2 }),
    event('e4', 'checkout_start', 3, {}),
    event('e5', 'checkout_error', 4, { code: 'PAYMENT_DECLINED' }),
    page('e6', 5, 'contact'),
    event('e7', 'checkout_error', 6, { code: 'TIMEOUT' }),
    event('e8', 'checkout_error', 7, { code: 'TIMEOUT' }),
    page('e9', 8, 'help'),
    event('s1', 'survey_response', 20, { survey_id: 'post-journey', metric: 'nps', score: 3, comment: null, language: null }, { channel: 'survey' }),
    // c2: one negative and one positive mention.
    event('m1', 'social_mention', 0, { platform: 'x', text: 'BAD service', language: 'en', rating: null, product_id: null }, { customer: 'c2', channel: 'social' }),
    event('m2', 'social_mention', 1, { platform: 'x', text: 'GOOD service', language: 'en', rating: null, product_id: null }, { customer: 'c2', channel: 'social' }),
    // c3: bought first, then three help views: no proactive help.
    event('p3', 'purchase', 1, { order_id: 'o3', revenue: 10, currency: 'EUR' }, { customer: 'c3' }),
    page('h31', 2, 'help', 'c3'),
    page('h32', 3, 'help', 'c3'),
    page('h33', 4, 'help', 'c3'),
    // c4: the third help view arrives after a purchase that happened later in event time: it still fires.
    page('h41', 1, 'help', 'c4'),
    page('h42', 2, 'contact', 'c4'),
    event('p4', 'purchase', 5, { order_id: 'o4', revenue: 10, currency: 'EUR' }, { customer: 'c4' }),
    page('h43', 3, 'help', 'c4'),
    // c5: a passive NPS and a low CSAT: neither is an NPS detractor.
    event('s51', 'survey_response', 0, { survey_id: 'post-journey', metric: 'nps', score: 7, comment: null, language: null }, { customer: 'c5', channel: 'survey' }),
    event('s52', 'survey_response', 1, { survey_id: 'post-journey', metric: 'csat', score: 2, comment: null, language: null }, { customer: 'c5', channel: 'survey' }),
  ];
}

describe('default rule set (CONTRACT §4)', () => {
  it('fires every default rule with all its columns, decided in the order they fire (log order), and suppresses the fourth for c1', () => {
    const harness = journeyHarness().process(journeys()).watermark(Number.POSITIVE_INFINITY);
    const base = { emitted_at: WALL_CLOCK, status: 'emitted', audience: 'customer' };
    // Every signal carries a context (pinned in cx-signal-context.test.ts).
    expect(harness.outputs.signals.every((signal) => signal.context !== null && signal.context.trigger.id !== '')).toBe(true);
    expect(harness.outputs.signals.map(({ context: _context, ...signal }) => signal)).toEqual([
      {
        ...base, signal_id: signalId('live_chat_offer', 'c1', 'e7'), customer_id: 'c1', session_id: sessionId('c1', at(0)), action: 'live_chat_offer', channel: 'chat', priority: 80,
        rule_id: 'live_chat_offer', reason: 'Hit 2 checkout errors in this session (last: TIMEOUT).', evidence_event_ids: ['e5', 'e7'], triggered_at: at(6), expires_at: at(6) + 30 * MIN,
      },
      {
        ...base, signal_id: signalId('proactive_help', 'c1', 'e9'), customer_id: 'c1', session_id: sessionId('c1', at(0)), action: 'proactive_help', channel: 'chat', priority: 60,
        rule_id: 'proactive_help', reason: 'Opened 3 help pages in this session without buying.', evidence_event_ids: ['e2', 'e6', 'e9'], triggered_at: at(8), expires_at: at(8) + 30 * MIN,
      },
      {
        ...base, signal_id: signalId('support_callback', 'c1', 's1'), customer_id: 'c1', session_id: null, action: 'support_callback', channel: 'call_center', priority: 100,
        rule_id: 'support_callback', reason: 'Scored NPS 3 in survey post-journey: a detractor worth a call back.', evidence_event_ids: ['s1'], triggered_at: at(20), expires_at: at(20) + DAY,
      },
      // The detractor fan-out's internal actions: outside the contact policy (c1 already has three signals today). No
      // rnd_ticket: the response has no comment naming a product or a fault.
      {
        ...base, audience: 'internal', signal_id: signalId('support_callback/support_case', 'c1', 's1'), customer_id: 'c1', session_id: null, action: 'support_case', channel: 'call_center',
        priority: 90, rule_id: 'support_callback', reason: 'NPS detractor (score 3 in survey post-journey): open a support case for the call back.', evidence_event_ids: ['s1'],
        triggered_at: at(20), expires_at: at(20) + 7 * DAY,
      },
      {
        ...base, audience: 'internal', signal_id: signalId('support_callback/crm_update', 'c1', 's1'), customer_id: 'c1', session_id: null, action: 'crm_update', channel: 'survey',
        priority: 20, rule_id: 'support_callback', reason: 'Latest NPS 3 for the customer record.', evidence_event_ids: ['s1'], triggered_at: at(20), expires_at: at(20) + 7 * DAY,
      },
      {
        ...base, signal_id: signalId('social_care', 'c2', 'm1'), customer_id: 'c2', session_id: null, action: 'social_care', channel: 'social', priority: 70,
        rule_id: 'social_care', reason: 'Posted a negative mention on x (sentiment -0.80).', evidence_event_ids: ['m1'], triggered_at: at(0), expires_at: at(0) + DAY,
      },
      {
        ...base, signal_id: signalId('proactive_help', 'c4', 'h43'), customer_id: 'c4', session_id: sessionId('c4', at(1)), action: 'proactive_help', channel: 'chat', priority: 60,
        rule_id: 'proactive_help', reason: 'Opened 3 help pages in this session without buying.', evidence_event_ids: ['h41', 'h42', 'h43'], triggered_at: at(3), expires_at: at(3) + 30 * MIN,
      },
      {
        // The fourth signal for c1 within 24 h: held back by the contact policy, recorded, not emitted.
        ...base, status: 'suppressed', signal_id: signalId('cart_reminder', 'c1', sessionId('c1', at(0))), customer_id: 'c1', session_id: sessionId('c1', at(0)), action: 'cart_reminder',
        channel: 'email', priority: 40, rule_id: 'cart_reminder', reason: 'Left 1 item worth 30.00 in the cart without buying.', evidence_event_ids: ['e3'],
        triggered_at: at(38), expires_at: at(38) + 48 * HOUR,
      },
    ]);
  });

  it('decides an in-session signal the moment it fires: no wait for the watermark, long before the session closes', () => {
    const harness = journeyHarness().process(journeys().slice(0, 7)); // c1 up to the second checkout error (e7 at 10:06)
    expect(harness.outputs.signals.map((signal) => [signal.rule_id, signal.triggered_at, signal.status])).toEqual([['live_chat_offer', at(6), 'emitted']]);
    expect(harness.outputs.sessions).toEqual([]); // the session is still live
  });

  it('fires a rule again in a new session, and a session-less rule once per triggering event', () => {
    const harness = journeyHarness().process([
      event('a1', 'checkout_error', 0, { code: 'X' }),
      event('a2', 'checkout_error', 1, { code: 'X' }),
      event('a3', 'checkout_error', 2, { code: 'X' }),
      event('b1', 'checkout_error', 120, { code: 'Y' }), // two hours later: a new session
      event('b2', 'checkout_error', 121, { code: 'Y' }),
    ]);
    harness.watermark(Number.POSITIVE_INFINITY);
    expect(harness.outputs.signals.map((signal) => [signal.rule_id, signal.evidence_event_ids, signal.status])).toEqual([
      ['live_chat_offer', ['a1', 'a2'], 'emitted'],
      ['live_chat_offer', ['b1', 'b2'], 'suppressed'], // same action for the same customer within 24 h
    ]);
  });

  it('orders firings on one event by priority and applies the contact policy per customer in triggered_at order', () => {
    const rules: RuleSpec[] = [
      { id: 'low', channel: 'email', priority: 10, expires_after: '1h', trigger: { on: 'event', types: ['checkout_error'] }, reason: 'low' },
      { id: 'high', channel: 'chat', priority: 50, expires_after: '1h', trigger: { on: 'event', types: ['checkout_error'] }, reason: 'high' },
      { id: 'survey', channel: 'email', priority: 5, expires_after: '1h', trigger: { on: 'event', types: ['survey_response'] }, reason: 'survey {event.properties.score}' },
    ];
    const survey = (id: string, minutes: number) => event(id, 'survey_response', minutes, { survey_id: 's', metric: 'csat', score: 5, comment: null, language: null }, { channel: 'survey' });
    const harness = journeyHarness({ rules }).process([
      survey('r1', -10),
      event('x1', 'checkout_error', 0, { code: 'X' }),
      survey('r2', 5), // second `survey` action within 24 h: suppressed; also the 4th signal
      survey('r3', 25 * 60), // 25 h after r1: allowed again
    ]);
    harness.watermark(Number.POSITIVE_INFINITY);
    expect(harness.outputs.signals.map((signal) => [signal.rule_id, signal.triggered_at, signal.status, signal.reason])).toEqual([
      ['survey', at(-10), 'emitted', 'survey 5'],
      ['high', at(0), 'emitted', 'high'],
      ['low', at(0), 'emitted', 'low'],
      ['survey', at(5), 'suppressed', 'survey 5'],
      ['survey', at(25 * 60), 'emitted', 'survey 5'],
    ]);
    expect(harness.metrics.total('touchstream_signals_total')).toBe(5);
  });

  it('reads the customer journey and experience: facts over other sessions, contacts and scores of the last 7 days', () => {
    const rules: RuleSpec[] = [
      {
        id: 'win_back', channel: 'email', priority: 30, expires_after: '7d', trigger: { on: 'session_closed' }, evidence: 'session.cart_adds',
        when: [
          { fact: 'session.cart_abandoned', op: 'eq', value: true },
          { fact: 'journey.abandoned_carts_7d', op: 'gte', value: 1 },
          { fact: 'experience.last_nps', op: 'lte', value: 6 },
        ],
        reason: '{journey.abandoned_carts_7d|count:earlier abandoned cart}, last NPS {experience.last_nps}, {journey.contacts_7d|count:contact}.',
      },
    ];
    const cart = (id: string, minutes: number) => event(id, 'add_to_cart', minutes, { product_id: 'p', price: 5, quantity: 1 });
    const harness = journeyHarness({ rules }).process([
      cart('k1', 0), // session 1: abandoned, no NPS yet → no signal
      event('n1', 'survey_response', 60, { survey_id: 's', metric: 'nps', score: 4, comment: null, language: null }, { channel: 'survey' }),
      event('t1', 'contact', 70, { kind: 'call', reason: null }, { channel: 'call_center' }),
      cart('k2', 24 * 60), // session 2, a day later: one earlier abandoned cart, detractor NPS → fires
      cart('k3', 9 * 24 * 60), // session 3, 8 days after session 2: the history is out of the 7 days → no signal
      event('n2', 'survey_response', 9 * 24 * 60 - 10, { survey_id: 's', metric: 'nps', score: 2, comment: null, language: null }, { channel: 'survey' }),
    ]);
    harness.watermark(Number.POSITIVE_INFINITY);
    expect(harness.outputs.signals.map((signal) => [signal.rule_id, signal.evidence_event_ids, signal.reason, signal.triggered_at])).toEqual([
      ['win_back', ['k2'], '1 earlier abandoned cart, last NPS 4, 1 contact.', at(24 * 60 + 30)],
    ]);
  });

  it('fires nothing for a late event', () => {
    const harness = journeyHarness();
    harness.process([event('a1', 'checkout_error', 0, { code: 'X' })]);
    harness.watermark(at(40));
    harness.process([event('a2', 'checkout_error', 1, { code: 'X' })], at(40));
    harness.watermark(Number.POSITIVE_INFINITY);
    expect(harness.outputs.signals).toEqual([]);
    expect(harness.outputs.events.map((row) => [row.event.event_id, row.late])).toEqual([['a1', false], ['a2', true]]);
  });

  it('closes a session on its own partition\'s watermark: a quiet partition holds back neither its end nor its cart reminder', () => {
    const harness = journeyHarness();
    const cart = (id: string, minutes: number, customer: string) => event(id, 'add_to_cart', minutes, { product_id: 'sku', price: 30, quantity: 1 }, { customer });
    harness.process([cart('a1', 0, 'ca')], Number.NEGATIVE_INFINITY, 0); // partition 0
    harness.process([cart('b1', 0, 'cb')], Number.NEGATIVE_INFINITY, 1); // partition 1, quiet from now on
    // Partition 0 moves on to 11:00 (its watermark before the record: 10:40 > 10:00 + 30 min gap); partition 1 does not.
    harness.process([page('a2', 60, 'home', 'cz')], at(40), 0);
    expect(harness.outputs.sessions.map((session) => session.customer_id)).toEqual(['ca']);
    expect(harness.outputs.signals.map((signal) => [signal.rule_id, signal.customer_id, signal.status])).toEqual([['cart_reminder', 'ca', 'emitted']]);
    // The engine tells partition 1's time only when it moves: then its session closes too.
    harness.operator.onPartitionWatermark!(1, at(40), { emit: (output, value) => void (harness.outputs[output] as unknown[]).push(value) }, harness.context);
    expect(harness.outputs.sessions.map((session) => session.customer_id)).toEqual(['ca', 'cb']);
  });
});

// Fan-out rules (CONTRACT §4, §7): one trigger, several actions, customer-facing ones under the contact policy and internal ones outside it; every signal's typed context; rule files with fan-out validated with field paths.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { productFaultTerms } from '../../pipelines/cx/rules/product-faults.ts';
import type { RuleSpec } from '../../pipelines/cx/rules/rule.ts';
import { compileRules, loadRulesFile } from '../../pipelines/cx/rules/rule-set.ts';
import { avroType, loadSchema } from '../../schemas/avro.ts';
import type { Signal } from '../../schemas/outputs.ts';
import { SESSION_KPI_COLUMNS } from '../../schemas/session-kpi-columns.ts';
import { DAY, at, event, journeyHarness } from '../support/cx-harness.ts';

const sha = (...parts: string[]) => createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 32);
const nps = (id: string, minutes: number, score: number, comment: string | null, customer = 'c1') =>
  event(id, 'survey_response', minutes, { survey_id: 'post-journey', metric: 'nps', score, comment, language: comment ? 'de' : null }, { customer, channel: 'survey' });
const summary = (signals: readonly Signal[]) => signals.map((signal) => [signal.action, signal.audience, signal.status]);

describe('the default detractor fan-out', () => {
  it('fans a detractor with a product-fault comment out to the call back, a support case, an R&D ticket and a CRM update, each with the context', () => {
    const harness = journeyHarness().process([nps('r1', 0, 2, 'Die Jacke ist nach zwei Tagen kaputt gegangen, der Reißverschluss funktioniert nicht.')]);
    const signals = harness.outputs.signals;
    expect(summary(signals)).toEqual([
      ['support_callback', 'customer', 'emitted'],
      ['support_case', 'internal', 'emitted'],
      ['rnd_ticket', 'internal', 'emitted'],
      ['crm_update', 'internal', 'emitted'],
    ]);
    // Deterministic ids: the rule's own action keeps the single-action formula, the others add the action.
    expect(signals.map((signal) => signal.signal_id)).toEqual([
      sha('support_callback', 'c1', 'r1'), sha('support_callback/support_case', 'c1', 'r1'), sha('support_callback/rnd_ticket', 'c1', 'r1'), sha('support_callback/crm_update', 'c1', 'r1'),
    ]);
    expect(new Set(signals.map((signal) => signal.rule_id))).toEqual(new Set(['support_callback']));
    // One context, shared by the four.
    for (const signal of signals) expect(signal.context).toEqual(signals[0]!.context);
    expect(signals[0]!.context).toEqual({
      trigger: { id: 'r1', type: 'survey_response', occurred_at: at(0), channel: 'survey' },
      feedback: {
        survey_id: 'post-journey', metric: 'nps', score: 2, comment: 'Die Jacke ist nach zwei Tagen kaputt gegangen, der Reißverschluss funktioniert nicht.', language: 'de',
        sentiment_label: 'neutral', sentiment_score: 0, product_fault_terms: ['kaputt', 'funktioniert nicht'],
      },
      mention: null,
      cart: null,
      error_codes: [],
      session: null,
      // The latest NPS is this response: what crm_update writes on the customer record.
      experience: { last_nps: 2, last_nps_at: at(0), last_csat: null, last_ces: null },
    });
    expect(signals.find((signal) => signal.action === 'rnd_ticket')).toMatchObject({ channel: 'survey', priority: 50, expires_at: at(0) + 30 * DAY });
    expect(signals.find((signal) => signal.action === 'crm_update')!.reason).toBe('Latest NPS 2 for the customer record.');
  });

  it('opens no R&D ticket when the comment names neither a product nor a fault, or there is none; a passive fires nothing', () => {
    const harness = journeyHarness().process([nps('r1', 0, 4, 'Too expensive', 'c1'), nps('r2', 0, 5, null, 'c2'), nps('r3', 0, 8, 'The app crashed', 'c3')]);
    expect(harness.outputs.signals.map((signal) => [signal.customer_id, signal.action])).toEqual([
      ['c1', 'support_callback'], ['c1', 'support_case'], ['c1', 'crm_update'],
      ['c2', 'support_callback'], ['c2', 'support_case'], ['c2', 'crm_update'],
    ]);
  });

  it('applies the contact policy to the customer-facing action only: internal ones are always emitted and never count', () => {
    const harness = journeyHarness().process([
      nps('r1', 0, 3, 'Checkout error twice'), // 1st customer-facing signal (support_callback) + 3 internal
      event('e1', 'checkout_error', 10, { code: 'DECLINED' }),
      event('e2', 'checkout_error', 11, { code: 'TIMEOUT' }), // 2nd: live_chat_offer
      nps('r2', 20, 1, 'Still broken'), // support_callback again within 24 h: suppressed; its internal actions emitted
      ...[30, 31, 32].map((minutes, index) => event(`h${index}`, 'page_view', minutes, { page: '/help', page_type: 'help' })), // 3rd: proactive_help, emitted
    ]);
    expect(harness.outputs.signals.map((signal) => [signal.action, signal.audience, signal.status, signal.triggered_at])).toEqual([
      ['support_callback', 'customer', 'emitted', at(0)],
      ['support_case', 'internal', 'emitted', at(0)],
      ['rnd_ticket', 'internal', 'emitted', at(0)],
      ['crm_update', 'internal', 'emitted', at(0)],
      ['live_chat_offer', 'customer', 'emitted', at(11)],
      ['support_callback', 'customer', 'suppressed', at(20)],
      ['support_case', 'internal', 'emitted', at(20)],
      ['rnd_ticket', 'internal', 'emitted', at(20)],
      ['crm_update', 'internal', 'emitted', at(20)],
      // Had the internal actions counted, this would be the 10th signal within 24 h: suppressed.
      ['proactive_help', 'customer', 'emitted', at(32)],
    ]);
  });
});

describe('signal context', () => {
  it('carries the session KPIs so far, the cart items and the error codes of an in-session trigger', () => {
    const harness = journeyHarness().process([
      event('p1', 'page_view', 0, { page: '/p/1', page_type: 'product' }),
      event('a1', 'add_to_cart', 1, { product_id: 'sku-1', price: 15, quantity: 2 }),
      event('a2', 'add_to_cart', 2, { product_id: 'sku-2', price: 9.5, quantity: 1 }),
      event('x1', 'checkout_error', 4, { code: 'PAYMENT_DECLINED' }),
      event('x2', 'checkout_error', 3, { code: 'TIMEOUT' }), // out of order: listed by event time
    ]);
    const [signal] = harness.outputs.signals;
    expect(signal!.action).toBe('live_chat_offer');
    const { context } = signal!;
    expect(context!.trigger).toEqual({ id: 'x2', type: 'checkout_error', occurred_at: at(3), channel: 'web' });
    expect(context!.cart).toEqual({ value: 39.5, items: [{ product_id: 'sku-1', price: 15, quantity: 2 }, { product_id: 'sku-2', price: 9.5, quantity: 1 }] });
    expect(context!.error_codes).toEqual(['TIMEOUT', 'PAYMENT_DECLINED']);
    expect(context!.session).toMatchObject({
      session_id: signal!.session_id, started_at: at(0), duration_ms: 4 * 60_000, channel: 'web', entry_page: '/p/1', exit_page: '/p/1',
      events: 5, page_views: 1, cart_adds: 2, cart_value: 39.5, checkout_errors: 2, converted: false, cart_abandoned: true,
    });
    expect(Object.keys(context!.session!)).toEqual(expect.arrayContaining(SESSION_KPI_COLUMNS.map((entry) => entry.column)));
    expect(context!.feedback).toBeNull();
  });

  it('gives a session_closed signal the closed session as trigger, with its cart; a social mention its text and terms', () => {
    const harness = journeyHarness().process([
      event('a1', 'add_to_cart', 0, { product_id: 'sku-9', price: 25, quantity: 1 }),
      event('m1', 'social_mention', 5, { platform: 'x', text: 'BAD: the product arrived broken', language: 'en', rating: 1, product_id: 'sku-9' }, { customer: 'c2', channel: 'social' }),
    ]);
    harness.watermark(Number.POSITIVE_INFINITY);
    const reminder = harness.outputs.signals.find((signal) => signal.action === 'cart_reminder')!;
    expect(reminder.context!.trigger).toEqual({ id: reminder.session_id, type: 'session_closed', occurred_at: at(0), channel: 'web' });
    expect(reminder.context!.cart).toEqual({ value: 25, items: [{ product_id: 'sku-9', price: 25, quantity: 1 }] });
    const care = harness.outputs.signals.find((signal) => signal.action === 'social_care')!;
    expect(care.context!.mention).toEqual({
      platform: 'x', text: 'BAD: the product arrived broken', rating: 1, product_id: 'sku-9', language: 'en', sentiment_label: 'negative', sentiment_score: -0.8,
      product_fault_terms: ['product', 'broken'],
    });
    expect(care.context!.session).toBeNull();
  });

  it('round-trips through the Avro signal schema unchanged', () => {
    const harness = journeyHarness().process([
      event('a1', 'add_to_cart', 0, { product_id: 'sku-1', price: 15, quantity: 2 }),
      event('x1', 'checkout_error', 1, { code: 'E1' }),
      event('x2', 'checkout_error', 2, { code: 'E2' }),
      nps('r1', 3, 1, 'Fehler beim Bezahlen'),
    ]);
    const type = avroType(loadSchema('signal'));
    expect(harness.outputs.signals.length).toBeGreaterThanOrEqual(5);
    for (const signal of harness.outputs.signals) expect(JSON.parse(JSON.stringify(type.fromBuffer(type.toBuffer(signal))))).toEqual(JSON.parse(JSON.stringify(signal)));
  });
});

describe('product and fault terms (German and English)', () => {
  it.each([
    ['Checkout error twice', ['checkout', 'error']],
    ['The app keeps crashing and the payment does not work', ['app', 'crashing', 'payment', 'does not work']],
    ['Der Artikel ist defekt', ['artikel', 'defekt']],
    ['Die Seite geht nicht, Fehlermeldung bei der Kasse', ['geht nicht', 'fehlermeldung', 'kasse']],
    ['Bestellung sku-4711 kam beschädigt an', ['sku-4711', 'beschädigt']],
    ['Too expensive', []],
    ['Keine Hilfe bekommen', []],
    ['', []],
  ])('%j names %j', (text, terms) => {
    expect(productFaultTerms(text).terms).toEqual(terms);
  });
});

describe('fan-out rules as data', () => {
  const dir = mkdtempSync(join(tmpdir(), 'touchstream-fanout-'));
  const refusal = (rules: unknown[]) => {
    try {
      compileRules(rules, 'test rules');
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error('the rules were accepted');
  };
  const base = { id: 'fan', channel: 'chat', priority: 10, expires_after: '1h', trigger: { on: 'event', types: ['checkout_error'] }, reason: 'x' };

  it('refuses a wrong fan-out naming the rule and the field path', () => {
    const cases: Array<[unknown, string]> = [
      [{ ...base, action: 'a', actions: [{ action: 'b' }] }, 'rule "fan" (rules[0]): action: a rule has either action (one) or actions (a fan-out), not both'],
      [{ ...base, actions: [{ action: 'b' }, { action: 'b', audience: 'internal' }] }, 'rule "fan" (rules[0]): actions.1.action: "b" is listed twice in this rule'],
      [{ ...base, actions: [{ action: 'b', audience: 'staff' }] }, 'rule "fan" (rules[0]): actions.0.audience:'],
      [{ ...base, actions: [{ action: 'b', when: [{ fact: 'session.nothing', op: 'eq', value: 1 }] }] }, 'rule "fan" (rules[0]): actions.0.when.0.fact: unknown fact "session.nothing"'],
      [{ ...base, actions: [{ action: 'b', when: [{ fact: 'session.clicks', op: 'gt', value: 'many' }] }] }, 'rule "fan" (rules[0]): actions.0.when.0.value: gt needs a number'],
      [{ ...base, actions: [{ action: 'b', reason: '{event.nope}' }] }, 'rule "fan" (rules[0]): actions.0.reason: unknown fact "event.nope"'],
      [{ ...base, actions: [{ action: 'b', chanel: 'chat' }] }, 'rule "fan" (rules[0]): actions.0: Unrecognized key: "chanel"'],
      [{ ...base, actions: [] }, 'rule "fan" (rules[0]): actions:'],
      [{ ...base, audience: 'internal', actions: [{ action: 'b' }] }, 'rule "fan" (rules[0]): audience: with actions, each action says its audience'],
      [{ ...base, actions: [{ action: 'B c' }] }, 'rule "fan" (rules[0]): actions.0.action: must be lower_snake_case'],
    ];
    for (const [rule, expected] of cases) expect(refusal([rule])).toContain(expected);
  });

  it('keeps old single-action rules working: an internal single action is outside the policy too', () => {
    const rules: RuleSpec[] = [
      { id: 'ticket', action: 'rnd_ticket', audience: 'internal', channel: 'survey', priority: 5, expires_after: '1d', trigger: { on: 'event', types: ['checkout_error'] }, reason: 'r' },
      { id: 'offer', channel: 'chat', priority: 10, expires_after: '1h', trigger: { on: 'event', types: ['checkout_error'] }, reason: 'o' },
    ];
    const harness = journeyHarness({ rules }).process([0, 120, 240, 360, 480].map((minutes, index) => event(`x${index}`, 'checkout_error', minutes, { code: 'E' })));
    expect(harness.outputs.signals.filter((signal) => signal.action === 'rnd_ticket').map((signal) => [signal.signal_id, signal.status])).toEqual(
      [0, 1, 2, 3, 4].map((index) => [sha('ticket', 'c1', `x${index}`), 'emitted']),
    );
    expect(harness.outputs.signals.filter((signal) => signal.action === 'offer').map((signal) => signal.status)).toEqual(['emitted', 'suppressed', 'suppressed', 'suppressed', 'suppressed']);
  });

  it('loads the fan-out example of docs/rules.md as written, and it fires', () => {
    const docs = readFileSync(join(import.meta.dirname, '../../docs/rules.md'), 'utf8');
    const yaml = [...docs.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!).find((block) => block.includes('actions:'))!;
    const path = join(dir, 'fanout.yaml');
    writeFileSync(path, yaml);
    const rules = loadRulesFile(path);
    const harness = journeyHarness({ rules }).process([
      event('a1', 'add_to_cart', 0, { product_id: 'sku-1', price: 300, quantity: 1 }),
      event('x1', 'checkout_error', 1, { code: 'DECLINED' }),
    ]);
    expect(summary(harness.outputs.signals)).toEqual([
      ['vip_callback', 'customer', 'emitted'],
      ['support_case', 'internal', 'emitted'],
      ['crm_update', 'internal', 'emitted'],
    ]);
  });
});

// Rules as data: a rules file is validated at start and refused with the rule and the field; the docs' example loads and fires as written.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import { ruleSetOf } from '../../app/runtime.ts';
import { loadRulesFile } from '../../pipelines/cx/rules/rule-set.ts';
import { at, event, journeyHarness } from '../support/cx-harness.ts';

const dir = mkdtempSync(join(tmpdir(), 'touchstream-rules-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const refusal = (path: string) => {
  try {
    loadRulesFile(path);
  } catch (error) {
    return { code: (error as { code: string }).code, message: (error as Error).message };
  }
  throw new Error('the file was accepted');
};

const valid = `
  - id: ok_rule
    channel: chat
    priority: 10
    expires_after: 30m
    trigger: { on: event, types: [checkout_error] }
    reason: fine`;

describe('rules file', () => {
  it('loads the example of docs/rules.md as written, and the rule fires', () => {
    const docs = readFileSync(join(import.meta.dirname, '../../docs/rules.md'), 'utf8');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(docs)![1]!;
    const rules = loadRulesFile(file('docs-example.yaml', yaml));
    expect(rules.rules.map((rule) => [rule.id, ...rule.actions.map((action) => [action.action, action.audience, action.channel, action.priority, action.expiresAfterMs])])).toEqual([
      ['vip_rescue', ['vip_callback', 'customer', 'call_center', 90, 2 * 3600_000]],
    ]);

    const cart = (id: string, minutes: number, price: number) => event(id, 'add_to_cart', minutes, { product_id: 'p', price, quantity: 1 }, { customer: 'vip' });
    const error = (id: string, minutes: number) => event(id, 'checkout_error', minutes, { code: 'DECLINED' }, { customer: 'vip' });
    const harness = journeyHarness({ rules }).process([
      cart('a1', -2 * 24 * 60, 300),
      error('a2', -2 * 24 * 60 + 1), // no converted session before: nothing
      event('a3', 'purchase', -2 * 24 * 60 + 2, { order_id: 'o', revenue: 300, currency: 'EUR' }, { customer: 'vip' }),
      cart('b1', 0, 250),
      error('b2', 1), // a returning buyer with 250 in the cart: fires
      error('b3', 2), // once per session
    ]);
    harness.watermark(Number.POSITIVE_INFINITY);
    expect(harness.outputs.signals.map((signal) => [signal.rule_id, signal.action, signal.channel, signal.priority, signal.reason, signal.evidence_event_ids, signal.triggered_at, signal.expires_at, signal.status])).toEqual([
      ['vip_rescue', 'vip_callback', 'call_center', 90, 'A returning buyer hit a checkout error (DECLINED) with 250.00 in the cart.', ['b2'], at(1), at(121), 'emitted'],
    ]);
  });

  it('refuses a file naming the rule and the field', () => {
    const cases: Array<[string, string]> = [
      [`rules:\n  - id: bad_fact\n    channel: chat\n    priority: 1\n    expires_after: 1h\n    trigger: { on: event, types: [checkout_error] }\n    when: [{ fact: session.checkout_error, op: gte, value: 2 }]\n    reason: x`,
        'rule "bad_fact" (rules[0]): when.0.fact: unknown fact "session.checkout_error"'],
      [`rules:${valid}\n  - id: bad_channel\n    channel: pigeon\n    priority: 1\n    expires_after: 1h\n    trigger: { on: session_closed }\n    evidence: session.cart_adds\n    reason: x`,
        'rule "bad_channel" (rules[1]): channel:'],
      [`rules:\n  - id: no_priority\n    channel: chat\n    expires_after: 1h\n    trigger: { on: event, types: [click] }\n    reason: x`, 'rule "no_priority" (rules[0]): priority:'],
      [`rules:\n  - id: text_bound\n    channel: chat\n    priority: 1\n    expires_after: 1h\n    trigger: { on: event, types: [click] }\n    when: [{ fact: session.clicks, op: gt, value: "three" }]\n    reason: x`,
        'rule "text_bound" (rules[0]): when.0.value: gt needs a number'],
      [`rules:\n  - id: wrong_scope\n    channel: email\n    priority: 1\n    expires_after: 1h\n    trigger: { on: session_closed }\n    evidence: session.cart_adds\n    when: [{ fact: event.properties.code, op: eq, value: X }]\n    reason: x`,
        'rule "wrong_scope" (rules[0]): when.0.fact: fact "event.properties.code" is not available to session_closed rules'],
      [`rules:\n  - id: bad_expiry\n    channel: chat\n    priority: 1\n    expires_after: soon\n    trigger: { on: event, types: [click] }\n    reason: x`, 'rule "bad_expiry" (rules[0]): expires_after:'],
      [`rules:\n  - id: bad_reason\n    channel: chat\n    priority: 1\n    expires_after: 1h\n    trigger: { on: event, types: [click] }\n    reason: "{session.nothing}"`, 'rule "bad_reason" (rules[0]): reason: unknown fact "session.nothing"'],
      [`rules:\n  - id: typo_key\n    chanel: chat\n    channel: chat\n    priority: 1\n    expires_after: 1h\n    trigger: { on: event, types: [click] }\n    reason: x`, 'rule "typo_key" (rules[0]): (rule): Unrecognized key: "chanel"'],
      [`rules:\n  - id: bad_type\n    channel: chat\n    priority: 1\n    expires_after: 1h\n    trigger: { on: event, types: [teleport] }\n    reason: x`, 'rule "bad_type" (rules[0]): trigger.types.0:'],
      [`rules:${valid}${valid}`, 'rule "ok_rule" (rules[1]): id: is used by an earlier rule'],
      ['rules: [ {', 'cannot be read as YAML or JSON'],
      ['{"rule": []}', 'rules: must be a list of rules'],
    ];
    for (const [index, [text, expected]] of cases.entries()) {
      const path = file(`bad-${index}.yaml`, text);
      const { code, message } = refusal(path);
      expect(code).toBe('invalid_rules');
      expect(message).toContain(`rules file ${path}`);
      expect(message).toContain(expected);
    }
  });

  it('is read from the configuration at start (JSON works too), and a wrong one refuses to start', () => {
    const json = file('rules.json', JSON.stringify({ rules: [{ id: 'json_rule', channel: 'email', priority: 5, expires_after: 60_000, trigger: { on: 'session_closed' }, evidence: 'session.cart_adds', reason: 'bye' }] }));
    expect(ruleSetOf(loadConfig({ rules: json }, {})).sessionClosed.map((rule) => rule.id)).toEqual(['json_rule']);
    expect(ruleSetOf(loadConfig({}, {})).rules.map((rule) => rule.id).sort()).toEqual(['cart_reminder', 'live_chat_offer', 'proactive_help', 'social_care', 'support_callback']);
    const wrong = file('wrong.json', JSON.stringify({ rules: [{ id: 'x', channel: 'email' }] }));
    expect(() => ruleSetOf(loadConfig({}, { TOUCHSTREAM_RULES: wrong }))).toThrow(/rule "x" \(rules\[0\]\): priority:/);
  });
});

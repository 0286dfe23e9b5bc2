// Next-best-action rules as data: the rule spec (zod-validated, the same for files and the TS API), its compiled form, and how a firing becomes a signal.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Channel, EventType } from '../../../schemas/events.ts';
import { CHANNELS, EVENT_TYPES } from '../../../schemas/events.ts';
import type { Signal, SignalAudience, SignalContext } from '../../../schemas/outputs.ts';
import type { FactName, Facts, RuleScope } from './facts.ts';
import { factSpec } from './facts.ts';

export const OPERATORS = ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'in', 'not_in', 'exists', 'missing'] as const;
export type ConditionOperator = (typeof OPERATORS)[number];

/** Which event ids a signal carries as evidence. */
export const EVIDENCE = ['trigger', 'session.cart_adds', 'session.checkout_errors', 'session.help_views'] as const;
export type EvidenceSource = (typeof EVIDENCE)[number];

const DURATION = /^(\d+)\s*(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const conditionSchema = z
  .object({
    fact: z.string().min(1),
    op: z.enum(OPERATORS),
    value: z.union([scalar, z.array(z.union([z.string(), z.number(), z.boolean()]))]).optional(),
  })
  .strict();

const durationSchema = z.union([
  z.number().int().positive(),
  z.string().regex(DURATION, 'must be a duration such as 30m, 48h or 7d').transform((text) => {
    const [, amount, unit] = DURATION.exec(text)!;
    return Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  }),
]);

/** Who an action addresses: `customer` (the contact policy decides it) or `internal` (outside the policy). */
export const AUDIENCES = ['customer', 'internal'] as const;

const ACTION_NAME = /^[a-z][a-z0-9_]{0,63}$/;

/** One action of a fan-out rule; what it leaves out comes from the rule. */
const actionSpecSchema = z
  .object({
    action: z.string().regex(ACTION_NAME, 'must be lower_snake_case, 1–64 characters'),
    audience: z.enum(AUDIENCES).default('customer'),
    channel: z.enum(CHANNELS).optional(),
    priority: z.number().int().min(0).max(1000).optional(),
    expires_after: durationSchema.optional(),
    /** Conditions of this action on top of the rule's (all must hold). */
    when: z.array(conditionSchema).default([]),
    reason: z.string().min(1).max(500).optional(),
  })
  .strict();

const PLACEHOLDER = /\{([a-z0-9_.]+)(?:\|([a-z]+)(?::([a-z ]+))?)?\}/g;
const FORMATS = new Set(['money', 'decimal', 'count']);

export const ruleSpecSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be lower_snake_case, 1–64 characters'),
    /** The `action` of the signal; the rule id when absent. A rule with `actions` fans out instead. */
    action: z.string().min(1).max(64).optional(),
    /** Fan-out: one signal per action whose conditions hold (each customer-facing or internal). */
    actions: z.array(actionSpecSchema).min(1).optional(),
    /** Who the single `action` addresses (default customer); fan-out actions say it each. */
    audience: z.enum(AUDIENCES).optional(),
    channel: z.enum(CHANNELS),
    priority: z.number().int().min(0).max(1000),
    /** How long the signal stays actionable after `triggered_at`: milliseconds or "30m", "48h", "7d". */
    expires_after: durationSchema,
    trigger: z.discriminatedUnion('on', [
      z.object({ on: z.literal('event'), types: z.array(z.enum(EVENT_TYPES as [EventType, ...EventType[]])).min(1) }).strict(),
      z.object({ on: z.literal('session_closed') }).strict(),
    ]),
    /** All must hold. */
    when: z.array(conditionSchema).default([]),
    /** A sentence for people; `{fact}` placeholders, `{fact|money}` or `{fact|decimal}` (2 decimals), `{fact|count:item}` ("1 item", "3 items"). */
    reason: z.string().min(1).max(500),
    evidence: z.enum(EVIDENCE).default('trigger'),
    enabled: z.boolean().default(true),
  })
  .strict()
  .superRefine((rule, issue) => {
    const scope: RuleScope = rule.trigger.on;
    const checkFact = (name: string, path: (string | number)[]) => {
      const spec = factSpec(name);
      if (!spec) issue.addIssue({ code: 'custom', path, message: `unknown fact "${name}" (see docs/rules.md for the facts)` });
      else if (!spec.scopes.includes(scope)) issue.addIssue({ code: 'custom', path, message: `fact "${name}" is not available to ${scope} rules` });
      return spec;
    };
    const checkConditions = (conditions: readonly z.output<typeof conditionSchema>[], at: (string | number)[]) =>
      conditions.forEach((condition, index) => {
        const spec = checkFact(condition.fact, [...at, index, 'fact']);
        const value = condition.value;
        const valuePath = [...at, index, 'value'];
        if (condition.op === 'exists' || condition.op === 'missing') {
          if (value !== undefined) issue.addIssue({ code: 'custom', path: valuePath, message: `${condition.op} takes no value` });
          return;
        }
        if (value === undefined) return void issue.addIssue({ code: 'custom', path: valuePath, message: `${condition.op} needs a value` });
        const isList = Array.isArray(value);
        if ((condition.op === 'in' || condition.op === 'not_in') !== isList) {
          return void issue.addIssue({ code: 'custom', path: valuePath, message: isList ? `${condition.op} compares with one value, not a list` : `${condition.op} needs a list` });
        }
        const kind = spec?.kind;
        if (['lt', 'lte', 'gt', 'gte'].includes(condition.op) && typeof value !== 'number') {
          return void issue.addIssue({ code: 'custom', path: valuePath, message: `${condition.op} needs a number` });
        }
        if (kind && kind !== 'any') {
          for (const item of isList ? value : [value]) {
            if (item !== null && typeof item !== kind) {
              issue.addIssue({ code: 'custom', path: valuePath, message: `fact "${condition.fact}" is a ${kind}, not ${JSON.stringify(item)}` });
              break;
            }
          }
        }
      });
    const checkReason = (reason: string, path: (string | number)[]) => {
      for (const match of reason.matchAll(PLACEHOLDER)) {
        checkFact(match[1]!, path);
        if (match[2] && !FORMATS.has(match[2])) issue.addIssue({ code: 'custom', path, message: `unknown format "|${match[2]}" (money, decimal, count:<noun>)` });
        if (match[2] === 'count' && !match[3]) issue.addIssue({ code: 'custom', path, message: '|count needs a noun, e.g. {session.cart_adds|count:item}' });
      }
    };
    checkConditions(rule.when, ['when']);
    checkReason(rule.reason, ['reason']);
    if (rule.actions) {
      if (rule.action !== undefined) issue.addIssue({ code: 'custom', path: ['action'], message: 'a rule has either action (one) or actions (a fan-out), not both' });
      if (rule.audience !== undefined) issue.addIssue({ code: 'custom', path: ['audience'], message: 'with actions, each action says its audience' });
      const names = new Set<string>();
      rule.actions.forEach((action, index) => {
        if (names.has(action.action)) issue.addIssue({ code: 'custom', path: ['actions', index, 'action'], message: `"${action.action}" is listed twice in this rule` });
        names.add(action.action);
        checkConditions(action.when, ['actions', index, 'when']);
        if (action.reason !== undefined) checkReason(action.reason, ['actions', index, 'reason']);
      });
    }
    if (scope === 'session_closed' && rule.evidence === 'trigger') {
      issue.addIssue({ code: 'custom', path: ['evidence'], message: 'a session_closed rule has no trigger event: use session.cart_adds, session.checkout_errors or session.help_views' });
    }
  });

/** A condition with a typed fact name (the TS API); the rules file is checked against the same names at load. */
export interface Condition {
  fact: FactName;
  op: ConditionOperator;
  value?: string | number | boolean | null | readonly (string | number | boolean)[];
}

/** A rule as users write it, in a rules file or in TypeScript. */
export type RuleSpec = Omit<z.input<typeof ruleSpecSchema>, 'when' | 'actions'> & {
  when?: readonly Condition[];
  actions?: ReadonlyArray<ActionSpec>;
};

/** One action of a fan-out rule as users write it. */
export type ActionSpec = Omit<z.input<typeof actionSpecSchema>, 'when'> & { when?: readonly Condition[] };

/** One action a rule fans out to, ready to evaluate. */
export interface RuleAction {
  readonly action: string;
  readonly audience: SignalAudience;
  readonly channel: Channel;
  readonly priority: number;
  readonly expiresAfterMs: number;
  /** What the signal id is derived from besides customer and trigger: the rule id for its own action, else `<rule id>/<action>`. */
  readonly idKey: string;
  /** This action's own conditions (the rule's hold already). */
  holds(facts: Facts): boolean;
  reason(facts: Facts): string;
}

/** A rule ready to evaluate: one trigger and condition set, one or more actions. */
export interface Rule {
  readonly id: string;
  /** The highest priority of its actions: the order rules are evaluated in. */
  readonly priority: number;
  readonly trigger: { on: 'event'; types: ReadonlySet<EventType> } | { on: 'session_closed' };
  readonly evidence: EvidenceSource;
  readonly actions: readonly RuleAction[];
  holds(facts: Facts): boolean;
}

/** Types a rule in TypeScript (fact names are checked by the compiler); `compileRules` validates it like a file. */
export const defineRule = (spec: RuleSpec): RuleSpec => spec;

function compileCondition(condition: z.output<typeof conditionSchema>): (facts: Facts) => boolean {
  const { fact, op, value } = condition;
  switch (op) {
    case 'exists':
      return (facts) => facts.get(fact) !== null;
    case 'missing':
      return (facts) => facts.get(fact) === null;
    case 'eq':
      return (facts) => facts.get(fact) === value;
    case 'ne':
      return (facts) => facts.get(fact) !== value;
    case 'in': {
      const set = new Set(value as unknown[]);
      return (facts) => set.has(facts.get(fact));
    }
    case 'not_in': {
      const set = new Set(value as unknown[]);
      return (facts) => !set.has(facts.get(fact));
    }
    default: {
      const bound = value as number;
      const compare = { lt: (a: number) => a < bound, lte: (a: number) => a <= bound, gt: (a: number) => a > bound, gte: (a: number) => a >= bound }[op];
      return (facts) => {
        const actual = facts.get(fact);
        return typeof actual === 'number' && compare(actual);
      };
    }
  }
}

function formatValue(value: unknown, format: string | undefined, noun: string | undefined): string {
  if (value === null || value === undefined) return '—';
  if ((format === 'money' || format === 'decimal') && typeof value === 'number') return value.toFixed(2);
  if (format === 'count') return `${String(value)} ${noun}${value === 1 ? '' : 's'}`;
  return String(value);
}

/** Compiles validated specs; answers the problems (path within the spec and message) instead when a spec is wrong. */
export function compileRule(spec: RuleSpec): { ok: true; rule: Rule | null } | { ok: false; issues: Array<{ path: (string | number)[]; message: string }> } {
  const parsed = ruleSpecSchema.safeParse(spec);
  if (!parsed.success) return { ok: false, issues: parsed.error.issues.map((issue) => ({ path: issue.path.map((part) => (typeof part === 'symbol' ? String(part) : part)), message: issue.message })) };
  const rule = parsed.data;
  if (!rule.enabled) return { ok: true, rule: null };
  const conditions = rule.when.map(compileCondition);
  const template = (text: string) => (facts: Facts) => text.replace(PLACEHOLDER, (_, name: string, format?: string, noun?: string) => formatValue(facts.get(name), format, noun));
  const always = () => true;
  const actionSpecs = rule.actions ?? [{ action: rule.action ?? rule.id, audience: rule.audience ?? 'customer', when: [] }];
  const actions: RuleAction[] = actionSpecs.map((spec) => {
    const own = (spec as { when: z.output<typeof conditionSchema>[] }).when.map(compileCondition);
    const full = spec as Partial<z.output<typeof actionSpecSchema>> & { action: string; audience: SignalAudience };
    return {
      action: full.action,
      audience: full.audience,
      channel: full.channel ?? rule.channel,
      priority: full.priority ?? rule.priority,
      expiresAfterMs: full.expires_after ?? rule.expires_after,
      // A single-action rule keeps the id formula it always had (replays of old logs give the same ids).
      idKey: !rule.actions || full.action === rule.id ? rule.id : `${rule.id}/${full.action}`,
      holds: own.length === 0 ? always : (facts) => own.every((condition) => condition(facts)),
      reason: template(full.reason ?? rule.reason),
    };
  });
  return {
    ok: true,
    rule: {
      id: rule.id,
      priority: Math.max(...actions.map((action) => action.priority)),
      trigger: rule.trigger.on === 'event' ? { on: 'event', types: new Set(rule.trigger.types) } : { on: 'session_closed' },
      evidence: rule.evidence,
      actions,
      holds: (facts) => conditions.every((condition) => condition(facts)),
    },
  };
}

/** A rule that fired: the actions whose conditions held, each with its reason, and the context they share. */
export interface Firing {
  rule: Rule;
  actions: ReadonlyArray<{ action: RuleAction; reason: string }>;
  customerId: string;
  sessionId: string | null;
  /** The event (or session) that triggered it: part of the deterministic signal id. */
  triggerId: string;
  triggeredAt: number;
  evidence: string[];
  context: SignalContext;
}

export function signalIdOf(ruleId: string, customerId: string, triggerId: string): string {
  return createHash('sha256').update(ruleId).update('\0').update(customerId).update('\0').update(triggerId).digest('hex').slice(0, 32);
}

/** One signal per action of the firing (status `emitted`: customer-facing ones are decided by the contact policy next). */
export function toSignals(firing: Firing, emittedAt: number): Signal[] {
  return firing.actions.map(({ action, reason }) => ({
    signal_id: signalIdOf(action.idKey, firing.customerId, firing.triggerId),
    customer_id: firing.customerId,
    session_id: firing.sessionId,
    action: action.action,
    channel: action.channel,
    priority: action.priority,
    rule_id: firing.rule.id,
    reason,
    evidence_event_ids: firing.evidence,
    triggered_at: firing.triggeredAt,
    emitted_at: emittedAt,
    expires_at: firing.triggeredAt + action.expiresAfterMs,
    status: 'emitted',
    audience: action.audience,
    context: firing.context,
  }));
}

// Loads and validates a rule set (a rules file in YAML or JSON, or specs from TypeScript) and indexes it by trigger; a wrong rule is refused naming the rule and the field.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { EventType } from '../../../schemas/events.ts';
import { TouchstreamError } from '../../../schemas/errors.ts';
import type { Rule, RuleSpec } from './rule.ts';
import { compileRule } from './rule.ts';

/** Rules by trigger, each list in firing order: higher priority first, then rule id. */
export class RuleSet {
  readonly #byEventType = new Map<EventType, Rule[]>();
  readonly sessionClosed: readonly Rule[];

  constructor(readonly rules: readonly Rule[]) {
    const order = (a: Rule, b: Rule) => b.priority - a.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    const sorted = [...rules].sort(order);
    for (const rule of sorted) {
      if (rule.trigger.on !== 'event') continue;
      for (const type of rule.trigger.types) {
        let list = this.#byEventType.get(type);
        if (!list) this.#byEventType.set(type, (list = []));
        list.push(rule);
      }
    }
    this.sessionClosed = sorted.filter((rule) => rule.trigger.on === 'session_closed');
  }

  /** Event rules triggered by this event type, in firing order. */
  forEvent(type: EventType): readonly Rule[] | undefined {
    return this.#byEventType.get(type);
  }
}

/** Validates and compiles specs; throws one `invalid_rules` error listing every problem as `rule "<id>": <field>: <message>`. */
export function compileRules(specs: readonly unknown[], origin = 'rules'): RuleSet {
  const problems: string[] = [];
  const rules: Rule[] = [];
  const seen = new Set<string>();
  specs.forEach((spec, index) => {
    const id = typeof (spec as { id?: unknown })?.id === 'string' ? (spec as { id: string }).id : `#${index + 1}`;
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
      problems.push(`rule ${id} (rules[${index}]): must be an object`);
      return;
    }
    const compiled = compileRule(spec as RuleSpec);
    if (!compiled.ok) {
      for (const issue of compiled.issues) problems.push(`rule "${id}" (rules[${index}]): ${issue.path.join('.') || '(rule)'}: ${issue.message}`);
      return;
    }
    if (seen.has(id)) problems.push(`rule "${id}" (rules[${index}]): id: is used by an earlier rule`);
    seen.add(id);
    if (compiled.rule) rules.push(compiled.rule);
  });
  if (problems.length > 0) throw new TouchstreamError('invalid_rules', `${origin}: ${problems.join('; ')}`);
  return new RuleSet(rules);
}

/** Reads a rules file: YAML or JSON, `{ rules: [ … ] }`. */
export function loadRulesFile(path: string): RuleSet {
  let document: unknown;
  try {
    document = parseYaml(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new TouchstreamError('invalid_rules', `rules file ${path}: cannot be read as YAML or JSON: ${(error as Error).message}`, false, { cause: error });
  }
  const rules = (document as { rules?: unknown })?.rules;
  if (!Array.isArray(rules)) throw new TouchstreamError('invalid_rules', `rules file ${path}: rules: must be a list of rules`);
  const extra = Object.keys(document as object).filter((key) => key !== 'rules');
  if (extra.length > 0) throw new TouchstreamError('invalid_rules', `rules file ${path}: ${extra.join(', ')}: unknown top-level key (only "rules")`);
  return compileRules(rules, `rules file ${path}`);
}

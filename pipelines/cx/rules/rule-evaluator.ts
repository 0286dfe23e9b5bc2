// Evaluates the rule set in event time: event rules on each event inside its live session, session rules when a session closes; each rule at most once per session.
import type { Sentiment } from '../../../schemas/analytics-outputs.ts';
import type { CxEvent } from '../../../schemas/events.ts';
import type { SessionKpis, SignalContext } from '../../../schemas/outputs.ts';
import type { SessionAccumulator } from '../session-kpis.ts';
import { sessionIdOf, sessionMeasures } from '../session-kpis.ts';
import type { JourneyFacts } from './facts.ts';
import { Facts } from './facts.ts';
import type { EvidenceSource, Firing, Rule } from './rule.ts';
import type { RuleSet } from './rule-set.ts';
import type { SessionLine } from './signal-context.ts';
import { signalContext } from './signal-context.ts';

/** The live session an event joined, as the session windows hold it. */
export interface LiveSession {
  key: string;
  start: number;
  last: number;
  accumulator: SessionAccumulator;
}

function evidenceOf(source: EvidenceSource, triggerId: string | null, accumulator: SessionAccumulator | null): string[] {
  switch (source) {
    case 'trigger':
      return triggerId === null ? [] : [triggerId];
    case 'session.cart_adds':
      return [...(accumulator?.cartEventIds ?? [])];
    case 'session.checkout_errors':
      return [...(accumulator?.checkoutErrorIds ?? [])];
    case 'session.help_views':
      return [...(accumulator?.helpViewIds ?? [])];
  }
}

export class RuleEvaluator {
  constructor(
    private readonly rules: RuleSet,
    private readonly sessionGapMs: number,
  ) {}

  /**
   * Rules triggered by this event, in priority order. With a live session, a rule that fired in it before is
   * skipped and a firing is remembered in the session (merged sessions keep the union); without one, each
   * event may fire each rule once. A rule fires when its conditions hold and at least one of its actions' do.
   * `lines` answers the session's cart lines and checkout errors so far (for the signal context).
   */
  /** Whether any event rule is triggered by this event type (else `onEvent` answers no firings). */
  hasEventRules(type: CxEvent['type']): boolean {
    return this.rules.forEvent(type) !== undefined;
  }

  onEvent(event: CxEvent, key: string, session: LiveSession | null, sentiment: Sentiment | null, journey: () => JourneyFacts, lines: () => readonly SessionLine[] = () => []): Firing[] {
    const candidates = this.rules.forEvent(event.type);
    if (!candidates) return [];
    let facts: Facts | null = null;
    const firings: Firing[] = [];
    for (const rule of candidates) {
      if (session && session.accumulator.firedRules.includes(rule.id)) continue;
      if (facts === null) {
        facts = new Facts({
          event,
          sentiment,
          session: session ? () => sessionMeasures(key, session.start, session.last, session.accumulator) : null,
          purchasedBeforeEvent: session ? session.accumulator.firstPurchaseAt !== null && session.accumulator.firstPurchaseAt < event.occurred_at : null,
          journey,
        });
      }
      if (!rule.holds(facts)) continue;
      const sessionId = session ? sessionIdOf(key, session.start) : null;
      const firing = this.#firing(rule, key, sessionId, event.event_id, event.occurred_at, facts, evidenceOf(rule.evidence, event.event_id, session?.accumulator ?? null), () =>
        signalContext({
          trigger: { id: event.event_id, type: event.type, occurred_at: event.occurred_at, channel: event.channel },
          event,
          sentiment,
          session: session ? { id: sessionId!, measures: facts!.session()! } : null,
          lines: session ? lines() : [],
          facts: facts!,
        }),
      );
      if (!firing) continue;
      if (session) session.accumulator.markFired(rule.id);
      firings.push(firing);
    }
    return firings;
  }

  /** Session rules for a closing session; `triggered_at` is its end + gap, when the engine can know it closed. */
  onSessionClosed(kpis: SessionKpis, accumulator: SessionAccumulator, journey: () => JourneyFacts, lines: () => readonly SessionLine[] = () => []): Firing[] {
    const firings: Firing[] = [];
    let facts: Facts | null = null;
    for (const rule of this.rules.sessionClosed) {
      if (accumulator.firedRules.includes(rule.id)) continue;
      facts ??= new Facts({ event: null, sentiment: null, session: () => kpis, purchasedBeforeEvent: null, journey });
      if (!rule.holds(facts)) continue;
      const triggeredAt = kpis.ended_at + this.sessionGapMs;
      const firing = this.#firing(rule, kpis.customer_id, kpis.session_id, kpis.session_id, triggeredAt, facts, evidenceOf(rule.evidence, null, accumulator), () =>
        signalContext({
          trigger: { id: kpis.session_id, type: 'session_closed', occurred_at: kpis.ended_at, channel: kpis.channel },
          event: null,
          sentiment: null,
          session: { id: kpis.session_id, measures: kpis },
          lines: lines(),
          facts: facts!,
        }),
      );
      if (firing) firings.push(firing);
    }
    return firings;
  }

  /** The firing of a rule whose conditions hold: the actions whose own conditions hold too (none: it does not fire). */
  #firing(rule: Rule, customerId: string, sessionId: string | null, triggerId: string, triggeredAt: number, facts: Facts, evidence: string[], context: () => SignalContext): Firing | null {
    const actions = rule.actions.filter((action) => action.holds(facts)).map((action) => ({ action, reason: action.reason(facts) }));
    if (actions.length === 0) return null;
    return { rule, actions, customerId, sessionId, triggerId, triggeredAt, evidence, context: context() };
  }
}

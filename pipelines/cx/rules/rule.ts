// Next-best-action rules as data: what a rule declares, and how a firing becomes a signal with a deterministic id.
import { createHash } from 'node:crypto';
import type { Channel } from '../../../schemas/events.ts';
import type { SessionKpis, Signal } from '../../../schemas/outputs.ts';

/** A rule evaluated when a session closes (e.g. cart_reminder). */
export interface SessionClosedRule {
  id: string;
  on: 'session_closed';
  action: string;
  channel: Channel;
  priority: number;
  /** How long the signal stays actionable, from its `triggered_at`. */
  expiresAfterMs: number;
  when(session: SessionKpis): boolean;
  /** A sentence a person can read. */
  reason(session: SessionKpis): string;
}

export type Rule = SessionClosedRule;

export interface Firing {
  rule: Rule;
  customerId: string;
  sessionId: string | null;
  /** The event (or session) that triggered it: part of the deterministic signal id. */
  triggerId: string;
  triggeredAt: number;
  reason: string;
  evidence: string[];
}

export function signalIdOf(ruleId: string, customerId: string, triggerId: string): string {
  return createHash('sha256').update(ruleId).update('\0').update(customerId).update('\0').update(triggerId).digest('hex').slice(0, 32);
}

export function toSignal(firing: Firing, emittedAt: number): Signal {
  return {
    signal_id: signalIdOf(firing.rule.id, firing.customerId, firing.triggerId),
    customer_id: firing.customerId,
    session_id: firing.sessionId,
    action: firing.rule.action,
    channel: firing.rule.channel,
    priority: firing.rule.priority,
    rule_id: firing.rule.id,
    reason: firing.reason,
    evidence_event_ids: firing.evidence,
    triggered_at: firing.triggeredAt,
    emitted_at: emittedAt,
    expires_at: firing.triggeredAt + firing.rule.expiresAfterMs,
    status: 'emitted',
  };
}

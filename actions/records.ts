// What action delivery writes: a row per attempt (`action_deliveries`), a dead letter per undeliverable action, an outcome per acknowledgement or resolution.
import type { Signal } from '../schemas/outputs.ts';

/** A signal as delivery reads it from the signals topic; `context` is passed through when the signal carries one. */
/** A signal as delivery reads it; `audience` and `context` may be absent on signals written before they existed. */
export type DeliverableSignal = Omit<Signal, 'audience' | 'context'> & Partial<Pick<Signal, 'audience' | 'context'>>;

export type AttemptStatus = 'delivered' | 'failed' | 'dead_lettered';

/**
 * One attempt to deliver one action (table `action_deliveries`). `status` is `delivered`, `failed` (retried), or
 * `dead_lettered` (the last attempt failed, or the receiver refused for good).
 */
export interface ActionDeliveryRow {
  signal_id: string;
  action: string;
  destination: string;
  /** 1-based. */
  attempt: number;
  status: AttemptStatus;
  /** The receiver's answer, null when none came (timeout, connection refused). */
  http_status: number | null;
  latency_ms: number;
  /** Wall clock, ms. */
  attempted_at: number;
  /** Stable machine code of a failed attempt (http_503, timeout, connection_failed, …), null when delivered. */
  error_code: string | null;
  idempotency_key: string;
}

/** An action delivery gave up on (topic `touchstream.actions.dlq`): ids and codes only, never the payload or secrets. */
export interface ActionDeadLetter {
  signal_id: string;
  action: string;
  destination: string;
  customer_id: string;
  idempotency_key: string;
  attempts: number;
  error_code: string;
  http_status: number | null;
  /** Wall clock, ms. */
  dead_lettered_at: number;
}

export type OutcomeStatus = 'acknowledged' | 'resolved';

/** What came back from a destination about an action (CONTRACT §7); topic `touchstream.outcomes`, table `action_outcomes`. */
export interface ActionOutcome {
  signal_id: string;
  action: string;
  status: OutcomeStatus;
  /** When it happened (wall clock of the reporting system), ms. */
  at: number;
}

/** The Idempotency-Key of every attempt of one action of one signal: the same on every retry and after a restart. */
export const idempotencyKeyOf = (signal_id: string, action: string): string => `${signal_id}:${action}`;

/** Public topic names of action management. */
export const ACTION_TOPICS = {
  deadLetters: 'touchstream.actions.dlq',
  outcomes: 'touchstream.outcomes',
} as const;

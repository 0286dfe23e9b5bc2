// What touchstream emits (CONTRACT §2, §4, §5): closed sessions, event rows, signals and dead letters; the Avro files mirror these.
import type { Channel, CxEvent, EventTimeMs } from './events.ts';
import type { SessionKpiValues } from './session-kpi-columns.ts';

/** One closed session and its KPIs (CONTRACT §2); table `sessions`, topic `touchstream.sessions`. Counters and flags: schemas/session-kpi-columns.ts. */
export interface SessionKpis extends SessionKpiValues {
  session_id: string;
  customer_id: string;
  started_at: EventTimeMs;
  ended_at: EventTimeMs;
  duration_ms: number;
  entry_page: string | null;
  exit_page: string | null;
  channel: Channel;
  experiment_id: string | null;
  variant: string | null;
  /** Touchpoint of the session's first event (its entry touchpoint). */
  touchpoint: string | null;
  /** Campaign of the customer's earliest e-mail/ad touch in the 7 days before the session started. */
  first_campaign: string | null;
  /** Campaign of the customer's latest e-mail/ad touch before the session ended, within 7 days. */
  last_campaign: string | null;
}

/** An accepted event as it lands in the `events` table. */
export interface EventRow {
  event: CxEvent;
  /** 1 when the event arrived after its session had closed (CONTRACT §2). */
  late: boolean;
}

export type SignalStatus = 'emitted' | 'suppressed';

/** A next-best-action signal (CONTRACT §4); table `signals`, topic `touchstream.signals` when emitted. */
export interface Signal {
  signal_id: string;
  customer_id: string;
  session_id: string | null;
  action: string;
  channel: Channel;
  priority: number;
  rule_id: string;
  reason: string;
  evidence_event_ids: string[];
  triggered_at: EventTimeMs;
  /** Wall clock when the signal left the engine. */
  emitted_at: number;
  expires_at: EventTimeMs;
  status: SignalStatus;
}

/** Reason codes of refused input: stable, for machines. */
export type RejectReason =
  | 'invalid_json'
  | 'invalid_event'
  | 'unknown_type'
  | 'future_timestamp'
  | 'not_wire_format'
  | 'unknown_schema_id'
  | 'corrupt_avro'
  | 'type_properties_mismatch'
  | 'oversized_payload';

/** Input refused by touchstream; topic `touchstream.dlq`, table `rejected_events`. Holds the only copy of the bytes. */
export interface DeadLetter {
  reason_code: RejectReason;
  message: string;
  source: string;
  topic: string | null;
  partition: number | null;
  offset: string | null;
  event_id: string | null;
  /** Wall clock when it was refused. */
  received_at: number;
  original: Buffer;
}

/** Public topic names (CONTRACT §5). */
export const TOPICS = {
  events: 'touchstream.events',
  signals: 'touchstream.signals',
  sessions: 'touchstream.sessions',
  deadLetters: 'touchstream.dlq',
} as const;

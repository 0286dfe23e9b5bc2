// What touchstream emits (CONTRACT §2, §4, §5): closed sessions, event rows, signals and dead letters; the Avro files mirror these.
import type { Channel, CxEvent, EventTimeMs, SurveyMetric } from './events.ts';
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

/** Who an action addresses (CONTRACT §7): the customer (the contact policy decides it) or the company itself (support case, R&D ticket, CRM update: outside the policy). */
export type SignalAudience = 'customer' | 'internal';

/** What triggered a signal: the event (id, type, event time), or for a session_closed rule the session (id, `session_closed`, its end). */
export interface SignalTrigger {
  id: string;
  type: string;
  occurred_at: EventTimeMs;
  channel: Channel;
}

/** The survey response that triggered a signal: score and the comment as stored (scrubbed at the source edge). */
export interface SignalFeedback {
  survey_id: string;
  metric: SurveyMetric;
  score: number;
  comment: string | null;
  language: string | null;
  sentiment_label: string | null;
  sentiment_score: number | null;
  /** Product and fault terms the comment names (pipelines/cx/rules/product-faults.ts), lower case, in text order. */
  product_fault_terms: string[];
}

/** The social mention that triggered a signal (text scrubbed at the source edge). */
export interface SignalMention {
  platform: string;
  text: string;
  rating: number | null;
  product_id: string | null;
  language: string | null;
  sentiment_label: string | null;
  sentiment_score: number | null;
  product_fault_terms: string[];
}

export interface SignalCartItem {
  product_id: string;
  price: number;
  quantity: number;
}

/** The session's cart so far: `value` as the `cart_value` KPI, `items` its add_to_cart lines in event-time order (capped). */
export interface SignalCart {
  value: number;
  items: SignalCartItem[];
}

/** The live (or closing) session's KPIs so far. */
export type SignalSessionKpis = SessionKpiValues & {
  session_id: string;
  started_at: EventTimeMs;
  duration_ms: number;
  channel: Channel;
  entry_page: string | null;
  exit_page: string | null;
};

/** The customer's latest scores in the 7 days before the trigger (the trigger's own response included). */
export interface SignalExperience {
  last_nps: number | null;
  last_nps_at: EventTimeMs | null;
  last_csat: number | null;
  last_ces: number | null;
}

/** What an engine or an agent needs to act on a signal without a lookup (CONTRACT §4); Avro `touchstream.outputs.SignalContext`. */
export interface SignalContext {
  trigger: SignalTrigger;
  feedback: SignalFeedback | null;
  mention: SignalMention | null;
  cart: SignalCart | null;
  /** `code` of the session's checkout_error events so far, in event-time order (capped). */
  error_codes: string[];
  session: SignalSessionKpis | null;
  experience: SignalExperience;
}

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
  /** `customer` unless the rule's action is internal (outside the contact policy). */
  audience: SignalAudience;
  /** Null only on signals written before the context existed. */
  context: SignalContext | null;
}

/** A KPI anomaly (not a customer signal, CONTRACT §4): topic `touchstream.alerts`, table `alerts`. */
export interface Alert {
  /** Deterministic from KPI, dimension value and bucket start. */
  alert_id: string;
  kpi: string;
  /** What the series is split by: `product`, `touchpoint` or `channel`. */
  dimension: string;
  /** The value of that dimension ('' when the events carry none). */
  dimension_value: string;
  channel: Channel;
  window_start: EventTimeMs;
  window_end: EventTimeMs;
  rate: number;
  baseline: number;
  z_score: number;
  bad: number;
  total: number;
  reason: string;
  evidence_event_ids: string[];
  /** Event time: the bucket's end. */
  triggered_at: EventTimeMs;
  /** Wall clock. */
  emitted_at: number;
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
  alerts: 'touchstream.alerts',
  sessions: 'touchstream.sessions',
  deadLetters: 'touchstream.dlq',
} as const;

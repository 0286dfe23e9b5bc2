// What a worker's live state offers the serving API (`LiveState`), and the public JSON shapes of its answers as zod schemas (the OpenAPI document's source).
import { z } from 'zod';
import { CHANNELS, SURVEY_METRICS } from '../schemas/events.ts';
import type { Channel, EventTimeMs, SurveyMetric } from '../schemas/events.ts';
import type { SessionKpis, Signal } from '../schemas/outputs.ts';
import { SESSION_KPI_COLUMNS } from '../schemas/session-kpi-columns.ts';
import type { SessionCounterColumn, SessionFlagColumn } from '../schemas/session-kpi-columns.ts';

// ---------------------------------------------------------------------------------------------------------------------
// The interface the worker's state implements (the composition root builds it over the CX operators' stores).
// Times are epoch milliseconds here, as inside the engine; the API renders them as ISO-8601 strings.
// ---------------------------------------------------------------------------------------------------------------------

/** A customer's current session: the open one with its KPIs so far, else the last closed one still held. */
export interface LiveSession {
  /** `open`: the session window is still open (its KPIs are so far); `closed`: the partition watermark closed it. */
  status: 'open' | 'closed';
  /**
   * The session's KPIs (CONTRACT §2). For an open session: `ended_at` is its last event so far, `duration_ms` and the
   * flags (`converted`, `cart_abandoned`, `bounced`) are as of now, and `session_id` is provisional (an event that
   * merges it with an earlier session changes its start, so its id).
   */
  kpis: SessionKpis;
}

/** One session in a customer's recent journey. */
export interface JourneySession {
  session_id: string;
  status: 'open' | 'closed';
  started_at: EventTimeMs;
  /** Last event so far for an open session. */
  ended_at: EventTimeMs;
  channel: Channel;
  /** The touchpoint of the session's first event. */
  touchpoint: string | null;
  converted: boolean;
  cart_abandoned: boolean;
  help_views: number;
  checkout_errors: number;
}

/** One survey response of the customer. */
export interface JourneyFeedback {
  responded_at: EventTimeMs;
  metric: SurveyMetric;
  score: number;
  /** When the state keeps them (null otherwise): the survey and the linked session (CONTRACT §3, X+O link). */
  survey_id: string | null;
  session_id: string | null;
}

/** One assisted-channel contact (`contact` event) of the customer. */
export interface JourneyContact {
  contacted_at: EventTimeMs;
  /** `call`, `chat`, `store_visit` when the state keeps it, else null. */
  kind: string | null;
  channel: Channel | null;
}

/** A customer's recent history, as far back as the state keeps it (the journey store's horizon). */
export interface CustomerJourney {
  /** Oldest first; includes the open session(s). */
  sessions: readonly JourneySession[];
  feedback: readonly JourneyFeedback[];
  contacts: readonly JourneyContact[];
  /** Event times of the customer's negative social mentions. */
  negative_mentions: readonly EventTimeMs[];
}

/**
 * The read-only view of a worker's keyed state that the serving API queries. Keys are session keys as the pipeline
 * stores them (`customer_id`, else `anonymous_id`; pseudonymised when privacy is on). Every method is synchronous and
 * cheap: it reads in-memory stores on the worker's event loop, between the engine's batches, so an answer is
 * consistent with one point of the input (no torn reads).
 *
 * `undefined` means "this worker holds nothing about this key" (the API answers 404 if the worker owns the key's
 * partition); an empty list means "known customer, nothing of this kind".
 */
export interface LiveState {
  /**
   * The input partitions whose state this worker holds and answers for now, or `'rebalancing'` while its assignment
   * changes or the state of a newly assigned partition is still being restored from its changelog (the API then
   * answers 503 with Retry-After rather than a wrong "not found"). A partition is listed only once its state is
   * restored.
   */
  ownedPartitions(): readonly number[] | 'rebalancing';
  session(key: string): LiveSession | undefined;
  /**
   * The key's signals with `status = 'emitted'` and `expires_at > now` (wall-clock ms; `expires_at` is event time,
   * which tracks the wall clock on a live stream). The API filters again, so returning more is harmless.
   */
  openSignals(key: string, now: number): readonly Signal[] | undefined;
  journey(key: string): CustomerJourney | undefined;
}

// ---------------------------------------------------------------------------------------------------------------------
// The public JSON shapes (what clients get). Field names follow CONTRACT §2–§4; times are ISO-8601 UTC with ms.
// ---------------------------------------------------------------------------------------------------------------------

const timestamp = z.iso.datetime().describe('ISO-8601 UTC timestamp with milliseconds');
const channel = z.enum(CHANNELS);

/** The declared counters and flags (schemas/session-kpi-columns.ts): a KPI added there is in the API and its OpenAPI document too. */
const kpiColumnSchemas = Object.fromEntries(
  SESSION_KPI_COLUMNS.map((entry) => [
    entry.column,
    (entry.kind === 'flag' ? z.boolean() : entry.kind === 'money' ? z.number().min(0) : z.number().int().min(0)).describe(entry.doc),
  ]),
) as { [C in SessionCounterColumn]: z.ZodNumber } & { [F in SessionFlagColumn]: z.ZodBoolean };

/** Session KPIs (CONTRACT §2), times rendered as ISO strings. */
export const sessionKpisSchema = z
  .object({
    session_id: z.string().describe('Deterministic session id; provisional while the session is open'),
    customer_id: z.string(),
    started_at: timestamp,
    ended_at: timestamp.describe('Last event of the session (so far, when open)'),
    duration_ms: z.number().int().min(0),
    ...kpiColumnSchemas,
    entry_page: z.string().nullable(),
    exit_page: z.string().nullable(),
    channel,
    experiment_id: z.string().nullable(),
    variant: z.string().nullable(),
    touchpoint: z.string().nullable().optional().describe("Touchpoint of the session's first event"),
    first_campaign: z.string().nullable().optional().describe('Earliest e-mail/ad touch in the 7 days before the session (closed sessions)'),
    last_campaign: z.string().nullable().optional().describe('Latest e-mail/ad touch before the session ended (closed sessions)'),
  })
  .describe('A session and its KPIs (CONTRACT §2)');

/** GET /v1/customers/{id}/session */
export const sessionResponseSchema = z
  .object({
    customer_id: z.string().describe('The key as stored (pseudonymised when privacy is on)'),
    status: z.enum(['open', 'closed']).describe('open: KPIs so far of the live session; closed: the last closed session'),
    session: sessionKpisSchema,
  })
  .describe("The customer's open session (KPIs so far), else the last closed one");

/** One signal (CONTRACT §4). */
export const signalSchema = z
  .object({
    signal_id: z.string(),
    customer_id: z.string(),
    session_id: z.string().nullable(),
    action: z.string(),
    channel,
    priority: z.number().int(),
    rule_id: z.string(),
    reason: z.string(),
    evidence_event_ids: z.array(z.string()),
    triggered_at: timestamp.describe('Event time'),
    emitted_at: timestamp.describe('Wall clock when the signal left the engine'),
    expires_at: timestamp,
    status: z.literal('emitted'),
    audience: z.enum(['customer', 'internal']).describe('customer: an action towards the customer (contact policy applied); internal: support, R&D, CRM'),
    context: z.record(z.string(), z.unknown()).nullable().describe('Typed context of the rule, when the signal carries one'),
  })
  .describe('A next-best-action signal (CONTRACT §4)');

/** GET /v1/customers/{id}/signals */
export const signalsResponseSchema = z
  .object({
    customer_id: z.string(),
    signals: z.array(signalSchema).describe('Emitted, unexpired signals, highest priority first, then newest first'),
  })
  .describe("The customer's open signals: emitted and not yet expired");

/** GET /v1/customers/{id}/journey */
export const journeyResponseSchema = z
  .object({
    customer_id: z.string(),
    sessions: z
      .array(
        z.object({
          session_id: z.string(),
          status: z.enum(['open', 'closed']),
          started_at: timestamp,
          ended_at: timestamp,
          channel,
          touchpoint: z.string().nullable(),
          converted: z.boolean(),
          cart_abandoned: z.boolean(),
          help_views: z.number().int().min(0),
          checkout_errors: z.number().int().min(0),
        }),
      )
      .describe('Recent sessions, oldest first'),
    feedback: z
      .array(
        z.object({
          responded_at: timestamp,
          metric: z.enum(SURVEY_METRICS),
          score: z.number().int(),
          survey_id: z.string().nullable(),
          session_id: z.string().nullable(),
        }),
      )
      .describe('Survey responses, oldest first'),
    contacts: z
      .array(z.object({ contacted_at: timestamp, kind: z.string().nullable(), channel: channel.nullable() }))
      .describe('Contacts (call, chat, store visit), oldest first'),
    negative_mentions: z.array(z.object({ occurred_at: timestamp })).describe('Negative social mentions, oldest first'),
  })
  .describe("The customer's recent journey: sessions, feedback, contacts, as far back as live state keeps them");

/** Every error answer. */
export const errorResponseSchema = z
  .object({
    error: z.string().describe('Stable machine-readable code'),
    message: z.string(),
    retriable: z.boolean().describe('Whether the same request may succeed later (see Retry-After)'),
  })
  .describe('An error answer');

/** The named schemas of the OpenAPI document's `components.schemas` (their names are the `$ref`s). */
export const apiSchemas = z.registry<{ id: string }>();
apiSchemas.add(sessionKpisSchema, { id: 'SessionKpis' });
apiSchemas.add(sessionResponseSchema, { id: 'SessionResponse' });
apiSchemas.add(signalSchema, { id: 'Signal' });
apiSchemas.add(signalsResponseSchema, { id: 'SignalsResponse' });
apiSchemas.add(journeyResponseSchema, { id: 'JourneyResponse' });
apiSchemas.add(errorResponseSchema, { id: 'Error' });

export type SessionResponse = z.output<typeof sessionResponseSchema>;
export type SignalsResponse = z.output<typeof signalsResponseSchema>;
export type JourneyResponse = z.output<typeof journeyResponseSchema>;
export type ErrorResponse = z.output<typeof errorResponseSchema>;

// ---------------------------------------------------------------------------------------------------------------------
// From state to wire.
// ---------------------------------------------------------------------------------------------------------------------

const iso = (time: number): string => new Date(time).toISOString();

export function sessionResponseOf(key: string, live: LiveSession): SessionResponse {
  const { kpis } = live;
  return {
    customer_id: key,
    status: live.status,
    session: { ...kpis, started_at: iso(kpis.started_at), ended_at: iso(kpis.ended_at) },
  };
}

/** Emitted and unexpired at `now`, highest priority first, then newest first. */
export function signalsResponseOf(key: string, signals: readonly Signal[], now: number): SignalsResponse {
  const open = signals.filter((signal) => signal.status === 'emitted' && signal.expires_at > now);
  open.sort((a, b) => b.priority - a.priority || b.triggered_at - a.triggered_at || (a.signal_id < b.signal_id ? -1 : 1));
  return {
    customer_id: key,
    signals: open.map((signal) => ({
      signal_id: signal.signal_id,
      customer_id: signal.customer_id,
      session_id: signal.session_id,
      action: signal.action,
      channel: signal.channel,
      priority: signal.priority,
      rule_id: signal.rule_id,
      reason: signal.reason,
      evidence_event_ids: signal.evidence_event_ids.slice(),
      triggered_at: iso(signal.triggered_at),
      emitted_at: iso(signal.emitted_at),
      expires_at: iso(signal.expires_at),
      status: 'emitted' as const,
      audience: signal.audience,
      context: (signal.context as Record<string, unknown> | null | undefined) ?? null,
    })),
  };
}

export function journeyResponseOf(key: string, journey: CustomerJourney): JourneyResponse {
  return {
    customer_id: key,
    sessions: journey.sessions.map((session) => ({ ...session, started_at: iso(session.started_at), ended_at: iso(session.ended_at) })),
    feedback: journey.feedback.map((response) => ({ ...response, responded_at: iso(response.responded_at) })),
    contacts: journey.contacts.map((contact) => ({ ...contact, contacted_at: iso(contact.contacted_at) })),
    negative_mentions: journey.negative_mentions.map((at) => ({ occurred_at: iso(at) })),
  };
}

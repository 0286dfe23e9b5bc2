// The typed context a signal carries (CONTRACT §4): the trigger, the feedback or mention, the cart and error codes of the session so far, its KPIs and the latest scores.
import type { Sentiment } from '../../../schemas/analytics-outputs.ts';
import type { CxEvent } from '../../../schemas/events.ts';
import type { SignalCartItem, SignalContext, SignalSessionKpis, SignalTrigger } from '../../../schemas/outputs.ts';
import type { SessionKpiValues } from '../../../schemas/session-kpi-columns.ts';
import { SESSION_KPI_COLUMNS } from '../../../schemas/session-kpi-columns.ts';
import type { SessionMeasures } from '../session-kpis.ts';
import type { Facts } from './facts.ts';
import { productFaultTerms } from './product-faults.ts';

/** A session's cart line or checkout error, as the signal-context store keeps it: [time, event_id, 'a', product, price, quantity] or [time, event_id, 'e', code]. */
export type SessionLine = readonly [number, string, 'a', string, number, number] | readonly [number, string, 'e', string];

/** At most this many cart items and error codes in one context (the first ones in event time). */
export const MAX_CONTEXT_LINES = 20;

export interface ContextInput {
  trigger: SignalTrigger;
  event: CxEvent | null;
  sentiment: Sentiment | null;
  /** The session the trigger belongs to, with its KPIs so far; null outside a session. */
  session: { id: string; measures: SessionMeasures } | null;
  /** The session's cart lines and checkout errors so far, ordered by (time, event_id). */
  lines: readonly SessionLine[];
  facts: Facts;
}

/** The context of one firing (shared by the signals it fans out to). Deterministic: a replay of the same log gives the same context. */
export function signalContext(input: ContextInput): SignalContext {
  const { event, sentiment, session, lines } = input;
  const items: SignalCartItem[] = [];
  const errorCodes: string[] = [];
  for (const line of lines) {
    if (line[2] === 'a') {
      if (items.length < MAX_CONTEXT_LINES) items.push({ product_id: line[3], price: line[4], quantity: line[5] });
    } else if (errorCodes.length < MAX_CONTEXT_LINES) errorCodes.push(line[3]);
  }
  const journey = input.facts.journey();
  const measures = session?.measures ?? null;
  return {
    trigger: input.trigger,
    feedback:
      event?.type === 'survey_response'
        ? {
            survey_id: event.properties.survey_id,
            metric: event.properties.metric,
            score: event.properties.score,
            comment: event.properties.comment ?? null,
            language: event.properties.language ?? null,
            sentiment_label: sentiment?.label ?? null,
            sentiment_score: sentiment?.score ?? null,
            product_fault_terms: productFaultTerms(event.properties.comment).terms,
          }
        : null,
    mention:
      event?.type === 'social_mention'
        ? {
            platform: event.properties.platform,
            text: event.properties.text,
            rating: event.properties.rating ?? null,
            product_id: event.properties.product_id ?? null,
            language: event.properties.language ?? null,
            sentiment_label: sentiment?.label ?? null,
            sentiment_score: sentiment?.score ?? null,
            product_fault_terms: productFaultTerms(event.properties.text).terms,
          }
        : null,
    cart: measures && measures.cart_adds > 0 ? { value: measures.cart_value, items } : null,
    error_codes: errorCodes,
    session: session && measures ? sessionKpisOf(session.id, measures) : null,
    experience: { last_nps: journey.last_nps, last_nps_at: journey.last_nps_at, last_csat: journey.last_csat, last_ces: journey.last_ces },
  };
}

/** The session's id, start, entry and exit, and every KPI of schemas/session-kpi-columns.ts (the one declaration). */
function sessionKpisOf(sessionId: string, measures: SessionMeasures): SignalSessionKpis {
  const kpis = Object.fromEntries(SESSION_KPI_COLUMNS.map(({ column }) => [column, measures[column]])) as SessionKpiValues;
  return {
    session_id: sessionId,
    started_at: measures.started_at,
    duration_ms: measures.duration_ms,
    channel: measures.channel,
    entry_page: measures.entry_page,
    exit_page: measures.exit_page,
    ...kpis,
  };
}

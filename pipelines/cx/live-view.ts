// A read-only view of one customer's live state in the CX chain's stores: the open session's KPIs so far (or the last closed one), the open signals, the recent journey.
import type { Session, SessionWindows } from '../../engine/index.ts';
import type { Channel, CxEvent, SurveyMetric } from '../../schemas/events.ts';
import type { SessionKpis, Signal } from '../../schemas/outputs.ts';
import type { CustomerJourneys } from './customer-journeys.ts';
import type { SessionAccumulator } from './session-kpis.ts';
import { sessionKpis } from './session-kpis.ts';
import type { LastSessions, OpenSignals } from './stages/serving-state.ts';

/** The stores the view reads (the chain's own, never copies). */
export interface CxLiveStores {
  sessions: SessionWindows<CxEvent, SessionAccumulator>;
  journeys: CustomerJourneys;
  lastSessions: LastSessions;
  openSignals: OpenSignals;
}

export interface CxLiveSession {
  status: 'open' | 'closed';
  kpis: SessionKpis;
}

export interface CxJourney {
  sessions: Array<{
    session_id: string; status: 'open' | 'closed'; started_at: number; ended_at: number; channel: Channel; touchpoint: string | null;
    converted: boolean; cart_abandoned: boolean; help_views: number; checkout_errors: number;
  }>;
  feedback: Array<{ responded_at: number; metric: SurveyMetric; score: number; survey_id: string | null; session_id: string | null }>;
  contacts: Array<{ contacted_at: number; kind: string | null; channel: Channel | null }>;
  negative_mentions: number[];
}

const kpisOf = (session: Session<SessionAccumulator>) => sessionKpis(session.key, session.start, session.last, session.accumulator);

/**
 * Synchronous reads on the worker's event loop, between the engine's batches: an answer reflects one point of the
 * input. Keys are session keys as stored (pseudonymised when privacy is on); `undefined`: nothing held for the key.
 */
export class CxLiveView {
  constructor(private readonly stores: CxLiveStores) {}

  /** Whether any store holds something of the key. */
  knows(key: string): boolean {
    const { sessions, journeys, lastSessions, openSignals } = this.stores;
    return sessions.sessionsOf(key).length > 0 || journeys.historyOf(key) !== undefined || lastSessions.of(key) !== undefined || openSignals.of(key) !== undefined;
  }

  /** The open session with the latest event (a key may have two, not merged yet), else the last closed one held. */
  session(key: string): CxLiveSession | undefined {
    const open = this.stores.sessions.sessionsOf(key);
    if (open.length > 0) {
      const latest = open.reduce((a, b) => (b.last > a.last ? b : a));
      return { status: 'open', kpis: kpisOf(latest) };
    }
    const closed = this.stores.lastSessions.of(key);
    return closed ? { status: 'closed', kpis: { ...closed } } : undefined;
  }

  /** Emitted signals not expired at `now` (ms); [] for a known customer without any. */
  openSignals(key: string, now: number): Signal[] | undefined {
    const held = this.stores.openSignals.of(key);
    if (held === undefined) return this.knows(key) ? [] : undefined;
    return held.filter((signal) => signal.expires_at > now).map((signal) => ({ ...signal, evidence_event_ids: signal.evidence_event_ids.slice() }));
  }

  /** Closed sessions from the history and the open ones, oldest first; responses, contacts and negative mentions. */
  journey(key: string): CxJourney | undefined {
    if (!this.knows(key)) return undefined;
    const history = this.stores.journeys.historyOf(key);
    const sessions: CxJourney['sessions'] = (history?.sessions ?? []).map((session) => ({
      session_id: session.session_id,
      status: 'closed',
      started_at: session.started_at,
      ended_at: session.ended_at,
      channel: session.channel,
      touchpoint: session.touchpoint,
      converted: session.converted,
      cart_abandoned: session.cart_abandoned,
      help_views: session.help_views,
      checkout_errors: session.checkout_errors,
    }));
    for (const open of this.stores.sessions.sessionsOf(key)) {
      const kpis = kpisOf(open);
      sessions.push({
        session_id: kpis.session_id,
        status: 'open',
        started_at: kpis.started_at,
        ended_at: kpis.ended_at,
        channel: kpis.channel,
        touchpoint: kpis.touchpoint ?? null,
        converted: kpis.converted,
        cart_abandoned: kpis.cart_abandoned,
        help_views: kpis.help_views,
        checkout_errors: kpis.checkout_errors,
      });
    }
    sessions.sort((a, b) => a.started_at - b.started_at);
    return {
      sessions,
      feedback: (history?.responses ?? []).map((response) => ({ responded_at: response.at, metric: response.metric, score: response.score, survey_id: null, session_id: null })),
      contacts: (history?.contacts ?? []).map((at) => ({ contacted_at: at, kind: null, channel: null })),
      negative_mentions: [...(history?.negativeMentions ?? [])],
    };
  }
}

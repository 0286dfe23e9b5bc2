// The facts a rule condition may read: the triggering event, the live (or closing) session, the customer's recent journey and experience.
import type { Sentiment } from '../../../schemas/analytics-outputs.ts';
import type { CxEvent } from '../../../schemas/events.ts';
import type { SessionKpis } from '../../../schemas/outputs.ts';
import { SESSION_KPI_COLUMNS } from '../../../schemas/session-kpi-columns.ts';
import { feedbackTextOf, productFaultTerms } from './product-faults.ts';

export type FactKind = 'number' | 'boolean' | 'string';
/** `event`: rules triggered by an event; `session_closed`: rules evaluated when a session closes. */
export type RuleScope = 'event' | 'session_closed';

interface FactSpec {
  kind: FactKind;
  scopes: readonly RuleScope[];
  doc: string;
}

const EVENT_ONLY: readonly RuleScope[] = ['event'];
const BOTH: readonly RuleScope[] = ['event', 'session_closed'];
const fact = (kind: FactKind, scopes: readonly RuleScope[], doc: string): FactSpec => ({ kind, scopes, doc });

type SessionKpiFacts = { [C in (typeof SESSION_KPI_COLUMNS)[number]['column'] as `session.${C}`]: FactSpec };
/** The session's counters and flags (schemas/session-kpi-columns.ts), one fact each. */
const SESSION_KPI_FACTS = Object.fromEntries(
  SESSION_KPI_COLUMNS.map((entry) => [`session.${entry.column}`, fact(entry.kind === 'flag' ? 'boolean' : 'number', BOTH, entry.doc)]),
) as SessionKpiFacts;

/** Every fact by name; `event.properties.<name>` (any property of the triggering event) comes on top. */
export const FACTS = {
  'event.type': fact('string', EVENT_ONLY, 'type of the triggering event'),
  'event.channel': fact('string', EVENT_ONLY, 'channel of the triggering event'),
  'event.touchpoint': fact('string', EVENT_ONLY, 'touchpoint of the triggering event (null when absent)'),
  'event.sentiment.label': fact('string', EVENT_ONLY, 'negative | neutral | positive, for social_mention text and survey comments'),
  'event.sentiment.score': fact('number', EVENT_ONLY, 'sentiment score in [−1, 1]'),
  'event.text.product_fault': fact('boolean', EVENT_ONLY, 'the survey comment or social text names a product or a fault (German or English keywords, docs/rules.md)'),
  'session.exists': fact('boolean', BOTH, 'whether the trigger belongs to a live session (web/app session events)'),
  ...SESSION_KPI_FACTS,
  'session.duration_ms': fact('number', BOTH, 'last − first event time so far'),
  'session.channel': fact('string', BOTH, 'channel of the first event'),
  'session.entry_page': fact('string', BOTH, 'page of the first page_view'),
  'session.exit_page': fact('string', BOTH, 'page of the last page_view so far'),
  'session.experiment_id': fact('string', BOTH, 'experiment of the first event that carries one'),
  'session.variant': fact('string', BOTH, 'variant of that experiment'),
  'session.purchased_before_event': fact('boolean', EVENT_ONLY, 'a purchase of this session happened before the triggering event in event time'),
  'journey.sessions_7d': fact('number', BOTH, 'other sessions of the customer that ended in the 7 days before the trigger'),
  'journey.converted_sessions_7d': fact('number', BOTH, 'of those, converted'),
  'journey.abandoned_carts_7d': fact('number', BOTH, 'of those, with an abandoned cart'),
  'journey.contacts_7d': fact('number', BOTH, 'contact events (call, chat, store visit) in the 7 days before the trigger'),
  'experience.last_nps': fact('number', BOTH, 'score of the latest nps response in the 7 days before the trigger (null if none)'),
  'experience.last_nps_at': fact('number', BOTH, 'event time (epoch ms) of that response'),
  'experience.last_csat': fact('number', BOTH, 'latest csat score in 7 days'),
  'experience.last_ces': fact('number', BOTH, 'latest ces score in 7 days'),
  'experience.detractor_responses_7d': fact('number', BOTH, 'nps responses scoring 0–6 in 7 days'),
  'experience.negative_mentions_7d': fact('number', BOTH, 'social mentions labelled negative in 7 days'),
} as const satisfies Record<string, FactSpec>;

export type KnownFact = keyof typeof FACTS;
/** A fact name a rule may use: typed for the TS API, checked again when a rules file is loaded. */
export type FactName = KnownFact | `event.properties.${string}`;

const PROPERTY_FACT = /^event\.properties\.[a-z_][a-z0-9_]*$/;

/** The spec of a fact, or null when the name is unknown. Properties of the event are of any kind. */
export function factSpec(name: string): { kind: FactKind | 'any'; scopes: readonly RuleScope[] } | null {
  if (Object.hasOwn(FACTS, name)) return FACTS[name as KnownFact];
  if (PROPERTY_FACT.test(name)) return { kind: 'any', scopes: EVENT_ONLY };
  return null;
}

/** What the engine knows of the customer's recent journey, computed only when a rule reads it. */
export interface JourneyFacts {
  sessions_7d: number;
  converted_sessions_7d: number;
  abandoned_carts_7d: number;
  contacts_7d: number;
  last_nps: number | null;
  last_nps_at: number | null;
  last_csat: number | null;
  last_ces: number | null;
  detractor_responses_7d: number;
  negative_mentions_7d: number;
}

type SessionFacts = Omit<SessionKpis, 'session_id' | 'touchpoint' | 'first_campaign' | 'last_campaign'>;

export interface FactInput {
  event: CxEvent | null;
  sentiment: Sentiment | null;
  /** The session's measures (computed on first use: most events' rules read none), or null without a session. */
  session: (() => SessionFacts) | null;
  purchasedBeforeEvent: boolean | null;
  journey: () => JourneyFacts;
}

/** Reads facts by name for one evaluation; the journey is computed at most once, on first use. */
export class Facts {
  #journey: JourneyFacts | null = null;
  #session: SessionFacts | null = null;
  #productFault: boolean | null = null;

  constructor(private readonly input: FactInput) {}

  /** The session's measures, computed on first use (null without a session). */
  session(): SessionFacts | null {
    return this.input.session ? (this.#session ??= this.input.session()) : null;
  }

  /** The journey and experience facts, computed on first use. */
  journey(): JourneyFacts {
    return (this.#journey ??= this.input.journey());
  }

  get(name: string): unknown {
    const dot = name.indexOf('.');
    const scope = name.slice(0, dot);
    const field = name.slice(dot + 1);
    const { event } = this.input;
    switch (scope) {
      case 'event':
        if (!event) return null;
        if (field.startsWith('properties.')) return (event.properties as Record<string, unknown>)[field.slice(11)] ?? null;
        if (field === 'sentiment.label') return this.input.sentiment?.label ?? null;
        if (field === 'sentiment.score') return this.input.sentiment?.score ?? null;
        if (field === 'text.product_fault') return (this.#productFault ??= productFaultTerms(feedbackTextOf(event)).terms.length > 0);
        return (event as unknown as Record<string, unknown>)[field] ?? null;
      case 'session':
        if (field === 'exists') return this.input.session !== null;
        if (field === 'purchased_before_event') return this.input.purchasedBeforeEvent;
        return ((this.session() as unknown as Record<string, unknown> | null)?.[field] ?? null);
      case 'journey':
      case 'experience':
        return (this.journey() as unknown as Record<string, unknown>)[field] ?? null;
      default:
        return null;
    }
  }
}

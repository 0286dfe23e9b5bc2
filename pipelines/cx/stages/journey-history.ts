// Keeps each customer's recent journey (closed sessions, contacts, survey scores, negative mentions) for the X+O link, channel switches and the rules' journey facts.
import type { ChainStage } from '../../../engine/index.ts';
import { CustomerJourneys } from '../customer-journeys.ts';
import type { CxItem, CxOutputs } from '../journey-items.ts';
import { Every } from './every.ts';

/** History is kept for the longest look-back (7 days: X+O link, journey facts) plus slack for responses still waiting. */
const HISTORY_HORIZON_MS = 7 * 24 * 60 * 60 * 1000;

export interface JourneyHistoryOptions {
  sessionGapMs: number;
  /** Per customer, at most this many closed sessions, contacts, responses and mentions are kept (default 50). */
  maxHistoryPerCustomer?: number;
}

/**
 * Placed after the sentiment stage (a mention's label decides whether it is negative) and before the stages that read
 * the history: a closed session and an event's response or contact are in it when the rules look.
 */
export class JourneyHistory implements ChainStage<CxItem, CxOutputs> {
  readonly name = 'journey-history';
  readonly journeys: CustomerJourneys;
  readonly stores;
  readonly #evict = new Every();

  constructor(options: JourneyHistoryOptions) {
    this.journeys = new CustomerJourneys({ horizonMs: HISTORY_HORIZON_MS + 2 * options.sessionGapMs, maxPerCustomer: options.maxHistoryPerCustomer ?? 50 });
    this.stores = [this.journeys];
  }

  onItem(item: CxItem): void {
    if (item.kind === 'session_closed') {
      const { kpis } = item;
      this.journeys.addSession(item.key, {
        session_id: kpis.session_id,
        started_at: kpis.started_at,
        ended_at: kpis.ended_at,
        channel: kpis.channel,
        touchpoint: item.session.accumulator.touchpoint,
        converted: kpis.converted,
        cart_abandoned: kpis.cart_abandoned,
        help_views: kpis.help_views,
        checkout_errors: kpis.checkout_errors,
        page_views: kpis.page_views,
        videos_completed: kpis.videos_completed,
      }, item.partition);
      return;
    }
    if (item.kind !== 'event' || item.late) return;
    const { event, key, partition } = item;
    switch (event.type) {
      case 'survey_response':
        this.journeys.addResponse(key, { at: event.occurred_at, metric: event.properties.metric, score: event.properties.score }, partition);
        break;
      case 'contact':
        this.journeys.addContact(key, event.occurred_at, partition);
        break;
      case 'social_mention':
        if (item.sentiment?.label === 'negative') this.journeys.addNegativeMention(key, event.occurred_at, partition);
        break;
    }
  }

  onWatermark(watermark: number): void {
    if (this.#evict.due(watermark)) this.journeys.evict(watermark);
  }

  reset(): void {
    this.#evict.reset();
  }

  gauges(): Record<string, number> {
    return { customer_histories: this.journeys.size };
  }
}

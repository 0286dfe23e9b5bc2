// The X+O link (CONTRACT §3): each survey response joined to the customer's most recent session that ended at or before it, within 7 days; waiting responses are a checkpointed state store.
import type { FeedbackRow, NpsGroup, Sentiment } from '../../schemas/analytics-outputs.ts';
import type { CxEventOf } from '../../schemas/events.ts';
import type { CustomerJourneys } from './customer-journeys.ts';
import { latestSessionBefore } from './customer-journeys.ts';
import { PendingStore } from './pending-by-customer.ts';

export const LINK_WINDOW_MS = 7 * 24 * 60 * 60 * 1000;

export function npsGroupOf(score: number): NpsGroup {
  return score >= 9 ? 'promoter' : score >= 7 ? 'passive' : 'detractor';
}

/**
 * Like a Flink interval join, a response waits for the watermark: a session that ends at or before the
 * response may still be open when the response arrives (a survey sent 10 minutes after the last click, with a
 * 30-minute gap). Once the watermark passes `responded_at + gap`, every session that ended at or before the
 * response has closed, and no event can still extend one to before it — so the link is final and
 * deterministic. Feedback rows therefore appear one session gap after the response.
 * State: the waiting responses per customer, checkpointed in the customer's input partition.
 */
export class FeedbackLinker extends PendingStore<FeedbackRow> {
  constructor(
    private readonly sessionGapMs: number,
    name = 'journey-pending-feedback',
  ) {
    super(name);
  }

  add(event: CxEventOf<'survey_response'>, key: string, sentiment: Sentiment | null, partition: number): void {
    const { properties } = event;
    this.pending.add(key, partition, {
      response_event_id: event.event_id,
      customer_id: key,
      responded_at: event.occurred_at,
      survey_id: properties.survey_id,
      metric: properties.metric,
      score: properties.score,
      nps_group: properties.metric === 'nps' ? npsGroupOf(properties.score) : null,
      channel: event.channel,
      touchpoint: event.touchpoint,
      comment: properties.comment ?? null,
      language: properties.language ?? sentiment?.language ?? null,
      sentiment_score: sentiment?.score ?? null,
      sentiment_label: sentiment?.label ?? null,
      session_id: null,
      session_ended_at: null,
      session_channel: null,
      session_touchpoint: null,
      converted: null,
      cart_abandoned: null,
    });
  }

  /** Links and hands out every response whose sessions are final at this watermark (of one input partition's customers, given one). */
  release(watermark: number, journeys: CustomerJourneys, emit: (row: FeedbackRow) => void, partition?: number): void {
    const due = this.pending.takeDue((row) => row.responded_at + this.sessionGapMs < watermark, partition);
    // Oldest first, so rows come out in event-time order whatever the arrival order.
    due.sort((a, b) => a.responded_at - b.responded_at || (a.response_event_id < b.response_event_id ? -1 : a.response_event_id > b.response_event_id ? 1 : 0));
    for (const row of due) {
      const session = latestSessionBefore(journeys.historyOf(row.customer_id)?.sessions ?? [], row.responded_at, LINK_WINDOW_MS);
      emit(
        session
          ? {
              ...row,
              session_id: session.session_id,
              session_ended_at: session.ended_at,
              session_channel: session.channel,
              session_touchpoint: session.touchpoint,
              converted: session.converted,
              cart_abandoned: session.cart_abandoned,
            }
          : row,
      );
    }
  }
}

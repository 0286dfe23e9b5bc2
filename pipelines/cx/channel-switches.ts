// Channel switches (CONTRACT §3, "tried online before calling"): a contact within 24 h after a session with help views or checkout errors; waiting contacts are a checkpointed state store.
import type { ChannelSwitchRow } from '../../schemas/analytics-outputs.ts';
import type { CxEventOf } from '../../schemas/events.ts';
import type { CustomerJourneys } from './customer-journeys.ts';
import { latestSessionBefore } from './customer-journeys.ts';
import { PendingStore } from './pending-by-customer.ts';

export const SWITCH_WINDOW_MS = 24 * 60 * 60 * 1000;

interface PendingContact {
  contact_event_id: string;
  customer_id: string;
  contacted_at: number;
  contact_kind: string;
  contact_channel: ChannelSwitchRow['contact_channel'];
  contact_reason: string | null;
}

/**
 * A contact waits for the watermark to pass `contacted_at + gap` (see FeedbackLinker: the session before it may
 * still be open), then is matched with the most recent session of the customer that ended at or before it,
 * at most 24 h before, and had help_views ≥ 1 or checkout_errors ≥ 1. One row per such contact.
 * State: the waiting contacts per customer, checkpointed in the customer's input partition.
 */
export class ChannelSwitchDetector extends PendingStore<PendingContact> {
  constructor(
    private readonly sessionGapMs: number,
    name = 'journey-pending-contacts',
  ) {
    super(name);
  }

  add(event: CxEventOf<'contact'>, key: string, partition: number): void {
    this.pending.add(key, partition, {
      contact_event_id: event.event_id,
      customer_id: key,
      contacted_at: event.occurred_at,
      contact_kind: event.properties.kind,
      contact_channel: event.channel,
      contact_reason: event.properties.reason ?? null,
    });
  }

  release(watermark: number, journeys: CustomerJourneys, emit: (row: ChannelSwitchRow) => void, partition?: number): void {
    const due = this.pending.takeDue((contact) => contact.contacted_at + this.sessionGapMs < watermark, partition);
    // Oldest first, so rows come out in event-time order whatever the arrival order.
    due.sort((a, b) => a.contacted_at - b.contacted_at || (a.contact_event_id < b.contact_event_id ? -1 : a.contact_event_id > b.contact_event_id ? 1 : 0));
    for (const contact of due) {
      const session = latestSessionBefore(
        journeys.historyOf(contact.customer_id)?.sessions ?? [],
        contact.contacted_at,
        SWITCH_WINDOW_MS,
        (candidate) => candidate.help_views >= 1 || candidate.checkout_errors >= 1,
      );
      if (!session) continue;
      emit({
        ...contact,
        session_id: session.session_id,
        session_ended_at: session.ended_at,
        session_channel: session.channel,
        gap_ms: contact.contacted_at - session.ended_at,
        help_views: session.help_views,
        checkout_errors: session.checkout_errors,
        converted: session.converted,
      });
    }
  }
}

// Touchpoints before purchase (CONTRACT §3): per purchase, the customer's ad impressions, email opens and clicks in the 7 days before it; state in checkpointed stores.
import type { Operator, OperatorContext, Outputs, StateStore, StreamRecord } from '../../engine/index.ts';
import { KeyedStateStore, StoreBackedOperator } from '../../engine/index.ts';
import type { CxEvent, CxEventOf } from '../../schemas/events.ts';
import type { CxOutputs } from './journey-operator.ts';
import type { AnalyticsConsentView } from './consent.ts';
import { eventAnalyticsAllowedAt } from './consent.ts';
import { PendingByCustomer } from './pending-by-customer.ts';

export const ATTRIBUTION_WINDOW_MS = 7 * 24 * 60 * 60 * 1000;
const EVICT_EVERY_MS = 60_000;

interface Touch {
  eventId: string;
  at: number;
  type: 'ad_impression' | 'email_open' | 'email_click';
  campaign: string;
}

interface PendingPurchase {
  key: string;
  event: CxEventOf<'purchase'>;
  /** false: the customer's analytics consent was false at the purchase, so its row is written without them (absent: allowed). */
  personal?: false;
}

export interface PurchaseAttributionOptions {
  maxTouchesPerCustomer?: number;
  /**
   * The journey's analytics consent (`JourneyOperator.analyticsConsent`; the journey must come before this operator
   * so it has read each batch first). With it, a purchase made while the customer's analytics consent is false is
   * written without them (docs/privacy.md "Analytics: the exact rule"); without it, rows keep the customer.
   */
  consent?: AnalyticsConsentView;
}

const isTouch = (event: CxEvent): event is CxEventOf<'ad_impression' | 'email_open' | 'email_click'> =>
  event.type === 'ad_impression' || event.type === 'email_open' || event.type === 'email_click';

/**
 * Keyed by the session key. A purchase waits until the watermark passes it, so touches that arrive a little out
 * of order are counted the same on every run; touches are kept 7 days behind the watermark (at most
 * `maxTouchesPerCustomer`, the newest), and a touch with an event id already kept is a duplicate.
 * State: touches and waiting purchases per customer, checkpointed in the customer's input partition.
 */
export class PurchaseAttributionOperator extends StoreBackedOperator implements Operator<CxEvent, CxOutputs> {
  readonly name = 'purchase-attribution';
  /** Touches per customer in time order; purchases waiting for the watermark. */
  readonly #touches = new KeyedStateStore<Touch[]>('attribution-touches');
  readonly #pending = new PendingByCustomer<PendingPurchase>('attribution-pending-purchases');
  #evictedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: PurchaseAttributionOptions = {}) {
    super();
  }

  process(records: readonly StreamRecord<CxEvent>[], _out: Outputs<CxOutputs>, context: OperatorContext): void {
    let taken = 0;
    const max = this.options.maxTouchesPerCustomer ?? 200;
    for (const record of records) {
      const event = record.value;
      // Identity stitching's copies and links: the purchase or touch was attributed where it first arrived.
      if (event.handover !== undefined) continue;
      if (event.type === 'purchase') {
        if (!this.#pending.has(record.key, (pending) => pending.event.event_id === event.event_id)) {
          // Decided at the purchase's place in the log (not when the watermark emits it): the same for any batching.
          const personal = !this.options.consent || eventAnalyticsAllowedAt(event, this.options.consent, record.key, record.offset);
          this.#pending.add(record.key, record.partition, personal ? { key: record.key, event } : { key: record.key, event, personal: false });
        }
        taken++;
      } else if (isTouch(event)) {
        const touches = this.#touches.get(record.key) ?? [];
        if (touches.some((touch) => touch.eventId === event.event_id)) continue;
        let index = touches.length;
        while (index > 0 && touches[index - 1]!.at > event.occurred_at) index--;
        touches.splice(index, 0, { eventId: event.event_id, at: event.occurred_at, type: event.type, campaign: event.properties.campaign_id });
        if (touches.length > max) touches.splice(0, touches.length - max);
        this.#touches.put(record.partition, record.key, touches);
        taken++;
      }
    }
    if (taken > 0) context.metrics.count('touchstream_operator_input_total', taken, { operator: this.name });
  }

  onWatermark(watermark: number, out: Outputs<CxOutputs>, context: OperatorContext): void {
    if (this.#pending.size > 0) {
      const due = this.#pending.takeDue((pending) => pending.event.occurred_at < watermark);
      if (due.length > 0) {
        due.sort((a, b) => a.event.occurred_at - b.event.occurred_at || (a.event.event_id < b.event.event_id ? -1 : 1));
        for (const { key, event, personal } of due) {
          const row = this.#attribute(key, event);
          if (personal === false) {
            // Still counted in revenue and campaign figures; linked to no one.
            context.metrics.count('touchstream_rows_deidentified_total', 1, { output: 'purchase_attribution' });
            out.emit('purchase_attribution', { ...row, customer_id: '' });
          } else out.emit('purchase_attribution', row);
        }
        context.metrics.count('touchstream_operator_output_total', due.length, { operator: this.name, output: 'purchase_attribution' });
      }
    }
    if (watermark - this.#evictedAt >= EVICT_EVERY_MS) {
      this.#evictedAt = watermark;
      // Keep what a purchase still waiting (up to the watermark) may look back to.
      const limit = watermark - ATTRIBUTION_WINDOW_MS - EVICT_EVERY_MS;
      for (const [key, { partition, value: touches }] of this.#touches.entries()) {
        let count = 0;
        while (count < touches.length && touches[count]!.at < limit) count++;
        if (count === touches.length) this.#touches.delete(key);
        else if (count > 0) {
          touches.splice(0, count);
          this.#touches.put(partition, key, touches);
        }
      }
    }
  }

  #attribute(key: string, event: CxEventOf<'purchase'>) {
    const at = event.occurred_at;
    const window = (this.#touches.get(key) ?? []).filter((touch) => touch.at >= at - ATTRIBUTION_WINDOW_MS && touch.at < at);
    const campaigns = [...new Set(window.map((touch) => touch.campaign))].sort();
    return {
      purchase_event_id: event.event_id,
      order_id: event.properties.order_id,
      customer_id: key,
      purchased_at: at,
      revenue: event.properties.revenue,
      currency: event.properties.currency,
      channel: event.channel,
      touchpoints: window.length,
      ad_impressions: window.filter((touch) => touch.type === 'ad_impression').length,
      email_opens: window.filter((touch) => touch.type === 'email_open').length,
      email_clicks: window.filter((touch) => touch.type === 'email_click').length,
      distinct_campaigns: campaigns.length,
      campaigns,
      first_touch_at: window[0]?.at ?? null,
      last_touch_campaign: window.at(-1)?.campaign ?? null,
    };
  }

  protected stores(): StateStore[] {
    return [this.#touches, this.#pending];
  }


  gauges(): Record<string, number> {
    return { attribution_customers: this.#touches.size, attribution_pending_purchases: this.#pending.size };
  }
}

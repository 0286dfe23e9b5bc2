// E-mail and ad KPIs (CONTRACT §3): each impression, open and click, and the sessions and purchases of the customer within 7 days after a touch of a campaign; sets a closing session's first and last campaign.
import type { ChainStage, Outputs } from '../../../engine/index.ts';
import { KeyedStateStore } from '../../../engine/index.ts';
import type { CampaignKpiKind } from '../../../schemas/analytics-outputs.ts';
import type { CxItem, CxOutputs, EventItem, SessionClosedItem } from '../journey-items.ts';
import { Every } from './every.ts';

export const CAMPAIGN_WINDOW_MS = 7 * 24 * 60 * 60 * 1000;
/** Touches are kept this long behind the watermark: the window, plus a day for sessions that started long before they close. */
const KEEP_MS = CAMPAIGN_WINDOW_MS + 24 * 60 * 60 * 1000;

/** [time, event_id, type, campaign_id, placement ('' for e-mail)]. */
type Touch = [number, string, string, string, string];

const KIND_OF: Record<string, CampaignKpiKind> = { ad_impression: 'impression', ad_click: 'click', email_open: 'open', email_click: 'click' };

/**
 * A touch counts for a session that starts within 7 days after it, and for the session's purchases (attributed at
 * the first purchase of the session) within 7 days after it; once per campaign, placement and touch type. Touches
 * are matched when the session closes, so one that arrives within the out-of-orderness bound still counts.
 */
export class Campaigns implements ChainStage<CxItem, CxOutputs> {
  readonly name = 'campaigns';
  readonly #touches = new KeyedStateStore<Touch[]>('journey-campaign-touches');
  readonly stores = [this.#touches];
  readonly #evict = new Every();

  onItem(item: CxItem, out: Outputs<CxOutputs>): void {
    if (item.kind === 'session_closed') this.#closed(item, out);
    else if (item.kind === 'event' && !item.late && !item.handedOver) this.#touch(item, out);
  }

  onWatermark(watermark: number): void {
    if (!this.#evict.due(watermark)) return;
    const limit = watermark - KEEP_MS;
    for (const [key, { partition, value }] of [...this.#touches.entries()]) {
      const kept = value.filter((touch) => touch[0] >= limit);
      if (kept.length === value.length) continue;
      if (kept.length === 0) this.#touches.delete(key);
      else this.#touches.put(partition, key, kept);
    }
  }

  reset(): void {
    this.#evict.reset();
  }

  gauges(): Record<string, number> {
    return { campaign_touch_customers: this.#touches.size };
  }

  #touch(item: EventItem, out: Outputs<CxOutputs>): void {
    const { event } = item;
    if (event.type !== 'ad_impression' && event.type !== 'ad_click' && event.type !== 'email_open' && event.type !== 'email_click') return;
    const placement = event.type === 'ad_impression' || event.type === 'ad_click' ? event.properties.placement : '';
    const touch: Touch = [event.occurred_at, event.event_id, event.type, event.properties.campaign_id, placement];
    const list = this.#touches.get(item.key) ?? [];
    list.push(touch);
    this.#touches.put(item.partition, item.key, list);
    out.emit('campaign_kpis', {
      campaign_id: touch[3], placement, kind: KIND_OF[event.type]!, touch_type: event.type, customer_id: item.key, at: touch[0], source_id: event.event_id, orders: 0, revenue: 0,
    });
  }

  #closed(item: SessionClosedItem, out: Outputs<CxOutputs>): void {
    const touches = this.#touches.get(item.key);
    if (!touches || touches.length === 0) return;
    const { kpis, session } = item;
    const sorted = [...touches].sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    const before = (at: number) => sorted.filter((touch) => touch[0] < at && touch[0] >= at - CAMPAIGN_WINDOW_MS);
    const beforeStart = before(kpis.started_at);
    kpis.first_campaign = beforeStart[0]?.[3] ?? null;
    const untilEnd = sorted.filter((touch) => touch[0] <= kpis.ended_at && touch[0] >= kpis.ended_at - CAMPAIGN_WINDOW_MS);
    kpis.last_campaign = untilEnd[untilEnd.length - 1]?.[3] ?? null;
    const contribute = (kind: 'session' | 'purchase', at: number, matched: readonly Touch[]) => {
      const seen = new Set<string>();
      for (const [, , type, campaign, placement] of matched) {
        const id = `${campaign}\u0000${placement}\u0000${type}`;
        if (seen.has(id)) continue;
        seen.add(id);
        out.emit('campaign_kpis', {
          campaign_id: campaign, placement, kind, touch_type: type, customer_id: kpis.customer_id, at, source_id: kpis.session_id,
          orders: kind === 'purchase' ? kpis.orders : 0, revenue: kind === 'purchase' ? kpis.revenue : 0,
        });
      }
    };
    contribute('session', kpis.started_at, beforeStart);
    const purchasedAt = session.accumulator.firstPurchaseAt;
    if (purchasedAt !== null) contribute('purchase', purchasedAt, before(purchasedAt));
  }
}

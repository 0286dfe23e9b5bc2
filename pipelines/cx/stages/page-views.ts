// Page-level KPIs (CONTRACT §3): per page view of a closed session, the dwell to the next page view (the exit page's to the session's last event) and the clicks in between.
import type { ChainStage, Outputs } from '../../../engine/index.ts';
import type { CxItem, CxOutputs, SessionClosedItem } from '../journey-items.ts';
import { SessionEventBuffer } from '../session-event-buffer.ts';

/** [time, event_id, 'p', page, page_type] for a page view; [time, event_id, 'c'] for a click. */
type PageEntry = readonly [number, string, 'p', string, string] | readonly [number, string, 'c'];

export class PageViews implements ChainStage<CxItem, CxOutputs> {
  readonly name = 'page-views';
  readonly #buffer = new SessionEventBuffer<PageEntry>('journey-page-views');
  readonly stores = [this.#buffer];

  onItem(item: CxItem, out: Outputs<CxOutputs>): void {
    if (item.kind === 'session_closed') return this.#closed(item, out);
    if (item.kind === 'session_handed_over') return void this.#buffer.take(item.key, item.partition, item.session.start, item.session.last);
    if (item.late || item.session === null) return;
    const { event } = item;
    if (event.type === 'page_view') {
      this.#buffer.add(item.key, item.partition, [event.occurred_at, event.event_id, 'p', event.properties.page, event.properties.page_type]);
    } else if (event.type === 'click') {
      this.#buffer.add(item.key, item.partition, [event.occurred_at, event.event_id, 'c']);
    }
  }

  #closed(item: SessionClosedItem, out: Outputs<CxOutputs>): void {
    const { session, kpis } = item;
    const entries = this.#buffer.take(item.key, item.partition, session.start, session.last);
    let open: (PageEntry & { 2: 'p' }) | null = null;
    let clicks = 0;
    const emit = (view: PageEntry & { 2: 'p' }, until: number, isExit: boolean) =>
      out.emit('page_views', {
        page_view_event_id: view[1], session_id: kpis.session_id, customer_id: kpis.customer_id, viewed_at: view[0],
        page: view[3], page_type: view[4], dwell_ms: until - view[0], clicks, is_exit: isExit,
      });
    for (const entry of entries) {
      if (entry[2] === 'c') {
        if (open) clicks++;
        continue;
      }
      if (open) emit(open, entry[0], false);
      open = entry;
      clicks = 0;
    }
    if (open) emit(open, session.last, true);
  }

  gauges(): Record<string, number> {
    return { page_view_buffers: this.#buffer.size };
  }
}

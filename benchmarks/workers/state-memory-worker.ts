// Measures the memory that live sessions take (JS heap and typed-array buffers): touchstream's session windows (with the session KPI accumulator) and the dedup ids of their events, after a full GC (run with --expose-gc).
import { SeenSet, SessionWindows } from '../../engine/index.ts';
import { sessionKpiAggregator } from '../../pipelines/cx/session-kpis.ts';
import type { CxEvent } from '../../schemas/events.ts';

const START = Date.parse('2026-11-02T08:00:00.000Z');
const HOUR = 3_600_000;

/** A session's events as the generator shapes them: views, a click, a cart add, video (8 events, the input's mean). */
function sessionEvents(index: number): CxEvent[] {
  const base = { customer_id: `cust-${index}`, anonymous_id: null, channel: 'web' as const, touchpoint: 'search', experiment: { id: 'checkout-redesign', variant: index % 2 ? 'A' : 'B' } };
  const time = START + (index % 1000);
  const id = (n: number) => `evt-42-${(index * 8 + n).toString(36)}`;
  return [
    { ...base, event_id: id(0), type: 'page_view', occurred_at: time, properties: { page: `/home/${index % 50}`, page_type: 'home' } },
    { ...base, event_id: id(1), type: 'click', occurred_at: time + 1000, properties: { element: 'menu' } },
    { ...base, event_id: id(2), type: 'page_view', occurred_at: time + 2000, properties: { page: `/product/${index % 50}`, page_type: 'product' } },
    { ...base, event_id: id(3), type: 'add_to_cart', occurred_at: time + 3000, properties: { product_id: 'sku-1001', price: 42, quantity: 1 } },
    { ...base, event_id: id(4), type: 'page_view', occurred_at: time + 4000, properties: { page: `/cart/${index % 50}`, page_type: 'cart' } },
    { ...base, event_id: id(5), type: 'video_start', occurred_at: time + 5000, properties: { video_id: 'vid-1' } },
    { ...base, event_id: id(6), type: 'video_progress', occurred_at: time + 6000, properties: { video_id: 'vid-1', percent: 50 } },
    { ...base, event_id: id(7), type: 'page_view', occurred_at: time + 7000, properties: { page: `/help/${index % 50}`, page_type: 'help' } },
  ] as CxEvent[];
}

/** JS heap plus ArrayBuffer memory (typed arrays keep their contents outside the JS heap), after full GCs. */
const heap = () => {
  (globalThis as { gc?: () => void }).gc!();
  (globalThis as { gc?: () => void }).gc!();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
};

function main(): void {
  const sessions = Number(process.argv[2]);
  if (!(globalThis as { gc?: unknown }).gc) throw new Error('run with --expose-gc');
  const windows = new SessionWindows({ name: 'journey-sessions', gapMs: 30 * 60_000 }, sessionKpiAggregator);
  const seen = new SeenSet(HOUR, 'journey-seen-ids');
  const before = heap();
  let offset = 0;
  for (let index = 0; index < sessions; index++) {
    for (const event of sessionEvents(index)) {
      // The engine keeps the decoded event only while it is processed: the event objects here are garbage right after.
      seen.add(event.event_id, event.occurred_at, 0);
      windows.add(event.customer_id!, event.occurred_at, Number.NEGATIVE_INFINITY, 0, offset++, event);
    }
  }
  const withDedup = heap() - before;
  const seenBytes = (() => {
    // Measure the dedup ids alone by dropping them.
    const kept = heap();
    seen.evict(Number.POSITIVE_INFINITY);
    return kept - heap();
  })();
  if (windows.size !== sessions) throw new Error(`expected ${sessions} live sessions, found ${windows.size}`);
  process.stdout.write(`${JSON.stringify({ event: 'result', sessions, eventsPerSession: 8, totalBytes: withDedup, dedupBytes: seenBytes })}\n`);
}

main();

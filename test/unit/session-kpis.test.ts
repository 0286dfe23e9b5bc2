// Pins the session KPI aggregator on hand-built events: counts, first/last by (time, event_id), evidence ids, and that any arrival order or merge gives the same row.
import { describe, expect, it } from 'vitest';
import { SessionAccumulator, sessionKpiAggregator, sessionMeasures } from '../../pipelines/cx/session-kpis.ts';
import type { CxEvent } from '../../schemas/events.ts';

const base = { customer_id: 'c1', anonymous_id: null, touchpoint: null, experiment: null };
const at = (second: number) => Date.parse('2026-11-02T08:00:00.000Z') + second * 1000;

const events: CxEvent[] = [
  { ...base, event_id: 'e2', type: 'page_view', channel: 'app', touchpoint: 'push', occurred_at: at(0), properties: { page: '/b', page_type: 'home' } },
  // Same time as e2, smaller id: this one is "first" (channel web, touchpoint search, entry page /a).
  { ...base, event_id: 'e1', type: 'page_view', channel: 'web', touchpoint: 'search', occurred_at: at(0), properties: { page: '/a', page_type: 'help' } },
  { ...base, event_id: 'e3', type: 'add_to_cart', channel: 'web', occurred_at: at(10), experiment: { id: 'x', variant: 'B' }, properties: { product_id: 'p', price: 10.1, quantity: 2 } },
  { ...base, event_id: 'e4', type: 'checkout_error', channel: 'web', occurred_at: at(20), experiment: { id: 'y', variant: 'A' }, properties: { code: 'card' } },
  { ...base, event_id: 'e5', type: 'purchase', channel: 'web', occurred_at: at(30), properties: { order_id: 'o1', revenue: 20.2, currency: 'EUR' } },
  // Same time as e7, smaller id: e7 is "last" (exit page /z).
  { ...base, event_id: 'e6', type: 'page_view', channel: 'web', occurred_at: at(40), properties: { page: '/y', page_type: 'contact' } },
  { ...base, event_id: 'e7', type: 'page_view', channel: 'web', occurred_at: at(40), properties: { page: '/z', page_type: 'product' } },
] as CxEvent[];

/** The row as CONTRACT §2 defines it for these events, written out by hand. */
const expected = {
  customer_id: 'c1', started_at: at(0), ended_at: at(40), duration_ms: 40_000, events: 7, page_views: 4, clicks: 0, bounced: false,
  orders: 1, revenue: 20.2, converted: true, cart_adds: 1, cart_value: 20.2, cart_abandoned: false, checkout_errors: 1, help_views: 2,
  videos_started: 0, videos_completed: 0, entry_page: '/a', exit_page: '/z', channel: 'web', experiment_id: 'x', variant: 'B',
};

function fold(order: readonly CxEvent[]): SessionAccumulator {
  const [first, ...rest] = order;
  const acc = sessionKpiAggregator.create(first!, first!.occurred_at);
  for (const event of rest) sessionKpiAggregator.add(acc, event, event.occurred_at);
  return acc;
}

describe('sessionKpiAggregator', () => {
  it('gives the hand-computed row, first touchpoint and evidence ids in arrival order', () => {
    const acc = fold(events);
    expect(sessionMeasures('c1', at(0), at(40), acc)).toEqual(expected);
    expect(acc.touchpoint).toBe('search');
    expect(acc.firstPurchaseAt).toBe(at(30));
    expect(acc.cartEventIds).toEqual(['e3']);
    expect(acc.checkoutErrorIds).toEqual(['e4']);
    expect(acc.helpViewIds).toEqual(['e1', 'e6']);
  });

  it('gives the same row in reverse order and when two halves are merged either way round', () => {
    expect(sessionMeasures('c1', at(0), at(40), fold([...events].reverse()))).toEqual(expected);
    const early = fold(events.slice(0, 3));
    const late = fold(events.slice(3));
    sessionKpiAggregator.merge(late, early);
    expect(sessionMeasures('c1', at(0), at(40), late)).toEqual(expected);
    expect(late.touchpoint).toBe('search');
    const early2 = fold(events.slice(0, 3));
    sessionKpiAggregator.merge(early2, fold(events.slice(3)));
    expect(sessionMeasures('c1', at(0), at(40), early2)).toEqual(expected);
    expect(early2.helpViewIds).toEqual(['e1', 'e6']);
  });

  it('keeps at most 10 evidence ids, also across a merge, without touching another session', () => {
    const carts = Array.from({ length: 12 }, (_, index) => ({
      ...base, event_id: `c${String(index).padStart(2, '0')}`, type: 'add_to_cart', channel: 'web', occurred_at: at(index), properties: { product_id: 'p', price: 1, quantity: 1 },
    })) as CxEvent[];
    const other = fold(carts.slice(0, 1));
    const a = fold(carts.slice(0, 6));
    sessionKpiAggregator.merge(a, fold(carts.slice(6)));
    expect(a.cartEventIds).toEqual(['c00', 'c01', 'c02', 'c03', 'c04', 'c05', 'c06', 'c07', 'c08', 'c09']);
    expect(a.count('cart_adds')).toBe(12);
    expect(other.cartEventIds).toEqual(['c00']);
  });

  it('checkpoints as the plain JSON of earlier versions and is rebuilt from it exactly (offsets, evidence, fired rules)', () => {
    const acc = fold([...events].reverse()); // the first event comes last: every kept time is re-based once
    acc.markFired('proactive_help');
    acc.markFired('proactive_help');
    const saved = JSON.parse(JSON.stringify(acc));
    expect(saved).toEqual({
      events: 7, pageViews: 4, clicks: 0, orders: 1, revenue: 20.2, cartAdds: 1, cartValue: 20.2, checkoutErrors: 1, helpViews: 2,
      videosStarted: 0, videosCompleted: 0, firstAt: at(0), firstId: 'e1', channel: 'web', touchpoint: 'search',
      firstPageAt: at(0), firstPageId: 'e1', firstPage: '/a', lastPageAt: at(40), lastPageId: 'e7', lastPage: '/z',
      experimentAt: at(10), experimentId: 'e3', experiment: { id: 'x', variant: 'B' }, firstPurchaseAt: at(30),
      cartEventIds: ['e3'], checkoutErrorIds: ['e4'], helpViewIds: ['e6', 'e1'], firedRules: ['proactive_help'],
    });
    const restored = sessionKpiAggregator.restore!(saved) as SessionAccumulator;
    expect(restored).toBeInstanceOf(SessionAccumulator);
    expect(sessionMeasures('c1', at(0), at(40), restored)).toEqual(expected);
    expect(restored.hasFired('proactive_help')).toBe(true);
    expect(restored.hasFired('cart_reminder')).toBe(false);
    expect(JSON.parse(JSON.stringify(restored))).toEqual(saved);
  });
});

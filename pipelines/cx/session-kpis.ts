// The session KPIs of CONTRACT §2 as an order-insensitive aggregator: any arrival order and any merge give the same row.
import { createHash } from 'node:crypto';
import type { SessionAggregator } from '../../engine/index.ts';
import type { Channel, CxEvent } from '../../schemas/events.ts';
import type { SessionKpis } from '../../schemas/outputs.ts';

/** A value stamped with the event that carried it; the earliest (time, event_id) wins "first", the latest wins "last". */
interface Stamped<T> {
  time: number;
  eventId: string;
  value: T;
}

export interface SessionAccumulator {
  events: number;
  pageViews: number;
  clicks: number;
  orders: number;
  revenue: number;
  cartAdds: number;
  cartValue: number;
  checkoutErrors: number;
  helpViews: number;
  videosStarted: number;
  videosCompleted: number;
  firstEvent: Stamped<Channel>;
  firstPage: Stamped<string> | null;
  lastPage: Stamped<string> | null;
  firstExperiment: Stamped<{ id: string; variant: string }> | null;
  /** The touchpoint of the first event (the session's entry touchpoint, for rollups and the X+O link). */
  firstTouchpoint: Stamped<string | null>;
  /** Event time of the earliest purchase, for rules that ask "no purchase before this event". */
  firstPurchaseAt: number | null;
  /** Evidence event ids (capped): add_to_cart, checkout_error and help/contact page_view events. */
  cartEventIds: string[];
  checkoutErrorIds: string[];
  helpViewIds: string[];
  /** Ids of the rules that already fired in this live session (each fires at most once per session). */
  firedRules: string[];
}

const MAX_EVIDENCE = 10;

const earlier = <T>(a: Stamped<T> | null, b: Stamped<T> | null): Stamped<T> | null =>
  a === null ? b : b === null ? a : b.time < a.time || (b.time === a.time && b.eventId < a.eventId) ? b : a;
const later = <T>(a: Stamped<T> | null, b: Stamped<T> | null): Stamped<T> | null =>
  a === null ? b : b === null ? a : b.time > a.time || (b.time === a.time && b.eventId > a.eventId) ? b : a;

function add(acc: SessionAccumulator, event: CxEvent, time: number): void {
  acc.events++;
  const stamp = { time, eventId: event.event_id };
  acc.firstEvent = earlier(acc.firstEvent, { ...stamp, value: event.channel })!;
  acc.firstTouchpoint = earlier(acc.firstTouchpoint, { ...stamp, value: event.touchpoint })!;
  if (event.experiment) acc.firstExperiment = earlier(acc.firstExperiment, { ...stamp, value: event.experiment });
  switch (event.type) {
    case 'page_view': {
      acc.pageViews++;
      const page = { ...stamp, value: event.properties.page };
      acc.firstPage = earlier(acc.firstPage, page);
      acc.lastPage = later(acc.lastPage, page);
      if (event.properties.page_type === 'help' || event.properties.page_type === 'contact') {
        acc.helpViews++;
        if (acc.helpViewIds.length < MAX_EVIDENCE) acc.helpViewIds.push(event.event_id);
      }
      break;
    }
    case 'click':
      acc.clicks++;
      break;
    case 'add_to_cart':
      acc.cartAdds++;
      acc.cartValue += event.properties.price * event.properties.quantity;
      if (acc.cartEventIds.length < MAX_EVIDENCE) acc.cartEventIds.push(event.event_id);
      break;
    case 'purchase':
      acc.orders++;
      acc.revenue += event.properties.revenue;
      if (acc.firstPurchaseAt === null || time < acc.firstPurchaseAt) acc.firstPurchaseAt = time;
      break;
    case 'checkout_error':
      acc.checkoutErrors++;
      if (acc.checkoutErrorIds.length < MAX_EVIDENCE) acc.checkoutErrorIds.push(event.event_id);
      break;
    case 'video_start':
      acc.videosStarted++;
      break;
    case 'video_complete':
      acc.videosCompleted++;
      break;
  }
}

export const sessionKpiAggregator: SessionAggregator<CxEvent, SessionAccumulator> = {
  create(event, time) {
    const acc: SessionAccumulator = {
      events: 0, pageViews: 0, clicks: 0, orders: 0, revenue: 0, cartAdds: 0, cartValue: 0, checkoutErrors: 0,
      helpViews: 0, videosStarted: 0, videosCompleted: 0,
      firstEvent: { time, eventId: event.event_id, value: event.channel },
      firstTouchpoint: { time, eventId: event.event_id, value: event.touchpoint },
      firstPage: null, lastPage: null, firstExperiment: null, firstPurchaseAt: null,
      cartEventIds: [], checkoutErrorIds: [], helpViewIds: [], firedRules: [],
    };
    add(acc, event, time);
    return acc;
  },
  add,
  merge(into, from) {
    into.events += from.events;
    into.pageViews += from.pageViews;
    into.clicks += from.clicks;
    into.orders += from.orders;
    into.revenue += from.revenue;
    into.cartAdds += from.cartAdds;
    into.cartValue += from.cartValue;
    into.checkoutErrors += from.checkoutErrors;
    into.helpViews += from.helpViews;
    into.videosStarted += from.videosStarted;
    into.videosCompleted += from.videosCompleted;
    into.firstEvent = earlier(into.firstEvent, from.firstEvent)!;
    into.firstPage = earlier(into.firstPage, from.firstPage);
    into.lastPage = later(into.lastPage, from.lastPage);
    into.firstExperiment = earlier(into.firstExperiment, from.firstExperiment);
    into.firstTouchpoint = earlier(into.firstTouchpoint, from.firstTouchpoint)!;
    if (from.firstPurchaseAt !== null && (into.firstPurchaseAt === null || from.firstPurchaseAt < into.firstPurchaseAt)) into.firstPurchaseAt = from.firstPurchaseAt;
    for (const id of from.cartEventIds) if (into.cartEventIds.length < MAX_EVIDENCE) into.cartEventIds.push(id);
    for (const id of from.checkoutErrorIds) if (into.checkoutErrorIds.length < MAX_EVIDENCE) into.checkoutErrorIds.push(id);
    for (const id of from.helpViewIds) if (into.helpViewIds.length < MAX_EVIDENCE) into.helpViewIds.push(id);
    for (const rule of from.firedRules) if (!into.firedRules.includes(rule)) into.firedRules.push(rule);
  },
};

/** Deterministic session id: the same key and start give the same id on every run and worker count. */
export function sessionIdOf(key: string, startedAt: number): string {
  return createHash('sha256').update(key).update('\0').update(String(startedAt)).digest('hex').slice(0, 32);
}

// Money sums are kept to the cent so float addition order cannot change the row.
const cents = (value: number) => Math.round(value * 100) / 100;

export function sessionKpis(key: string, startedAt: number, endedAt: number, acc: SessionAccumulator): SessionKpis {
  return { session_id: sessionIdOf(key, startedAt), ...sessionMeasures(key, startedAt, endedAt, acc) };
}

/** The KPIs without the id (no hashing): what rules read from a live session on every event. */
export function sessionMeasures(key: string, startedAt: number, endedAt: number, acc: SessionAccumulator): Omit<SessionKpis, 'session_id'> {
  const converted = acc.orders >= 1;
  return {
    customer_id: key,
    started_at: startedAt,
    ended_at: endedAt,
    duration_ms: endedAt - startedAt,
    events: acc.events,
    page_views: acc.pageViews,
    clicks: acc.clicks,
    bounced: acc.events === 1 && acc.pageViews === 1,
    orders: acc.orders,
    revenue: cents(acc.revenue),
    converted,
    cart_adds: acc.cartAdds,
    cart_value: cents(acc.cartValue),
    cart_abandoned: acc.cartAdds >= 1 && !converted,
    checkout_errors: acc.checkoutErrors,
    help_views: acc.helpViews,
    videos_started: acc.videosStarted,
    videos_completed: acc.videosCompleted,
    entry_page: acc.firstPage?.value ?? null,
    exit_page: acc.lastPage?.value ?? null,
    channel: acc.firstEvent.value,
    experiment_id: acc.firstExperiment?.value.id ?? null,
    variant: acc.firstExperiment?.value.variant ?? null,
  };
}

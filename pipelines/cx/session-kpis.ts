// The session KPIs of CONTRACT §2 as an order-insensitive aggregator: any arrival order and any merge give the same row.
import { createHash } from 'node:crypto';
import type { SessionAggregator } from '../../engine/index.ts';
import type { Channel, CxEvent } from '../../schemas/events.ts';
import type { SessionKpis } from '../../schemas/outputs.ts';

/**
 * A session's running KPIs, flat (no per-event objects): each "first"/"last" value is kept with the (time, event_id)
 * that carried it; the earliest (time, event_id) wins "first", the latest wins "last".
 */
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
  /** The first event's stamp, channel and touchpoint (the session's entry touchpoint, for rollups and the X+O link). */
  firstAt: number;
  firstId: string;
  channel: Channel;
  touchpoint: string | null;
  firstPageAt: number;
  firstPageId: string;
  firstPage: string | null;
  lastPageAt: number;
  lastPageId: string;
  lastPage: string | null;
  experimentAt: number;
  experimentId: string;
  experiment: { id: string; variant: string } | null;
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
/** Shared by every accumulator until its first id: arrays are replaced (exact size), never pushed to. */
const NONE: string[] = [];

/** (time, id) comes before (atTime, atId). */
const before = (time: number, id: string, atTime: number, atId: string): boolean => time < atTime || (time === atTime && id < atId);
const after = (time: number, id: string, atTime: number, atId: string): boolean => time > atTime || (time === atTime && id > atId);
/** Appends an evidence id up to the cap, in an array of exactly the needed size (most sessions hold one or two). */
const withId = (ids: string[], id: string): string[] => (ids.length < MAX_EVIDENCE ? ids.concat(id) : ids);

function add(acc: SessionAccumulator, event: CxEvent, time: number): void {
  acc.events++;
  const id = event.event_id;
  if (before(time, id, acc.firstAt, acc.firstId)) {
    acc.firstAt = time;
    acc.firstId = id;
    acc.channel = event.channel;
    acc.touchpoint = event.touchpoint;
  }
  if (event.experiment && (acc.experiment === null || before(time, id, acc.experimentAt, acc.experimentId))) {
    acc.experimentAt = time;
    acc.experimentId = id;
    acc.experiment = event.experiment;
  }
  switch (event.type) {
    case 'page_view': {
      acc.pageViews++;
      const page = event.properties.page;
      if (acc.firstPage === null || before(time, id, acc.firstPageAt, acc.firstPageId)) {
        acc.firstPageAt = time;
        acc.firstPageId = id;
        acc.firstPage = page;
      }
      if (acc.lastPage === null || after(time, id, acc.lastPageAt, acc.lastPageId)) {
        acc.lastPageAt = time;
        acc.lastPageId = id;
        acc.lastPage = page;
      }
      if (event.properties.page_type === 'help' || event.properties.page_type === 'contact') {
        acc.helpViews++;
        acc.helpViewIds = withId(acc.helpViewIds, id);
      }
      break;
    }
    case 'click':
      acc.clicks++;
      break;
    case 'add_to_cart':
      acc.cartAdds++;
      acc.cartValue += event.properties.price * event.properties.quantity;
      acc.cartEventIds = withId(acc.cartEventIds, id);
      break;
    case 'purchase':
      acc.orders++;
      acc.revenue += event.properties.revenue;
      if (acc.firstPurchaseAt === null || time < acc.firstPurchaseAt) acc.firstPurchaseAt = time;
      break;
    case 'checkout_error':
      acc.checkoutErrors++;
      acc.checkoutErrorIds = withId(acc.checkoutErrorIds, id);
      break;
    case 'video_start':
      acc.videosStarted++;
      break;
    case 'video_complete':
      acc.videosCompleted++;
      break;
  }
}

/** Appends `from`'s ids after `into`'s, up to the cap. */
function mergeIds(into: string[], from: string[]): string[] {
  if (from.length === 0 || into.length >= MAX_EVIDENCE) return into;
  return into.concat(from.slice(0, MAX_EVIDENCE - into.length));
}

export const sessionKpiAggregator: SessionAggregator<CxEvent, SessionAccumulator> = {
  create(event, time) {
    const acc: SessionAccumulator = {
      events: 0, pageViews: 0, clicks: 0, orders: 0, revenue: 0, cartAdds: 0, cartValue: 0, checkoutErrors: 0,
      helpViews: 0, videosStarted: 0, videosCompleted: 0,
      firstAt: time, firstId: event.event_id, channel: event.channel, touchpoint: event.touchpoint,
      firstPageAt: 0, firstPageId: '', firstPage: null, lastPageAt: 0, lastPageId: '', lastPage: null,
      experimentAt: 0, experimentId: '', experiment: null, firstPurchaseAt: null,
      cartEventIds: NONE, checkoutErrorIds: NONE, helpViewIds: NONE, firedRules: [],
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
    if (before(from.firstAt, from.firstId, into.firstAt, into.firstId)) {
      into.firstAt = from.firstAt;
      into.firstId = from.firstId;
      into.channel = from.channel;
      into.touchpoint = from.touchpoint;
    }
    if (from.firstPage !== null && (into.firstPage === null || before(from.firstPageAt, from.firstPageId, into.firstPageAt, into.firstPageId))) {
      into.firstPageAt = from.firstPageAt;
      into.firstPageId = from.firstPageId;
      into.firstPage = from.firstPage;
    }
    if (from.lastPage !== null && (into.lastPage === null || after(from.lastPageAt, from.lastPageId, into.lastPageAt, into.lastPageId))) {
      into.lastPageAt = from.lastPageAt;
      into.lastPageId = from.lastPageId;
      into.lastPage = from.lastPage;
    }
    if (from.experiment !== null && (into.experiment === null || before(from.experimentAt, from.experimentId, into.experimentAt, into.experimentId))) {
      into.experimentAt = from.experimentAt;
      into.experimentId = from.experimentId;
      into.experiment = from.experiment;
    }
    if (from.firstPurchaseAt !== null && (into.firstPurchaseAt === null || from.firstPurchaseAt < into.firstPurchaseAt)) into.firstPurchaseAt = from.firstPurchaseAt;
    into.cartEventIds = mergeIds(into.cartEventIds, from.cartEventIds);
    into.checkoutErrorIds = mergeIds(into.checkoutErrorIds, from.checkoutErrorIds);
    into.helpViewIds = mergeIds(into.helpViewIds, from.helpViewIds);
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
    entry_page: acc.firstPage,
    exit_page: acc.lastPage,
    channel: acc.channel,
    experiment_id: acc.experiment?.id ?? null,
    variant: acc.experiment?.variant ?? null,
  };
}

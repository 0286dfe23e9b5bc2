// The session KPIs of CONTRACT §2 as an order-insensitive aggregator: any arrival order and any merge give the same row.
import { createHash } from 'node:crypto';
import type { SessionAggregator } from '../../engine/index.ts';
import type { Channel, CxEvent } from '../../schemas/events.ts';
import type { SessionKpis } from '../../schemas/outputs.ts';
import type { SessionCounter, SessionCounterColumn, SessionKpiValues } from '../../schemas/session-kpi-columns.ts';
import { SESSION_COUNTERS, SESSION_KPI_COLUMNS } from '../../schemas/session-kpi-columns.ts';

/** Each counter's index in an accumulator's `counts` (the checkpoint order). */
const COUNTER_INDEX = new Map<string, number>(SESSION_COUNTERS.map((counter, index) => [counter.column, index]));
/** Per event type, the counters it moves: the hot path looks up one short list per event. */
const COUNTERS_BY_TYPE = new Map<string, Array<{ index: number; counter: SessionCounter }>>();
SESSION_COUNTERS.forEach((counter, index) => {
  for (const type of counter.on) {
    const list = COUNTERS_BY_TYPE.get(type) ?? [];
    list.push({ index, counter });
    COUNTERS_BY_TYPE.set(type, list);
  }
});
/** The checkpoint's name of each counter: the camelCase of its column, as the accumulator's fields were once named. */
const SAVED_NAMES = SESSION_COUNTERS.map((counter) => counter.column.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase()));
const NO_COUNTERS: Array<{ index: number; counter: SessionCounter }> = [];
const indexOf = (column: SessionCounterColumn): number => COUNTER_INDEX.get(column)!;
const EVENTS = indexOf('events');
const ORDERS = indexOf('orders');
const CART_ADDS = indexOf('cart_adds');


/** A value held by many sessions (a page, a touchpoint, an experiment) is stored once: a bounded pool of shared copies. */
const POOL_LIMIT = 8192;
const strings = new Map<string, string>();
const experiments = new Map<string, Experiment>();

function shared(value: string): string {
  const known = strings.get(value);
  if (known !== undefined) return known;
  if (strings.size >= POOL_LIMIT) strings.clear();
  strings.set(value, value);
  return value;
}

function sharedExperiment(experiment: Experiment): Experiment {
  const key = `${experiment.id}\u0000${experiment.variant}`;
  const known = experiments.get(key);
  if (known !== undefined) return known;
  if (experiments.size >= POOL_LIMIT) experiments.clear();
  const copy = { id: shared(experiment.id), variant: shared(experiment.variant) };
  experiments.set(key, copy);
  return copy;
}

type Experiment = { id: string; variant: string };

const MAX_EVIDENCE = 10;
/** What an accumulator without evidence or fired rules hands out: frozen, so nobody pushes into the shared array. */
const NONE: readonly string[] = Object.freeze([]);

/** Evidence ids kept compactly: none, one id, or an array of exactly the needed size (capped). */
type Ids = null | string | string[];
const idsOf = (ids: Ids): string[] => (ids === null ? [] : typeof ids === 'string' ? [ids] : ids.slice());
const countOf = (ids: Ids): number => (ids === null ? 0 : typeof ids === 'string' ? 1 : ids.length);
function withId(ids: Ids, id: string): Ids {
  if (ids === null) return id;
  if (typeof ids === 'string') return [ids, id];
  return ids.length < MAX_EVIDENCE ? ids.concat(id) : ids;
}
/** Appends `from`'s ids after `into`'s, up to the cap. */
function mergeIds(into: Ids, from: Ids): Ids {
  const room = MAX_EVIDENCE - countOf(into);
  if (from === null || room <= 0) return into;
  const added = idsOf(from).slice(0, room);
  if (into === null) return added.length === 1 ? added[0]! : added;
  return idsOf(into).concat(added);
}

/** (time, id) comes before (atTime, atId). */
const before = (time: number, id: string, atTime: number, atId: string): boolean => time < atTime || (time === atTime && id < atId);
const after = (time: number, id: string, atTime: number, atId: string): boolean => time > atTime || (time === atTime && id > atId);

/** The checkpointed form of an accumulator (the changelog format; event times absolute). */
export interface SavedSessionAccumulator {
  /** Each counter under the camelCase of its column (`cart_value` → `cartValue`); one saved before the counter existed restores it as 0. */
  [counter: string]: unknown;
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
  experiment: Experiment | null;
  firstPurchaseAt: number | null;
  cartEventIds: string[];
  checkoutErrorIds: string[];
  helpViewIds: string[];
  firedRules: string[];
}

/**
 * A session's running KPIs, flat (no per-event objects): each "first"/"last" value is kept with the (time, event_id)
 * that carried it; the earliest (time, event_id) wins "first", the latest wins "last".
 *
 * Compact because every live session holds one: counts are small integers; event times other than `firstAt` are kept
 * as offsets from it (small integers, not boxed numbers); pages, touchpoints and experiments are shared copies;
 * evidence ids and fired rules take no array until there are two.
 */
export class SessionAccumulator {
  /** The counters of SESSION_COUNTERS, by index. */
  readonly counts: number[] = SESSION_COUNTERS.map(() => 0);
  /** The first event's stamp, channel and touchpoint (the session's entry touchpoint, for rollups and the X+O link). */
  firstAt: number;
  firstId: string;
  channel: Channel;
  touchpoint: string | null;
  firstPageId = '';
  firstPage: string | null = null;
  lastPageId = '';
  lastPage: string | null = null;
  experimentId = '';
  experiment: Experiment | null = null;
  /** Offsets from `firstAt` (never negative: `firstAt` is the earliest); -1: no purchase. */
  #firstPageOffset = 0;
  #lastPageOffset = 0;
  #experimentOffset = 0;
  #purchaseOffset = -1;
  #cartIds: Ids = null;
  #checkoutErrorIds: Ids = null;
  #helpIds: Ids = null;
  #fired: Ids = null;

  constructor(firstAt: number, firstId: string, channel: Channel, touchpoint: string | null) {
    this.firstAt = firstAt;
    this.firstId = firstId;
    this.channel = channel;
    this.touchpoint = touchpoint;
  }

  get firstPageAt(): number {
    return this.firstAt + this.#firstPageOffset;
  }

  get lastPageAt(): number {
    return this.firstAt + this.#lastPageOffset;
  }

  get experimentAt(): number {
    return this.firstAt + this.#experimentOffset;
  }

  /** Event time of the earliest purchase, for rules that ask "no purchase before this event". */
  get firstPurchaseAt(): number | null {
    return this.#purchaseOffset < 0 ? null : this.firstAt + this.#purchaseOffset;
  }

  /** Evidence event ids (capped, in arrival order): add_to_cart, checkout_error and help/contact page_view events. */
  get cartEventIds(): string[] {
    return idsOf(this.#cartIds);
  }

  get checkoutErrorIds(): string[] {
    return idsOf(this.#checkoutErrorIds);
  }

  get helpViewIds(): string[] {
    return idsOf(this.#helpIds);
  }

  /** Ids of the rules that already fired in this live session (each fires at most once per session). */
  get firedRules(): readonly string[] {
    const fired = this.#fired;
    return fired === null ? NONE : typeof fired === 'string' ? [fired] : fired;
  }

  hasFired(ruleId: string): boolean {
    const fired = this.#fired;
    return fired !== null && (typeof fired === 'string' ? fired === ruleId : fired.includes(ruleId));
  }

  markFired(ruleId: string): void {
    if (this.hasFired(ruleId)) return;
    const fired = this.#fired;
    this.#fired = fired === null ? ruleId : typeof fired === 'string' ? [fired, ruleId] : fired.concat(ruleId);
  }

  /** A counter's value so far. */
  count(column: SessionCounterColumn): number {
    return this.counts[indexOf(column)]!;
  }

  /** Orders ≥ 1 (CONTRACT §2 `converted`). */
  get converted(): boolean {
    return this.counts[ORDERS]! >= 1;
  }

  /** Cart adds ≥ 1 and not converted (CONTRACT §2 `cart_abandoned`). */
  get cartAbandoned(): boolean {
    return this.counts[CART_ADDS]! >= 1 && this.counts[ORDERS] === 0;
  }

  add(event: CxEvent, time: number): void {
    const counts = this.counts;
    for (const { index, counter } of COUNTERS_BY_TYPE.get(event.type) ?? NO_COUNTERS) {
      if (counter.when && !counter.when(event)) continue;
      counts[index]! += counter.amount ? counter.amount(event) : 1;
    }
    const id = event.event_id;
    if (before(time, id, this.firstAt, this.firstId)) {
      this.#moveFirst(time);
      this.firstId = id;
      this.channel = event.channel;
      this.touchpoint = event.touchpoint === null ? null : shared(event.touchpoint);
    }
    if (event.experiment && (this.experiment === null || before(time, id, this.experimentAt, this.experimentId))) {
      this.#experimentOffset = time - this.firstAt;
      this.experimentId = id;
      this.experiment = sharedExperiment(event.experiment);
    }
    switch (event.type) {
      case 'page_view': {
        const page = event.properties.page;
        if (this.firstPage === null || before(time, id, this.firstPageAt, this.firstPageId)) {
          this.#firstPageOffset = time - this.firstAt;
          this.firstPageId = id;
          this.firstPage = shared(page);
        }
        if (this.lastPage === null || after(time, id, this.lastPageAt, this.lastPageId)) {
          this.#lastPageOffset = time - this.firstAt;
          this.lastPageId = id;
          this.lastPage = shared(page);
        }
        if (event.properties.page_type === 'help' || event.properties.page_type === 'contact') this.#helpIds = withId(this.#helpIds, id);
        break;
      }
      case 'add_to_cart':
        this.#cartIds = withId(this.#cartIds, id);
        break;
      case 'purchase':
        if (this.#purchaseOffset < 0 || time - this.firstAt < this.#purchaseOffset) this.#purchaseOffset = time - this.firstAt;
        break;
      case 'checkout_error':
        this.#checkoutErrorIds = withId(this.#checkoutErrorIds, id);
        break;
    }
  }

  merge(from: SessionAccumulator): void {
    for (let index = 0; index < this.counts.length; index++) this.counts[index]! += from.counts[index]!;
    if (before(from.firstAt, from.firstId, this.firstAt, this.firstId)) {
      this.#moveFirst(from.firstAt);
      this.firstId = from.firstId;
      this.channel = from.channel;
      this.touchpoint = from.touchpoint;
    }
    if (from.firstPage !== null && (this.firstPage === null || before(from.firstPageAt, from.firstPageId, this.firstPageAt, this.firstPageId))) {
      this.#firstPageOffset = from.firstPageAt - this.firstAt;
      this.firstPageId = from.firstPageId;
      this.firstPage = from.firstPage;
    }
    if (from.lastPage !== null && (this.lastPage === null || after(from.lastPageAt, from.lastPageId, this.lastPageAt, this.lastPageId))) {
      this.#lastPageOffset = from.lastPageAt - this.firstAt;
      this.lastPageId = from.lastPageId;
      this.lastPage = from.lastPage;
    }
    if (from.experiment !== null && (this.experiment === null || before(from.experimentAt, from.experimentId, this.experimentAt, this.experimentId))) {
      this.#experimentOffset = from.experimentAt - this.firstAt;
      this.experimentId = from.experimentId;
      this.experiment = from.experiment;
    }
    const purchase = from.firstPurchaseAt;
    if (purchase !== null && (this.#purchaseOffset < 0 || purchase - this.firstAt < this.#purchaseOffset)) this.#purchaseOffset = purchase - this.firstAt;
    this.#cartIds = mergeIds(this.#cartIds, from.#cartIds);
    this.#checkoutErrorIds = mergeIds(this.#checkoutErrorIds, from.#checkoutErrorIds);
    this.#helpIds = mergeIds(this.#helpIds, from.#helpIds);
    for (const rule of from.firedRules) this.markFired(rule);
  }

  /** The checkpointed form: the same JSON the accumulator had as a plain object, so changelogs stay readable both ways. */
  toJSON(): SavedSessionAccumulator {
    const saved = {} as SavedSessionAccumulator;
    SESSION_COUNTERS.forEach((counter, index) => {
      saved[SAVED_NAMES[index]!] = this.counts[index];
    });
    return {
      ...saved,
      firstAt: this.firstAt, firstId: this.firstId, channel: this.channel, touchpoint: this.touchpoint,
      firstPageAt: this.firstPage === null ? 0 : this.firstPageAt, firstPageId: this.firstPageId, firstPage: this.firstPage,
      lastPageAt: this.lastPage === null ? 0 : this.lastPageAt, lastPageId: this.lastPageId, lastPage: this.lastPage,
      experimentAt: this.experiment === null ? 0 : this.experimentAt, experimentId: this.experimentId, experiment: this.experiment,
      firstPurchaseAt: this.firstPurchaseAt,
      cartEventIds: this.cartEventIds, checkoutErrorIds: this.checkoutErrorIds, helpViewIds: this.helpViewIds, firedRules: [...this.firedRules],
    };
  }

  static fromJSON(saved: SavedSessionAccumulator): SessionAccumulator {
    const acc = new SessionAccumulator(saved.firstAt, saved.firstId, saved.channel, saved.touchpoint === null ? null : shared(saved.touchpoint));
    SAVED_NAMES.forEach((name, index) => {
      acc.counts[index] = typeof saved[name] === 'number' ? saved[name] : 0;
    });
    if (saved.firstPage !== null) {
      acc.#firstPageOffset = saved.firstPageAt - saved.firstAt;
      acc.firstPageId = saved.firstPageId;
      acc.firstPage = shared(saved.firstPage);
    }
    if (saved.lastPage !== null) {
      acc.#lastPageOffset = saved.lastPageAt - saved.firstAt;
      acc.lastPageId = saved.lastPageId;
      acc.lastPage = shared(saved.lastPage);
    }
    if (saved.experiment !== null) {
      acc.#experimentOffset = saved.experimentAt - saved.firstAt;
      acc.experimentId = saved.experimentId;
      acc.experiment = sharedExperiment(saved.experiment);
    }
    if (saved.firstPurchaseAt !== null) acc.#purchaseOffset = saved.firstPurchaseAt - saved.firstAt;
    for (const id of saved.cartEventIds) acc.#cartIds = withId(acc.#cartIds, id);
    for (const id of saved.checkoutErrorIds) acc.#checkoutErrorIds = withId(acc.#checkoutErrorIds, id);
    for (const id of saved.helpViewIds) acc.#helpIds = withId(acc.#helpIds, id);
    for (const rule of saved.firedRules) acc.markFired(rule);
    return acc;
  }

  /** `firstAt` moves earlier: the offsets kept from it grow by as much. */
  #moveFirst(time: number): void {
    const shift = this.firstAt - time;
    this.firstAt = time;
    this.#firstPageOffset += shift;
    this.#lastPageOffset += shift;
    this.#experimentOffset += shift;
    if (this.#purchaseOffset >= 0) this.#purchaseOffset += shift;
  }
}

export const sessionKpiAggregator: SessionAggregator<CxEvent, SessionAccumulator> = {
  create(event, time) {
    const acc = new SessionAccumulator(time, event.event_id, event.channel, event.touchpoint === null ? null : shared(event.touchpoint));
    acc.add(event, time);
    return acc;
  },
  add: (acc, event, time) => acc.add(event, time),
  merge: (into, from) => into.merge(from),
  restore: (saved) => SessionAccumulator.fromJSON(saved as SavedSessionAccumulator),
};

/** Deterministic session id: the same key and start give the same id on every run and worker count. */
export function sessionIdOf(key: string, startedAt: number): string {
  return createHash('sha256').update(key).update('\0').update(String(startedAt)).digest('hex').slice(0, 32);
}

// Money sums are kept to the cent so float addition order cannot change the row.
const cents = (value: number) => Math.round(value * 100) / 100;

/** A closed session's row; first/last campaign are set by the campaign stage when it knows them. */
export function sessionKpis(key: string, startedAt: number, endedAt: number, acc: SessionAccumulator): SessionKpis {
  return {
    session_id: sessionIdOf(key, startedAt),
    ...sessionMeasures(key, startedAt, endedAt, acc),
    touchpoint: acc.touchpoint,
    first_campaign: null,
    last_campaign: null,
  };
}

/** What a live session measures so far: the row of a closed one without its id and the journey context set at the close. */
export type SessionMeasures = Omit<SessionKpis, 'session_id' | 'touchpoint' | 'first_campaign' | 'last_campaign'>;

export function sessionMeasures(key: string, startedAt: number, endedAt: number, acc: SessionAccumulator): SessionMeasures {
  return {
    customer_id: key,
    started_at: startedAt,
    ended_at: endedAt,
    duration_ms: endedAt - startedAt,
    ...kpiValues(acc),
    entry_page: acc.firstPage,
    exit_page: acc.lastPage,
    channel: acc.channel,
    experiment_id: acc.experiment?.id ?? null,
    variant: acc.experiment?.variant ?? null,
  };
}

/** The counters and flags of SESSION_KPI_COLUMNS, in column order; money to the cent. */
function kpiValues(acc: SessionAccumulator): SessionKpiValues {
  const values: Record<string, number | boolean> = {};
  const of = (column: string) => acc.counts[COUNTER_INDEX.get(column)!]!;
  for (const entry of SESSION_KPI_COLUMNS) {
    if (entry.kind === 'flag') values[entry.column] = entry.of(of);
    else if (entry.kind === 'money') values[entry.column] = cents(of(entry.column));
    else values[entry.column] = of(entry.column);
  }
  return values as SessionKpiValues;
}

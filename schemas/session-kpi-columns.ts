// The session KPIs that are counters or flags over them (CONTRACT §2), declared once: this table drives the
// accumulator (add, merge, checkpoint), the `sessions` row, the ClickHouse columns, the rule facts and the check
// against the Avro schema. Adding a KPI is one entry here plus the schema evolution (schemas/avro/session.avsc).
import type { CxEvent, EventType } from './events.ts';

/** A counter: it adds `amount(event)` (1 when absent) for each event of the types in `on` that passes `when`. */
export interface SessionCounter {
  readonly column: string;
  readonly kind: 'count' | 'money';
  readonly on: readonly EventType[];
  readonly when?: (event: CxEvent) => boolean;
  readonly amount?: (event: CxEvent) => number;
  readonly doc: string;
}

/** A flag over the counters of the same session, e.g. `converted` = orders ≥ 1. */
export interface SessionFlag {
  readonly column: string;
  readonly kind: 'flag';
  readonly of: (count: (column: string) => number) => boolean;
  readonly doc: string;
}

export type SessionKpiColumn = SessionCounter | SessionFlag;

const count = <C extends string>(column: C, on: readonly EventType[], doc: string, when?: (event: CxEvent) => boolean) =>
  (when ? { column, kind: 'count', on, when, doc } : { column, kind: 'count', on, doc }) as SessionCounter & { column: C; kind: 'count' };
const money = <C extends string>(column: C, on: readonly EventType[], amount: (event: CxEvent) => number, doc: string) =>
  ({ column, kind: 'money', on, amount, doc }) as SessionCounter & { column: C; kind: 'money' };
const flag = <C extends string>(column: C, of: SessionFlag['of'], doc: string) => ({ column, kind: 'flag', of, doc }) as SessionFlag & { column: C };

const ALL_SESSION_TYPES: readonly EventType[] = [
  'page_view', 'click', 'add_to_cart', 'remove_from_cart', 'checkout_start', 'checkout_error', 'purchase',
  'video_start', 'video_progress', 'video_complete',
];
const isHelpView = (event: CxEvent) =>
  event.type === 'page_view' && (event.properties.page_type === 'help' || event.properties.page_type === 'contact');

/**
 * In `sessions` column order. The checkpoint keeps the counters in this order: a new counter goes after the
 * existing ones (a checkpoint from before it restores it as 0).
 */
export const SESSION_KPI_COLUMNS = [
  count('events', ALL_SESSION_TYPES, 'events in the session so far'),
  count('page_views', ['page_view'], 'page views so far'),
  count('clicks', ['click'], 'clicks so far'),
  flag('bounced', (of) => of('events') === 1 && of('page_views') === 1, 'exactly one event, a page_view'),
  count('orders', ['purchase'], 'purchases so far'),
  money('revenue', ['purchase'], (event) => (event.type === 'purchase' ? event.properties.revenue : 0), 'revenue so far'),
  flag('converted', (of) => of('orders') >= 1, 'orders ≥ 1'),
  count('cart_adds', ['add_to_cart'], 'add_to_cart events so far'),
  money('cart_value', ['add_to_cart'], (event) => (event.type === 'add_to_cart' ? event.properties.price * event.properties.quantity : 0),
    'sum of price × quantity of add_to_cart'),
  flag('cart_abandoned', (of) => of('cart_adds') >= 1 && of('orders') === 0, 'cart_adds ≥ 1 and not converted'),
  count('checkout_errors', ['checkout_error'], 'checkout_error events so far'),
  count('help_views', ['page_view'], 'help/contact page views so far', isHelpView),
  count('videos_started', ['video_start'], 'video_start events so far'),
  count('videos_completed', ['video_complete'], 'video_complete events so far'),
] as const satisfies readonly SessionKpiColumn[];

type Entry = (typeof SESSION_KPI_COLUMNS)[number];
/** The counters' column names (numbers on the row). */
export type SessionCounterColumn = Extract<Entry, { kind: 'count' | 'money' }>['column'];
/** The flags' column names (booleans on the row). */
export type SessionFlagColumn = Extract<Entry, { kind: 'flag' }>['column'];
/** The counters and flags of one session, as on the `sessions` row. */
export type SessionKpiValues = { [C in SessionCounterColumn]: number } & { [F in SessionFlagColumn]: boolean };

/** The counters alone, in checkpoint order. */
export const SESSION_COUNTERS: readonly SessionCounter[] = SESSION_KPI_COLUMNS.filter((entry): entry is Extract<Entry, SessionCounter> => entry.kind !== 'flag');

// Pins identity stitching on hand-built journeys: the edge's copies, links and routing, and what the CX chain makes of them (one session for the customer, rules that see the anonymous part, nothing left under the anonymous id).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { StateChange } from '../../engine/index.ts';
import { SessionWindows } from '../../engine/index.ts';
import type { CxEvent } from '../../schemas/events.ts';
import { partitionKeyOf } from '../../sources/kafka/event-publisher.ts';
import { generateDay } from '../../sources/generator/synthetic-day.ts';
import { IdentityStitcher, withoutHandover } from '../../sources/identity/index.ts';
import { MIN, at, event, journeyHarness } from '../support/cx-harness.ts';

const sha = (...parts: string[]) => createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 32);
const sessionId = (key: string, startedAt: number) => sha(key, String(startedAt));

/** An event of the anonymous visitor `a1` (customer null), or, with `customer`, one carrying both ids (a login). */
const web = (id: string, type: CxEvent['type'], minutes: number, properties: Record<string, unknown>, customer: string | null = null): CxEvent =>
  ({ ...event(id, type, minutes, properties), customer_id: customer, anonymous_id: 'a1' }) as CxEvent;
const page = (id: string, minutes: number, pageType: string, customer: string | null = null) => web(id, 'page_view', minutes, { page: `/${pageType}/${id}`, page_type: pageType }, customer);

const stitcher = (options: { maxVisitors?: number; maxEventsPerVisitor?: number } = {}) =>
  new IdentityStitcher({ sessionGapMs: 30 * MIN, maxVisitors: options.maxVisitors ?? 100, maxEventsPerVisitor: options.maxEventsPerVisitor ?? 100 });
const shape = (events: readonly CxEvent[]) => events.map((e) => [e.event_id, e.customer_id, e.anonymous_id, e.handover ?? null, partitionKeyOf(e)]);

/** Anonymous browsing (two help views, a cart, a checkout error), then a login on a help page, then a second checkout error. */
function journey(): CxEvent[] {
  return [
    page('ap1', 0, 'home'),
    page('ah1', 1, 'help'),
    web('ac1', 'add_to_cart', 2, { product_id: 'sku-1', price: 30, quantity: 1 }),
    page('ah2', 3, 'contact'),
    web('ae1', 'checkout_error', 4, { code: 'TIMEOUT' }),
    page('lg', 5, 'help', 'c1'),
    web('ae2', 'checkout_error', 7, { code: 'TIMEOUT' }, 'c1'),
  ];
}

describe('IdentityStitcher (the source edge)', () => {
  it('copies the open anonymous session to the customer just before the login, then links the login to the anonymous key', () => {
    const { events, counts } = stitcher().stitch(journey());
    expect(shape(events)).toEqual([
      ['ap1', null, 'a1', null, 'a1'], ['ah1', null, 'a1', null, 'a1'], ['ac1', null, 'a1', null, 'a1'], ['ah2', null, 'a1', null, 'a1'], ['ae1', null, 'a1', null, 'a1'],
      ['ap1', 'c1', 'a1', 'copy', 'c1'], ['ah1', 'c1', 'a1', 'copy', 'c1'], ['ac1', 'c1', 'a1', 'copy', 'c1'], ['ah2', 'c1', 'a1', 'copy', 'c1'], ['ae1', 'c1', 'a1', 'copy', 'c1'],
      ['lg', 'c1', 'a1', 'link', 'a1'],
      ['lg', 'c1', 'a1', null, 'c1'],
      ['ae2', 'c1', 'a1', null, 'c1'],
    ]);
    expect(counts).toEqual({ logins: 1, handovers: 1, copied: 5, routed: 0, conflicts: 0, overflows: 0 });
    // The copies keep everything but the customer id.
    expect(events[7]).toEqual({ ...journey()[2], customer_id: 'c1', handover: 'copy' });
  });

  it('routes later anonymous events of a logged-in anonymous id to its first customer; a second customer changes nothing', () => {
    const edge = stitcher();
    edge.stitch(journey());
    const { events, counts } = edge.stitch([page('x1', 9, 'home', 'c2'), page('x2', 10, 'product'), page('x3', 120, 'product')]);
    expect(shape(events)).toEqual([['x1', 'c2', 'a1', null, 'c2'], ['x2', 'c1', 'a1', null, 'c1'], ['x3', 'c1', 'a1', null, 'c1']]);
    expect(counts).toEqual({ logins: 0, handovers: 0, copied: 0, routed: 2, conflicts: 1, overflows: 0 });
  });

  it('hands over nothing for a login more than the gap after the anonymous session (it closed anonymous), nor for a session that outgrew the bound', () => {
    const late = stitcher().stitch([page('ap1', 0, 'home'), page('ap2', 10, 'home'), page('lg', 41, 'help', 'c1')]);
    expect(shape(late.events)).toEqual([['ap1', null, 'a1', null, 'a1'], ['ap2', null, 'a1', null, 'a1'], ['lg', 'c1', 'a1', null, 'c1']]);
    expect(late.counts.logins).toBe(1);
    expect(late.counts.handovers).toBe(0);
    // A gap inside the anonymous browsing: only the session the login joins is handed over.
    const split = stitcher().stitch([page('old', 0, 'home'), page('new', 45, 'home'), page('lg', 50, 'help', 'c1')]);
    expect(shape(split.events).filter((row) => row[3] !== null).map((row) => [row[0], row[3]])).toEqual([['new', 'copy'], ['lg', 'link']]);
    const long = stitcher({ maxEventsPerVisitor: 2 }).stitch([page('ap1', 0, 'home'), page('ap2', 1, 'home'), page('ap3', 2, 'home'), page('lg', 3, 'help', 'c1')]);
    expect(long.events.filter((e) => e.handover !== undefined)).toEqual([]);
    expect(long.counts.overflows).toBe(1);
  });

  it('never trusts a handover mark that came with the input: it is removed, and the event stitched like any other', () => {
    const forged = { ...page('f1', 0, 'home', 'c9'), handover: 'link' } as CxEvent;
    expect(shape(stitcher().stitch([forged]).events)).toEqual([['f1', 'c9', 'a1', null, 'c9']]);
    expect(shape(withoutHandover([{ ...page('f2', 0, 'home'), handover: 'copy' } as CxEvent]))).toEqual([['f2', null, 'a1', null, 'a1']]);
  });

  it('forgets the least recently seen anonymous id beyond its bound', () => {
    const edge = stitcher({ maxVisitors: 2 });
    edge.stitch([page('l1', 0, 'home', 'c1'), { ...page('b1', 0, 'home'), anonymous_id: 'b' }, { ...page('b2', 0, 'home'), anonymous_id: 'c' }]);
    expect(edge.size).toBe(2);
    // a1 was forgotten: its anonymous event is no longer routed to c1.
    expect(shape(edge.stitch([page('x', 1, 'home')]).events)).toEqual([['x', null, 'a1', null, 'a1']]);
  });
});

describe('stitched journeys in the CX chain', () => {
  /** The published log, split by partition as Kafka would: a1 on partition 0, c1 on partition 1. */
  const partitioned = (events: readonly CxEvent[]) => ({
    anonymous: events.filter((e) => partitionKeyOf(e) === 'a1'),
    customer: events.filter((e) => partitionKeyOf(e) === 'c1'),
  });

  const run = (events: readonly CxEvent[], customerFirst: boolean) => {
    const { anonymous, customer } = partitioned(events);
    const harness = journeyHarness();
    if (customerFirst) harness.process(customer, Number.NEGATIVE_INFINITY, 1).process(anonymous, Number.NEGATIVE_INFINITY, 0);
    else harness.process(anonymous, Number.NEGATIVE_INFINITY, 0).process(customer, Number.NEGATIVE_INFINITY, 1);
    return harness.watermark(Number.POSITIVE_INFINITY);
  };

  it('gives one session for the customer with the anonymous part counted, rules that see it, and nothing left under the anonymous id', () => {
    const harness = run(stitcher().stitch(journey()).events, false);
    const id = sessionId('c1', at(0));
    expect(harness.outputs.sessions).toHaveLength(1);
    expect(harness.outputs.sessions[0]).toMatchObject({
      session_id: id, customer_id: 'c1', started_at: at(0), ended_at: at(7), events: 7, page_views: 4, help_views: 3, cart_adds: 1, cart_value: 30,
      checkout_errors: 2, cart_abandoned: true, entry_page: '/home/ap1', exit_page: '/help/lg',
    });
    expect(harness.outputs.page_views.map((row) => [row.page_view_event_id, row.session_id, row.customer_id, row.dwell_ms])).toEqual([
      ['ap1', id, 'c1', 1 * MIN], ['ah1', id, 'c1', 2 * MIN], ['ah2', id, 'c1', 2 * MIN], ['lg', id, 'c1', 2 * MIN],
    ]);
    // The third help view (the login) and the second checkout error fire for the customer, with the anonymous evidence;
    // the abandoned cart is reminded to the customer, not to the anonymous id.
    expect(harness.outputs.signals.map((s) => [s.action, s.customer_id, s.session_id, s.status, s.evidence_event_ids])).toEqual([
      ['proactive_help', 'c1', id, 'emitted', ['ah1', 'ah2', 'lg']],
      ['live_chat_offer', 'c1', id, 'emitted', ['ae1', 'ae2']],
      ['cart_reminder', 'c1', id, 'emitted', ['ac1']],
    ]);
    // Each event is one `events` row and counted once in the minute rollups (the copies are neither).
    expect(harness.outputs.events.map((row) => row.event.event_id).sort()).toEqual(['ac1', 'ae1', 'ae2', 'ah1', 'ah2', 'ap1', 'lg']);
    expect(harness.outputs.kpi_minute.reduce((sum, row) => sum + row.events, 0)).toBe(7);
    expect(harness.metrics.total('touchstream_sessions_handed_over_total')).toBe(1);
  });

  it('decides the same whichever partition is read first', () => {
    const stitched = stitcher().stitch(journey()).events;
    const first = run(stitched, false).outputs;
    const second = run(stitched, true).outputs;
    expect(second.sessions).toEqual(first.sessions);
    expect(second.page_views).toEqual(first.page_views);
    expect(second.signals.map((s) => s.signal_id).sort()).toEqual(first.signals.map((s) => s.signal_id).sort());
  });

  it('without stitching, the anonymous id keeps its own session and its cart reminder (what the stitching changes)', () => {
    const harness = run(journey(), false);
    expect(harness.outputs.sessions.map((row) => [row.customer_id, row.events, row.help_views])).toEqual([['a1', 5, 2], ['c1', 2, 1]]);
    expect(harness.outputs.signals.map((s) => [s.action, s.customer_id])).toEqual([['cart_reminder', 'a1']]);
  });
});

describe('stitching across a restart', () => {
  /** Checkpoints after each step; before step `restartBefore` a fresh operator is restored from the compacted changelog (through JSON). */
  const run = (steps: ReadonlyArray<(harness: ReturnType<typeof journeyHarness>) => unknown>, restartBefore: number | null) => {
    const changelog = new Map<string, StateChange>();
    const harnesses = [journeyHarness()];
    steps.forEach((step, index) => {
      if (index === restartBefore) {
        const fresh = journeyHarness();
        fresh.operator.reset();
        const stores = new Map<string, Map<number, Map<string, unknown>>>();
        for (const change of changelog.values()) {
          if (change.value === null) continue;
          const partitions = stores.get(change.store) ?? stores.set(change.store, new Map()).get(change.store)!;
          const entries = partitions.get(change.partition) ?? partitions.set(change.partition, new Map()).get(change.partition)!;
          entries.set(change.key, JSON.parse(JSON.stringify(change.value)));
        }
        for (const [store, partitions] of stores) for (const [partition, entries] of partitions) fresh.operator.restore(store, partition, entries);
        harnesses.push(fresh);
      }
      const harness = harnesses.at(-1)!;
      step(harness);
      for (const change of harness.operator.snapshot()) changelog.set(`${change.store}|${change.partition}|${change.key}`, change);
    });
    const pick = (name: 'sessions' | 'signals' | 'page_views' | 'events') => harnesses.flatMap((harness) => harness.outputs[name] as unknown[]);
    return { sessions: pick('sessions'), signals: pick('signals'), page_views: pick('page_views'), events: pick('events') };
  };

  it('gives the rows of an uninterrupted run whichever step the worker restarts before', () => {
    const stitched = stitcher().stitch(journey()).events;
    const anonymous = stitched.filter((e) => partitionKeyOf(e) === 'a1' && e.handover === undefined);
    const copies = stitched.filter((e) => e.handover === 'copy');
    const link = stitched.filter((e) => e.handover === 'link');
    const rest = stitched.filter((e) => partitionKeyOf(e) === 'c1' && e.handover === undefined);
    // Log order per partition: a1's browsing, then its link (partition 0); the copies, then the login and after (partition 1).
    const steps = [
      (harness: ReturnType<typeof journeyHarness>) => harness.process(anonymous, Number.NEGATIVE_INFINITY, 0),
      (harness: ReturnType<typeof journeyHarness>) => harness.process(copies, Number.NEGATIVE_INFINITY, 1),
      (harness: ReturnType<typeof journeyHarness>) => harness.process(link, Number.NEGATIVE_INFINITY, 0),
      (harness: ReturnType<typeof journeyHarness>) => harness.process(rest, Number.NEGATIVE_INFINITY, 1).watermark(Number.POSITIVE_INFINITY),
    ];
    const uninterrupted = run(steps, null);
    expect(uninterrupted.sessions.map((row) => (row as { customer_id: string; events: number }).events)).toEqual([7]);
    for (const restartBefore of [1, 2, 3]) expect(run(steps, restartBefore)).toEqual(uninterrupted);
  });
});

describe('the generator\'s logins', () => {
  it('leaves the day unchanged without them, and with them makes devices browse anonymously, then log in, in their first session', () => {
    expect(generateDay({ seed: 4, customers: 200, loginShare: 0 })).toEqual(generateDay({ seed: 4, customers: 200 }));
    const day = generateDay({ seed: 4, customers: 200, loginShare: 0.5 });
    const anonymousDevices = new Set(day.filter((e) => e.customer_id === null && e.anonymous_id?.startsWith('device-')).map((e) => e.anonymous_id));
    expect(anonymousDevices.size).toBeGreaterThan(10);
    // Each such device logs in later: an event with both ids, after its anonymous ones.
    for (const device of anonymousDevices) {
      const own = day.filter((e) => e.anonymous_id === device);
      const login = own.findIndex((e) => e.customer_id !== null && (e.channel === 'web' || e.channel === 'app'));
      expect(login).toBeGreaterThan(0);
      expect(own.slice(0, login).some((e) => e.customer_id === null)).toBe(true);
    }
    const { counts } = stitcher().stitch(day);
    expect(counts.handovers + counts.routed).toBeGreaterThan(10);
  });
});

describe('SessionWindows.remove', () => {
  it('removes the sessions an event at that time would join, without closing them, and checkpoints the key as gone', () => {
    const windows = new SessionWindows<number, number[]>({ name: 'w', gapMs: 10 }, {
      create: (value) => [value], add: (acc, value) => void acc.push(value), merge: (into, from) => void into.push(...from),
    });
    windows.add('k', 0, Number.NEGATIVE_INFINITY, 3, 0, 1);
    windows.add('k', 5, Number.NEGATIVE_INFINITY, 3, 1, 2);
    windows.add('k', 100, Number.NEGATIVE_INFINITY, 3, 2, 3);
    windows.changes();
    expect(windows.remove('k', 50)).toEqual([]);
    expect(windows.remove('k', 12).map((session) => session.accumulator)).toEqual([[1, 2]]);
    expect(windows.size).toBe(1);
    expect(windows.changes()).toEqual([{ store: 'w', partition: 3, key: 'k', value: { sessions: [{ start: 100, last: 100, firstOffset: 2, accumulator: [3] }], closedUntil: null } }]);
    // The removed sessions never close; the one left closes as usual.
    const closed: number[][] = [];
    windows.closePartitionUpTo(3, 111, (session) => closed.push(session.accumulator));
    expect(closed).toEqual([[3]]);
    windows.remove('k', 100);
    expect(windows.size).toBe(0);
  });
});

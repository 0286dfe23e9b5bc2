// The benchmark input: a generated synthetic day plus one far-future marker event per partition, and the sessions it must yield.
import { partitionOf } from '../log/index.ts';
import { isSessionEvent, sessionKeyOf, toContractJson } from '../schemas/events.ts';
import type { CxEvent } from '../schemas/events.ts';
import { generateDay } from '../sources/generator/index.ts';

/** Touchstream's defaults, which every peer uses too. */
export const SESSION_GAP_MS = 30 * 60_000;
export const OUT_OF_ORDERNESS_MS = 5_000;
/** Marker keys start with this; peers and the oracle leave marker sessions out of their counts. */
export const MARKER_PREFIX = 'bench-marker-';

export interface Dataset {
  /** The synthetic day followed by the markers, in publishing order. */
  events: CxEvent[];
  /** Events of the synthetic day alone. */
  dayEvents: number;
  sessionEvents: number;
  /** Sessions (not counting marker sessions) the input yields once every partition saw its marker. */
  expectedSessions: number;
  markerTime: number;
}

/**
 * The marker of partition p: a valid web page_view, keyed so it lands on p, timed after every session of the day
 * has passed its gap plus the out-of-orderness bound. Once every partition has its marker, the watermark (the
 * minimum over partitions) passes every real session, so all of them close; only the marker sessions stay open.
 */
export function markerEvents(partitions: number, markerTime: number): CxEvent[] {
  const markers: CxEvent[] = [];
  for (let partition = 0; partition < partitions; partition++) {
    let key = '';
    for (let attempt = 0; ; attempt++) {
      key = `${MARKER_PREFIX}${partition}-${attempt}`;
      if (partitionOf(key, partitions) === partition) break;
    }
    markers.push({
      event_id: `${key}-event`,
      type: 'page_view',
      occurred_at: markerTime,
      customer_id: key,
      anonymous_id: null,
      channel: 'web',
      touchpoint: null,
      experiment: null,
      properties: { page: '/bench/marker', page_type: 'other' },
    });
  }
  return markers;
}

/**
 * The oracle: sessions of the contract's definition (session events on web/app, per session key, a new session
 * when the next event is more than the gap after the last one). Valid for input in event-time order per key, which
 * the generator guarantees.
 */
export function countSessions(events: readonly CxEvent[], gapMs: number): number {
  const last = new Map<string, number>();
  let sessions = 0;
  for (const event of events) {
    if (!isSessionEvent(event)) continue;
    const key = sessionKeyOf(event);
    if (key.startsWith(MARKER_PREFIX)) continue;
    const previous = last.get(key);
    if (previous === undefined || event.occurred_at > previous + gapMs) sessions++;
    last.set(key, event.occurred_at);
  }
  return sessions;
}

export function buildDataset(options: { customers: number; seed: number; partitions: number }): Dataset {
  const day = generateDay({ customers: options.customers, seed: options.seed });
  let maxTime = Number.NEGATIVE_INFINITY;
  let sessionEvents = 0;
  for (const event of day) {
    if (event.occurred_at > maxTime) maxTime = event.occurred_at;
    if (isSessionEvent(event)) sessionEvents++;
  }
  const markerTime = maxTime + SESSION_GAP_MS + 2 * OUT_OF_ORDERNESS_MS + 60_000;
  const expectedSessions = countSessions(day, SESSION_GAP_MS);
  const dayEvents = day.length;
  for (const marker of markerEvents(options.partitions, markerTime)) day.push(marker);
  return { events: day, dayEvents, sessionEvents, expectedSessions, markerTime };
}

/** The contract JSON bytes of an event: what the peers read. */
export function jsonBytes(event: CxEvent): Buffer {
  return Buffer.from(JSON.stringify(toContractJson(event)));
}

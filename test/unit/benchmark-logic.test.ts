// Pins the benchmark's own judgement: the peers' sessionisation, the session oracle, and how a signal is matched to the event that triggered it.
import { describe, expect, it } from 'vitest';
import { countSessions, markerEvents, MARKER_PREFIX } from '../../benchmarks/dataset.ts';
import { triggerWallTime } from '../../benchmarks/measure/latency.ts';
import { JsonSessionizer } from '../../benchmarks/peers/json-sessionizer.ts';
import { partitionOf } from '../../log/partitioner.ts';
import type { CxEvent } from '../../schemas/events.ts';

const MINUTE = 60_000;
const T0 = Date.parse('2026-11-02T10:00:00.000Z');

const event = (id: string, key: string, minutes: number, type = 'page_view', channel = 'web'): CxEvent =>
  ({ event_id: id, type, occurred_at: T0 + minutes * MINUTE, customer_id: key, anonymous_id: null, channel, touchpoint: null, experiment: null, properties: {} }) as CxEvent;

const json = (type: string, minutes: number, channel = 'web') => Buffer.from(JSON.stringify({ type, channel, occurred_at: new Date(T0 + minutes * MINUTE).toISOString() }));

describe('the session oracle', () => {
  it('splits a key’s session events at gaps over 30 minutes and ignores other events and markers', () => {
    const events = [
      event('1', 'a', 0),
      event('2', 'a', 30), // exactly the gap: same session
      event('3', 'a', 61), // 31 min later: a new session
      event('4', 'b', 5, 'click', 'app'),
      event('5', 'b', 100, 'email_open', 'email'), // not a session event
      event('6', 'c', 7, 'page_view', 'call_center'), // not a session channel
      event('7', `${MARKER_PREFIX}0-0`, 500),
    ];
    expect(countSessions(events, 30 * MINUTE)).toBe(3);
  });

  it('puts one marker on each partition', () => {
    const markers = markerEvents(4, T0);
    expect(markers.map((marker) => partitionOf(marker.customer_id!, 4))).toEqual([0, 1, 2, 3]);
  });
});

describe('the peers’ sessioniser', () => {
  it('closes on the gap and on the watermark (min over partitions of max − 5 s), never counting markers', () => {
    const closed: string[] = [];
    const sessionizer = new JsonSessionizer({ gapMs: 30 * MINUTE, outOfOrdernessMs: 5000, partitions: 2, ignorePrefix: 'm-', onClose: (session) => closed.push(`${session.key}:${session.events}`) });
    sessionizer.add(0, 'a', json('page_view', 0));
    sessionizer.add(0, 'a', json('click', 10));
    sessionizer.add(0, 'a', json('page_view', 45)); // 35 min after the last: closes a:2
    sessionizer.add(1, 'b', json('page_view', 1));
    sessionizer.add(1, 'b', json('email_open', 2, 'email')); // moves partition 1's time, joins no session
    expect(closed).toEqual(['a:2']);
    sessionizer.closeDue(); // watermark = min(45, 2) min − 5 s: nothing due yet
    expect(closed).toEqual(['a:2']);
    sessionizer.add(0, 'm-0', json('page_view', 200));
    sessionizer.add(1, 'm-1', json('page_view', 200));
    sessionizer.closeDue();
    expect(closed.sort()).toEqual(['a:1', 'a:2', 'b:1']);
    expect(sessionizer.closed).toBe(3);
    expect(sessionizer.open).toBe(2); // the markers
  });
});

describe('matching a signal to its triggering event', () => {
  const produced = new Map([
    ['e1', { eventTime: 1_000, wallTime: 500 }],
    ['e2', { eventTime: 2_000, wallTime: 600 }],
  ]);
  const feeds = [
    { eventTimes: [1_000, 9_000, 12_000], wallTimes: [500, 700, 900] },
    { eventTimes: [2_000, 8_000, 11_000], wallTimes: [600, 650, 800] },
  ];

  it('takes the evidence event whose time is the signal’s triggered_at (an event rule)', () => {
    expect(triggerWallTime({ triggered_at: 2_000, evidence_event_ids: ['e1', 'e2'] }, produced, feeds)).toBe(600);
  });

  it('takes the event that moved the watermark past triggered_at (a session-close rule)', () => {
    // triggered_at 3 000: every partition needs an event later than 3 000 + 5 000 = 8 000 → 9 000 (700) and 11 000 (800).
    expect(triggerWallTime({ triggered_at: 3_000, evidence_event_ids: ['e1'] }, produced, feeds)).toBe(800);
  });

  it('answers undefined while some partition has not passed it yet', () => {
    expect(triggerWallTime({ triggered_at: 6_500, evidence_event_ids: [] }, produced, feeds)).toBeUndefined();
  });
});

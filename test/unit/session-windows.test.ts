// Pins session-window semantics on hand-built sequences: gap, merge, out-of-order, lateness, closing order, end of input.
import { describe, expect, it } from 'vitest';
import type { SessionAggregator } from '../../engine/session-windows.ts';
import { SessionWindows } from '../../engine/session-windows.ts';

const MIN = 60_000;
/** Collects event names so a test can see exactly which events a session got. */
const names: SessionAggregator<string, string[]> = {
  create: (event) => [event],
  add: (acc, event) => void acc.push(event),
  merge: (into, from) => void into.push(...from),
};

function windows() {
  const sessions = new SessionWindows<string, string[]>({ name: 'test', gapMs: 30 * MIN }, names);
  let offset = 0;
  const add = (key: string, minute: number, partitionWatermark = Number.NEGATIVE_INFINITY) =>
    sessions.add(key, minute * MIN, partitionWatermark, 0, offset++, `${key}@${minute}`);
  const close = (watermark: number) => {
    const closed: Array<{ key: string; start: number; last: number; events: string[] }> = [];
    sessions.closeUpTo(watermark, (session) =>
      closed.push({ key: session.key, start: session.start / MIN, last: session.last / MIN, events: [...session.accumulator].sort() }));
    return closed;
  };
  return { sessions, add, close };
}

describe('SessionWindows', () => {
  it('joins events within the gap (inclusive) and starts a new session beyond it', () => {
    const { add, close } = windows();
    add('a', 0);
    add('a', 30); // exactly the gap: joins
    add('a', 61); // 31 min later: new session
    expect(close(Number.POSITIVE_INFINITY)).toEqual([
      { key: 'a', start: 0, last: 30, events: ['a@0', 'a@30'] },
      { key: 'a', start: 61, last: 61, events: ['a@61'] },
    ]);
  });

  it('merges two sessions when an out-of-order event bridges them', () => {
    const { add, close, sessions } = windows();
    add('a', 0);
    add('a', 40);
    expect(sessions.size).toBe(2);
    add('a', 20, 29 * MIN); // the first session is not due yet (30 ≥ 29)
    expect(sessions.size).toBe(1);
    expect(close(Number.POSITIVE_INFINITY)).toEqual([{ key: 'a', start: 0, last: 40, events: ['a@0', 'a@20', 'a@40'] }]);
  });

  it('closes a session only when the watermark passes its last event + gap', () => {
    const { add, close } = windows();
    add('a', 0);
    add('a', 10);
    expect(close(40 * MIN)).toEqual([]); // 10 + 30 = 40: not passed yet
    expect(close(40 * MIN + 1)).toEqual([{ key: 'a', start: 0, last: 10, events: ['a@0', 'a@10'] }]);
  });

  it('treats an event for a session that is due by its partition watermark as late, changing nothing', () => {
    const { add, close, sessions } = windows();
    add('a', 0);
    expect(add('a', 20, 31 * MIN)).toBeNull(); // the session [0] was due at 30
    expect(add('b', 0, 31 * MIN)).toBeNull(); // a new session that would be complete already
    expect(add('c', 5, 31 * MIN)).not.toBeNull(); // 5 + 30 = 35 > 31: still open
    expect(sessions.size).toBe(2);
    expect(close(Number.POSITIVE_INFINITY).map((session) => session.events)).toEqual([['a@0'], ['c@5']]);
  });

  it('treats an event for an already closed session as late, even though its partition watermark lags', () => {
    const { add, close } = windows();
    add('a', 0);
    expect(close(31 * MIN)).toHaveLength(1);
    expect(add('a', 25, 0)).toBeNull(); // within reach of the closed session
    expect(add('a', 31, 0)).not.toBeNull(); // beyond it: a new session
    expect(close(Number.POSITIVE_INFINITY)).toEqual([{ key: 'a', start: 31, last: 31, events: ['a@31'] }]);
  });

  it('closes in (end, key) order and reports what the log must retain', () => {
    const { add, close, sessions } = windows();
    add('b', 0);
    add('a', 0);
    add('c', 5);
    expect(sessions.retainedOffsets()).toEqual(new Map([[0, 0]]));
    expect(close(Number.POSITIVE_INFINITY).map((session) => session.key)).toEqual(['a', 'b', 'c']);
    expect(sessions.retainedOffsets()).toEqual(new Map());
    expect(sessions.size).toBe(0);
  });
});

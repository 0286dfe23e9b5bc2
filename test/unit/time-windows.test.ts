// Pins tumbling/hopping window semantics on hand-built sequences: assignment, firing order, allowed lateness, late side output, restore, end of input; and event-time timers.
import { describe, expect, it } from 'vitest';
import { EventTimeTimers } from '../../engine/event-time-timers.ts';
import type { WindowAggregator, WindowResult } from '../../engine/time-windows.ts';
import { TimeWindows } from '../../engine/time-windows.ts';

const MIN = 60_000;
/** Collects event names, so a test sees exactly which events a window got. */
const names: WindowAggregator<string, string[]> = { create: () => [], add: (acc, event) => void acc.push(event) };

type Fired = { key: string; from: number; to: number; firing: string; events: string[] };
const view = (result: WindowResult<string[]>): Fired => ({
  key: result.key, from: result.start / MIN, to: result.end / MIN, firing: result.firing, events: [...result.accumulator],
});

function harness(windows: TimeWindows<string, string[]>) {
  /** Adds `key@minute`, judged against a partition watermark given in minutes. */
  const add = (key: string, minute: number, partitionWatermarkMinutes = Number.NEGATIVE_INFINITY) => {
    const result = windows.add(key, minute * MIN, partitionWatermarkMinutes * MIN, 0, `${key}@${minute}`);
    return { late: result.late, updated: result.updated.map(view) };
  };
  const advance = (minutes: number) => {
    const fired: Fired[] = [];
    windows.advance(minutes * MIN, (result) => fired.push(view(result)));
    return fired;
  };
  return { add, advance };
}

describe('TimeWindows.tumbling', () => {
  const tumbling = (allowedLatenessMs = 0) => TimeWindows.tumbling({ name: 'test', sizeMs: 10 * MIN, allowedLatenessMs }, names);

  it('puts each event in the one window [start, start + size) that holds it; the end is exclusive', () => {
    const windows = tumbling();
    expect(windows.windowStartsOf(0)).toEqual([0]);
    expect(windows.windowStartsOf(10 * MIN - 1)).toEqual([0]);
    expect(windows.windowStartsOf(10 * MIN)).toEqual([10 * MIN]);
    expect(windows.windowStartsOf(-1)).toEqual([-10 * MIN]);
  });

  it('fires a window when the watermark reaches its end, in (end, key) order, and forgets it', () => {
    const windows = tumbling();
    const { add, advance } = harness(windows);
    add('b', 3);
    add('a', 12);
    add('a', 9);
    add('b', 11);
    expect(windows.size).toBe(4);
    expect(advance(9.99)).toEqual([]); // the end (10) not reached yet
    expect(advance(10)).toEqual([
      { key: 'a', from: 0, to: 10, firing: 'on_time', events: ['a@9'] },
      { key: 'b', from: 0, to: 10, firing: 'on_time', events: ['b@3'] },
    ]);
    expect(windows.size).toBe(2);
    expect(advance(25)).toEqual([
      { key: 'a', from: 10, to: 20, firing: 'on_time', events: ['a@12'] },
      { key: 'b', from: 10, to: 20, firing: 'on_time', events: ['b@11'] },
    ]);
    expect(windows.size).toBe(0);
  });

  it('without allowed lateness, an event whose window fired is late (side output) and changes nothing', () => {
    const windows = tumbling();
    const { add, advance } = harness(windows);
    add('a', 1);
    expect(advance(10)).toHaveLength(1);
    expect(add('a', 5)).toEqual({ late: true, updated: [] }); // its window [0, 10) fired at 10
    expect(add('a', 10)).toEqual({ late: false, updated: [] }); // the next window is still open
    expect(windows.size).toBe(1);
  });

  it('decides lateness by the partition watermark from before the event, even before the store has fired', () => {
    const { add, advance } = harness(tumbling());
    expect(add('a', 4, 10).late).toBe(true); // its partition is past 10: [0, 10) is complete there
    expect(add('a', 4, 9).late).toBe(false);
    expect(advance(Number.POSITIVE_INFINITY)).toEqual([{ key: 'a', from: 0, to: 10, firing: 'on_time', events: ['a@4'] }]);
  });

  it('with allowed lateness, a fired window takes late events and re-emits itself until end + lateness', () => {
    const windows = tumbling(5 * MIN);
    const { add, advance } = harness(windows);
    add('a', 2);
    expect(advance(10)).toEqual([{ key: 'a', from: 0, to: 10, firing: 'on_time', events: ['a@2'] }]);
    expect(windows.size).toBe(1); // kept for late events
    expect(add('a', 7, 12)).toEqual({ late: false, updated: [{ key: 'a', from: 0, to: 10, firing: 'late', events: ['a@2', 'a@7'] }] });
    expect(advance(14.99)).toEqual([]);
    expect(windows.size).toBe(1);
    expect(advance(15)).toEqual([]); // end + lateness: dropped without another firing
    expect(windows.size).toBe(0);
    expect(add('a', 8, 12)).toEqual({ late: true, updated: [] });
  });

  it('end of bounded input (watermark ∞) fires every window, late-allowed ones included, and leaves nothing', () => {
    const windows = tumbling(5 * MIN);
    const { add, advance } = harness(windows);
    add('b', 31);
    add('a', 0);
    add('a', 45);
    expect(advance(Number.POSITIVE_INFINITY)).toEqual([
      { key: 'a', from: 0, to: 10, firing: 'on_time', events: ['a@0'] },
      { key: 'b', from: 30, to: 40, firing: 'on_time', events: ['b@31'] },
      { key: 'a', from: 40, to: 50, firing: 'on_time', events: ['a@45'] },
    ]);
    expect(windows.size).toBe(0);
  });

  it('shifts window starts by the offset', () => {
    const windows = TimeWindows.tumbling({ name: 'test', sizeMs: 10 * MIN, offsetMs: 3 * MIN }, names);
    expect(windows.windowStartsOf(2 * MIN)).toEqual([-7 * MIN]);
    expect(windows.windowStartsOf(3 * MIN)).toEqual([3 * MIN]);
  });
});

describe('TimeWindows.hopping', () => {
  const hopping = () => TimeWindows.hopping({ name: 'test', sizeMs: 10 * MIN, slideMs: 5 * MIN }, names);

  it('puts an event into size / slide overlapping windows', () => {
    const windows = hopping();
    expect(windows.windowStartsOf(7 * MIN)).toEqual([0, 5 * MIN]);
    expect(windows.windowStartsOf(5 * MIN)).toEqual([0, 5 * MIN]);
    expect(windows.windowStartsOf(4 * MIN)).toEqual([-5 * MIN, 0]);
  });

  it('fires each window at its end with the events of [start, end)', () => {
    const { add, advance } = harness(hopping());
    add('a', 2);
    add('a', 7);
    add('a', 12);
    expect(advance(10)).toEqual([
      { key: 'a', from: -5, to: 5, firing: 'on_time', events: ['a@2'] },
      { key: 'a', from: 0, to: 10, firing: 'on_time', events: ['a@2', 'a@7'] },
    ]);
    expect(advance(Number.POSITIVE_INFINITY)).toEqual([
      { key: 'a', from: 5, to: 15, firing: 'on_time', events: ['a@7', 'a@12'] },
      { key: 'a', from: 10, to: 20, firing: 'on_time', events: ['a@12'] },
    ]);
  });

  it('takes an event into the windows still open and is late only when all of them fired', () => {
    const windows = hopping();
    const { add, advance } = harness(windows);
    add('a', 1);
    expect(advance(10)).toHaveLength(2); // [-5, 5) and [0, 10)
    expect(add('a', 8)).toEqual({ late: false, updated: [] }); // [0, 10) fired, [5, 15) still open
    expect(add('a', 4)).toEqual({ late: true, updated: [] }); // [-5, 5) and [0, 10) both fired
    expect(advance(Number.POSITIVE_INFINITY)).toEqual([{ key: 'a', from: 5, to: 15, firing: 'on_time', events: ['a@8'] }]);
  });

  it('refuses a slide larger than the size (gaps between windows)', () => {
    expect(() => TimeWindows.hopping({ name: 'test', sizeMs: 5 * MIN, slideMs: 10 * MIN }, names)).toThrow(RangeError);
  });
});

describe('TimeWindows as a state store', () => {
  it('checkpoints changed keys and, restored, fires exactly as the original would', () => {
    const original = TimeWindows.tumbling({ name: 'minutes', sizeMs: 10 * MIN, allowedLatenessMs: 5 * MIN }, names);
    const { add, advance } = harness(original);
    add('a', 1);
    add('b', 12);
    advance(10); // a's [0, 10) fired, kept for lateness
    const changes = original.changes();
    expect(changes.map(({ store, key, value }) => ({ store, key, value }))).toEqual([
      { store: 'minutes', key: 'a', value: { windows: [{ start: 0, fired: true, accumulator: ['a@1'] }] } },
      { store: 'minutes', key: 'b', value: { windows: [{ start: 10 * MIN, fired: false, accumulator: ['b@12'] }] } },
    ]);
    expect(original.changes()).toEqual([]); // nothing changed since

    const restored = TimeWindows.tumbling({ name: 'minutes', sizeMs: 10 * MIN, allowedLatenessMs: 5 * MIN }, names);
    restored.restore(0, new Map(changes.map(({ key, value }) => [key, value])));
    const again = harness(restored);
    expect(again.add('a', 9, 12)).toEqual({ late: false, updated: [{ key: 'a', from: 0, to: 10, firing: 'late', events: ['a@1', 'a@9'] }] });
    expect(again.advance(Number.POSITIVE_INFINITY)).toEqual([{ key: 'b', from: 10, to: 20, firing: 'on_time', events: ['b@12'] }]);
    expect(restored.size).toBe(0);
    expect(restored.changes().map(({ key, value }) => ({ key, value }))).toEqual([{ key: 'a', value: null }, { key: 'b', value: null }]);
  });
});

describe('EventTimeTimers', () => {
  it('fires due timers in (time, id) order; setting an id again moves it, deleting cancels it', () => {
    const timers = new EventTimeTimers<string>();
    timers.set('b', 20, 'b20');
    timers.set('a', 20, 'a20');
    timers.set('c', 5, 'c5');
    timers.set('d', 7, 'd7');
    timers.set('c', 30, 'c30'); // moved
    timers.delete('d');
    const fired: string[] = [];
    timers.fire(19, (_id, _time, payload) => fired.push(payload));
    expect(fired).toEqual([]);
    expect(timers.next).toBe(20);
    timers.fire(20, (_id, _time, payload) => fired.push(payload));
    expect(fired).toEqual(['a20', 'b20']);
    timers.fire(Number.POSITIVE_INFINITY, (id, time, payload) => {
      fired.push(payload);
      if (id === 'c') timers.set('e', time + 1, 'e31'); // set from a callback, due as well
    });
    expect(fired).toEqual(['a20', 'b20', 'c30', 'e31']);
    expect(timers.size).toBe(0);
  });
});

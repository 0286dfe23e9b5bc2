// Pins how idleness treats backpressure: time spent waiting for a sink is not idleness, and a full poll (a backlog) keeps every partition active.
import { describe, expect, it } from 'vitest';
import { WatermarkTracker } from '../../engine/watermarks.ts';

function tracker(bound = 5000, idle = 30_000) {
  let wall = 1_000_000;
  const watermarks = new WatermarkTracker({ outOfOrdernessMs: bound, idleTimeoutMs: idle, wallClock: () => wall });
  return { watermarks, advanceWall: (ms: number) => (wall += ms), wall: () => wall };
}

describe('WatermarkTracker under backpressure', () => {
  it('does not count a pause (input not read while a sink was retried) as idleness', () => {
    const { watermarks, advanceWall, wall } = tracker();
    watermarks.assign([0, 1]);
    watermarks.observe(0, 100_000, wall());
    watermarks.observe(1, 10_000, wall());
    expect(watermarks.current()).toBe(5_000);
    advanceWall(20_000);
    watermarks.paused(20_000); // the whole 20 s were spent waiting for ClickHouse
    advanceWall(15_000);
    watermarks.observe(0, 130_000, wall());
    expect(watermarks.current()).toBe(5_000); // partition 1 was listened to for 15 s only: still active
    advanceWall(15_000);
    watermarks.observe(0, 140_000, wall());
    expect(watermarks.current()).toBe(135_000); // 30 s of listening without an event: now idle
  });

  it('does not advance the all-idle wall-clock watermark during a pause', () => {
    const { watermarks, advanceWall, wall } = tracker();
    watermarks.assign([0]);
    watermarks.observe(0, 100_000, wall());
    advanceWall(30_000);
    expect(watermarks.current()).toBe(95_000); // just went idle
    advanceWall(60_000);
    watermarks.paused(60_000);
    expect(watermarks.current()).toBe(95_000);
    advanceWall(10_000);
    expect(watermarks.current()).toBe(105_000);
  });

  it('keeps every partition active after a full poll, so a backlog read one partition first cannot make the others late', () => {
    const { watermarks, advanceWall, wall } = tracker();
    watermarks.assign([0, 1]);
    watermarks.observe(0, 100_000, wall());
    watermarks.observe(1, 100_000, wall());
    advanceWall(60_000); // quiet: both partitions idle
    expect(watermarks.current()).toBe(95_000);
    // A burst an hour later arrives; the first (full) poll holds only partition 0's part of it.
    watermarks.behind(wall());
    watermarks.observe(0, 3_700_000, wall());
    expect(watermarks.current()).toBe(95_000); // partition 1 may have the same hour waiting: time waits for it
    expect(watermarks.observe(1, 3_600_000, wall())).toBe(95_000); // its event is judged against its own past, not late
    expect(watermarks.current()).toBe(3_595_000);
  });

  it('without the full-poll hint, the same burst lets partition 0 run ahead (what `behind` prevents)', () => {
    const { watermarks, advanceWall, wall } = tracker();
    watermarks.assign([0, 1]);
    watermarks.observe(0, 100_000, wall());
    watermarks.observe(1, 100_000, wall());
    advanceWall(60_000);
    expect(watermarks.current()).toBe(95_000);
    watermarks.observe(0, 3_700_000, wall());
    expect(watermarks.current()).toBe(3_695_000); // partition 1 is idle: its floor rises with it
    expect(watermarks.observe(1, 3_600_000, wall())).toBe(3_695_000);
  });
});

// Pins the watermark semantics of CONTRACT §2: per-partition bound, minimum over active partitions, idleness, end of input.
import { describe, expect, it } from 'vitest';
import { WatermarkTracker } from '../../engine/watermarks.ts';

function tracker(bound = 5000, idle = 30_000) {
  let wall = 1_000_000;
  const watermarks = new WatermarkTracker({ outOfOrdernessMs: bound, idleTimeoutMs: idle, wallClock: () => wall });
  return { watermarks, advanceWall: (ms: number) => (wall += ms), wall: () => wall };
}

describe('WatermarkTracker', () => {
  it('is the minimum over partitions of (largest event time − bound)', () => {
    const { watermarks, wall } = tracker();
    watermarks.assign([0, 1]);
    watermarks.observe(0, 100_000, wall());
    expect(watermarks.current()).toBe(Number.NEGATIVE_INFINITY); // partition 1 has seen nothing yet
    watermarks.observe(1, 60_000, wall());
    expect(watermarks.current()).toBe(55_000);
    watermarks.observe(1, 50_000, wall()); // out of order: the maximum stays
    expect(watermarks.current()).toBe(55_000);
    watermarks.observe(1, 200_000, wall());
    expect(watermarks.current()).toBe(95_000);
  });

  it('answers the partition watermark from before the observed event', () => {
    const { watermarks, wall } = tracker();
    watermarks.assign([0]);
    expect(watermarks.observe(0, 10_000, wall())).toBe(Number.NEGATIVE_INFINITY);
    expect(watermarks.observe(0, 20_000, wall())).toBe(5_000);
    expect(watermarks.partitionWatermark(0)).toBe(15_000);
  });

  it('stops waiting for a partition that has been idle for the timeout', () => {
    const { watermarks, advanceWall, wall } = tracker();
    watermarks.assign([0, 1]);
    watermarks.observe(0, 100_000, wall());
    watermarks.observe(1, 10_000, wall());
    expect(watermarks.current()).toBe(5_000);
    advanceWall(20_000);
    watermarks.observe(0, 120_000, wall());
    expect(watermarks.current()).toBe(5_000); // partition 1 quiet for 20 s: still held back
    advanceWall(10_000);
    watermarks.observe(0, 130_000, wall());
    expect(watermarks.current()).toBe(125_000); // quiet for 30 s: no longer holds time back
  });

  it('advances with the wall clock from its last value when every partition is idle', () => {
    const { watermarks, advanceWall, wall } = tracker();
    watermarks.assign([0]);
    watermarks.observe(0, 100_000, wall());
    expect(watermarks.current()).toBe(95_000);
    advanceWall(30_000);
    expect(watermarks.current()).toBe(95_000); // just went idle
    advanceWall(60_000);
    expect(watermarks.current()).toBe(155_000);
    expect(watermarks.partitionWatermark(0)).toBe(155_000); // the idle partition's own time moved too
  });

  it('never goes back, and goes to infinity at the end of bounded input', () => {
    const { watermarks, wall } = tracker();
    watermarks.assign([0, 1]);
    watermarks.observe(0, 100_000, wall());
    watermarks.observe(1, 100_000, wall());
    expect(watermarks.current()).toBe(95_000);
    watermarks.assign([0, 1, 2]); // a new, empty partition arrives
    expect(watermarks.current()).toBe(95_000);
    watermarks.endOfInput();
    expect(watermarks.current()).toBe(Number.POSITIVE_INFINITY);
  });
});

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
    expect(watermarks.current()).toBe(95_000);
    advanceWall(30_000);
    expect(watermarks.current()).toBe(95_000); // just went idle
    advanceWall(60_000);
    watermarks.paused(60_000);
    expect(watermarks.current()).toBe(95_000);
    advanceWall(10_000);
    expect(watermarks.current()).toBe(105_000);
  });

  it('keeps every partition active while polls come back full, so a backlog read one partition first cannot make the others late', () => {
    const { watermarks, advanceWall, wall } = tracker();
    watermarks.assign([0, 1]);
    watermarks.observe(0, 100_000, wall());
    watermarks.observe(1, 100_000, wall());
    expect(watermarks.current()).toBe(95_000);
    // 40 s of full polls that hold only partition 0's backlog; partition 1's part comes after it.
    for (let poll = 1; poll <= 4; poll++) {
      advanceWall(10_000);
      watermarks.behind(wall());
      watermarks.observe(0, 100_000 + poll * 60_000, wall());
      expect(watermarks.current()).toBe(95_000);
    }
    expect(watermarks.observe(1, 100_500, wall())).toBe(95_000); // judged against its own past: not late
    expect(watermarks.current()).toBe(95_500);
  });

  it('without the full-poll hint, the same backlog lets partition 0 run ahead once partition 1 idles out', () => {
    const { watermarks, advanceWall, wall } = tracker();
    watermarks.assign([0, 1]);
    watermarks.observe(0, 100_000, wall());
    watermarks.observe(1, 100_000, wall());
    expect(watermarks.current()).toBe(95_000);
    for (let poll = 1; poll <= 4; poll++) {
      advanceWall(10_000);
      watermarks.observe(0, 100_000 + poll * 60_000, wall());
      watermarks.current();
    }
    expect(watermarks.current()).toBe(335_000);
    expect(watermarks.observe(1, 100_500, wall())).toBe(335_000); // its floor rose: its events come out late
  });

  it('wakes every partition when input resumes after all went idle, so a burst reaching the partitions one by one is not split', () => {
    const { watermarks, advanceWall, wall } = tracker();
    watermarks.assign([0, 1]);
    watermarks.observe(0, 100_000, wall());
    watermarks.observe(1, 100_000, wall());
    expect(watermarks.current()).toBe(95_000);
    advanceWall(60_000); // quiet: both partitions idle
    expect(watermarks.current()).toBe(95_000);
    // A burst an hour later: partition 0's part is read first.
    watermarks.observe(0, 3_700_000, wall());
    expect(watermarks.current()).toBe(95_000); // partition 1 gets a fresh idle timeout to show its part
    advanceWall(1_000);
    expect(watermarks.observe(1, 3_600_000, wall())).toBe(95_000); // not late
    expect(watermarks.current()).toBe(3_595_000);
  });

  it('lets a woken partition that stays quiet idle out again after the timeout', () => {
    const { watermarks, advanceWall, wall } = tracker();
    watermarks.assign([0, 1]);
    watermarks.observe(0, 100_000, wall());
    watermarks.observe(1, 100_000, wall());
    expect(watermarks.current()).toBe(95_000);
    advanceWall(60_000);
    expect(watermarks.current()).toBe(95_000);
    watermarks.observe(0, 3_700_000, wall());
    expect(watermarks.current()).toBe(95_000);
    advanceWall(30_000);
    watermarks.observe(0, 3_710_000, wall());
    expect(watermarks.current()).toBe(3_705_000);
  });
});

// Pins the cause of issue 4's (d) "hang": a burst reaches the job one partition at a time, and a partition whose part is still in the log (not polled yet) must not count as idle, or the first partition polled moves the watermark past the others' events.
import { describe, expect, it } from 'vitest';
import { WatermarkTracker } from '../../engine/watermarks.ts';

/** Out-of-orderness 500 ms, idle timeout 1.5 s (the fault tests' timing); wall time starts at 0. */
function tracker() {
  let wall = 0;
  const watermarks = new WatermarkTracker({ outOfOrdernessMs: 500, idleTimeoutMs: 1500, wallClock: () => wall });
  return { watermarks, setWall: (ms: number) => (wall = ms) };
}

/**
 * Phase A read; partitions 0 and 1 already idle, partition 2 still active (its last event came later), so input
 * resuming does not wake every partition. Then a burst of phase B (event time 100 s) lands in all three logs; the
 * first poll holds partition 2's part only.
 */
function phaseAThenBurst() {
  const { watermarks, setWall } = tracker();
  watermarks.assign([0, 1, 2]);
  watermarks.observe(0, 1000, 0);
  watermarks.observe(1, 1000, 0);
  watermarks.observe(2, 1000, 0);
  setWall(1000);
  watermarks.observe(2, 1200, 1000);
  setWall(2000);
  expect(watermarks.current()).toBe(700); // 0 and 1 idle since 1500: the minimum is partition 2's 1200 − 500
  return { watermarks, setWall };
}

describe('WatermarkTracker: records in the log that were not polled yet', () => {
  it('without the log ends (the old behaviour): partition 2 alone moves the watermark and the others’ burst is late', () => {
    const { watermarks, setWall } = phaseAThenBurst();
    setWall(2100);
    watermarks.observe(2, 100_000, 2100);
    setWall(2600); // partition 2 is the only active one now
    expect(watermarks.current()).toBe(99_500);
    // Partition 0's part of the same burst is polled next: judged against the watermark it "missed".
    expect(watermarks.observe(0, 99_000, 2700)).toBe(99_500); // 99 000 < 99 500: late
  });

  it('a partition whose log grew past what the job read is active until its records are polled', () => {
    const { watermarks, setWall } = phaseAThenBurst();
    setWall(2100);
    // The consumer fetched the burst: every log end grew past the job's position (read up to offset 2).
    watermarks.arrived(0, 7, 2, 2100);
    watermarks.arrived(1, 7, 2, 2100);
    watermarks.arrived(2, 7, 2, 2100);
    watermarks.observe(2, 100_000, 2100);
    setWall(2600);
    expect(watermarks.current()).toBe(700); // 0 and 1 hold time back with their (floor) watermark of 700
    expect(watermarks.observe(0, 99_000, 2700)).toBe(700); // on time
    expect(watermarks.observe(1, 99_200, 2700)).toBe(700);
    expect(watermarks.current()).toBe(98_500); // 99 000 − 500, partition 0 the slowest
  });

  it('only growth counts: a log end that stays ahead of what can be read (markers, an aborted tail) lets the partition go idle', () => {
    const { watermarks, setWall } = tracker();
    watermarks.assign([0, 1]);
    watermarks.observe(0, 10_000, 0);
    watermarks.observe(1, 20_000, 0);
    watermarks.arrived(0, 5, 3, 0); // 2 offsets the job will never be handed
    setWall(1000);
    watermarks.arrived(0, 5, 3, 1000); // unchanged: no new input
    watermarks.observe(1, 21_000, 1000);
    setWall(1600);
    expect(watermarks.current()).toBe(20_500); // partition 0 idle 1.6 s after its last event: not held
  });

  it('a log end the job already read up to does not wake anything', () => {
    const { watermarks, setWall } = tracker();
    watermarks.assign([0, 1]);
    watermarks.observe(0, 10_000, 0);
    watermarks.observe(1, 20_000, 0);
    setWall(1000);
    watermarks.observe(1, 21_000, 1000);
    watermarks.arrived(0, 4, 4, 1000); // grew, but everything up to 4 was polled already
    setWall(1600);
    expect(watermarks.current()).toBe(20_500);
  });

  it('a partition the consumer has not fetched yet (after a restart) is not idle, for at most 30 s', () => {
    const { watermarks, setWall } = tracker();
    watermarks.assign([0, 1]);
    watermarks.observe(1, 100_000, 0); // partition 1's records are fetched and polled first
    watermarks.unknownLogEnd(0, 0);
    setWall(1000);
    watermarks.unknownLogEnd(0, 1000);
    setWall(2000);
    watermarks.unknownLogEnd(0, 2000);
    watermarks.observe(1, 101_000, 2000);
    expect(watermarks.current()).toBe(Number.NEGATIVE_INFINITY); // partition 0 holds time: nothing of it seen yet
    expect(watermarks.observe(0, 99_000, 2100)).toBe(Number.NEGATIVE_INFINITY); // on time once it arrives
  });

  it('without that hold, the unfetched partition goes idle and its records come out late (the broker-restart failure)', () => {
    const { watermarks, setWall } = tracker();
    watermarks.assign([0, 1]);
    watermarks.observe(1, 100_000, 0);
    setWall(2000);
    watermarks.observe(1, 101_000, 2000);
    expect(watermarks.current()).toBe(100_500);
    expect(watermarks.observe(0, 99_000, 2100)).toBe(100_500); // late
  });

  it('the hold ends 30 s after the partition was first found unfetched', () => {
    const { watermarks, setWall } = tracker();
    watermarks.assign([0, 1]);
    watermarks.observe(1, 100_000, 0);
    watermarks.unknownLogEnd(0, 0);
    setWall(29_000);
    watermarks.unknownLogEnd(0, 29_000); // still held: its idle clock restarts at 29 s
    watermarks.observe(1, 101_000, 29_000);
    setWall(30_000);
    watermarks.unknownLogEnd(0, 30_000); // 30 s: no longer
    watermarks.observe(1, 102_000, 30_000);
    setWall(30_400);
    expect(watermarks.current()).toBe(Number.NEGATIVE_INFINITY); // idle clock from 29 s: 1.4 s, still active
    setWall(30_600);
    expect(watermarks.current()).toBe(101_500); // 1.6 s: idle, time moves on
  });
});

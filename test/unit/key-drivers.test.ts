// Key-driver analysis: LMG shares on hand-built data with the values written out, the planted effect of a generated day found and ranked first, nothing found without it.
import { beforeAll, describe, expect, it } from 'vitest';
import { KEY_DRIVERS, channelSwitchBefore, driverVectorOf, keyDrivers } from '../../pipelines/cx/key-drivers.ts';
import type { KeyDriverOptions, KeyDriverResult } from '../../pipelines/cx/key-drivers.ts';
import { generateDay } from '../../sources/generator/synthetic-day.ts';
import { linkedResponses } from '../support/linked-responses.ts';

const OPTIONS: KeyDriverOptions = { resamples: 200, permutations: 200, confidence: 0.95, alpha: 0.05, seed: 7 };
const PLANTED = ['checkout_errors', 'help_views', 'videos_completed'];

const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);
const byImportance = (result: KeyDriverResult) => [...result.drivers].sort((a, b) => b.importance - a.importance);

/** Rows repeated `times`, so a tiny design has enough responses for the bootstrap. */
const repeat = <T>(rows: readonly T[], times: number): T[] => Array.from({ length: times }, () => rows).flat();

describe('keyDrivers (LMG shares of R²)', () => {
  it('splits R² of uncorrelated drivers by their squared correlations with the score', () => {
    // x1 ⟂ x2, y = 2·x1 + x2: r1² = 4/5, r2² = 1/5, R² = 1.
    const design = [[1, 1], [-1, 1], [1, -1], [-1, -1]];
    const rows = repeat(design, 10);
    const result = keyDrivers(rows.map(([x1, x2]) => 2 * x1! + x2!), rows, ['x1', 'x2'], OPTIONS);
    expect(result.r_squared).toBeCloseTo(1, 10);
    expect(result.drivers.map((driver) => driver.importance)).toEqual([expect.closeTo(0.8, 10), expect.closeTo(0.2, 10)]);
    expect(result.drivers.map((driver) => driver.effect)).toEqual([expect.closeTo(2 / Math.sqrt(5), 10), expect.closeTo(1 / Math.sqrt(5), 10)]);
    expect(result.p_value).toBeCloseTo(1 / 201, 10); // no shuffle reaches R² = 1
    expect(result.explains).toBe(true);
    expect(result.drivers.every((driver) => driver.significant)).toBe(true);
  });

  it('splits the shared part of two correlated drivers evenly (LMG with two drivers, written out)', () => {
    const x1 = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const x2 = [2, 1, 4, 3, 6, 5, 9, 7, 8, 10];
    const y = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3].map((noise, index) => x1[index]! - 0.5 * x2[index]! + noise);
    const r = (a: number[], b: number[]) => {
      const mean = (values: number[]) => sum(values) / values.length;
      const [ma, mb] = [mean(a), mean(b)];
      return sum(a.map((value, index) => (value - ma) * (b[index]! - mb))) / Math.sqrt(sum(a.map((value) => (value - ma) ** 2)) * sum(b.map((value) => (value - mb) ** 2)));
    };
    const [r1, r2, r12] = [r(x1, y), r(x2, y), r(x1, x2)];
    const r2Full = (r1 ** 2 + r2 ** 2 - 2 * r1 * r2 * r12) / (1 - r12 ** 2);
    const contribution1 = (r1 ** 2 + (r2Full - r2 ** 2)) / 2;
    const contribution2 = (r2 ** 2 + (r2Full - r1 ** 2)) / 2;
    const rows = x1.map((value, index) => [value, x2[index]!]);
    const result = keyDrivers(y, rows, ['x1', 'x2'], OPTIONS);
    expect(result.r_squared).toBeCloseTo(r2Full, 12);
    expect(result.drivers.map((driver) => driver.importance)).toEqual([expect.closeTo(contribution1 / r2Full, 12), expect.closeTo(contribution2 / r2Full, 12)]);
  });

  it('does not depend on the order the drivers are given in', () => {
    const rows = Array.from({ length: 80 }, (_, index) => [index % 7, (index * 5) % 11, (index % 7) + ((index * 3) % 4), index % 2, (index * 7) % 13]);
    const scores = rows.map(([a, b, c, d, e], index) => a! - 0.5 * b! + 0.3 * c! + d! + 0.1 * e! + ((index * 13) % 5));
    const names = ['a', 'b', 'c', 'd', 'e'];
    const forward = keyDrivers(scores, rows, names, { ...OPTIONS, resamples: 20, permutations: 20 });
    const backward = keyDrivers(scores, rows.map((row) => [...row].reverse()), [...names].reverse(), { ...OPTIONS, resamples: 20, permutations: 20 });
    for (const driver of forward.drivers) {
      const same = backward.drivers.find((other) => other.driver === driver.driver)!;
      expect(same.importance).toBeCloseTo(driver.importance, 12);
      expect(same.effect).toBeCloseTo(driver.effect, 12);
    }
  });

  it('shares a duplicated driver equally and gives a constant one nothing', () => {
    const base = [0, 1, 2, 3, 4, 5, 6, 7];
    const rows = repeat(base.map((x) => [x, x, 3]), 5);
    const scores = rows.map(([x], index) => x! + (index % 3) - 1);
    const result = keyDrivers(scores, rows, ['a', 'a_again', 'constant'], OPTIONS);
    expect(result.drivers.map((driver) => driver.importance)).toEqual([expect.closeTo(0.5, 10), expect.closeTo(0.5, 10), 0]);
    expect(result.drivers[2]!.effect).toBe(0);
    expect(sum(result.drivers.map((driver) => driver.importance))).toBeCloseTo(1, 12);
  });

  it('gives equal shares and explains nothing when the score is constant', () => {
    const rows = repeat([[0, 1], [1, 0], [2, 2]], 10);
    const result = keyDrivers(rows.map(() => 7), rows, ['a', 'b'], OPTIONS);
    expect(result.r_squared).toBe(0);
    expect(result.drivers.map((driver) => driver.importance)).toEqual([0.5, 0.5]);
    expect(result.p_value).toBe(1);
    expect(result.explains).toBe(false);
  });

  it('is deterministic for a seed, and resamples differently for another', () => {
    const rows = Array.from({ length: 60 }, (_, index) => [index % 7, (index * 5) % 11, index % 2]);
    const scores = rows.map(([a, b], index) => a! - 0.5 * b! + ((index * 13) % 5));
    const result = keyDrivers(scores, rows, ['a', 'b', 'c'], OPTIONS);
    expect(keyDrivers(scores, rows, ['a', 'b', 'c'], OPTIONS)).toEqual(result);
    const other = keyDrivers(scores, rows, ['a', 'b', 'c'], { ...OPTIONS, seed: 8 });
    expect(other.drivers.map((driver) => driver.importance)).toEqual(result.drivers.map((driver) => driver.importance)); // the estimate does not resample
    expect(other.drivers.map((driver) => driver.ci_low)).not.toEqual(result.drivers.map((driver) => driver.ci_low));
  });

  it('refuses more drivers than the exact decomposition takes', () => {
    const rows = [Array(9).fill(0), Array(9).fill(1)];
    expect(() => keyDrivers([0, 1], rows, Array.from({ length: 9 }, (_, index) => `d${index}`), OPTIONS)).toThrow(RangeError);
  });
});

describe('driver vectors', () => {
  const session = { ended_at: 1_000_000, duration_ms: 180_000, page_views: 4, cart_abandoned: true, checkout_errors: 1, help_views: 0, videos_completed: 2 };

  it('reads the sessions columns, dwell in minutes', () => {
    expect(driverVectorOf(session, true)).toEqual({
      checkout_errors: 1, help_views: 0, videos_completed: 2, duration_ms: 3, cart_abandoned: 1, page_views: 4, channel_switch: 1,
    });
  });

  it('counts a channel switch for a contact within 24 h after a session with trouble, at or before the response', () => {
    const hour = 3_600_000;
    expect(channelSwitchBefore(session, [session.ended_at + hour], session.ended_at + 2 * hour)).toBe(true);
    expect(channelSwitchBefore(session, [session.ended_at + 3 * hour], session.ended_at + 2 * hour)).toBe(false); // after the response
    expect(channelSwitchBefore(session, [session.ended_at - hour], session.ended_at + 2 * hour)).toBe(false); // before the session ended
    expect(channelSwitchBefore(session, [session.ended_at + 25 * hour], session.ended_at + 48 * hour)).toBe(false); // more than 24 h after
    expect(channelSwitchBefore({ ...session, checkout_errors: 0 }, [session.ended_at + hour], session.ended_at + 2 * hour)).toBe(false); // no trouble
  });
});

describe('on a generated day (3000 customers, journey pipeline and X+O link)', () => {
  let planted: KeyDriverResult;
  let none: KeyDriverResult;

  const npsDrivers = (plantedDrivers: boolean) => {
    const linked = linkedResponses(generateDay({ seed: 5, customers: 3000, plantedDrivers })).filter(({ row }) => row.metric === 'nps');
    return keyDrivers(linked.map(({ row }) => row.score), linked.map(({ drivers }) => KEY_DRIVERS.map((driver) => drivers[driver])), KEY_DRIVERS, OPTIONS);
  };

  beforeAll(() => {
    planted = npsDrivers(true);
    none = npsDrivers(false);
  }, 60_000); // two generated days through the journey pipeline

  it('finds the planted effect and ranks it first, with intervals of the effect excluding zero in the planted direction', () => {
    expect(planted.responses).toBeGreaterThan(700);
    expect(planted.explains).toBe(true);
    expect(planted.r_squared).toBeGreaterThan(0.1);
    const ranked = byImportance(planted);
    expect(new Set(ranked.slice(0, 3).map((driver) => driver.driver))).toEqual(new Set(PLANTED));
    const of = (name: string) => planted.drivers.find((driver) => driver.driver === name)!;
    for (const name of PLANTED) {
      expect(of(name).significant, name).toBe(true);
      expect(of(name).ci_low, name).toBeGreaterThan(0.05);
    }
    expect(of('checkout_errors').effect_ci_high).toBeLessThan(0);
    expect(of('help_views').effect_ci_high).toBeLessThan(0);
    expect(of('videos_completed').effect_ci_low).toBeGreaterThan(0);
    expect(sum(PLANTED.map((name) => of(name).importance))).toBeGreaterThan(0.7);
    expect(sum(planted.drivers.map((driver) => driver.importance))).toBeCloseTo(1, 12);
  });

  it('finds nothing without it: R² near 0, the permutation test not significant, no key driver, every interval overlapping every other', () => {
    expect(none.r_squared).toBeLessThan(0.02);
    expect(none.p_value).toBeGreaterThanOrEqual(OPTIONS.alpha);
    expect(none.explains).toBe(false);
    expect(none.drivers.filter((driver) => driver.significant)).toEqual([]);
    const highestLow = Math.max(...none.drivers.map((driver) => driver.ci_low));
    const lowestHigh = Math.min(...none.drivers.map((driver) => driver.ci_high));
    expect(highestLow).toBeLessThan(lowestHigh);
    expect(sum(none.drivers.map((driver) => driver.importance))).toBeCloseTo(1, 12);
  });
});

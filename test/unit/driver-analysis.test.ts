// The driver-analysis store: when it recomputes (every N final responses or at event-time boundaries), what is late, bounded memory, identical rows whatever the arrival order, and checkpoint → restore → continue.
import { describe, expect, it } from 'vitest';
import { DRIVER_ANALYSIS_STORE, DriverAnalysis, driverAnalysisConfigSchema } from '../../pipelines/cx/driver-analysis.ts';
import type { DriverAnalysisConfig } from '../../pipelines/cx/driver-analysis.ts';
import { KEY_DRIVERS, keyDrivers } from '../../pipelines/cx/key-drivers.ts';
import type { DriverVector, KeyDriverCompute } from '../../pipelines/cx/key-drivers.ts';
import type { StateChange } from '../../engine/state.ts';
import type { DriverAnalysisRow, FeedbackRow } from '../../schemas/analytics-outputs.ts';
import type { SurveyMetric } from '../../schemas/events.ts';
import { generateDay } from '../../sources/generator/synthetic-day.ts';
import { compactedChangelog } from '../support/compacted-changelog.ts';
import { HOUR, MIN, T0, at } from '../support/cx-harness.ts';
import { linkedResponses } from '../support/linked-responses.ts';

const GAP = 30 * MIN;
const CONFIG: DriverAnalysisConfig = driverAnalysisConfigSchema.parse({ minResponses: 10, sampleSize: 40, everyResponses: 20, everyMs: HOUR, resamples: 50, permutations: 50 });

interface Response {
  row: FeedbackRow;
  drivers: DriverVector;
  partition: number;
}

/** Response `index` at minute `minutes`: checkout errors cycle 0–2 and lower the score; other drivers vary without effect. */
function response(index: number, minutes: number, metric: SurveyMetric = 'nps', partition = index % 2): Response {
  const errors = index % 3;
  const helpViews = (index * 7) % 4;
  const score = Math.max(0, Math.min(10, 9 - 3 * errors + ((index * 5) % 3) - 1));
  const row = {
    response_event_id: `r${String(index).padStart(3, '0')}`, customer_id: `c${index}`, responded_at: at(minutes), metric, score, session_id: `s${index}`,
  } as FeedbackRow;
  const drivers = {
    checkout_errors: errors, help_views: helpViews, videos_completed: (index * 11) % 2, duration_ms: (index * 13) % 17, cart_abandoned: (index * 3) % 2,
    page_views: 1 + ((index * 5) % 7), channel_switch: index % 5 === 0 ? 1 : 0,
  };
  return { row, drivers, partition };
}

const analysis = (config: DriverAnalysisConfig = CONFIG) => new DriverAnalysis(config, GAP);
const feed = (store: DriverAnalysis, responses: readonly Response[]) => {
  for (const { row, drivers, partition } of responses) store.add(row, drivers, partition);
};
const release = async (store: DriverAnalysis, watermark: number) => {
  const rows: DriverAnalysisRow[] = [];
  store.release(watermark);
  await store.drain((row) => rows.push(row));
  return rows;
};
/** (metric, computed_at) of each computation, and its number of responses, in emit order. */
const computations = (rows: readonly DriverAnalysisRow[]) => [...new Map(rows.map((row) => [`${row.metric}@${row.computed_at}`, [row.metric, row.computed_at, row.responses]])).values()];

describe('DriverAnalysis', () => {
  // One response a minute from 10:00: r000 at 10:00 … r024 at 10:24.
  const first25 = Array.from({ length: 25 }, (_, index) => response(index, index));

  it('computes at every 20th final response and at the hour boundary after new ones, a row per driver', async () => {
    const store = analysis();
    feed(store, first25);
    expect(await release(store, at(19) + GAP)).toEqual([]); // r019, the 20th, is not final yet: it is final past its time + the gap
    const byCount = await release(store, at(19) + GAP + 1);
    expect(computations(byCount)).toEqual([['nps', at(19), 20]]); // the 20th: r019 at 10:19
    expect(byCount.map((row) => row.driver)).toEqual([...KEY_DRIVERS]);
    expect(await release(store, at(60) + GAP - 1)).toEqual([]); // responses before 11:00 may still come until 11:30
    const byTime = await release(store, at(60) + GAP);
    expect(computations(byTime)).toEqual([['nps', at(60), 25]]);
    expect(await release(store, Number.POSITIVE_INFINITY)).toEqual([]); // nothing new
  });

  it('finds the effect of checkout errors, shares summing to 1 per computation', async () => {
    const store = analysis();
    feed(store, first25);
    const rows = await release(store, Number.POSITIVE_INFINITY);
    for (const computedAt of new Set(rows.map((row) => row.computed_at))) {
      const computation = rows.filter((row) => row.computed_at === computedAt);
      expect(computation.reduce((total, row) => total + row.importance, 0)).toBeCloseTo(1, 12);
      const top = computation.reduce((best, row) => (row.importance > best.importance ? row : best));
      expect(top.driver).toBe('checkout_errors');
      expect(top.significant).toBe(true);
      expect(top.effect).toBeLessThan(0);
      expect(new Set(computation.map((row) => row.r_squared)).size).toBe(1);
    }
  });

  it('emits nothing below the minimum of responses, and still moves on', async () => {
    const store = analysis();
    feed(store, first25.slice(0, 5));
    expect(await release(store, Number.POSITIVE_INFINITY)).toEqual([]);
    expect(store.computations).toBe(1);
    feed(store, first25.slice(5, 12).map(({ row, drivers, partition }) => ({ row: { ...row, responded_at: row.responded_at + HOUR }, drivers, partition })));
    expect(computations(await release(store, Number.POSITIVE_INFINITY))).toEqual([['nps', at(120), 12]]);
  });

  it('counts a response at or before the last computation of its metric as late, and ignores rows without a session', async () => {
    const store = analysis();
    feed(store, first25);
    await release(store, Number.POSITIVE_INFINITY); // computed at 10:19 and 11:00
    feed(store, [response(100, 59), response(101, 61, 'nps'), { ...response(102, 62), row: { ...response(102, 62).row, session_id: null } }]);
    expect(store.late).toBe(1);
    expect(computations(await release(store, Number.POSITIVE_INFINITY))).toEqual([['nps', at(120), 26]]);
  });

  it('keeps metrics apart', async () => {
    const store = analysis();
    feed(store, [...first25, ...Array.from({ length: 12 }, (_, index) => response(200 + index, index, 'csat'))]);
    expect(computations(await release(store, Number.POSITIVE_INFINITY))).toEqual([['nps', at(19), 20], ['nps', at(60), 25], ['csat', at(60), 12]]);
  });

  it('keeps the latest sampleSize responses per metric, and tombstones the ones it forgets', async () => {
    const store = analysis();
    const many = Array.from({ length: 100 }, (_, index) => response(index, index));
    feed(store, many);
    const rows = await release(store, Number.POSITIVE_INFINITY);
    expect(Math.max(...rows.map((row) => row.responses))).toBe(CONFIG.sampleSize);
    expect(store.size).toBe(CONFIG.sampleSize);
    const changes = store.changes();
    expect(changes.every((change) => change.store === DRIVER_ANALYSIS_STORE)).toBe(true);
    // Keys written and forgotten within one checkpoint still reach the changelog as tombstones; the compacted changelog holds the sample and the marks.
    const restored = compactedChangelog(changes);
    const responseKeys = [...restored.values()].flatMap((entries) => [...entries.keys()].filter((key) => key.startsWith('r\u001f')));
    expect(responseKeys).toHaveLength(CONFIG.sampleSize);
  });

  it('forgets an erased customer\'s responses, in the store and on its changelog', async () => {
    const store = analysis();
    feed(store, first25);
    store.changes();
    store.forgetCustomer('c3');
    expect(store.size).toBe(24);
    expect(store.changes()).toEqual([{ store: DRIVER_ANALYSIS_STORE, partition: 1, key: 'r\u001fnps\u001fc3\u001fr003', value: null }]);
    expect(computations(await release(store, Number.POSITIVE_INFINITY))).toEqual([['nps', at(20), 20], ['nps', at(60), 24]]);
  });

  it('gives identical rows whatever the arrival order, partitions and watermark steps', async () => {
    const responses = Array.from({ length: 70 }, (_, index) => response(index, index * 3));
    const inOrder = analysis();
    feed(inOrder, responses);
    const expected = await release(inOrder, Number.POSITIVE_INFINITY);
    expect(computations(expected).length).toBeGreaterThan(3);

    const shuffled = analysis();
    // Partition 1 first, reversed, then partition 0; time advances in 7-minute steps.
    feed(shuffled, responses.filter((r) => r.partition === 1).reverse());
    feed(shuffled, responses.filter((r) => r.partition === 0));
    const rows: DriverAnalysisRow[] = [];
    for (let watermark = T0; watermark < at(400); watermark += 7 * MIN) rows.push(...(await release(shuffled, watermark)));
    rows.push(...(await release(shuffled, Number.POSITIVE_INFINITY)));
    expect(rows).toEqual(expected);
  });

  it('checkpoint → restore into a fresh store → continue gives the rows of an uninterrupted run', async () => {
    const responses = Array.from({ length: 90 }, (_, index) => response(index, index * 2));
    const before = responses.filter((r) => r.row.responded_at < at(100));
    const after = responses.filter((r) => r.row.responded_at >= at(100));

    const uninterrupted = analysis();
    const checkpoint: StateChange[] = [];
    feed(uninterrupted, before);
    const early = await release(uninterrupted, at(100));
    checkpoint.push(...uninterrupted.changes());
    expect(new Set(checkpoint.map((change) => change.partition))).toEqual(new Set([0, 1]));
    feed(uninterrupted, after);
    const expected = await release(uninterrupted, Number.POSITIVE_INFINITY);
    expect(computations(early).length).toBeGreaterThan(0);
    expect(computations(expected).length).toBeGreaterThan(0);

    const restored = analysis();
    for (const [partition, entries] of compactedChangelog(checkpoint)) restored.restore(partition, entries);
    feed(restored, after);
    expect(await release(restored, Number.POSITIVE_INFINITY)).toEqual(expected);

    // A store that lost its state computes something else (no early responses, no mark).
    const empty = analysis();
    feed(empty, after);
    expect(await release(empty, Number.POSITIVE_INFINITY)).not.toEqual(expected);
  });

  it('emits the rows of the computations a watermark started only in drain, in the order they started, however long each takes', async () => {
    const responses = Array.from({ length: 90 }, (_, index) => response(index, index * 2));
    const here = analysis();
    feed(here, responses);
    const expected = await release(here, Number.POSITIVE_INFINITY);
    expect(computations(expected).length).toBeGreaterThan(2);

    // Each later computation finishes sooner than the one before it (as on a busy thread, in any order).
    let delay = 50;
    const slow: KeyDriverCompute = (job) => new Promise((resolve) => setTimeout(() => resolve(keyDrivers(job.scores, job.rows, job.names, job.options)), (delay -= 10) > 0 ? delay : 0));
    const deferred = new DriverAnalysis(CONFIG, GAP, slow);
    feed(deferred, responses);
    deferred.release(Number.POSITIVE_INFINITY);
    expect(deferred.running).toBe(true);
    const rows: DriverAnalysisRow[] = [];
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(rows).toEqual([]); // finished, but not emitted before drain
    await deferred.drain((row) => rows.push(row));
    expect(rows).toEqual(expected);
    expect(deferred.running).toBe(false);

    // A rebalance (clear) drops what is running: its state is restored and the computations redone.
    const dropped = new DriverAnalysis(CONFIG, GAP, slow);
    feed(dropped, responses);
    dropped.release(Number.POSITIVE_INFINITY);
    dropped.clear();
    const none: DriverAnalysisRow[] = [];
    await dropped.drain((row) => none.push(row));
    expect(none).toEqual([]);
  });

  it('on a generated day, the last NPS computation ranks the planted drivers first; without the effect it finds none', async () => {
    const config = driverAnalysisConfigSchema.parse({ everyResponses: 400, everyMs: 6 * HOUR });
    const lastNps = async (plantedDrivers: boolean) => {
      const store = analysis(config);
      for (const { row, drivers, partition } of linkedResponses(generateDay({ seed: 5, customers: 3000, plantedDrivers }), 3)) store.add(row, drivers, partition);
      const rows = (await release(store, Number.POSITIVE_INFINITY)).filter((row) => row.metric === 'nps');
      const last = Math.max(...rows.map((row) => row.computed_at));
      return rows.filter((row) => row.computed_at === last).sort((a, b) => b.importance - a.importance);
    };
    const planted = await lastNps(true);
    expect(planted[0]!.responses).toBeGreaterThan(700);
    expect(new Set(planted.slice(0, 3).map((row) => row.driver))).toEqual(new Set(['checkout_errors', 'help_views', 'videos_completed']));
    expect(planted.slice(0, 3).every((row) => row.significant)).toBe(true);
    const none = await lastNps(false);
    expect(none[0]!.p_value).toBeGreaterThanOrEqual(config.alpha);
    expect(none.filter((row) => row.significant)).toEqual([]);
  }, 60_000); // two generated days through the journey pipeline
});

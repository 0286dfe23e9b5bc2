// The anomaly detector's baselines are checkpointed per input partition: checkpoint → restore into a fresh detector → continue raises the same anomaly as an uninterrupted run (and a detector that starts empty does not).
import { describe, expect, it } from 'vitest';
import { ANOMALY_STORE, AnomalyDetector } from '../../pipelines/cx/anomaly-detector.ts';
import type { AnomalyConfig } from '../../pipelines/cx/anomaly-detector.ts';
import type { StateChange } from '../../engine/state.ts';
import type { Alert, SessionKpis } from '../../schemas/outputs.ts';
import { compactedChangelog } from '../support/compacted-changelog.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-01-05T10:00:00.000Z');
const CONFIG: AnomalyConfig = { enabled: true, bucketMs: HOUR, baselineBuckets: 24, minBaselineBuckets: 3, minVolume: 5, threshold: 3, minIncrease: 0.1 };

/** Hour `hour`: ten web sessions, `errors` of them with a checkout error; even ones from input partition 0, odd ones from 1. */
function hourOfSessions(detector: AnomalyDetector, hour: number, errors: number): void {
  for (let index = 0; index < 10; index++) {
    const session = { session_id: `s${hour}-${index}`, channel: 'web', ended_at: T0 + hour * HOUR + index * 60_000, checkout_errors: index < errors ? 1 : 0 };
    detector.addSession(session as unknown as SessionKpis, index % 2);
  }
}

function release(detector: AnomalyDetector, watermark: number): Alert[] {
  const alerts: Alert[] = [];
  detector.release(watermark, 42, (alert) => alerts.push(alert));
  return alerts;
}

const EXPECTED_REASON =
  'The share of sessions with a checkout error for channel "web" was 60.0% (6 of 10) between 13:00 and 14:00 UTC, against a baseline of 10.0% (z = 5.3).';

describe('AnomalyDetector state', () => {
  it('checkpoint → restore → continue raises the anomaly of an uninterrupted run; an empty restart does not', () => {
    const uninterrupted = new AnomalyDetector(CONFIG);
    const checkpoint: StateChange[] = [];
    for (let hour = 0; hour < 3; hour++) {
      hourOfSessions(uninterrupted, hour, 1);
      expect(release(uninterrupted, T0 + (hour + 1) * HOUR + 1)).toEqual([]);
      checkpoint.push(...uninterrupted.changes()); // a checkpoint after every hour
    }
    expect(checkpoint.every((change) => change.store === ANOMALY_STORE)).toBe(true);
    expect(new Set(checkpoint.map((change) => change.partition))).toEqual(new Set([0, 1]));

    const restored = new AnomalyDetector(CONFIG);
    for (const [partition, entries] of compactedChangelog(checkpoint)) restored.restore(partition, entries);
    const empty = new AnomalyDetector(CONFIG);

    for (const detector of [uninterrupted, restored, empty]) hourOfSessions(detector, 3, 6);
    const expected = [
      {
        alert_id: expect.stringMatching(/^[0-9a-f]{32}$/), kpi: 'checkout_error_rate', dimension: 'channel', dimension_value: 'web', channel: 'web',
        window_start: T0 + 3 * HOUR, window_end: T0 + 4 * HOUR, rate: 0.6, baseline: expect.closeTo(0.1, 10), z_score: expect.closeTo(5.3, 1), bad: 6, total: 10,
        reason: EXPECTED_REASON,
        // Partition 0's sessions first (s3-0, s3-2, s3-4), then partition 1's (s3-1, s3-3, s3-5).
        evidence_event_ids: ['s3-0', 's3-2', 's3-4', 's3-1', 's3-3', 's3-5'],
        triggered_at: T0 + 4 * HOUR, emitted_at: 42,
      },
    ];
    const fromUninterrupted = release(uninterrupted, T0 + 4 * HOUR + 1);
    expect(fromUninterrupted).toEqual(expected);
    expect(release(restored, T0 + 4 * HOUR + 1)).toEqual(fromUninterrupted);
    expect(release(empty, T0 + 4 * HOUR + 1)).toEqual([]); // no baseline: what restarting without the store did
  });

  it('a partition restored alone brings back only its own part (what a worker owning it continues with)', () => {
    const detector = new AnomalyDetector(CONFIG);
    hourOfSessions(detector, 0, 2); // errors in s0-0 (partition 0) and s0-1 (partition 1)
    const parts = compactedChangelog(detector.changes());
    const alone = new AnomalyDetector(CONFIG);
    alone.restore(1, parts.get(1)!);
    expect(alone.size).toBe(1);
    expect(JSON.parse(JSON.stringify([...parts.get(1)!.values()]))).toEqual([
      { kpi: 'checkout_error_rate', dimension: 'web', open: { [String(T0)]: { bad: 1, total: 5, evidence: ['s0-1'] } }, closed: {} },
    ]);
  });
});

// Signal vs noise: a rolling detector that raises an alert (topic touchstream.alerts) when a KPI rate departs from its own recent baseline.
import { z } from 'zod';
import { KeyedStateStore } from '../../engine/index.ts';
import type { StateChange, StateStore } from '../../engine/index.ts';
import type { Sentiment } from '../../schemas/analytics-outputs.ts';
import type { Channel, CxEvent } from '../../schemas/events.ts';
import type { Alert, SessionKpis } from '../../schemas/outputs.ts';
import { signalIdOf } from './rules/rule.ts';

export const anomalyConfigSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Event-time bucket the rate is measured over. */
    bucketMs: z.coerce.number().int().min(60_000).default(60 * 60_000),
    /** How many past buckets (with enough volume) form the baseline. */
    baselineBuckets: z.coerce.number().int().min(2).default(24),
    /** No verdict before this many baseline buckets exist. */
    minBaselineBuckets: z.coerce.number().int().min(1).default(3),
    /** A bucket needs at least this many observations (mentions, responses, sessions) to count: no alert on one comment. */
    minVolume: z.coerce.number().int().min(1).default(10),
    /** Raise when (rate − baseline mean) / spread ≥ this (a z-score). */
    threshold: z.coerce.number().positive().default(3),
    /** …and the rate is at least this much above the baseline mean (absolute share). */
    minIncrease: z.coerce.number().min(0).max(1).default(0.1),
  })
  .prefault({});
export type AnomalyConfig = z.output<typeof anomalyConfigSchema>;

/** The KPIs watched, each a share of "bad" among observations, per dimension. */
export type AnomalyKpi = 'negative_mention_share' | 'detractor_share' | 'checkout_error_rate';

const KPI: Record<AnomalyKpi, { dimension: string; channel: Channel; what: string }> = {
  negative_mention_share: { dimension: 'product', channel: 'social', what: 'negative share of social mentions' },
  detractor_share: { dimension: 'touchpoint', channel: 'survey', what: 'detractor share of NPS responses' },
  checkout_error_rate: { dimension: 'channel', channel: 'web', what: 'share of sessions with a checkout error' },
};

interface Bucket {
  bad: number;
  total: number;
  evidence: string[];
}

/**
 * One input partition's part of a series (checkpointed per partition, like the minute rollup): its counts in the
 * open buckets, and in the closed buckets that form the baseline. Rates are summed over the owned partitions.
 */
interface SeriesPart {
  kpi: AnomalyKpi;
  dimension: string;
  /** Open buckets by start time. */
  open: Record<string, Bucket>;
  /** Closed buckets with enough volume (over all owned partitions), by start: [bad, total] of this partition. */
  closed: Record<string, [number, number]>;
}

/** The store the detector's state is checkpointed in. */
export const ANOMALY_STORE = 'journey-anomaly-baselines';

const MAX_EVIDENCE = 10;

/**
 * Method: per KPI and dimension value, the rate of each event-time bucket (1 h) is compared, once the
 * watermark has passed the bucket, with the mean μ and standard deviation s of the last N buckets that had at
 * least `minVolume` observations. The spread is max(s, √(μ(1−μ)/n)) — the binomial noise of a bucket of n —
 * so a flat baseline does not turn every wobble into an alarm. An alert fires when the bucket has
 * ≥ minVolume observations, (rate − μ) / spread ≥ threshold and rate − μ ≥ minIncrease. Only rises alert
 * (more negative mentions, detractors, errors); a bucket's rate joins the baseline afterwards either way.
 */
export class AnomalyDetector implements StateStore {
  readonly name = ANOMALY_STORE;
  /** Keyed `<partition>\0<kpi>\0<dimension>`: each input partition's part of each series. */
  readonly #parts = new KeyedStateStore<SeriesPart>(ANOMALY_STORE);
  late = 0;
  /** The earliest open bucket start (−∞ after a restore: unknown), so `release` is cheap while nothing can close. */
  #earliestOpen = Number.POSITIVE_INFINITY;

  constructor(private readonly config: AnomalyConfig) {}

  /** Series (KPI × dimension) with state. */
  get size(): number {
    const series = new Set<string>();
    for (const [, { value }] of this.#parts.entries()) series.add(`${value.kpi}\0${value.dimension}`);
    return series.size;
  }

  #observe(kpi: AnomalyKpi, dimension: string, at: number, bad: boolean, eventId: string, partition: number, watermarkHint = Number.NEGATIVE_INFINITY): void {
    const key = `${partition}\0${kpi}\0${dimension}`;
    const part = this.#parts.get(key) ?? { kpi, dimension, open: {}, closed: {} };
    const start = Math.floor(at / this.config.bucketMs) * this.config.bucketMs;
    if (start + this.config.bucketMs < watermarkHint) {
      this.late++;
      return;
    }
    const bucket = (part.open[start] ??= { bad: 0, total: 0, evidence: [] });
    if (start < this.#earliestOpen) this.#earliestOpen = start;
    bucket.total++;
    if (bad) {
      bucket.bad++;
      if (bucket.evidence.length < MAX_EVIDENCE) bucket.evidence.push(eventId);
    }
    this.#parts.put(partition, key, part);
  }

  /** An event of input partition `partition` (default 0). */
  addEvent(event: CxEvent, sentiment: Sentiment | null, partition = 0): void {
    if (!this.config.enabled) return;
    if (event.type === 'social_mention' && event.properties.product_id && sentiment) {
      this.#observe('negative_mention_share', event.properties.product_id, event.occurred_at, sentiment.label === 'negative', event.event_id, partition);
    } else if (event.type === 'survey_response' && event.properties.metric === 'nps') {
      this.#observe('detractor_share', event.touchpoint ?? '', event.occurred_at, event.properties.score <= 6, event.event_id, partition);
    }
  }

  /** Sessions count in the bucket of their end; "bad" when they had a checkout error. */
  addSession(session: SessionKpis, partition = 0): void {
    if (!this.config.enabled) return;
    this.#observe('checkout_error_rate', session.channel, session.ended_at, session.checkout_errors > 0, session.session_id, partition);
  }

  release(watermark: number, emittedAt: number, emit: (alert: Alert) => void): void {
    if (!this.config.enabled) return;
    const { bucketMs, baselineBuckets, minBaselineBuckets, minVolume, threshold, minIncrease } = this.config;
    if (!(this.#earliestOpen + bucketMs < watermark)) return;
    this.#earliestOpen = Number.POSITIVE_INFINITY;
    const raised: Alert[] = [];
    for (const parts of this.#bySeries().values()) {
      // A session closes up to a gap after it ended: its bucket closes once the watermark has passed that too.
      const starts = [...new Set(parts.flatMap(({ value }) => Object.keys(value.open).map(Number)))].filter((start) => start + bucketMs < watermark).sort((a, b) => a - b);
      if (starts.length === 0) {
        for (const { value } of parts) for (const open of Object.keys(value.open)) if (Number(open) < this.#earliestOpen) this.#earliestOpen = Number(open);
        continue;
      }
      for (const start of starts) {
        // The bucket over every owned partition, in partition order (evidence too).
        const bucket: Bucket = { bad: 0, total: 0, evidence: [] };
        const counts: Array<{ part: (typeof parts)[number]; bad: number; total: number }> = [];
        for (const entry of parts) {
          const own = entry.value.open[start];
          if (!own) continue;
          delete entry.value.open[start];
          bucket.bad += own.bad;
          bucket.total += own.total;
          for (const id of own.evidence) if (bucket.evidence.length < MAX_EVIDENCE) bucket.evidence.push(id);
          counts.push({ part: entry, bad: own.bad, total: own.total });
        }
        if (bucket.total < minVolume) continue;
        const rate = bucket.bad / bucket.total;
        const baseline = baselineRates(parts.map(({ value }) => value));
        if (baseline.length >= minBaselineBuckets) {
          const mean = baseline.reduce((sum, value) => sum + value, 0) / baseline.length;
          const deviation = Math.sqrt(baseline.reduce((sum, value) => sum + (value - mean) ** 2, 0) / baseline.length);
          const spread = Math.max(deviation, Math.sqrt((Math.max(mean, 1 / bucket.total) * (1 - Math.min(mean, 1 - 1 / bucket.total))) / bucket.total));
          const score = (rate - mean) / spread;
          if (score >= threshold && rate - mean >= minIncrease) raised.push(this.#alert(parts[0]!.value, start, rate, mean, score, bucket, emittedAt));
        }
        for (const { part, bad, total } of counts) {
          const earlier = part.value.closed[start]; // a late part of a bucket released before
          part.value.closed[start] = earlier ? [earlier[0] + bad, earlier[1] + total] : [bad, total];
        }
        // The baseline is the last `baselineBuckets` closed buckets: older ones leave every partition's part.
        const closed = [...new Set(parts.flatMap(({ value }) => Object.keys(value.closed).map(Number)))].sort((a, b) => a - b);
        for (const old of closed.slice(0, Math.max(0, closed.length - baselineBuckets))) for (const { value } of parts) delete value.closed[old];
      }
      for (const { partition, key, value } of parts) {
        for (const open of Object.keys(value.open)) if (Number(open) < this.#earliestOpen) this.#earliestOpen = Number(open);
        if (Object.keys(value.open).length === 0 && Object.keys(value.closed).length === 0) this.#parts.delete(key);
        else this.#parts.put(partition, key, value);
      }
    }
    raised.sort((a, b) => a.triggered_at - b.triggered_at || (a.alert_id < b.alert_id ? -1 : 1));
    for (const alert of raised) emit(alert);
  }

  changes(): StateChange[] {
    return this.#parts.changes();
  }

  restore(partition: number, entries: ReadonlyMap<string, unknown>): void {
    this.#parts.restore(partition, entries);
    this.#earliestOpen = Number.NEGATIVE_INFINITY;
  }

  clear(): void {
    this.#parts.clear();
    this.#earliestOpen = Number.POSITIVE_INFINITY;
  }

  /** Each series' parts, in partition order. */
  #bySeries(): Map<string, Array<{ partition: number; key: string; value: SeriesPart }>> {
    const series = new Map<string, Array<{ partition: number; key: string; value: SeriesPart }>>();
    for (const [key, { partition, value }] of this.#parts.entries()) {
      const id = `${value.kpi}\0${value.dimension}`;
      let parts = series.get(id);
      if (!parts) series.set(id, (parts = []));
      parts.push({ partition, key, value });
    }
    for (const parts of series.values()) parts.sort((a, b) => a.partition - b.partition);
    return series;
  }

  #alert(series: { kpi: AnomalyKpi; dimension: string }, start: number, rate: number, mean: number, score: number, bucket: Bucket, emittedAt: number): Alert {
    const spec = KPI[series.kpi];
    const percent = (value: number) => `${(value * 100).toFixed(1)}%`;
    const end = start + this.config.bucketMs;
    return {
      // The id the anomaly signal had before alerts had a topic of their own: a replay of an old log gives the same ids.
      alert_id: signalIdOf(`anomaly_${series.kpi}`, `kpi:${series.kpi}:${series.dimension}`, String(start)),
      kpi: series.kpi,
      dimension: spec.dimension,
      dimension_value: series.dimension,
      channel: spec.channel,
      window_start: start,
      window_end: end,
      rate,
      baseline: mean,
      z_score: score,
      bad: bucket.bad,
      total: bucket.total,
      reason:
        `The ${spec.what} for ${spec.dimension} "${series.dimension || '(none)'}" was ${percent(rate)} (${bucket.bad} of ${bucket.total}) ` +
        `between ${new Date(start).toISOString().slice(11, 16)} and ${new Date(end).toISOString().slice(11, 16)} UTC, against a baseline of ${percent(mean)} (z = ${score.toFixed(1)}).`,
      evidence_event_ids: bucket.evidence,
      triggered_at: end,
      emitted_at: emittedAt,
    };
  }
}

/** The baseline's rates, oldest first: each closed bucket's bad / total summed over the parts. */
function baselineRates(parts: readonly SeriesPart[]): number[] {
  const sums = new Map<number, [number, number]>();
  for (const part of parts) {
    for (const [start, [bad, total]] of Object.entries(part.closed)) {
      const sum = sums.get(Number(start)) ?? [0, 0];
      sum[0] += bad;
      sum[1] += total;
      sums.set(Number(start), sum);
    }
  }
  return [...sums].sort((a, b) => a[0] - b[0]).map(([, [bad, total]]) => bad / total);
}

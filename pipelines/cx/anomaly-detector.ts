// Signal vs noise: a rolling detector that raises an `anomaly` signal when a KPI rate departs from its own recent baseline.
import { z } from 'zod';
import type { Sentiment } from '../../schemas/analytics-outputs.ts';
import type { Channel, CxEvent } from '../../schemas/events.ts';
import type { SessionKpis, Signal } from '../../schemas/outputs.ts';
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

interface Series {
  kpi: AnomalyKpi;
  dimension: string;
  /** Rates of past buckets that had enough volume, oldest first. */
  baseline: number[];
  /** Open buckets by start time. */
  buckets: Record<string, Bucket>;
}

const MAX_EVIDENCE = 10;

/**
 * Method: per KPI and dimension value, the rate of each event-time bucket (1 h) is compared, once the
 * watermark has passed the bucket, with the mean μ and standard deviation s of the last N buckets that had at
 * least `minVolume` observations. The spread is max(s, √(μ(1−μ)/n)) — the binomial noise of a bucket of n —
 * so a flat baseline does not turn every wobble into an alarm. An `anomaly` signal fires when the bucket has
 * ≥ minVolume observations, (rate − μ) / spread ≥ threshold and rate − μ ≥ minIncrease. Only rises alert
 * (more negative mentions, detractors, errors); a bucket's rate joins the baseline afterwards either way.
 */
export class AnomalyDetector {
  readonly #series = new Map<string, Series>();
  late = 0;

  constructor(private readonly config: AnomalyConfig) {}

  get size(): number {
    return this.#series.size;
  }

  #observe(kpi: AnomalyKpi, dimension: string, at: number, bad: boolean, eventId: string, watermarkHint = Number.NEGATIVE_INFINITY): void {
    const id = `${kpi}\0${dimension}`;
    let series = this.#series.get(id);
    if (!series) this.#series.set(id, (series = { kpi, dimension, baseline: [], buckets: {} }));
    const start = Math.floor(at / this.config.bucketMs) * this.config.bucketMs;
    if (start + this.config.bucketMs < watermarkHint) {
      this.late++;
      return;
    }
    const bucket = (series.buckets[start] ??= { bad: 0, total: 0, evidence: [] });
    bucket.total++;
    if (bad) {
      bucket.bad++;
      if (bucket.evidence.length < MAX_EVIDENCE) bucket.evidence.push(eventId);
    }
  }

  addEvent(event: CxEvent, sentiment: Sentiment | null): void {
    if (!this.config.enabled) return;
    if (event.type === 'social_mention' && event.properties.product_id && sentiment) {
      this.#observe('negative_mention_share', event.properties.product_id, event.occurred_at, sentiment.label === 'negative', event.event_id);
    } else if (event.type === 'survey_response' && event.properties.metric === 'nps') {
      this.#observe('detractor_share', event.touchpoint ?? '', event.occurred_at, event.properties.score <= 6, event.event_id);
    }
  }

  /** Sessions count in the bucket of their end; "bad" when they had a checkout error. */
  addSession(session: SessionKpis): void {
    if (!this.config.enabled) return;
    this.#observe('checkout_error_rate', session.channel, session.ended_at, session.checkout_errors > 0, session.session_id);
  }

  release(watermark: number, emittedAt: number, emit: (signal: Signal) => void): void {
    if (!this.config.enabled) return;
    const { bucketMs, baselineBuckets, minBaselineBuckets, minVolume, threshold, minIncrease } = this.config;
    const raised: Signal[] = [];
    for (const series of this.#series.values()) {
      // A session closes up to a gap after it ended: its bucket closes once the watermark has passed that too.
      const starts = Object.keys(series.buckets).map(Number).filter((start) => start + bucketMs < watermark).sort((a, b) => a - b);
      for (const start of starts) {
        const bucket = series.buckets[start]!;
        delete series.buckets[start];
        if (bucket.total < minVolume) continue;
        const rate = bucket.bad / bucket.total;
        const baseline = series.baseline;
        if (baseline.length >= minBaselineBuckets) {
          const mean = baseline.reduce((sum, value) => sum + value, 0) / baseline.length;
          const deviation = Math.sqrt(baseline.reduce((sum, value) => sum + (value - mean) ** 2, 0) / baseline.length);
          const spread = Math.max(deviation, Math.sqrt((Math.max(mean, 1 / bucket.total) * (1 - Math.min(mean, 1 - 1 / bucket.total))) / bucket.total));
          const score = (rate - mean) / spread;
          if (score >= threshold && rate - mean >= minIncrease) raised.push(this.#signal(series, start, rate, mean, score, bucket, emittedAt));
        }
        baseline.push(rate);
        if (baseline.length > baselineBuckets) baseline.shift();
      }
    }
    raised.sort((a, b) => a.triggered_at - b.triggered_at || (a.signal_id < b.signal_id ? -1 : 1));
    for (const signal of raised) emit(signal);
  }

  #signal(series: Series, start: number, rate: number, mean: number, score: number, bucket: Bucket, emittedAt: number): Signal {
    const spec = KPI[series.kpi];
    const subject = `kpi:${series.kpi}:${series.dimension}`;
    const percent = (value: number) => `${(value * 100).toFixed(1)}%`;
    const end = start + this.config.bucketMs;
    return {
      signal_id: signalIdOf(`anomaly_${series.kpi}`, subject, String(start)),
      customer_id: subject,
      session_id: null,
      action: 'anomaly',
      channel: spec.channel,
      priority: 90,
      rule_id: `anomaly_${series.kpi}`,
      reason:
        `The ${spec.what} for ${spec.dimension} "${series.dimension || '(none)'}" was ${percent(rate)} (${bucket.bad} of ${bucket.total}) ` +
        `between ${new Date(start).toISOString().slice(11, 16)} and ${new Date(end).toISOString().slice(11, 16)} UTC, against a baseline of ${percent(mean)} (z = ${score.toFixed(1)}).`,
      evidence_event_ids: bucket.evidence,
      triggered_at: end,
      emitted_at: emittedAt,
      expires_at: end + 24 * 60 * 60 * 1000,
      status: 'emitted',
    };
  }
}

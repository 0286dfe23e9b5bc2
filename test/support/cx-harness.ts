// Drives the CX operators by hand in unit tests: hand-built events in, every output collected, watermarks set explicitly.
import type { Operator, OperatorContext, Outputs, StreamRecord } from '../../engine/index.ts';
import { MetricsRecorder } from '../../engine/index.ts';
import { AnomalyDetector } from '../../pipelines/cx/anomaly-detector.ts';
import type { AnomalyConfig } from '../../pipelines/cx/anomaly-detector.ts';
import { DEFAULT_CONTACT_POLICY } from '../../pipelines/cx/contact-policy.ts';
import type { CxOutputs, ScoreSentiment } from '../../pipelines/cx/journey-operator.ts';
import { JourneyOperator } from '../../pipelines/cx/journey-operator.ts';
import type { DriverAnalysisConfig } from '../../pipelines/cx/driver-analysis.ts';
import { DEFAULT_RULES } from '../../pipelines/cx/rules/default-rules.ts';
import type { RuleSpec } from '../../pipelines/cx/rules/rule.ts';
import type { RuleSet } from '../../pipelines/cx/rules/rule-set.ts';
import { compileRules } from '../../pipelines/cx/rules/rule-set.ts';
import type { Channel, CxEvent, EventType } from '../../schemas/events.ts';
import { sessionKeyOf } from '../../schemas/events.ts';

export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;
export const T0 = Date.parse('2026-11-02T10:00:00.000Z');
/** Event time `minutes` after 10:00 on 2026-11-02. */
export const at = (minutes: number) => T0 + minutes * MIN;

export function event(id: string, type: EventType, minutes: number, properties: Record<string, unknown>, options: { customer?: string; channel?: Channel; touchpoint?: string | null } = {}): CxEvent {
  return {
    event_id: id,
    type,
    occurred_at: at(minutes),
    customer_id: options.customer ?? 'c1',
    anonymous_id: null,
    channel: options.channel ?? 'web',
    touchpoint: options.touchpoint ?? null,
    experiment: null,
    properties,
  } as CxEvent;
}

/** Sentiment by the text itself, so tests say exactly what each text scores. */
export const stubSentiment: ScoreSentiment = (text) => {
  const score = text.startsWith('BAD') ? -0.8 : text.startsWith('GOOD') ? 0.6 : 0;
  return { score, label: score < -0.05 ? 'negative' : score > 0.05 ? 'positive' : 'neutral', language: 'en' };
};

export const WALL_CLOCK = Date.parse('2026-11-10T00:00:00.000Z');

export class Harness<O extends Operator<CxEvent, CxOutputs>> {
  readonly outputs: { [K in keyof CxOutputs]: CxOutputs[K][] } = {
    events: [], sessions: [], signals: [], alerts: [], rejected: [], feedback: [], social_mentions: [], channel_switches: [], purchase_attribution: [], kpi_minute: [],
    page_views: [], video_engagement: [], campaign_kpis: [], driver_analysis: [], erasures: [], erasure_requests: [],
  };
  readonly metrics = new MetricsRecorder();
  readonly context: OperatorContext = { wallClock: () => WALL_CLOCK, metrics: this.metrics };
  readonly #out: Outputs<CxOutputs> = { emit: (output, value) => void (this.outputs[output] as unknown[]).push(value) };
  #offset = 0;
  /** The input partitions `watermark` moves: the default one and every one processed so far (the engine's assignment). */
  readonly #partitions = new Set<number>([0]);

  constructor(readonly operator: O) {}

  /** Processes events as one batch from `partition` (0 by default); the partition watermark is `partitionWatermark` (none by default). */
  process(events: readonly CxEvent[], partitionWatermark = Number.NEGATIVE_INFINITY, partition = 0): this {
    const records: StreamRecord<CxEvent>[] = events.map((value) => ({
      value, key: sessionKeyOf(value), eventTime: value.occurred_at, partition, offset: this.#offset++, partitionWatermark,
    }));
    this.#partitions.add(partition);
    this.operator.process(records, this.#out, this.context);
    return this;
  }

  /** An erasure of `key` read from `partition` at this point of the log (the engine's `forget`). */
  forget(key: string, partition = 0): this {
    this.operator.forget?.(key, partition, this.#out, this.context);
    return this;
  }

  /** Moves time to `time`: each partition processed so far (as the engine does, partitions first), then the global watermark. */
  watermark(time: number): this {
    for (const partition of [...this.#partitions].sort((a, b) => a - b)) this.operator.onPartitionWatermark?.(partition, time, this.#out, this.context);
    this.operator.onWatermark(time, this.#out, this.context);
    return this;
  }

  /** What the engine does before a checkpoint: the outputs of work started off the loop (key drivers) come out. */
  async drained(): Promise<this> {
    await this.operator.drain?.(this.#out, this.context);
    return this;
  }
}

export function journeyHarness(options: { rules?: readonly RuleSpec[] | RuleSet; anomaly?: AnomalyConfig; gapMs?: number; keyDrivers?: DriverAnalysisConfig } = {}) {
  return new Harness(
    new JourneyOperator({
      sessionGapMs: options.gapMs ?? 30 * MIN,
      dedupHorizonMs: HOUR,
      rules: Array.isArray(options.rules) || !options.rules ? compileRules((options.rules as readonly RuleSpec[] | undefined) ?? DEFAULT_RULES) : (options.rules as RuleSet),
      contactPolicy: DEFAULT_CONTACT_POLICY,
      scoreSentiment: stubSentiment,
      ...(options.anomaly ? { anomalies: new AnomalyDetector(options.anomaly) } : {}),
      ...(options.keyDrivers ? { keyDrivers: options.keyDrivers } : {}),
    }),
  );
}

/**
 * Several operators as the engine runs them on one input (`operators: [journey, attribution]` in app/runtime.ts):
 * each hook goes to each operator in list order, so a later operator sees the batch after the earlier ones took it.
 */
export function inSequence(name: string, operators: readonly Operator<CxEvent, CxOutputs>[]): Operator<CxEvent, CxOutputs> {
  return {
    name,
    process: (records, out, context) => operators.forEach((operator) => operator.process(records, out, context)),
    onPartitionWatermark: (partition, watermark, out, context) => operators.forEach((operator) => operator.onPartitionWatermark?.(partition, watermark, out, context)),
    onWatermark: (watermark, out, context) => operators.forEach((operator) => operator.onWatermark(watermark, out, context)),
    forget: (key, partition, out, context) => operators.forEach((operator) => operator.forget?.(key, partition, out, context)),
    // The state hooks the engine calls on each operator (their store names are distinct).
    stateStores: operators.flatMap((operator) => operator.stateStores ?? []),
    snapshot: () => operators.flatMap((operator) => operator.snapshot?.() ?? []),
    restore: (store, partition, entries) => operators.find((operator) => operator.stateStores?.includes(store))?.restore?.(store, partition, entries),
    reset: () => operators.forEach((operator) => operator.reset?.()),
  };
}

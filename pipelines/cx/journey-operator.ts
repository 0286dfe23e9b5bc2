// The CX journey operator: dedups events, sessionises journeys in event time, fires rules inside the live session, links experience to sessions, rolls up KPIs.
import type { Operator, OperatorContext, Outputs, StreamRecord } from '../../engine/index.ts';
import type { StateStore } from '../../engine/index.ts';
import { SeenSet, SessionWindows, StoreBackedOperator } from '../../engine/index.ts';
import type { ChannelSwitchRow, FeedbackRow, KpiMinuteRow, PurchaseAttributionRow, Sentiment, SocialMentionRow } from '../../schemas/analytics-outputs.ts';
import type { CxEvent } from '../../schemas/events.ts';
import { isSessionEvent } from '../../schemas/events.ts';
import type { DeadLetter, EventRow, SessionKpis, Signal } from '../../schemas/outputs.ts';
import type { AnomalyDetector } from './anomaly-detector.ts';
import { ChannelSwitchDetector } from './channel-switches.ts';
import { ContactPolicy } from './contact-policy.ts';
import type { ContactPolicyOptions } from './contact-policy.ts';
import { CustomerJourneys, journeyFactsAt } from './customer-journeys.ts';
import { FeedbackLinker } from './feedback-link.ts';
import { KpiRollup } from './kpi-rollup.ts';
import type { Session } from '../../engine/index.ts';
import type { LiveSession } from './rules/rule-evaluator.ts';
import { RuleEvaluator } from './rules/rule-evaluator.ts';
import type { Firing } from './rules/rule.ts';
import { toSignal } from './rules/rule.ts';
import type { RuleSet } from './rules/rule-set.ts';
import type { SessionAccumulator } from './session-kpis.ts';
import { sessionKpiAggregator, sessionKpis } from './session-kpis.ts';

/** The named outputs of the CX topology. */
export type CxOutputs = {
  events: EventRow;
  sessions: SessionKpis;
  signals: Signal;
  rejected: DeadLetter;
  feedback: FeedbackRow;
  social_mentions: SocialMentionRow;
  channel_switches: ChannelSwitchRow;
  purchase_attribution: PurchaseAttributionRow;
  kpi_minute: KpiMinuteRow;
};

/** Scores free text (pipelines/cx/sentiment.ts in production; a stub in tests). */
export type ScoreSentiment = (text: string, languageHint?: string | null) => Sentiment;

export interface JourneyOptions {
  /** Session inactivity gap (CONTRACT §2: 30 min by default). */
  sessionGapMs: number;
  /** How long an event_id is remembered for dedup, in event time behind the watermark. */
  dedupHorizonMs: number;
  rules: RuleSet;
  contactPolicy: ContactPolicyOptions;
  scoreSentiment: ScoreSentiment;
  /** Raises `anomaly` signals from KPI rates (optional). */
  anomalies?: AnomalyDetector;
  /** Per customer, at most this many closed sessions, contacts, responses and mentions are kept (default 50). */
  maxHistoryPerCustomer?: number;
}

/** Signals fired together: higher priority first, then by id (CONTRACT §4). */
const byPriority = (a: Signal, b: Signal) => b.priority - a.priority || (a.signal_id < b.signal_id ? -1 : a.signal_id > b.signal_id ? 1 : 0);

/** History is kept for the longest look-back (7 days: X+O link, journey facts) plus slack for responses still waiting. */
const HISTORY_HORIZON_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * How far the watermark moves between evictions of the per-customer stores (contact policy: 24 h; histories: 7 days).
 * Each eviction walks every customer, so it runs once per hour of event time, not per batch: entries stay at most
 * that much past their horizon, and every read of them filters by time anyway.
 */
const POLICY_EVICT_EVERY_MS = 60 * 60_000;

export class JourneyOperator extends StoreBackedOperator implements Operator<CxEvent, CxOutputs> {
  readonly name = 'journey';
  readonly #sessions: SessionWindows<CxEvent, SessionAccumulator>;
  readonly #seen: SeenSet;
  readonly #policy: ContactPolicy;
  readonly #rules: RuleEvaluator;
  readonly #journeys: CustomerJourneys;
  readonly #feedback: FeedbackLinker;
  readonly #switches: ChannelSwitchDetector;
  readonly #rollup: KpiRollup;
  /** Each input partition's watermark as this operator last acted on it (sessions closed, links released up to it). */
  readonly #partitionWatermarks: number[] = [];
  #policyEvictedAt = Number.NEGATIVE_INFINITY;
  #rollupLateReported = 0;

  constructor(private readonly options: JourneyOptions) {
    super();
    const gap = options.sessionGapMs;
    this.#sessions = new SessionWindows({ name: 'journey-sessions', gapMs: gap }, sessionKpiAggregator);
    this.#seen = new SeenSet(options.dedupHorizonMs, 'journey-seen-ids');
    this.#policy = new ContactPolicy(options.contactPolicy);
    this.#rules = new RuleEvaluator(options.rules, gap);
    this.#journeys = new CustomerJourneys({ horizonMs: HISTORY_HORIZON_MS + 2 * gap, maxPerCustomer: options.maxHistoryPerCustomer ?? 50 });
    this.#feedback = new FeedbackLinker(gap);
    this.#switches = new ChannelSwitchDetector(gap);
    this.#rollup = new KpiRollup(gap);
  }

  process(records: readonly StreamRecord<CxEvent>[], out: Outputs<CxOutputs>, context: OperatorContext): void {
    if (context.partitionOf) this.#policy.partitionOf = context.partitionOf;
    let duplicates = 0;
    let late = 0;
    let fired = 0;
    for (const record of records) {
      // Sessions of this partition that its watermark closed before this record close first, in log order: what
      // fires at their close is decided before what this record fires, whatever the batch boundaries.
      this.#closeSessions(record.partition, record.partitionWatermark, out, context);
      const event = record.value;
      if (!this.#seen.add(event.event_id, record.eventTime, record.partition, record.partitionWatermark)) {
        duplicates++;
        continue;
      }
      let session: LiveSession | null = null;
      let isLate = false;
      if (isSessionEvent(event)) {
        session = this.#sessions.add(record.key, record.eventTime, record.partitionWatermark, record.partition, record.offset, event);
        isLate = session === null;
        if (isLate) late++;
      }
      out.emit('events', { event, late: isLate });
      this.#rollup.addEvent(event, record.partition);
      if (isLate) continue; // a late event changes no closed session and fires nothing
      const sentiment = this.#experience(event, record.key, record.partition, out);
      this.options.anomalies?.addEvent(event, sentiment, record.partition);
      const firings = this.#rules.onEvent(event, record.key, session, sentiment, () => this.#journeyFacts(record.key, session, event.occurred_at));
      fired += this.#decide(firings, context, out);
    }
    if (duplicates > 0) context.metrics.count('touchstream_duplicate_events_total', duplicates, { operator: this.name });
    if (late > 0) context.metrics.count('touchstream_late_events_total', late, { operator: this.name });
    if (fired > 0) context.metrics.count('touchstream_rule_firings_total', fired, { operator: this.name, trigger: 'event' });
  }

  /** Records survey responses, contacts and mentions for the journey, queues the X+O link and channel switch, scores text. */
  #experience(event: CxEvent, key: string, partition: number, out: Outputs<CxOutputs>): Sentiment | null {
    switch (event.type) {
      case 'survey_response': {
        const { comment, language, metric, score } = event.properties;
        const sentiment = comment ? this.options.scoreSentiment(comment, language) : null;
        this.#journeys.addResponse(key, { at: event.occurred_at, metric, score }, partition);
        this.#feedback.add(event, key, sentiment, partition);
        return sentiment;
      }
      case 'contact':
        this.#journeys.addContact(key, event.occurred_at, partition);
        this.#switches.add(event, key, partition);
        return null;
      case 'social_mention': {
        const { text, language, platform, product_id, rating } = event.properties;
        const sentiment = this.options.scoreSentiment(text, language);
        if (sentiment.label === 'negative') this.#journeys.addNegativeMention(key, event.occurred_at, partition);
        out.emit('social_mentions', {
          mention_event_id: event.event_id,
          customer_id: key,
          occurred_at: event.occurred_at,
          platform,
          product_id: product_id ?? null,
          rating: rating ?? null,
          text,
          language: sentiment.language,
          sentiment_score: sentiment.score,
          sentiment_label: sentiment.label,
        });
        return sentiment;
      }
      default:
        return null;
    }
  }

  /** Journey facts at `at`: closed history plus the key's other open sessions that ended before it. */
  #journeyFacts(key: string, current: LiveSession | null, at: number) {
    const open = this.#sessions
      .sessionsOf(key)
      .filter((session) => session !== current)
      .map((session) => ({ last: session.last, converted: session.accumulator.converted, cartAbandoned: session.accumulator.cartAbandoned }));
    return journeyFactsAt(this.#journeys.historyOf(key), open, at);
  }

  /**
   * Decides fired signals at once (CONTRACT §4): higher priority first, the contact policy in the order signals
   * fire on the customer's partition; suppressed ones are recorded, emitted ones go to the topic.
   */
  #decide(firings: readonly Firing[], context: OperatorContext, out: Outputs<CxOutputs>): number {
    if (firings.length === 0) return 0;
    const now = context.wallClock();
    const signals = firings.map((firing) => toSignal(firing, now));
    if (signals.length > 1) signals.sort(byPriority);
    let emitted = 0;
    for (const signal of signals) {
      const decided = this.#policy.apply(signal);
      if (decided.status === 'emitted') emitted++;
      out.emit('signals', decided);
    }
    if (emitted > 0) context.metrics.count('touchstream_signals_total', emitted, { operator: this.name, status: 'emitted' });
    if (signals.length > emitted) context.metrics.count('touchstream_signals_total', signals.length - emitted, { operator: this.name, status: 'suppressed' });
    return firings.length;
  }

  /** Closes the partition's sessions its watermark has passed (once per advance of that watermark). */
  #closeSessions(partition: number, watermark: number, out: Outputs<CxOutputs>, context: OperatorContext): void {
    if (!(watermark > (this.#partitionWatermarks[partition] ?? Number.NEGATIVE_INFINITY))) return;
    this.#partitionWatermarks[partition] = watermark;
    let fired = 0;
    this.#sessions.closePartitionUpTo(partition, watermark, (session) => {
      fired += this.#sessionClosed(session, out, context);
    });
    if (fired > 0) context.metrics.count('touchstream_rule_firings_total', fired, { operator: this.name, trigger: 'session_closed' });
  }

  /** A closed session: its KPI row, its rules, and its place in the customer's history. */
  #sessionClosed(session: Session<SessionAccumulator>, out: Outputs<CxOutputs>, context: OperatorContext): number {
    const kpis = sessionKpis(session.key, session.start, session.last, session.accumulator);
    out.emit('sessions', kpis);
    const touchpoint = session.accumulator.touchpoint;
    this.#rollup.addSession(kpis, touchpoint, session.partition);
    this.options.anomalies?.addSession(kpis, session.partition);
    // Rules first: "other sessions in the last 7 days" must not count the closing one.
    const at = kpis.ended_at + this.options.sessionGapMs;
    const fired = this.#decide(this.#rules.onSessionClosed(kpis, session.accumulator, () => this.#journeyFacts(session.key, session, at)), context, out);
    this.#journeys.addSession(session.key, {
      session_id: kpis.session_id,
      started_at: kpis.started_at,
      ended_at: kpis.ended_at,
      channel: kpis.channel,
      touchpoint,
      converted: kpis.converted,
      cart_abandoned: kpis.cart_abandoned,
      help_views: kpis.help_views,
      checkout_errors: kpis.checkout_errors,
    }, session.partition);
    return fired;
  }

  /**
   * One partition's watermark advanced: its sessions close, and the X+O links and channel switches of its
   * customers are released (their sessions are final): per-customer results never wait for other partitions.
   */
  onPartitionWatermark(partition: number, watermark: number, out: Outputs<CxOutputs>, context: OperatorContext): void {
    this.#closeSessions(partition, watermark, out, context);
    this.#feedback.release(watermark, this.#journeys, (row) => out.emit('feedback', row), partition);
    this.#switches.release(watermark, this.#journeys, (row) => out.emit('channel_switches', row), partition);
  }

  /** The global watermark (the minimum over partitions): aggregates across customers, and evictions. */
  onWatermark(watermark: number, out: Outputs<CxOutputs>, context: OperatorContext): void {
    const now = context.wallClock();
    this.options.anomalies?.release(watermark, now, (signal) => out.emit('signals', signal));
    this.#rollup.release(watermark, (row) => out.emit('kpi_minute', row));
    if (this.#rollup.late > this.#rollupLateReported) {
      context.metrics.count('touchstream_rollup_late_total', this.#rollup.late - this.#rollupLateReported, { operator: this.name });
      this.#rollupLateReported = this.#rollup.late;
    }
    this.#seen.evict(); // by each partition's own watermark (SeenSet), not this global one
    if (watermark - this.#policyEvictedAt >= POLICY_EVICT_EVERY_MS) {
      this.#policy.evict(watermark);
      this.#journeys.evict(watermark);
      this.#policyEvictedAt = watermark;
    }
  }

  override reset(): void {
    super.reset();
    this.#partitionWatermarks.length = 0;
    this.#policyEvictedAt = Number.NEGATIVE_INFINITY;
  }

  /** The state checkpointed to changelogs and restored on restart and rebalance (engine/state.ts). */
  protected stores(): StateStore[] {
    const stores: StateStore[] = [this.#sessions, this.#seen, this.#policy, this.#journeys, this.#feedback, this.#switches, this.#rollup];
    // The anomaly detector's open buckets and baselines, per input partition (summed over the owned ones).
    if (this.options.anomalies) stores.push(this.options.anomalies);
    return stores;
  }


  gauges(): Record<string, number> {
    return {
      live_sessions: this.#sessions.size,
      dedup_ids: this.#seen.size,
      pending_feedback: this.#feedback.size + this.#switches.size,
      customer_histories: this.#journeys.size,
      open_rollup_minutes: this.#rollup.size,
    };
  }
}

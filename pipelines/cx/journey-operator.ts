// The CX topology: dedup and sessionisation at the head, then one stage per feature, each with its own state stores; a new feature is a new stage file and one line here.
import type { ChainStage, OperatorContext, Outputs, StreamRecord } from '../../engine/index.ts';
import { OperatorChain } from '../../engine/index.ts';
import type { AnalyticsConsentView, ConsentOptions, ConsentStore } from './consent.ts';
import { DEFAULT_CONSENT, withoutPersonWhereNoAnalytics } from './consent.ts';
import { ConsentTracking } from './stages/consent.ts';
import { LinkedVisitors } from './stages/linked-visitors.ts';
import type { ErasureRecord } from '../../schemas/erasure.ts';
import type { CxEvent } from '../../schemas/events.ts';
import type { Signal } from '../../schemas/outputs.ts';
import type { AnomalyDetector } from './anomaly-detector.ts';
import type { ContactPolicyOptions } from './contact-policy.ts';
import type { DriverAnalysisConfig } from './driver-analysis.ts';
import type { KeyDriverCompute } from './key-drivers.ts';
import type { CxItem, CxOutputs } from './journey-items.ts';
import type { RuleSet } from './rules/rule-set.ts';
import type { ScoreSentiment } from './stages/experience.ts';
import { ExperienceScoring } from './stages/experience.ts';
import { ChannelSwitches, FeedbackLinks } from './stages/feedback-links.ts';
import { JourneyHistory } from './stages/journey-history.ts';
import { KeyDrivers } from './stages/key-drivers.ts';
import { KpiAnomalies, KpiRollups } from './stages/kpi-rollups.ts';
import { NextBestActions } from './stages/next-best-actions.ts';
import { Campaigns } from './stages/campaigns.ts';
import { PageViews } from './stages/page-views.ts';
import { SessionRows } from './stages/session-rows.ts';
import { ServingState } from './stages/serving-state.ts';
import type { OpenSignals } from './stages/serving-state.ts';
import { Sessionisation } from './stages/sessionisation.ts';
import { CxLiveView } from './live-view.ts';
import { VideoEngagement } from './stages/video-engagement.ts';

export type { CxItem, CxOutputs } from './journey-items.ts';
export type { ScoreSentiment } from './stages/experience.ts';

export interface JourneyOptions {
  /** Session inactivity gap (CONTRACT §2: 30 min by default). */
  sessionGapMs: number;
  /** How long an event_id is remembered for dedup, in event time behind the watermark. */
  dedupHorizonMs: number;
  rules: RuleSet;
  contactPolicy: ContactPolicyOptions;
  scoreSentiment: ScoreSentiment;
  /** Raises KPI alerts (output `alerts`) from KPI rates (optional). */
  anomalies?: AnomalyDetector;
  /** Key-driver analysis over linked feedback (off when absent or disabled). */
  keyDrivers?: DriverAnalysisConfig;
  /** Where its computations run (default: on the loop's thread; the composition root passes a worker thread). */
  keyDriverCompute?: KeyDriverCompute;
  /** Per customer, at most this many closed sessions, contacts, responses and mentions are kept (default 50). */
  maxHistoryPerCustomer?: number;
  /** How long a customer's last closed session is kept for the live-serving API (event time; default 24 h). */
  lastSessionHorizonMs?: number;
  /** How marketing consent is read (default: only a stated `marketing: false` suppresses). */
  consent?: ConsentOptions;
  /** The erasure request being applied to a key, to name the requests it makes for the customer's linked anonymous ids. */
  erasureRequestOf?(key: string): ErasureRecord | undefined;
}

/**
 * The journey: every record goes through the head and then each stage in this order, before the next record.
 * The order matters where a stage reads what an earlier one derived: scoring before the history (negative
 * mentions), the history before the links and the rules (they read it), campaigns before the session rows (they
 * complete the row), the rules last (their facts see the event's own response or contact; the policy decides what
 * they fire).
 */
export class JourneyOperator extends OperatorChain<CxEvent, CxItem, CxOutputs> {
  /** The read-only view of a customer's live state for the serving API (reads the chain's stores, on its thread). */
  readonly live: CxLiveView;
  readonly #openSignals: OpenSignals;
  readonly #consent: ConsentStore;

  constructor(options: JourneyOptions) {
    const gap = options.sessionGapMs;
    const head = new Sessionisation({ sessionGapMs: gap, dedupHorizonMs: options.dedupHorizonMs });
    const history = new JourneyHistory({ sessionGapMs: gap, ...(options.maxHistoryPerCustomer ? { maxHistoryPerCustomer: options.maxHistoryPerCustomer } : {}) });
    const serving = new ServingState(options.lastSessionHorizonMs ? { lastSessionHorizonMs: options.lastSessionHorizonMs } : {});
    const drivers = options.keyDrivers?.enabled ? new KeyDrivers(options.keyDrivers, gap, history.journeys, options.keyDriverCompute) : null;
    const consent = new ConsentTracking();
    const stages: ChainStage<CxItem, CxOutputs>[] = [
      consent,
      new ExperienceScoring(options.scoreSentiment),
      history,
      new FeedbackLinks(history.journeys, gap, drivers ? [(row, partition) => drivers.onFeedback(row, partition)] : []),
      new ChannelSwitches(history.journeys, gap),
      new PageViews(),
      new VideoEngagement(),
      new Campaigns(),
      new SessionRows(),
      new KpiRollups(gap),
      ...(options.anomalies ? [new KpiAnomalies(options.anomalies)] : []),
      ...(drivers ? [drivers] : []),
      new NextBestActions({
        rules: options.rules, contactPolicy: options.contactPolicy, sessionGapMs: gap, sessions: head.windows, journeys: history.journeys,
        consent: { store: consent.consent, options: options.consent ?? DEFAULT_CONSENT },
      }),
      serving,
      new LinkedVisitors(options.erasureRequestOf ? { requestOf: options.erasureRequestOf } : {}),
    ];
    super('journey', head, stages);
    this.#consent = consent.consent;
    this.#openSignals = serving.openSignals;
    this.live = new CxLiveView({ sessions: head.windows, journeys: history.journeys, lastSessions: serving.lastSessions, openSignals: serving.openSignals });
  }

  /**
   * The customers' analytics consent for an operator placed after this one (purchase attribution), read as of a
   * record of the batch both just took: the rule is kept in one store, never a copy.
   */
  get analyticsConsent(): AnalyticsConsentView {
    return this.#consent;
  }

  // Every output goes through the analytics-consent rule (pipelines/cx/consent.ts). A customer's signals are decided
  // item by item (records, and the sessions a partition's watermark closes): the signals emitted there are also kept
  // as the customer's open signals for the serving API.
  override process(records: readonly StreamRecord<CxEvent>[], out: Outputs<CxOutputs>, context: OperatorContext): void {
    this.#consent.startBatch();
    super.process(records, this.#keepingSignals(this.#withConsent(out, context), context), context);
  }

  override onPartitionWatermark(partition: number, watermark: number, out: Outputs<CxOutputs>, context: OperatorContext): void {
    super.onPartitionWatermark(partition, watermark, this.#keepingSignals(this.#withConsent(out, context), context), context);
  }

  override onWatermark(watermark: number, out: Outputs<CxOutputs>, context: OperatorContext): void {
    super.onWatermark(watermark, this.#withConsent(out, context), context);
  }

  override drain(out: Outputs<CxOutputs>, context: OperatorContext): Promise<void> {
    return super.drain(this.#withConsent(out, context), context);
  }

  #withConsent(out: Outputs<CxOutputs>, context: OperatorContext): Outputs<CxOutputs> {
    return withoutPersonWhereNoAnalytics(out, this.#consent, context.metrics);
  }

  #keepingSignals(out: Outputs<CxOutputs>, context: OperatorContext): Outputs<CxOutputs> {
    const open = this.#openSignals;
    return {
      emit(output, value) {
        if (output === 'signals') {
          const signal = value as Signal;
          open.emitted(signal, context.partitionOf?.(signal.customer_id) ?? 0);
        }
        out.emit(output, value);
      },
    };
  }
}

// What the CX chain passes from stage to stage: each accepted event with its live session, and each session that closed; stages add what they derive (sentiment, rule firings).
import type { Session, StreamRecord } from '../../engine/index.ts';
import type {
  CampaignKpiRow, ChannelSwitchRow, DriverAnalysisRow, FeedbackRow, KpiMinuteRow, PageViewRow, PurchaseAttributionRow, Sentiment, SocialMentionRow, VideoEngagementRow,
} from '../../schemas/analytics-outputs.ts';
import type { CxEvent } from '../../schemas/events.ts';
import type { Alert, DeadLetter, EventRow, SessionKpis, Signal } from '../../schemas/outputs.ts';
import type { ErasureApplied, ErasureRecord } from '../../schemas/erasure.ts';
import type { LiveSession } from './rules/rule-evaluator.ts';
import type { Firing } from './rules/rule.ts';
import type { SessionAccumulator } from './session-kpis.ts';

/** The named outputs of the CX topology. */
export type CxOutputs = {
  events: EventRow;
  sessions: SessionKpis;
  signals: Signal;
  /** KPI anomalies: not customer signals (CONTRACT §4). */
  alerts: Alert;
  rejected: DeadLetter;
  feedback: FeedbackRow;
  social_mentions: SocialMentionRow;
  channel_switches: ChannelSwitchRow;
  purchase_attribution: PurchaseAttributionRow;
  kpi_minute: KpiMinuteRow;
  page_views: PageViewRow;
  video_engagement: VideoEngagementRow;
  campaign_kpis: CampaignKpiRow;
  driver_analysis: DriverAnalysisRow;
  /** Erasures applied to live state (in log order); the loader deletes the customer from the tables after what came before. */
  erasures: ErasureApplied;
  /** Erasure requests an applied erasure asks for (a customer's linked anonymous ids): onto the input topic, keyed by the id. */
  erasure_requests: ErasureRecord;
};

/** An accepted (not duplicate) event, with the live session it joined; `late` when that session had closed. */
export interface EventItem {
  readonly kind: 'event';
  readonly record: StreamRecord<CxEvent>;
  readonly event: CxEvent;
  /** The customer key (customer_id, else anonymous_id). */
  readonly key: string;
  readonly partition: number;
  /** The live session (session events only); null for other events and for late ones. */
  readonly session: LiveSession | null;
  readonly late: boolean;
  /**
   * Identity stitching's copy of an anonymous visitor's event, handed over to the customer at a login: it joins the
   * customer's live session (its KPIs, page and video rows, what rules read) but was counted, rolled up and judged by
   * the rules already, under the anonymous id, where it first arrived; stages that act per event skip it.
   */
  readonly handedOver: boolean;
  /** Set by the sentiment stage for survey comments and social texts. */
  sentiment: Sentiment | null;
  /** Rules that fired on this event, decided by the contact policy at the end of the chain. */
  readonly firings: Firing[];
}

/** A session its partition's watermark closed, with its KPI row (stages may complete it; the session-rows stage writes it). */
export interface SessionClosedItem {
  readonly kind: 'session_closed';
  readonly session: Session<SessionAccumulator>;
  readonly kpis: SessionKpis;
  readonly key: string;
  readonly partition: number;
  readonly firings: Firing[];
}

/**
 * An anonymous visitor's open session that identity stitching handed over to the customer at a login (its events went
 * to the customer's partition as copies): it is dropped here without closing, so no row is written for it; stages
 * drop what they hold for it.
 */
export interface SessionHandedOverItem {
  readonly kind: 'session_handed_over';
  readonly session: Session<SessionAccumulator>;
  readonly key: string;
  readonly partition: number;
}

export type CxItem = EventItem | SessionClosedItem | SessionHandedOverItem;

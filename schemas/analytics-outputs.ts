// The journey and experience outputs of CONTRACT §3 (feedback, social mentions, channel switches, touchpoints before purchase, rollups).
import type { Channel, EventTimeMs, SurveyMetric } from './events.ts';

export type SentimentLabel = 'negative' | 'neutral' | 'positive';

/** A text's sentiment (CONTRACT §3): score in [−1, 1], label by the ±0.05 bounds, the language it was read as. */
export interface Sentiment {
  score: number;
  label: SentimentLabel;
  language: string;
}

export type NpsGroup = 'promoter' | 'passive' | 'detractor';

/** One survey response with its X+O link to the session before it (table `feedback`). */
export interface FeedbackRow {
  response_event_id: string;
  customer_id: string;
  responded_at: EventTimeMs;
  survey_id: string;
  metric: SurveyMetric;
  score: number;
  /** nps only: promoter 9–10, passive 7–8, detractor 0–6. */
  nps_group: NpsGroup | null;
  channel: Channel;
  touchpoint: string | null;
  comment: string | null;
  language: string | null;
  sentiment_score: number | null;
  sentiment_label: SentimentLabel | null;
  /** The customer's most recent session that ended at or before the response and at most 7 days before it. */
  session_id: string | null;
  session_ended_at: EventTimeMs | null;
  session_channel: Channel | null;
  /** The touchpoint of that session's first event. */
  session_touchpoint: string | null;
  converted: boolean | null;
  cart_abandoned: boolean | null;
}

/** A social mention with its sentiment (table `social_mentions`). */
export interface SocialMentionRow {
  mention_event_id: string;
  customer_id: string;
  occurred_at: EventTimeMs;
  platform: string;
  product_id: string | null;
  rating: number | null;
  text: string;
  language: string;
  sentiment_score: number;
  sentiment_label: SentimentLabel;
}

/** "Tried online before calling": a contact within 24 h after a session with help views or checkout errors (table `channel_switches`). */
export interface ChannelSwitchRow {
  contact_event_id: string;
  customer_id: string;
  contacted_at: EventTimeMs;
  contact_kind: string;
  contact_channel: Channel;
  contact_reason: string | null;
  session_id: string;
  session_ended_at: EventTimeMs;
  session_channel: Channel;
  /** contacted_at − session_ended_at. */
  gap_ms: number;
  help_views: number;
  checkout_errors: number;
  converted: boolean;
}

/** The marketing touches in the 7 days before one purchase (table `purchase_attribution`). */
export interface PurchaseAttributionRow {
  purchase_event_id: string;
  order_id: string;
  customer_id: string;
  purchased_at: EventTimeMs;
  revenue: number;
  currency: string;
  channel: Channel;
  /** ad_impression, email_open and email_click events in [purchased_at − 7 d, purchased_at). */
  touchpoints: number;
  ad_impressions: number;
  email_opens: number;
  email_clicks: number;
  distinct_campaigns: number;
  campaigns: string[];
  first_touch_at: EventTimeMs | null;
  last_touch_campaign: string | null;
}

/** Per minute, channel and touchpoint: the dashboard rollup (table `kpi_minute`). */
export interface KpiMinuteRow {
  minute: EventTimeMs;
  channel: Channel;
  /** '' when the events carried none. */
  touchpoint: string;
  /** The input partition whose events this row sums: rows of one minute are added up over partitions. */
  input_partition: number;
  events: number;
  page_views: number;
  orders: number;
  revenue: number;
  /** Sessions that ended in this minute (their channel and entry touchpoint) and how many of them converted. */
  sessions: number;
  conversions: number;
  cart_abandonments: number;
  responses: number;
  nps_responses: number;
  promoters: number;
  passives: number;
  detractors: number;
  csat_responses: number;
  csat_satisfied: number;
  ces_responses: number;
  ces_sum: number;
}

/** One page view with its dwell and clicks (table `page_views`, CONTRACT §3). */
export interface PageViewRow {
  page_view_event_id: string;
  session_id: string;
  customer_id: string;
  viewed_at: EventTimeMs;
  page: string;
  page_type: string;
  /** To the session's next page view; for the last one (`is_exit`) to the session's last event (0 when nothing followed). */
  dwell_ms: number;
  /** Click events between this page view and the next. */
  clicks: number;
  is_exit: boolean;
}

/** Per session and video: starts, the furthest percent reached, completion (table `video_engagement`). */
export interface VideoEngagementRow {
  session_id: string;
  customer_id: string;
  video_id: string;
  first_seen_at: EventTimeMs;
  starts: number;
  /** The largest `video_progress.percent`; 100 once completed. */
  furthest_percent: number;
  completed: boolean;
}

export type CampaignKpiKind = 'impression' | 'click' | 'open' | 'session' | 'purchase';

/**
 * One contribution to a campaign's KPIs (table `campaign_kpis`): an impression, open or click itself, or a session
 * or purchase of the customer within 7 days after a touch of the campaign (one per touch type). Sum per campaign
 * and placement.
 */
export interface CampaignKpiRow {
  campaign_id: string;
  /** The ad placement; '' for e-mail. */
  placement: string;
  kind: CampaignKpiKind;
  /** The type of the touch this counts for: ad_impression, ad_click, email_open or email_click. */
  touch_type: string;
  customer_id: string;
  at: EventTimeMs;
  /** The touch's event_id, or the session's id for `session` and `purchase`. */
  source_id: string;
  orders: number;
  revenue: number;
}

/**
 * One driver of one key-driver computation (table `driver_analysis`, CONTRACT §3): how much a journey KPI of the
 * linked session explains a survey metric's score. The rows of one (metric, computed_at) cover every driver.
 */
export interface DriverAnalysisRow {
  metric: SurveyMetric;
  /** The `sessions` column the driver is (`channel_switch`: a contact within 24 h after a session with help views or checkout errors). */
  driver: string;
  /** Share of the explained variance (LMG share of R²) in [0, 1]; the shares of one metric and computation sum to 1. */
  importance: number;
  /** Percentile bootstrap interval of the share (95 % by default). */
  ci_low: number;
  ci_high: number;
  /** Linked responses the computation used (the latest ones, up to the sample size). */
  responses: number;
  /** Event time the computation stands for: it uses the responses up to here. */
  computed_at: EventTimeMs;
  /** Standardised coefficient of the driver with every driver in the model: sign is the direction (negative lowers the score). */
  effect: number;
  /** A key driver: the model explains the score (p_value below alpha) and the bootstrap interval of `effect` excludes 0. */
  significant: boolean;
  /** R² of the model with every driver (the same on every row of a computation). */
  r_squared: number;
  /** Permutation p-value of that R²; not below alpha means the computation found no driver (no row significant). */
  p_value: number;
}

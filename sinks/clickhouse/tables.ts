// The ClickHouse tables analysts query (CONTRACT §5), declared once as columns; the dialect renders DDL and row values.
import { SESSION_KPI_COLUMNS } from '../../schemas/session-kpi-columns.ts';

export type ColumnType =
  | 'string'
  | 'low_cardinality'
  | 'nullable_string'
  | 'bool'
  | 'uint32'
  | 'uint64'
  | 'float64'
  | 'timestamp'
  | 'string_array'
  | 'json'
  | 'nullable_low_cardinality'
  | 'nullable_bool'
  | 'nullable_uint32'
  | 'nullable_float64'
  | 'nullable_timestamp';

export interface Column {
  name: string;
  type: ColumnType;
  comment?: string;
  /** A compression codec for the modern dialect, e.g. 'ZSTD(3)' for free text, 'Delta, ZSTD(1)' for time series. */
  codec?: string;
}

/** The table engine: ReplacingMergeTree (the default: rows with an equal ORDER BY key are one row, query with FINAL). */
export type TableEngine = { kind: 'replacing' } | { kind: 'summing'; columns: readonly string[] };

export interface TableSpec {
  name: string;
  comment: string;
  columns: readonly Column[];
  /** Rows with an equal ORDER BY key are one row to analysts: a ReplacingMergeTree keeps the last version (query with FINAL). */
  orderBy: readonly string[];
  partitionBy: string;
  /** The event-time column retention is measured from. */
  ttlColumn: string;
  engine?: TableEngine;
}

/** A view over the tables, for the modern dialect (18.16 lacks what these use: they are documented queries there). */
export interface ViewSpec {
  name: string;
  comment: string;
  select(database: string): string;
}

const column = (name: string, type: ColumnType, comment?: string): Column => (comment ? { name, type, comment } : { name, type });
const text = (name: string, type: 'string' | 'nullable_string', comment?: string): Column => ({ ...column(name, type, comment), codec: 'ZSTD(3)' });

export const EVENTS_TABLE: TableSpec = {
  name: 'events',
  comment: 'Every accepted event, once per event_id (query with FINAL); late = 1 when it arrived after its session closed.',
  columns: [
    column('event_id', 'string'),
    column('type', 'low_cardinality'),
    column('occurred_at', 'timestamp', 'event time'),
    column('customer_id', 'string', 'the session key: customer_id, else anonymous_id'),
    column('anonymous_id', 'nullable_string'),
    column('channel', 'low_cardinality'),
    column('touchpoint', 'nullable_string'),
    column('experiment_id', 'nullable_string'),
    column('variant', 'nullable_string'),
    column('properties', 'json', 'the type-specific properties as JSON text'),
    column('late', 'bool'),
  ],
  orderBy: ['customer_id', 'occurred_at', 'event_id'],
  partitionBy: 'toYYYYMM(occurred_at)',
  ttlColumn: 'occurred_at',
};

export const SESSIONS_TABLE: TableSpec = {
  name: 'sessions',
  comment: 'One row per closed session with its KPIs (CONTRACT §2); query with FINAL.',
  columns: [
    column('session_id', 'string'),
    column('customer_id', 'string'),
    column('started_at', 'timestamp'),
    column('ended_at', 'timestamp'),
    column('duration_ms', 'uint64'),
    ...SESSION_KPI_COLUMNS.map((entry) => column(entry.column, entry.kind === 'flag' ? 'bool' : entry.kind === 'money' ? 'float64' : 'uint32', entry.doc)),
    column('entry_page', 'nullable_string'),
    column('exit_page', 'nullable_string'),
    column('channel', 'low_cardinality'),
    column('experiment_id', 'nullable_string'),
    column('variant', 'nullable_string'),
    column('touchpoint', 'nullable_string', "touchpoint of the session's first event"),
    column('first_campaign', 'nullable_string', 'earliest e-mail/ad touch of the customer in the 7 days before the session'),
    column('last_campaign', 'nullable_string', 'latest e-mail/ad touch of the customer before the session ended (7 days)'),
  ],
  orderBy: ['customer_id', 'started_at', 'session_id'],
  partitionBy: 'toYYYYMM(started_at)',
  ttlColumn: 'started_at',
};

export const SIGNALS_TABLE: TableSpec = {
  name: 'signals',
  comment: 'Every next-best-action signal, emitted or suppressed by the contact policy (CONTRACT §4); query with FINAL.',
  columns: [
    column('signal_id', 'string'),
    column('customer_id', 'string'),
    column('session_id', 'nullable_string'),
    column('action', 'low_cardinality'),
    column('channel', 'low_cardinality'),
    column('priority', 'uint32'),
    column('rule_id', 'low_cardinality'),
    column('reason', 'string'),
    column('evidence_event_ids', 'string_array'),
    column('triggered_at', 'timestamp', 'event time'),
    column('emitted_at', 'timestamp', 'wall clock'),
    column('expires_at', 'timestamp'),
    column('status', 'low_cardinality', 'emitted or suppressed'),
    column('audience', 'low_cardinality', 'customer (decided by the contact policy) or internal (support case, R&D ticket, CRM update: outside it)'),
    column('context', 'json', "the signal's typed context as JSON text (trigger, feedback, mention, cart, error_codes, session, experience); '{}' when none"),
  ],
  orderBy: ['customer_id', 'triggered_at', 'signal_id'],
  partitionBy: 'toYYYYMM(triggered_at)',
  ttlColumn: 'triggered_at',
};

export const ALERTS_TABLE: TableSpec = {
  name: 'alerts',
  comment: 'KPI anomalies: a rate that left its own recent baseline (docs/analytics.md); not customer signals (CONTRACT §4); query with FINAL.',
  columns: [
    column('alert_id', 'string', 'deterministic from KPI, dimension value and bucket start'),
    column('kpi', 'low_cardinality'),
    column('dimension', 'low_cardinality', 'product, touchpoint or channel'),
    column('dimension_value', 'string', "'' when the events carry none"),
    column('channel', 'low_cardinality'),
    column('window_start', 'timestamp', 'event time'),
    column('window_end', 'timestamp', 'event time'),
    column('rate', 'float64'),
    column('baseline', 'float64', 'mean rate of the baseline buckets'),
    column('z_score', 'float64'),
    column('bad', 'uint32'),
    column('total', 'uint32'),
    column('reason', 'string'),
    column('evidence_event_ids', 'string_array'),
    column('triggered_at', 'timestamp', "event time: the bucket's end"),
    column('emitted_at', 'timestamp', 'wall clock'),
  ],
  orderBy: ['kpi', 'dimension_value', 'window_start', 'alert_id'],
  partitionBy: 'toYYYYMM(window_start)',
  ttlColumn: 'window_start',
};

export const REJECTED_EVENTS_TABLE: TableSpec = {
  name: 'rejected_events',
  comment: 'Input refused with its reason (CONTRACT §1); the original bytes live here and on touchstream.dlq only.',
  columns: [
    column('dead_letter_id', 'string', 'deterministic from source and position (or bytes): a replay adds no duplicate'),
    column('reason_code', 'low_cardinality'),
    column('message', 'string'),
    column('source', 'low_cardinality'),
    column('topic', 'nullable_string'),
    column('partition', 'nullable_string'),
    column('offset', 'nullable_string'),
    column('event_id', 'nullable_string'),
    column('received_at', 'timestamp', 'wall clock'),
    column('original', 'string', 'the original bytes, base64'),
  ],
  orderBy: ['dead_letter_id'],
  partitionBy: 'toYYYYMM(received_at)',
  ttlColumn: 'received_at',
};

export const FEEDBACK_TABLE: TableSpec = {
  name: 'feedback',
  comment: 'Every survey response with its X+O link to the session before it (CONTRACT §3); one row per response_event_id, query with FINAL.',
  columns: [
    column('response_event_id', 'string'),
    column('customer_id', 'string'),
    column('responded_at', 'timestamp', 'event time of the response'),
    column('survey_id', 'low_cardinality'),
    column('metric', 'low_cardinality', 'nps, csat or ces'),
    column('score', 'uint32'),
    column('nps_group', 'nullable_low_cardinality', 'promoter (9–10), passive (7–8), detractor (0–6); nps only'),
    column('channel', 'low_cardinality'),
    column('touchpoint', 'nullable_low_cardinality'),
    text('comment', 'nullable_string'),
    column('language', 'nullable_low_cardinality'),
    column('sentiment_score', 'nullable_float64', 'of the comment, in [−1, 1]'),
    column('sentiment_label', 'nullable_low_cardinality'),
    column('session_id', 'nullable_string', 'the most recent session that ended at or before the response, ≤ 7 days before'),
    column('session_ended_at', 'nullable_timestamp'),
    column('session_channel', 'nullable_low_cardinality'),
    column('session_touchpoint', 'nullable_low_cardinality', 'touchpoint of the session’s first event'),
    column('converted', 'nullable_bool'),
    column('cart_abandoned', 'nullable_bool'),
  ],
  orderBy: ['customer_id', 'responded_at', 'response_event_id'],
  partitionBy: 'toYYYYMM(responded_at)',
  ttlColumn: 'responded_at',
};

export const SOCIAL_MENTIONS_TABLE: TableSpec = {
  name: 'social_mentions',
  comment: 'Every social mention with its sentiment (CONTRACT §3); query with FINAL.',
  columns: [
    column('mention_event_id', 'string'),
    column('customer_id', 'string'),
    column('occurred_at', 'timestamp'),
    column('platform', 'low_cardinality'),
    column('product_id', 'nullable_string'),
    column('rating', 'nullable_uint32'),
    text('text', 'string'),
    column('language', 'low_cardinality', 'the language the text was scored as'),
    column('sentiment_score', 'float64', 'in [−1, 1]'),
    column('sentiment_label', 'low_cardinality', 'negative < −0.05 ≤ neutral ≤ 0.05 < positive'),
  ],
  orderBy: ['customer_id', 'occurred_at', 'mention_event_id'],
  partitionBy: 'toYYYYMM(occurred_at)',
  ttlColumn: 'occurred_at',
};

export const CHANNEL_SWITCHES_TABLE: TableSpec = {
  name: 'channel_switches',
  comment: '"Tried online before calling": a contact within 24 h after a session with help views or checkout errors (CONTRACT §3); query with FINAL.',
  columns: [
    column('contact_event_id', 'string'),
    column('customer_id', 'string'),
    column('contacted_at', 'timestamp'),
    column('contact_kind', 'low_cardinality', 'call, chat or store_visit'),
    column('contact_channel', 'low_cardinality'),
    column('contact_reason', 'nullable_string'),
    column('session_id', 'string', 'the most recent such session before the contact'),
    column('session_ended_at', 'timestamp'),
    column('session_channel', 'low_cardinality'),
    column('gap_ms', 'uint64', 'contacted_at − session_ended_at'),
    column('help_views', 'uint32'),
    column('checkout_errors', 'uint32'),
    column('converted', 'bool'),
  ],
  orderBy: ['customer_id', 'contacted_at', 'contact_event_id'],
  partitionBy: 'toYYYYMM(contacted_at)',
  ttlColumn: 'contacted_at',
};

export const PURCHASE_ATTRIBUTION_TABLE: TableSpec = {
  name: 'purchase_attribution',
  comment: 'Per purchase, the ad_impression, email_open and email_click events of the customer in the 7 days before it (CONTRACT §3); query with FINAL.',
  columns: [
    column('purchase_event_id', 'string'),
    column('order_id', 'string'),
    column('customer_id', 'string'),
    column('purchased_at', 'timestamp'),
    column('revenue', 'float64'),
    column('currency', 'low_cardinality'),
    column('channel', 'low_cardinality'),
    column('touchpoints', 'uint32', 'marketing touches in [purchased_at − 7 d, purchased_at)'),
    column('ad_impressions', 'uint32'),
    column('email_opens', 'uint32'),
    column('email_clicks', 'uint32'),
    column('distinct_campaigns', 'uint32'),
    column('campaigns', 'string_array', 'distinct campaign ids, sorted'),
    column('first_touch_at', 'nullable_timestamp'),
    column('last_touch_campaign', 'nullable_string'),
  ],
  orderBy: ['customer_id', 'purchased_at', 'purchase_event_id'],
  partitionBy: 'toYYYYMM(purchased_at)',
  ttlColumn: 'purchased_at',
};

export const PAGE_VIEWS_TABLE: TableSpec = {
  name: 'page_views',
  comment: 'One row per page_view of a closed session, with its dwell and clicks (CONTRACT §3); query with FINAL.',
  columns: [
    column('page_view_event_id', 'string'),
    column('session_id', 'string'),
    column('customer_id', 'string'),
    column('viewed_at', 'timestamp'),
    column('page', 'string'),
    column('page_type', 'low_cardinality'),
    column('dwell_ms', 'uint64', "to the session's next page_view; the exit page's to the session's last event"),
    column('clicks', 'uint32', 'click events between this page view and the next'),
    column('is_exit', 'bool', "the session's last page view"),
  ],
  orderBy: ['customer_id', 'viewed_at', 'page_view_event_id'],
  partitionBy: 'toYYYYMM(viewed_at)',
  ttlColumn: 'viewed_at',
};

export const VIDEO_ENGAGEMENT_TABLE: TableSpec = {
  name: 'video_engagement',
  comment: 'Per closed session and video: starts, the furthest percent reached and completion (CONTRACT §3); query with FINAL.',
  columns: [
    column('session_id', 'string'),
    column('customer_id', 'string'),
    column('video_id', 'string'),
    column('first_seen_at', 'timestamp'),
    column('starts', 'uint32'),
    column('furthest_percent', 'float64', 'largest video_progress percent; 100 once completed'),
    column('completed', 'bool', 'a video_complete in the session: watched to the end'),
  ],
  orderBy: ['customer_id', 'session_id', 'video_id'],
  partitionBy: 'toYYYYMM(first_seen_at)',
  ttlColumn: 'first_seen_at',
};

export const CAMPAIGN_KPIS_TABLE: TableSpec = {
  name: 'campaign_kpis',
  comment:
    'Contributions to campaign KPIs (CONTRACT §3): each impression, open and click, and each session and purchase within 7 days after a touch ' +
    'of the campaign (once per touch type); sum per campaign_id and placement; query with FINAL.',
  columns: [
    column('campaign_id', 'string'),
    column('placement', 'low_cardinality', "ad placement; '' for e-mail"),
    column('kind', 'low_cardinality', 'impression | click | open | session | purchase'),
    column('touch_type', 'low_cardinality', 'ad_impression | ad_click | email_open | email_click'),
    column('customer_id', 'string'),
    column('at', 'timestamp', 'event time of the touch, the session start or the first purchase'),
    column('source_id', 'string', "the touch's event_id, or the session_id"),
    column('orders', 'uint32', 'purchase rows: orders of the session'),
    column('revenue', 'float64', 'purchase rows: revenue of the session'),
  ],
  orderBy: ['campaign_id', 'placement', 'kind', 'touch_type', 'source_id'],
  partitionBy: 'toYYYYMM(at)',
  ttlColumn: 'at',
};

export const KPI_MINUTE_TABLE: TableSpec = {
  name: 'kpi_minute',
  comment:
    'Per minute, channel and touchpoint: event measures by event minute, session measures by the minute the session ended (entry touchpoint). ' +
    'One row per input partition (sum them); each written once when final, so FINAL sees no double counts after a replay.',
  columns: [
    { ...column('minute', 'timestamp'), codec: 'Delta, ZSTD(1)' },
    column('channel', 'low_cardinality'),
    column('touchpoint', 'low_cardinality', "'' when none"),
    column('input_partition', 'uint32', 'the input partition this row sums: add rows up over partitions'),
    column('events', 'uint64'),
    column('page_views', 'uint64'),
    column('orders', 'uint64'),
    column('revenue', 'float64'),
    column('sessions', 'uint64', 'sessions that ended in this minute'),
    column('conversions', 'uint64', 'of them, converted'),
    column('cart_abandonments', 'uint64'),
    column('responses', 'uint64'),
    column('nps_responses', 'uint64'),
    column('promoters', 'uint64'),
    column('passives', 'uint64'),
    column('detractors', 'uint64'),
    column('csat_responses', 'uint64'),
    column('csat_satisfied', 'uint64', 'csat scores 4–5'),
    column('ces_responses', 'uint64'),
    column('ces_sum', 'uint64'),
  ],
  orderBy: ['channel', 'touchpoint', 'minute', 'input_partition'],
  partitionBy: 'toYYYYMM(minute)',
  ttlColumn: 'minute',
};

export const DRIVER_ANALYSIS_TABLE: TableSpec = {
  name: 'driver_analysis',
  comment:
    'Key drivers (CONTRACT §3): per survey metric and computation, each journey KPI’s share of the explained variance of the score with a bootstrap interval. ' +
    'A computation is written once (a replay writes the same rows); query with FINAL.',
  columns: [
    column('metric', 'low_cardinality', 'nps, csat or ces'),
    column('driver', 'low_cardinality', 'the sessions column (channel_switch: a contact within 24 h after a session with help views or checkout errors)'),
    { ...column('computed_at', 'timestamp', 'event time: the computation uses the linked responses up to here'), codec: 'Delta, ZSTD(1)' },
    column('importance', 'float64', 'LMG share of R² in [0, 1]; sums to 1 per metric and computed_at'),
    column('ci_low', 'float64', 'percentile bootstrap interval of the share'),
    column('ci_high', 'float64'),
    column('responses', 'uint32', 'linked responses in the computation (the latest ones, up to the sample size)'),
    column('effect', 'float64', 'standardised coefficient with every driver in the model: negative lowers the score'),
    column('significant', 'bool', 'the model explains the score (p_value < alpha) and the interval of effect excludes 0'),
    column('r_squared', 'float64', 'of the model with every driver'),
    column('p_value', 'float64', 'permutation test of r_squared; not below alpha: no driver found'),
  ],
  orderBy: ['metric', 'driver', 'computed_at'],
  partitionBy: 'toYYYYMM(computed_at)',
  ttlColumn: 'computed_at',
};

export const ERASURE_LOG_TABLE: TableSpec = {
  name: 'erasure_log',
  comment: 'Erasure requests (Art. 17) and their completion, by pseudonymous id only (CONTRACT §6); query with FINAL.',
  columns: [
    column('request_id', 'string'),
    column('customer_id', 'string', 'pseudonymous: the pseudonym, or sha256: of the id when no key is configured'),
    column('status', 'low_cardinality', 'requested or completed'),
    column('requested_at', 'timestamp', 'wall clock'),
    column('completed_at', 'nullable_timestamp', 'wall clock; null on the request row'),
    column('tables', 'string_array', 'the tables the customer was deleted from'),
  ],
  orderBy: ['request_id', 'status'],
  partitionBy: 'toYYYYMM(requested_at)',
  ttlColumn: 'requested_at',
};

export const ACTION_DELIVERIES_TABLE: TableSpec = {
  name: 'action_deliveries',
  comment: 'One row per attempt to deliver an action to its destination (CONTRACT §7); query with FINAL. A redelivery after a restart adds its own attempts under the same idempotency_key.',
  columns: [
    column('signal_id', 'string'),
    column('action', 'low_cardinality'),
    column('destination', 'low_cardinality', 'the destination name in the destinations file'),
    column('attempt', 'uint32', '1-based, per delivery run'),
    column('status', 'low_cardinality', 'delivered, failed (retried) or dead_lettered'),
    column('http_status', 'nullable_uint32', 'null when no answer came (timeout, connection failed)'),
    column('latency_ms', 'uint32'),
    column('attempted_at', 'timestamp', 'wall clock'),
    column('error_code', 'nullable_string', 'http_<status>, timeout, connection_refused, …; null when delivered'),
    column('idempotency_key', 'string', 'signal_id:action, sent as the Idempotency-Key header on every attempt'),
  ],
  orderBy: ['signal_id', 'action', 'destination', 'attempted_at', 'attempt'],
  partitionBy: 'toYYYYMM(attempted_at)',
  ttlColumn: 'attempted_at',
};

export const ACTION_OUTCOMES_TABLE: TableSpec = {
  name: 'action_outcomes',
  comment: 'Outcomes reported back for delivered actions: acknowledged, resolved (CONTRACT §7); one row per signal, action and status, query with FINAL.',
  columns: [
    column('signal_id', 'string'),
    column('action', 'low_cardinality'),
    column('status', 'low_cardinality', 'acknowledged or resolved'),
    column('at', 'timestamp', 'when it happened, per the reporting system'),
    column('received_at', 'timestamp', 'wall clock when touchstream took it in'),
  ],
  orderBy: ['signal_id', 'action', 'status'],
  partitionBy: 'toYYYYMM(at)',
  ttlColumn: 'at',
};

export const TABLES: readonly TableSpec[] = [
  EVENTS_TABLE, SESSIONS_TABLE, SIGNALS_TABLE, ALERTS_TABLE, REJECTED_EVENTS_TABLE,
  FEEDBACK_TABLE, SOCIAL_MENTIONS_TABLE, CHANNEL_SWITCHES_TABLE, PURCHASE_ATTRIBUTION_TABLE, KPI_MINUTE_TABLE, DRIVER_ANALYSIS_TABLE,
  PAGE_VIEWS_TABLE, VIDEO_ENGAGEMENT_TABLE, CAMPAIGN_KPIS_TABLE, ERASURE_LOG_TABLE, ACTION_DELIVERIES_TABLE, ACTION_OUTCOMES_TABLE,
];

/** Per experiment variant: sessions, conversions, conversion rate, revenue per session. */
export const EXPERIMENT_VARIANTS_VIEW: ViewSpec = {
  name: 'experiment_variants',
  comment: 'Per experiment and variant: sessions, conversion rate and revenue per session (CONTRACT §3).',
  select: (database) => `SELECT experiment_id, variant, count() AS sessions, sum(converted) AS conversions,
       avg(converted) AS conversion_rate, sum(revenue) / count() AS revenue_per_session
FROM \`${database}\`.sessions FINAL
WHERE experiment_id IS NOT NULL AND variant IS NOT NULL
GROUP BY experiment_id, variant`,
};

/** Two-proportion z-test of conversion between each pair of variants of an experiment (pooled standard error, two-sided p). */
export const EXPERIMENT_SIGNIFICANCE_VIEW: ViewSpec = {
  name: 'experiment_significance',
  comment: 'Two-proportion z-test of conversion rate between each pair of variants; p_value two-sided.',
  select: (database) => `SELECT a.experiment_id AS experiment_id, a.variant AS variant_a, b.variant AS variant_b,
       a.sessions AS sessions_a, b.sessions AS sessions_b, a.conversion_rate AS rate_a, b.conversion_rate AS rate_b,
       b.conversion_rate - a.conversion_rate AS difference,
       (a.conversions + b.conversions) / (a.sessions + b.sessions) AS pooled_rate,
       if(pooled_rate IN (0, 1), 0, difference / sqrt(pooled_rate * (1 - pooled_rate) * (1 / a.sessions + 1 / b.sessions))) AS z,
       erfc(abs(z) / sqrt(2)) AS p_value
FROM \`${database}\`.experiment_variants AS a
INNER JOIN \`${database}\`.experiment_variants AS b ON a.experiment_id = b.experiment_id
WHERE a.variant < b.variant`,
};

export const VIEWS: readonly ViewSpec[] = [EXPERIMENT_VARIANTS_VIEW, EXPERIMENT_SIGNIFICANCE_VIEW];

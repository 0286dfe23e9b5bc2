// Sinks that land each pipeline output in its ClickHouse table.
import { createHash } from 'node:crypto';
import type {
  CampaignKpiRow, ChannelSwitchRow, DriverAnalysisRow, FeedbackRow, KpiMinuteRow, PageViewRow, PurchaseAttributionRow, SocialMentionRow, VideoEngagementRow,
} from '../../schemas/analytics-outputs.ts';
import type { Alert, DeadLetter, EventRow, SessionKpis, Signal } from '../../schemas/outputs.ts';
import { sessionKeyOf } from '../../schemas/events.ts';
import type { ClickHouseWriter, Pace } from './writer.ts';
import type { TableSpec } from './tables.ts';
import {
  ACTION_DELIVERIES_TABLE, ACTION_OUTCOMES_TABLE, ALERTS_TABLE, CAMPAIGN_KPIS_TABLE, CHANNEL_SWITCHES_TABLE, DRIVER_ANALYSIS_TABLE, EVENTS_TABLE, FEEDBACK_TABLE, KPI_MINUTE_TABLE,
  PAGE_VIEWS_TABLE, PURCHASE_ATTRIBUTION_TABLE, REJECTED_EVENTS_TABLE, VIDEO_ENGAGEMENT_TABLE,
  SESSIONS_TABLE, SIGNALS_TABLE, SOCIAL_MENTIONS_TABLE,
} from './tables.ts';

export interface TableSink<T> {
  readonly name: string;
  write(batch: readonly T[], pace?: Pace): Promise<void>;
}

function tableSink<T>(writer: ClickHouseWriter, table: TableSpec, toRow: (value: T) => Record<string, unknown>): TableSink<T> {
  return {
    name: `clickhouse:${table.name}`,
    write: (batch, pace) => writer.insert(table, batch.map(toRow), pace),
  };
}

export const sessionsTableSink = (writer: ClickHouseWriter) =>
  tableSink<SessionKpis>(writer, SESSIONS_TABLE, (session) => session as unknown as Record<string, unknown>);

export const signalsTableSink = (writer: ClickHouseWriter) =>
  tableSink<Signal>(writer, SIGNALS_TABLE, (signal) => ({
    ...signal,
    // Rows written before the fields existed (a row topic holds them until loaded) read as a customer signal without context.
    audience: signal.audience ?? 'customer',
    context: signal.context ? JSON.stringify(signal.context) : '{}',
  }));

export const alertsTableSink = (writer: ClickHouseWriter) =>
  tableSink<Alert>(writer, ALERTS_TABLE, (alert) => alert as unknown as Record<string, unknown>);

export const eventsTableSink = (writer: ClickHouseWriter) =>
  tableSink<EventRow>(writer, EVENTS_TABLE, ({ event, late }) => ({
    event_id: event.event_id,
    type: event.type,
    occurred_at: event.occurred_at,
    customer_id: sessionKeyOf(event),
    anonymous_id: event.anonymous_id,
    channel: event.channel,
    touchpoint: event.touchpoint,
    experiment_id: event.experiment?.id ?? null,
    variant: event.experiment?.variant ?? null,
    properties: event.properties,
    late,
  }));

/** A dead letter's id: from its position in a log when it has one, else from its bytes, so a replay adds no duplicate. */
export function deadLetterId(letter: DeadLetter): string {
  const hash = createHash('sha256').update(letter.source).update('\0');
  if (letter.topic !== null && letter.offset !== null) hash.update(`${letter.topic}/${letter.partition}/${letter.offset}`);
  else hash.update(letter.original).update('\0').update(letter.reason_code);
  return hash.digest('hex').slice(0, 32);
}

export const rejectedEventsTableSink = (writer: ClickHouseWriter) =>
  tableSink<DeadLetter>(writer, REJECTED_EVENTS_TABLE, (letter) => ({
    dead_letter_id: deadLetterId(letter),
    reason_code: letter.reason_code,
    message: letter.message,
    source: letter.source,
    topic: letter.topic,
    partition: letter.partition === null ? null : String(letter.partition),
    offset: letter.offset,
    event_id: letter.event_id,
    received_at: letter.received_at,
    original: letter.original.toString('base64'),
  }));

/** Rows whose fields are already the table's columns. */
const asRow = <T>(value: T) => value as unknown as Record<string, unknown>;

export const feedbackTableSink = (writer: ClickHouseWriter) => tableSink<FeedbackRow>(writer, FEEDBACK_TABLE, asRow);
export const socialMentionsTableSink = (writer: ClickHouseWriter) => tableSink<SocialMentionRow>(writer, SOCIAL_MENTIONS_TABLE, asRow);
export const channelSwitchesTableSink = (writer: ClickHouseWriter) => tableSink<ChannelSwitchRow>(writer, CHANNEL_SWITCHES_TABLE, asRow);
export const purchaseAttributionTableSink = (writer: ClickHouseWriter) => tableSink<PurchaseAttributionRow>(writer, PURCHASE_ATTRIBUTION_TABLE, asRow);
export const kpiMinuteTableSink = (writer: ClickHouseWriter) => tableSink<KpiMinuteRow>(writer, KPI_MINUTE_TABLE, asRow);
export const driverAnalysisTableSink = (writer: ClickHouseWriter) => tableSink<DriverAnalysisRow>(writer, DRIVER_ANALYSIS_TABLE, asRow);
export const pageViewsTableSink = (writer: ClickHouseWriter) => tableSink<PageViewRow>(writer, PAGE_VIEWS_TABLE, asRow);
export const videoEngagementTableSink = (writer: ClickHouseWriter) => tableSink<VideoEngagementRow>(writer, VIDEO_ENGAGEMENT_TABLE, asRow);
export const campaignKpisTableSink = (writer: ClickHouseWriter) => tableSink<CampaignKpiRow>(writer, CAMPAIGN_KPIS_TABLE, asRow);

/** Action delivery's rows (actions/records.ts shapes; sinks never import actions/, so they are plain column records here). */
export const actionDeliveriesTableSink = (writer: ClickHouseWriter) => tableSink<Record<string, unknown>>(writer, ACTION_DELIVERIES_TABLE, asRow);
export const actionOutcomesTableSink = (writer: ClickHouseWriter) => tableSink<Record<string, unknown>>(writer, ACTION_OUTCOMES_TABLE, asRow);

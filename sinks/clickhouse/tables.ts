// The ClickHouse tables analysts query (CONTRACT §5), declared once as columns; the dialect renders DDL and row values.

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
  | 'json';

export interface Column {
  name: string;
  type: ColumnType;
  comment?: string;
}

export interface TableSpec {
  name: string;
  comment: string;
  columns: readonly Column[];
  /** Rows with an equal ORDER BY key are one row to analysts: a ReplacingMergeTree keeps the last version (query with FINAL). */
  orderBy: readonly string[];
  partitionBy: string;
  /** The event-time column retention is measured from. */
  ttlColumn: string;
}

const column = (name: string, type: ColumnType, comment?: string): Column => (comment ? { name, type, comment } : { name, type });

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
    column('events', 'uint32'),
    column('page_views', 'uint32'),
    column('clicks', 'uint32'),
    column('bounced', 'bool'),
    column('orders', 'uint32'),
    column('revenue', 'float64'),
    column('converted', 'bool'),
    column('cart_adds', 'uint32'),
    column('cart_value', 'float64'),
    column('cart_abandoned', 'bool'),
    column('checkout_errors', 'uint32'),
    column('help_views', 'uint32'),
    column('videos_started', 'uint32'),
    column('videos_completed', 'uint32'),
    column('entry_page', 'nullable_string'),
    column('exit_page', 'nullable_string'),
    column('channel', 'low_cardinality'),
    column('experiment_id', 'nullable_string'),
    column('variant', 'nullable_string'),
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
  ],
  orderBy: ['customer_id', 'triggered_at', 'signal_id'],
  partitionBy: 'toYYYYMM(triggered_at)',
  ttlColumn: 'triggered_at',
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

export const TABLES: readonly TableSpec[] = [EVENTS_TABLE, SESSIONS_TABLE, SIGNALS_TABLE, REJECTED_EVENTS_TABLE];

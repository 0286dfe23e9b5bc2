// The ClickHouse half of erasure on the legacy 18.16 server (ALTER … DELETE) and embedded chDB (lightweight DELETE): one customer gone from every table, the others kept, erasure_log by pseudonym only.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import { eraseFromTables } from '../../app/privacy.ts';
import { openClickHouse } from '../../app/runtime.ts';
import { keyFromSecret, PrivacyEdge } from '../../privacy/index.ts';
import { erasableTables } from '../../sinks/clickhouse/erasure.ts';
import { ACTION_DELIVERIES_TABLE, ERASURE_LOG_TABLE, EVENTS_TABLE, FEEDBACK_TABLE, SESSIONS_TABLE, SIGNALS_TABLE, TABLES } from '../../sinks/clickhouse/tables.ts';
import type { ClickHouseWriter } from '../../sinks/clickhouse/writer.ts';
import { requireEnvironment, runId } from '../support/environment.ts';

const now = Date.parse('2026-11-02T10:00:00.000Z');

describe.each(['legacy HTTP server', 'embedded chDB'] as const)('erasure from the tables on the %s', (target) => {
  const run = runId();
  const database = `ts_erasure_${run}`;
  const edge = new PrivacyEdge({ key: keyFromSecret(randomBytes(48)), scrub: true });
  const erased = edge.erasureIds(`raw${run}-alice`).stored;
  const kept = edge.erasureIds(`raw${run}-bob`).stored;
  let writer: ClickHouseWriter;

  const event = (id: string, customer: string, anonymous: string | null) => ({
    event_id: id, type: 'click', occurred_at: now, customer_id: customer, anonymous_id: anonymous, channel: 'web',
    touchpoint: null, experiment_id: null, variant: null, properties: '{}', late: false,
  });
  const session = (id: string, customer: string) => ({
    session_id: id, customer_id: customer, started_at: now, ended_at: now, duration_ms: 0, events: 1, page_views: 1, clicks: 0, bounced: true,
    orders: 0, revenue: 0, converted: false, cart_adds: 0, cart_value: 0, cart_abandoned: false, checkout_errors: 0, help_views: 0,
    videos_started: 0, videos_completed: 0, entry_page: null, exit_page: null, channel: 'web', experiment_id: null, variant: null,
  });
  const signal = (id: string, customer: string) => ({
    signal_id: id, customer_id: customer, session_id: null, action: 'support_callback', channel: 'call_center', priority: 100, rule_id: 'r',
    reason: 'x', evidence_event_ids: ['e'], triggered_at: now, emitted_at: now, expires_at: now, status: 'emitted', audience: 'customer', context: '{}',
  });
  const feedback = (id: string, customer: string) => ({
    response_event_id: id, customer_id: customer, responded_at: now, survey_id: 's', metric: 'nps', score: 3, nps_group: 'detractor',
    channel: 'survey', touchpoint: null, comment: null, language: null, sentiment_score: null, sentiment_label: null, session_id: null,
    session_ended_at: null, session_channel: null, session_touchpoint: null, converted: null, cart_abandoned: null,
  });
  const customersIn = async (table: string) =>
    (await writer.rows<{ customer_id: string }>(`SELECT customer_id FROM ${database}.${table} ORDER BY customer_id`)).map((row) => row.customer_id);

  beforeAll(async () => {
    const clickhouse = target === 'legacy HTTP server'
      ? { url: requireEnvironment('TOUCHSTREAM_TEST_CLICKHOUSE_URL'), dialect: 'legacy' as const, database }
      : { database };
    writer = await openClickHouse(loadConfig({ dataDir: mkdtempSync(join(tmpdir(), 'touchstream-erasure-')), clickhouse }, {}));
    await writer.migrate();
    // Alice as a customer, and as the anonymous id of an event keyed by another customer (a shared device before login).
    await writer.insert(EVENTS_TABLE, [event('e1', erased, null), event('e2', erased, erased), event('e3', kept, erased), event('e4', kept, null)]);
    await writer.insert(SESSIONS_TABLE, [session('s1', erased), session('s2', kept)]);
    await writer.insert(SIGNALS_TABLE, [signal('g1', erased), signal('g2', kept)]);
    await writer.insert(FEEDBACK_TABLE, [feedback('f1', erased), feedback('f2', kept)]);
    const delivery = (signalId: string) => ({
      signal_id: signalId, action: 'support_callback', destination: 'crm', attempt: 1, status: 'delivered', http_status: 200, latency_ms: 5,
      attempted_at: now, error_code: null, idempotency_key: `${signalId}:support_callback`,
    });
    await writer.insert(ACTION_DELIVERIES_TABLE, [delivery('g1'), delivery('g2')]);
  });

  afterAll(async () => {
    if (target === 'legacy HTTP server') await writer?.command(`DROP DATABASE IF EXISTS ${database}`).catch(() => {});
    await writer?.close();
  });

  it('deletes the customer from every table that holds it, keeps the others, and logs request and completion by pseudonym', async () => {
    expect(erasableTables().map((table) => table.name)).toEqual(
      // Aggregates, KPI alerts and tables keyed by signal (deliveries, outcomes) hold no customer id.
      TABLES.filter((table) => !['kpi_minute', 'alerts', 'erasure_log', 'rejected_events', 'driver_analysis', 'action_deliveries', 'action_outcomes'].includes(table.name)).map((table) => table.name));
    const result = await eraseFromTables(writer, edge, `raw${run}-alice`, `req-${run}`);
    expect(result.deleted).toEqual({ action_deliveries: 1, events: 3, sessions: 1, signals: 1, feedback: 1 });
    // Their signal's delivery went with it; the other customer's stays.
    expect((await writer.rows<{ signal_id: string }>(`SELECT signal_id FROM ${database}.action_deliveries`)).map((row) => row.signal_id)).toEqual(['g2']);
    expect(await customersIn('events')).toEqual([kept]);
    expect((await writer.rows<{ event_id: string }>(`SELECT event_id FROM ${database}.events ORDER BY event_id`)).map((row) => row.event_id)).toEqual(['e4']);
    for (const table of ['sessions', 'signals', 'feedback']) expect(await customersIn(table)).toEqual([kept]);
    const log = await writer.rows<{ request_id: string; customer_id: string; status: string; tables: string[]; done: number }>(
      `SELECT request_id, customer_id, status, tables, completed_at IS NOT NULL AS done FROM ${database}.${ERASURE_LOG_TABLE.name} FINAL ORDER BY status DESC`);
    expect(log.map((row) => ({ ...row, done: Number(row.done) }))).toEqual([
      { request_id: `req-${run}`, customer_id: erased, status: 'requested', tables: [], done: 0 },
      { request_id: `req-${run}`, customer_id: erased, status: 'completed', tables: ['action_deliveries', 'events', 'sessions', 'signals', 'feedback'], done: 1 },
    ]);
    const everything = await writer.text(`SELECT * FROM ${database}.${ERASURE_LOG_TABLE.name}`, 'TabSeparated');
    expect(everything.includes(`raw${run}`)).toBe(false);
  });

  it('erases the anonymous journeys the customer\'s events link to them, each its own request; an unlinked visitor keeps theirs', async () => {
    const dave = edge.erasureIds(`raw${run}-dave`).stored;
    const device = edge.erasureIds(`raw${run}-device`).stored;
    const stranger = edge.erasureIds(`raw${run}-stranger`).stored;
    // Anonymous rows are keyed by the anonymous id (the session key); dave's login carries his device's id.
    await writer.insert(EVENTS_TABLE, [event('d1', device, device), event('d2', dave, device), event('d3', stranger, stranger)]);
    await writer.insert(SESSIONS_TABLE, [session('sd', device), session('sx', stranger)]);
    const result = await eraseFromTables(writer, edge, `raw${run}-dave`, `req3-${run}`);
    expect(result.deleted).toEqual({ events: 1 });
    expect(result.linked.map((each) => [each.requestId, each.deleted])).toEqual([[`req3-${run}-linked-1`, { events: 1, sessions: 1 }]]);
    expect((await writer.rows<{ event_id: string }>(`SELECT event_id FROM ${database}.events WHERE event_id LIKE 'd%' ORDER BY event_id`)).map((row) => row.event_id)).toEqual(['d3']);
    expect(await customersIn('sessions')).toEqual([kept, stranger].sort());
    const log = await writer.rows<{ customer_id: string; status: string }>(`SELECT customer_id, status FROM ${database}.${ERASURE_LOG_TABLE.name} FINAL WHERE request_id = 'req3-${run}-linked-1' ORDER BY status`);
    expect(log.map((row) => [row.customer_id, row.status])).toEqual([[device, 'completed'], [device, 'requested']]);
  });

  it('is safe to run again: nothing left to delete, completed again', async () => {
    const again = await eraseFromTables(writer, edge, erased, `req2-${run}`);
    expect(again.deleted).toEqual({});
    expect(await customersIn('sessions')).toEqual([kept, edge.erasureIds(`raw${run}-stranger`).stored].sort());
  });
});

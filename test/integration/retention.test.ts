// Retention on the legacy 18.16 server (no TTL): the scheduled pass deletes expired rows per table and empties old dead-letter bytes, and then has nothing left to do.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import { retentionPolicyOf, runRetentionSchedule } from '../../app/privacy.ts';
import { openClickHouse } from '../../app/runtime.ts';
import { enforceRetention } from '../../sinks/clickhouse/retention.ts';
import { EVENTS_TABLE, REJECTED_EVENTS_TABLE, SESSIONS_TABLE } from '../../sinks/clickhouse/tables.ts';
import type { ClickHouseWriter } from '../../sinks/clickhouse/writer.ts';
import { requireEnvironment, runId, waitFor } from '../support/environment.ts';

const DAY = 86_400_000;

describe('retention on the legacy server (scheduled delete)', () => {
  const run = runId();
  const database = `ts_retention_${run}`;
  let writer: ClickHouseWriter;
  const now = Date.now();

  const event = (id: string, ageDays: number) => ({
    event_id: id, type: 'click', occurred_at: now - ageDays * DAY, customer_id: 'p1:k:aaaaaaaaaaaaaaaaaaaaaa', anonymous_id: null,
    channel: 'web', touchpoint: null, experiment_id: null, variant: null, properties: '{}', late: false,
  });
  const letter = (id: string, ageDays: number) => ({
    dead_letter_id: id, reason_code: 'invalid_json', message: 'm', source: 'collector', topic: null, partition: null, offset: null,
    event_id: null, received_at: now - ageDays * DAY, original: Buffer.from(`bytes of ${id}`).toString('base64'),
  });
  const ids = async (table: string, column: string) =>
    (await writer.rows<{ id: string }>(`SELECT ${column} AS id FROM ${database}.${table} ORDER BY id`)).map((row) => row.id);

  beforeAll(async () => {
    const config = loadConfig({
      clickhouse: { url: requireEnvironment('TOUCHSTREAM_TEST_CLICKHOUSE_URL'), dialect: 'legacy', database, retention: 'sessions=7' },
    }, {});
    writer = await openClickHouse(config);
    expect(writer.retention).toEqual(retentionPolicyOf(config));
    await writer.migrate();
    await writer.insert(EVENTS_TABLE, [event('e-new', 1), event('e-old', 396), event('e-400', 400), event('e-394', 394)]);
    await writer.insert(REJECTED_EVENTS_TABLE, [letter('d-new', 1), letter('d-31', 31), letter('d-89', 89), letter('d-91', 91)]);
    await writer.insert(SESSIONS_TABLE, [
      { session_id: 's-new', customer_id: 'p', started_at: now - DAY, ended_at: now - DAY, duration_ms: 0, events: 1, page_views: 1, clicks: 0, bounced: true, orders: 0, revenue: 0, converted: false, cart_adds: 0, cart_value: 0, cart_abandoned: false, checkout_errors: 0, help_views: 0, videos_started: 0, videos_completed: 0, entry_page: null, exit_page: null, channel: 'web', experiment_id: null, variant: null },
      { session_id: 's-8d', customer_id: 'p', started_at: now - 8 * DAY, ended_at: now - 8 * DAY, duration_ms: 0, events: 1, page_views: 1, clicks: 0, bounced: true, orders: 0, revenue: 0, converted: false, cart_adds: 0, cart_value: 0, cart_abandoned: false, checkout_errors: 0, help_views: 0, videos_started: 0, videos_completed: 0, entry_page: null, exit_page: null, channel: 'web', experiment_id: null, variant: null },
    ]);
  });

  afterAll(async () => {
    await writer?.command(`DROP DATABASE IF EXISTS ${database}`).catch(() => {});
    await writer?.close();
  });

  it('deletes rows past their table\'s retention, empties dead-letter bytes after 30 days, and keeps the rest', async () => {
    const results = await enforceRetention(writer, writer.retention);
    const expired = Object.fromEntries(results.filter((result) => result.expiredRows > 0).map((result) => [`${result.table}/${result.kind}`, result.expiredRows]));
    expect(expired).toEqual({
      'events/delete_rows': 2,
      'sessions/delete_rows': 1,
      'rejected_events/delete_rows': 1,
      // d-31 and d-89; d-91 is past the table's retention and left to the DELETE.
      'rejected_events/empty_dead_letter_bytes': 2,
    });
    // The rejected_events UPDATE waits: its DELETE is still pending (one mutation per table at a time); the next pass issues it.
    await waitFor(async () => ((await ids('events', 'event_id')).length === 2 ? true : undefined), 30_000, 'expired events deleted');
    await waitFor(async () => ((await ids('rejected_events', 'dead_letter_id')).length === 3 ? true : undefined), 30_000, 'expired dead letters deleted');
    await waitFor(async () => {
      await enforceRetention(writer, writer.retention);
      const emptied = await writer.rows<{ id: string }>(`SELECT dead_letter_id AS id FROM ${database}.rejected_events WHERE original = '' ORDER BY id`);
      return emptied.length === 2 ? emptied.map((row) => row.id) : undefined;
    }, 30_000, 'old dead-letter bytes emptied').then((emptied) => expect(emptied).toEqual(['d-31', 'd-89']));
    expect(await ids('events', 'event_id')).toEqual(['e-394', 'e-new']);
    expect(await ids('sessions', 'session_id')).toEqual(['s-new']);
    expect(await ids('rejected_events', 'dead_letter_id')).toEqual(['d-31', 'd-89', 'd-new']);
    const [recent] = await writer.rows<{ original: string }>(`SELECT original FROM ${database}.rejected_events WHERE dead_letter_id = 'd-new'`);
    expect(Buffer.from(recent!.original, 'base64').toString()).toBe('bytes of d-new');
  });

  it('then finds nothing expired and issues no mutation; the schedule runs passes until stopped', async () => {
    const results = await enforceRetention(writer, writer.retention);
    expect(results.filter((result) => result.expiredRows > 0 || result.mutated)).toEqual([]);
    const stop = new AbortController();
    let passes = 0;
    const schedule = runRetentionSchedule(writer, { intervalMs: 50, signal: stop.signal, onPass: () => void (++passes === 3 && stop.abort()), onError: (error) => { throw error; } });
    await schedule;
    expect(passes).toBe(3);
  });
});

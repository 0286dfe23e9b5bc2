// Identity stitching end to end on the real broker into ClickHouse 18.16: anonymous browsing then a login on another partition gives one customer session, with the anonymous part counted and seen by the rules; replays with other batch sizes and partition counts give identical rows.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import type { Runtime } from '../../app/runtime.ts';
import { ingest, openRuntime, runPipeline } from '../../app/runtime.ts';
import { MetricsRecorder } from '../../engine/index.ts';
import { partitionOf } from '../../log/partitioner.ts';
import { toContractJson } from '../../schemas/events.ts';
import { generateDay } from '../../sources/generator/synthetic-day.ts';
import { ndjsonReplay } from '../../sources/replay/ndjson-replay.ts';
import { requireEnvironment, runId } from '../support/environment.ts';

const run = runId();
const c1 = `${run}-c1`;
// An anonymous id on another partition than the customer's, with 4 and with 2 partitions.
let index = 0;
while (partitionOf(`${run}-a${index}`, 4) === partitionOf(c1, 4) || partitionOf(`${run}-a${index}`, 2) === partitionOf(c1, 2)) index++;
const a1 = `${run}-a${index}`;

const time = (minutes: number) => new Date(Date.parse('2026-11-02T10:00:00.000Z') + minutes * 60_000).toISOString();
let sequence = 0;
const web = (type: string, minutes: number, properties: Record<string, unknown>, customer: string | null = null) => ({
  event_id: `${run}-e${++sequence}`, type, occurred_at: time(minutes), channel: 'web', anonymous_id: a1, ...(customer ? { customer_id: customer } : {}), properties,
});
const page = (minutes: number, pageType: string, customer: string | null = null) => web('page_view', minutes, { page: `/${pageType}/${minutes}`, page_type: pageType }, customer);

/** Anonymous: a home page, two help pages, a cart of 30 EUR, a checkout error; then the login on a help page and a second checkout error. */
const journey = [
  page(0, 'home'),
  page(1, 'help'),
  web('add_to_cart', 2, { product_id: 'sku-1', price: 30, quantity: 1 }),
  page(3, 'contact'),
  web('checkout_error', 4, { code: 'TIMEOUT' }),
  page(5, 'help', c1),
  web('checkout_error', 7, { code: 'TIMEOUT' }, c1),
];
const ids = journey.map((event) => event.event_id);

describe('identity stitching on Kafka into ClickHouse 18.16', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'touchstream-identity-'));
  const file = join(dataDir, 'day.ndjson');
  // Around it, a generated day in which a third of the customers with a device browse anonymously before logging in.
  const day = generateDay({ seed: 11, customers: 150, loginShare: 0.35 }).map((event) => toContractJson(event));
  writeFileSync(file, `${[...journey, ...day].sort((a, b) => Date.parse(a.occurred_at as string) - Date.parse(b.occurred_at as string)).map((line) => JSON.stringify(line)).join('\n')}\n`);
  const runs = [
    { partitions: 4, maxRecords: 10_000 },
    { partitions: 2, maxRecords: 50 },
    { partitions: 1, maxRecords: 333 },
  ];
  const results: Array<{ database: string; runtime: Runtime; metrics: MetricsRecorder }> = [];

  beforeAll(async () => {
    const brokers = requireEnvironment('TOUCHSTREAM_TEST_KAFKA_BROKERS');
    const url = requireEnvironment('TOUCHSTREAM_TEST_CLICKHOUSE_URL');
    for (const [attempt, { partitions, maxRecords }] of runs.entries()) {
      const database = `ts_identity_${run}_${attempt}`;
      const config = loadConfig({
        dataDir: join(dataDir, String(attempt)),
        transport: 'rdkafka',
        kafka: { brokers, partitions, inputTopic: `it-identity-${run}-${attempt}`, groupId: `it-identity-${run}-${attempt}` },
        clickhouse: { url, dialect: 'legacy', database },
      }, {});
      const metrics = new MetricsRecorder();
      const runtime = await openRuntime(config, { metrics });
      results.push({ database, runtime, metrics });
      await ingest(runtime, ndjsonReplay({ path: file }));
      const boundedBy = await runtime.log.endOffsets(config.kafka.inputTopic);
      await runPipeline(runtime, { boundedBy, poll: { maxRecords } });
    }
  });

  afterAll(async () => {
    for (const { runtime } of results) await runtime.close();
  });

  it('gives the customer one session with the anonymous browsing counted, and the anonymous id none', async () => {
    const { runtime, database } = results[0]!;
    const sessions = await runtime.clickhouse.rows<Record<string, unknown>>(`
      SELECT session_id, customer_id, toUInt32(toUnixTimestamp(started_at)) AS started, events, page_views, help_views, cart_adds, cart_value, cart_abandoned,
             checkout_errors, entry_page, exit_page
      FROM ${database}.sessions FINAL WHERE customer_id IN ('${c1}', '${a1}') ORDER BY started_at`);
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({
      customer_id: c1, started: Date.parse(time(0)) / 1000, events: 7, page_views: 4, help_views: 3, cart_adds: 1, cart_value: 30, cart_abandoned: 1, checkout_errors: 2,
      entry_page: '/home/0', exit_page: '/help/5',
    });
    const pages = await runtime.clickhouse.rows<{ page: string; customer_id: string; session_id: string }>(
      `SELECT page, customer_id, session_id FROM ${database}.page_views FINAL WHERE customer_id IN ('${c1}', '${a1}') ORDER BY viewed_at`);
    expect(pages.map((row) => [row.page, row.customer_id, row.session_id])).toEqual(['/home/0', '/help/1', '/contact/3', '/help/5'].map((path) => [path, c1, sessions[0]!.session_id]));
    // Each event is one `events` row, under the id it arrived with (the copies are not rows again).
    const events = await runtime.clickhouse.rows<{ event_id: string; customer_id: string }>(
      `SELECT event_id, customer_id FROM ${database}.events FINAL WHERE customer_id IN ('${c1}', '${a1}') ORDER BY event_id`);
    expect(events.map((row) => row.event_id).sort()).toEqual([...ids].sort());
  });

  it('lets the rules see the help pages and the checkout error from before the login, for the customer', async () => {
    const { runtime, database } = results[0]!;
    const signals = await runtime.clickhouse.rows<{ action: string; customer_id: string; status: string; evidence_event_ids: string[] }>(
      `SELECT action, customer_id, status, evidence_event_ids FROM ${database}.signals FINAL WHERE customer_id IN ('${c1}', '${a1}') ORDER BY triggered_at, action`);
    expect(signals.map((row) => [row.action, row.customer_id, row.status, [...row.evidence_event_ids].sort()])).toEqual([
      ['proactive_help', c1, 'emitted', [ids[1], ids[3], ids[5]].sort()],
      ['live_chat_offer', c1, 'emitted', [ids[4], ids[6]].sort()],
      ['cart_reminder', c1, 'emitted', [ids[2]]],
    ]);
  });

  it('gives identical sessions, page views and signals for other poll batch sizes and partition counts', async () => {
    // The generated day logged in often enough to matter (devices seen with their customer before, in an e-mail or ad
    // touch, have their anonymous events routed to the customer instead: no handover needed).
    expect(results[0]!.metrics.total('touchstream_sessions_handed_over_total')).toBeGreaterThanOrEqual(5);
    const rows = async ({ runtime, database }: (typeof results)[number]) => ({
      sessions: await runtime.clickhouse.rows(`SELECT * FROM ${database}.sessions FINAL ORDER BY customer_id, started_at`),
      pages: await runtime.clickhouse.rows(`SELECT * FROM ${database}.page_views FINAL ORDER BY page_view_event_id`),
      signals: await runtime.clickhouse.rows(`SELECT signal_id, customer_id, session_id, triggered_at, status FROM ${database}.signals FINAL ORDER BY signal_id`),
    });
    const first = await rows(results[0]!);
    expect(first.sessions.length).toBeGreaterThan(200);
    for (const other of results.slice(1)) {
      expect(other.metrics.total('touchstream_sessions_handed_over_total')).toBe(results[0]!.metrics.total('touchstream_sessions_handed_over_total'));
      expect(await rows(other)).toEqual(first);
    }
  });
});

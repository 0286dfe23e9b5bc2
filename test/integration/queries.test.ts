// docs/queries.md stays true: every analyst query runs against the tables a generated day fills (embedded chDB, in-process log).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import type { Runtime } from '../../app/runtime.ts';
import { openRuntime, replay } from '../../app/runtime.ts';
import { MemoryLog } from '../../log/memory.ts';
import { toContractJson } from '../../schemas/events.ts';
import { ACTION_DELIVERIES_TABLE, ACTION_OUTCOMES_TABLE, TABLES } from '../../sinks/clickhouse/tables.ts';
import { generateDay } from '../../sources/generator/synthetic-day.ts';
import { ndjsonReplay } from '../../sources/replay/ndjson-replay.ts';

const QUERIES = [...readFileSync(join(import.meta.dirname, '../../docs/queries.md'), 'utf8').matchAll(/^## (.+)$|```sql\n([\s\S]*?)```/gm)].reduce<Array<{ title: string; sql: string }>>(
  (queries, match, index, all) => {
    if (match[2]) queries.push({ title: [...all.slice(0, index)].reverse().find((previous) => previous[1])![1]!, sql: match[2] });
    return queries;
  },
  [],
);

describe('analyst queries of docs/queries.md on a generated day', () => {
  let runtime: Runtime;

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'touchstream-queries-'));
    const day = join(dataDir, 'day.ndjson');
    writeFileSync(day, `${generateDay({ seed: 11, customers: 400 }).map((event) => JSON.stringify(toContractJson(event))).join('\n')}\n`);
    runtime = await openRuntime(loadConfig({ dataDir }, {}), { log: new MemoryLog({ defaultPartitions: 4 }) });
    await replay(runtime, ndjsonReplay({ path: day }));
    // Action management's tables fill only with destinations configured (test/integration/actions-cli.test.ts runs
    // that end to end): here a few deliveries and outcomes of real signals, so its queries answer something.
    const signals = await runtime.clickhouse.rows<{ signal_id: string; action: string; emitted: number }>(
      "SELECT signal_id, action, toUnixTimestamp64Milli(emitted_at) AS emitted FROM touchstream.signals FINAL WHERE status = 'emitted' ORDER BY signal_id LIMIT 3",
    );
    const attempt = (signal: { signal_id: string; action: string; emitted: number }, number: number, status: string, http: number | null) => ({
      signal_id: signal.signal_id, action: signal.action, destination: 'ops-webhook', attempt: number, status, http_status: http,
      latency_ms: 12 * number, attempted_at: Number(signal.emitted) + 1000 * number, error_code: status === 'delivered' ? null : `http_${http}`,
      idempotency_key: `${signal.signal_id}:${signal.action}`,
    });
    await runtime.clickhouse.insert(ACTION_DELIVERIES_TABLE, signals.flatMap((signal) => [attempt(signal, 1, 'failed', 503), attempt(signal, 2, 'delivered', 200)]));
    await runtime.clickhouse.insert(ACTION_OUTCOMES_TABLE, signals.map((signal) => ({
      signal_id: signal.signal_id, action: signal.action, status: 'resolved', at: Number(signal.emitted) + 3_600_000, received_at: Number(signal.emitted) + 3_600_500,
    })));
  });

  afterAll(async () => {
    await runtime?.close();
  });

  it('fills every table of the model', async () => {
    for (const table of TABLES) {
      // A generated day has no bad input, nor erasures; KPI anomalies on random traffic are chance events (unit tests pin them).
      const expected = table.name === 'rejected_events' || table.name === 'erasure_log' || table.name === 'alerts' ? 0 : 1;
      const [row] = await runtime.clickhouse.rows<{ n: number }>(`SELECT count() AS n FROM touchstream.${table.name} FINAL`);
      expect(Number(row!.n) >= expected, `${table.name} has rows`).toBe(true);
    }
    expect(QUERIES.length).toBeGreaterThanOrEqual(12);
  });

  it.each(QUERIES)('$title', async ({ title, sql }) => {
    const rows = await runtime.clickhouse.rows<Record<string, unknown>>(sql);
    // Anomalies on random traffic are chance events (the detector's semantics are pinned in test/unit/cx-experience.test.ts).
    if (!title.startsWith('Anomalies')) expect(rows.length, title).toBeGreaterThan(0);
    for (const row of rows) for (const [column, value] of Object.entries(row)) expect(value, `${title}: ${column}`).not.toBeUndefined();
  });

  it('computes the time to resolve from the signal and its resolved outcome', async () => {
    const rows = await runtime.clickhouse.rows<{ resolved: number; avg_minutes_to_resolve: number }>(QUERIES.find((query) => query.title.startsWith('Time to resolve'))!.sql);
    expect(rows.reduce((sum, row) => sum + Number(row.resolved), 0)).toBe(3);
    for (const row of rows) expect(Number(row.avg_minutes_to_resolve)).toBe(60);
  });

  it('answers the signal question with both outcomes of the contact policy', async () => {
    const rows = await runtime.clickhouse.rows<{ action: string; sent: number; suppressed: number }>(QUERIES.find((query) => query.title.startsWith('Signals'))!.sql);
    expect(rows.map((row) => row.action)).toEqual(expect.arrayContaining(['cart_reminder', 'live_chat_offer', 'proactive_help', 'support_callback']));
    expect(rows.reduce((sum, row) => sum + Number(row.suppressed), 0)).toBeGreaterThan(0);
  });
});

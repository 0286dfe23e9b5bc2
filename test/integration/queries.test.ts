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
import { TABLES } from '../../sinks/clickhouse/tables.ts';
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
  });

  afterAll(async () => {
    await runtime?.close();
  });

  it('fills every table of the model', async () => {
    for (const table of TABLES) {
      // A generated day has no bad input; the action tables fill only with destinations configured (test/integration/actions-cli.test.ts).
      const expected = table.name === 'rejected_events' || table.name.startsWith('action_') ? 0 : 1;
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

  it('answers the signal question with both outcomes of the contact policy', async () => {
    const rows = await runtime.clickhouse.rows<{ action: string; sent: number; suppressed: number }>(QUERIES.find((query) => query.title.startsWith('Signals'))!.sql);
    expect(rows.map((row) => row.action)).toEqual(expect.arrayContaining(['cart_reminder', 'live_chat_offer', 'proactive_help', 'support_callback']));
    expect(rows.reduce((sum, row) => sum + Number(row.suppressed), 0)).toBeGreaterThan(0);
  });
});

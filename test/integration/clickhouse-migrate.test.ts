// A table created by an earlier version gains the columns added since: migrate adds them on the real 18.16 server, and rows with them load.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import { openClickHouse } from '../../app/runtime.ts';
import type { ClickHouseWriter } from '../../sinks/clickhouse/writer.ts';
import { SESSIONS_TABLE } from '../../sinks/clickhouse/tables.ts';
import { requireEnvironment, runId } from '../support/environment.ts';

describe('ClickHouse schema evolution on the 18.16 server', () => {
  const database = `ts_migrate_${runId()}`;
  let writer: ClickHouseWriter | undefined;

  afterAll(async () => {
    await writer?.client.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await writer?.close();
  });

  it('adds the sessions columns a table of an earlier version lacks, keeping its rows', async () => {
    const config = loadConfig({
      dataDir: mkdtempSync(join(tmpdir(), 'touchstream-migrate-')),
      clickhouse: { url: requireEnvironment('TOUCHSTREAM_TEST_CLICKHOUSE_URL'), dialect: 'legacy', database },
    }, {});
    writer = await openClickHouse(config);
    const earlier = { ...SESSIONS_TABLE, columns: SESSIONS_TABLE.columns.filter((column) => !['touchpoint', 'first_campaign', 'last_campaign'].includes(column.name)) };
    await writer.migrate([earlier], []);
    const before = await writer.rows<{ name: string }>(`SELECT name FROM system.columns WHERE database = '${database}' AND table = 'sessions'`);
    expect(before.map((column) => column.name)).not.toContain('first_campaign');
    const row = Object.fromEntries(earlier.columns.map((column) => [column.name, column.type === 'timestamp' ? 1_000 : column.type.startsWith('nullable') ? null : column.type === 'bool' ? false : column.type.endsWith('string') || column.type === 'low_cardinality' ? 'x' : 0]));
    await writer.insert(earlier, [{ ...row, session_id: 's0', channel: 'web' }]);

    await writer.migrate([SESSIONS_TABLE], []);
    await writer.migrate([SESSIONS_TABLE], []); // idempotent
    const after = await writer.rows<{ name: string }>(`SELECT name FROM system.columns WHERE database = '${database}' AND table = 'sessions'`);
    expect(after.map((column) => column.name)).toEqual(SESSIONS_TABLE.columns.map((column) => column.name));
    const rows = await writer.rows<{ session_id: string; first_campaign: string | null }>(`SELECT session_id, first_campaign FROM ${database}.sessions FINAL`);
    expect(rows).toEqual([{ session_id: 's0', first_campaign: null }]);
  });
});

// The embedded default (in-process log + chDB): deterministic results whatever the batch sizes, and the CLI's replay/query commands.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import type { Runtime } from '../../app/runtime.ts';
import { ingest, openRuntime, runPipeline } from '../../app/runtime.ts';
import { MemoryLog } from '../../log/memory.ts';
import { toContractJson } from '../../schemas/events.ts';
import { generateDay } from '../../sources/generator/synthetic-day.ts';
import { ndjsonReplay } from '../../sources/replay/ndjson-replay.ts';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../bin/touchstream.mjs');
const dataDir = mkdtempSync(join(tmpdir(), 'touchstream-embedded-'));
const day = join(dataDir, 'day.ndjson');
writeFileSync(day, `${generateDay({ seed: 7, customers: 300 }).map((event) => JSON.stringify(toContractJson(event))).join('\n')}\n`);

const SESSIONS = (database: string) => `SELECT * FROM ${database}.sessions FINAL ORDER BY customer_id, started_at`;

describe('embedded pipeline', () => {
  const runtimes: Runtime[] = [];
  afterAll(async () => {
    for (const runtime of runtimes) await runtime.close();
  });

  it('gives identical sessions and signals for any poll batch size and partition count', async () => {
    const results = [];
    for (const [index, { maxRecords, partitions }] of [
      { maxRecords: 10_000, partitions: 4 },
      { maxRecords: 7, partitions: 4 },
      { maxRecords: 333, partitions: 1 },
    ].entries()) {
      const database = `det_${index}`;
      const config = loadConfig({ dataDir, clickhouse: { database }, kafka: { partitions } }, {});
      const runtime = await openRuntime(config, { log: new MemoryLog({ defaultPartitions: partitions }) });
      runtimes.push(runtime);
      await ingest(runtime, ndjsonReplay({ path: day }));
      const boundedBy = await runtime.log.endOffsets(config.kafka.inputTopic);
      const result = await runPipeline(runtime, { boundedBy, poll: { maxRecords } });
      expect(result.emitted.sessions).toBeGreaterThan(300);
      const sessions = await runtime.clickhouse.rows(SESSIONS(database));
      const signals = await runtime.clickhouse.rows(`SELECT signal_id, customer_id, session_id, triggered_at, status FROM ${database}.signals FINAL ORDER BY signal_id`);
      results.push({ sessions, signals });
    }
    expect(results[0]!.signals.length).toBeGreaterThan(0);
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  });

  it('replays a file from the CLI and answers queries in any ClickHouse format', async () => {
    const cliDir = mkdtempSync(join(tmpdir(), 'touchstream-cli-'));
    const replayed = await run('node', [CLI, 'replay', day, '--data-dir', cliDir]);
    expect(replayed.stdout).toMatch(/replayed \d+ events \(0 rejected at the source\)/);
    const count = await run('node', [CLI, 'query', 'SELECT count() AS sessions FROM touchstream.sessions FINAL', '--format', 'JSONEachRow'], {
      env: { ...process.env, TOUCHSTREAM_DATA_DIR: cliDir },
    });
    const sessions = Number(JSON.parse(count.stdout).sessions);
    const ours = await runtimes[0]!.clickhouse.rows<{ n: string }>('SELECT count() AS n FROM det_0.sessions FINAL');
    expect(sessions).toBe(Number(ours[0]!.n));
    const pretty = await run('node', [CLI, 'query', 'SELECT 1 AS one', '--data-dir', cliDir]);
    expect(pretty.stdout).toContain('one');
    expect(pretty.stdout).toContain('┌');
  });

  it('says plainly when another process holds the data directory', async () => {
    // This test process holds `dataDir` open through its runtimes.
    const failure = await run('node', [CLI, 'query', 'SELECT 1', '--data-dir', dataDir]).catch((error: { code: number; stderr: string }) => error);
    expect((failure as { code: number }).code).toBe(1);
    expect((failure as { stderr: string }).stderr).toContain('in use by another touchstream process');
  });
});

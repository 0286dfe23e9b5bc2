// ClickHouse sink rows/s: touchstream's events table sink into the HTTP server (18.16) and into embedded chDB, each in its own process.
import { join } from 'node:path';
import { spawnTypescript } from '../child-process.ts';

export interface SinkResult {
  target: string;
  table: string;
  ok: boolean;
  error?: string;
  rows: number;
  batchRows: number;
  rowsPerSecond: number;
}

const BATCH_ROWS = 50_000;

async function measureOne(target: string, args: Record<string, unknown>, rows: number): Promise<SinkResult> {
  let report: { rows: number; seconds: number; stored: number } | undefined;
  const worker = spawnTypescript('./workers/sink-worker.ts', [JSON.stringify({ ...args, rows, batchRows: BATCH_ROWS })], (line) => {
    if (line.event === 'result') report = line as never;
  });
  const code = await worker.exited;
  const base = { target, table: 'events', rows, batchRows: BATCH_ROWS };
  if (code !== 0 || !report) return { ...base, ok: false, error: `exit ${code}: ${worker.stderrTail()}`, rowsPerSecond: Number.NaN };
  if (report.stored !== rows) return { ...base, ok: false, error: `stored ${report.stored} rows, wrote ${rows}`, rowsPerSecond: Number.NaN };
  return { ...base, ok: true, rowsPerSecond: rows / report.seconds };
}

export async function measureSinks(options: { rows: number; clickhouseUrl: string; workDir: string; runId: string; log(message: string): void }): Promise<SinkResult[]> {
  const results: SinkResult[] = [];
  const http = await measureOne('HTTP server 18.16 (legacy dialect)', { target: { kind: 'http', url: options.clickhouseUrl, dialect: 'legacy' }, database: `bench_${options.runId}_sink` }, options.rows);
  options.log(`  HTTP: ${http.ok ? `${Math.round(http.rowsPerSecond)} rows/s` : http.error}`);
  results.push(http);
  const embedded = await measureOne('embedded chDB (modern dialect)', { target: { kind: 'embedded', path: join(options.workDir, 'sink-chdb') }, database: 'bench_sink' }, options.rows);
  options.log(`  chDB: ${embedded.ok ? `${Math.round(embedded.rowsPerSecond)} rows/s` : embedded.error}`);
  results.push(embedded);
  return results;
}

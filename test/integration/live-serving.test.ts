// A running embedded pipeline (`replay --rate`) serves read-only live SQL to other processes, @clickhouse/client and curl, and a live KPI page a real browser renders.
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createClient } from '@clickhouse/client';
import type { ClickHouseClient } from '@clickhouse/client';
import { ClickHouseLogLevel } from '@clickhouse/client';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSessionEvent, sessionKeyOf, toContractJson } from '../../schemas/events.ts';
import { generateDay } from '../../sources/generator/synthetic-day.ts';
import { waitFor } from '../support/environment.ts';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../bin/touchstream.mjs');
const CHROMIUM = '/usr/bin/chromium';
/** Where the test writes what a person looks at (the KPI page's screenshot). */
const OUTPUT = join(import.meta.dirname, '../output');

/** `touchstream query` in a process of its own, as a user types it. */
const query = async (dataDir: string, sql: string, format = 'JSONEachRow') =>
  (await run('node', [CLI, 'query', sql, '--data-dir', dataDir, '--format', format])).stdout;

describe('live serving of a running embedded pipeline', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'touchstream-live-'));
  const day = join(dataDir, 'day.ndjson');
  const events = generateDay({ seed: 11, customers: 250 });
  writeFileSync(day, `${events.map((event) => JSON.stringify(toContractJson(event))).join('\n')}\n`);
  let pipeline: ChildProcess;
  let exited: Promise<number | null>;
  let output = '';
  let url: string;
  let client: ClickHouseClient;

  beforeAll(async () => {
    // Slow enough (≈ 50 s) that the tests below run while events flow; any free port (others may hold 9464).
    pipeline = spawn('node', [CLI, 'replay', day, '--data-dir', dataDir, '--rate', String(Math.round(events.length / 50)), '--no-progress'], {
      env: { ...process.env, TOUCHSTREAM_METRICS_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    pipeline.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    pipeline.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    exited = new Promise((resolve) => pipeline.once('exit', resolve));
    const file = join(dataDir, 'serving.json');
    url = await waitFor(async () => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { url: string }).url : undefined), 60_000, 'serving.json');
    // Its own log would print every refusal below as an error.
    client = createClient({ url, log: { level: ClickHouseLogLevel.OFF } });
  });

  afterAll(async () => {
    await client?.close();
    if (pipeline && pipeline.exitCode === null) pipeline.kill('SIGTERM');
    await exited;
  });

  it('answers `touchstream query --data-dir` from another process while the pipeline holds the directory', async () => {
    const first = await waitFor(async () => {
      const row = JSON.parse(await query(dataDir, 'SELECT count() AS events FROM touchstream.events FINAL')) as { events: number | string };
      return Number(row.events) > 0 ? Number(row.events) : undefined;
    }, 60_000, 'events in the live table');
    const later = await waitFor(async () => {
      const row = JSON.parse(await query(dataDir, 'SELECT count() AS events FROM touchstream.events FINAL')) as { events: number | string };
      return Number(row.events) > first ? Number(row.events) : undefined;
    }, 30_000, 'more events as the replay goes on');
    expect(later).toBeGreaterThan(first);
    expect(pipeline.exitCode).toBeNull();
    const pretty = await query(dataDir, 'SELECT 1 AS one', 'PrettyCompact');
    expect(pretty).toContain('┌─one─┐');
  });

  it('answers a customer\'s open session over the customer API while the replay runs, as fed', async () => {
    // What was fed: each key's session events (the file is in time order, without duplicates: none is late).
    const fed = new Map<string, number[]>();
    for (const event of events) {
      if (!isSessionEvent(event)) continue;
      const key = sessionKeyOf(event);
      fed.set(key, [...(fed.get(key) ?? []), event.occurred_at]);
    }
    const keys = [...fed.keys()];
    const ask = async (key: string) => {
      const response = await fetch(`${url}/v1/customers/${encodeURIComponent(key)}/session`);
      return { status: response.status, body: (await response.json()) as { status: string; session: { events: number; started_at: string; ended_at: string; customer_id: string } } };
    };
    // Some customer's session is open at any moment of the run: ask them all until one is.
    const open = await waitFor(async () => {
      for (const key of keys) {
        const answer = await ask(key);
        if (answer.status === 200 && answer.body.status === 'open') return { key, ...answer.body };
      }
      return undefined;
    }, 40_000, 'an open session on the customer API');
    expect(pipeline.exitCode).toBeNull();
    const from = Date.parse(open.session.started_at);
    const to = Date.parse(open.session.ended_at);
    const times = fed.get(open.key)!;
    expect(times).toContain(from);
    expect(times).toContain(to);
    // Its KPIs so far count exactly the key's events fed between its first and its last one so far.
    expect(open.session.events).toBe(times.filter((time) => time >= from && time <= to).length);
    expect(open.session.customer_id).toBe(open.key);
    const journey = await (await fetch(`${url}/v1/customers/${encodeURIComponent(open.key)}/journey`)).json() as { sessions: Array<{ status: string; started_at: string }> };
    expect(journey.sessions.at(-1)).toMatchObject({ status: 'open', started_at: open.session.started_at });
    expect((await fetch(`${url}/v1/customers/${encodeURIComponent(open.key)}/signals`)).status).toBe(200);
    expect((await fetch(`${url}/v1/customers/nobody-at-all/session`)).status).toBe(404);
    const document = await (await fetch(`${url}/openapi.json`)).json() as { openapi: string; paths: Record<string, unknown> };
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths)).toContain('/v1/customers/{id}/session');
  });

  it('shows the live KPI page in a real browser, in German, with charts that update as events flow', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
    try {
      const page = await browser.newPage({ locale: 'de-DE' });
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`${url}/live`);
      expect(await page.textContent('h1')).toContain('Kundenerlebnis live');
      expect(await page.locator('canvas').count()).toBe(5);
      const snapshot = () =>
        page.evaluate(() => {
          const charts = (window as unknown as { touchstreamCharts: Record<string, { data: { labels: unknown[]; datasets: Array<{ data: Array<number | null> }> } }> }).touchstreamCharts;
          return {
            points: charts.throughput!.data.labels.length,
            eventsPerSecond: charts.throughput!.data.datasets[0]!.data,
            signals: charts.signals!.data.datasets.flatMap((dataset) => dataset.data),
            sessions: document.getElementById('sessions')!.textContent,
            width: (document.getElementById('chart-throughput') as HTMLCanvasElement).width,
          };
        });
      const flowing = await waitFor(async () => {
        const state = await snapshot();
        return state.eventsPerSecond.some((value) => (value ?? 0) > 0) && state.signals.some((value) => (value ?? 0) > 0) && state.sessions !== '–' ? state : undefined;
      }, 60_000, 'non-zero events/s and signals on the page');
      expect(flowing.width).toBeGreaterThan(0);
      // It keeps updating without a reload.
      const updated = await waitFor(async () => {
        const state = await snapshot();
        return state.points > flowing.points + 1 ? state : undefined;
      }, 15_000, 'new points on the charts');
      expect(updated.points).toBeGreaterThan(flowing.points);
      await page.goto(`${url}/live?lang=en`);
      expect(await page.textContent('h1')).toContain('live customer experience');
      // Once its charts have a few points again: the screenshot the README shows (docs/live-kpi-page.png).
      await waitFor(async () => ((await snapshot()).points >= 4 ? true : undefined), 15_000, 'points on the English page');
      mkdirSync(OUTPUT, { recursive: true });
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.screenshot({ path: join(OUTPUT, 'live-kpi-page.png'), fullPage: true });
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('serves @clickhouse/client with its own settings, parameters and compression', async () => {
    expect((await client.ping()).success).toBe(true);
    const result = await client.query({
      query: 'SELECT channel, count() AS events FROM touchstream.events FINAL WHERE channel = {channel:String} GROUP BY channel',
      query_params: { channel: 'web' },
      format: 'JSONEachRow',
      clickhouse_settings: { max_result_rows: '1000', output_format_json_quote_64bit_integers: 1 },
    });
    const rows = (await result.json()) as Array<{ channel: string; events: string }>;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.channel).toBe('web');
    expect(Number(rows[0]!.events)).toBeGreaterThan(0);
    // The database setting and the JSON format with its metadata.
    const tables = await (await client.query({ query: 'SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name', format: 'JSON', clickhouse_settings: { database: 'touchstream' } as never })).json<{ name: string }>();
    expect(tables.data.map((row) => row.name)).toEqual(expect.arrayContaining(['events', 'sessions', 'signals']));
    // A setting of one request does not stay for the next (each query has a session of its own).
    const limited = client.query({ query: 'SELECT number FROM numbers(10)', format: 'JSONEachRow', clickhouse_settings: { max_result_rows: '3', result_overflow_mode: 'throw' } });
    await expect(limited).rejects.toMatchObject({ code: '396' });
    expect(await (await client.query({ query: 'SELECT number FROM numbers(10)', format: 'JSONEachRow' })).json()).toHaveLength(10);
  });

  it('answers curl-style GET and POST in the common formats', async () => {
    const get = await fetch(`${url}/?query=${encodeURIComponent('SELECT 1 AS a, \'x\' AS b')}`);
    expect(get.status).toBe(200);
    expect(await get.text()).toBe('1\tx\n');
    const formats: Record<string, string> = {
      TabSeparated: '1\tx\n',
      TSVWithNames: 'a\tb\n1\tx\n',
      CSV: '1,"x"\n',
      CSVWithNames: '"a","b"\n1,"x"\n',
      JSONEachRow: '{"a":1,"b":"x"}\n',
    };
    for (const [format, expected] of Object.entries(formats)) {
      const answer = await fetch(`${url}/?default_format=${format}`, { method: 'POST', body: "SELECT 1 AS a, 'x' AS b" });
      expect(await answer.text(), format).toBe(expected);
    }
    const compact = await (await fetch(`${url}/?default_format=JSONCompact`, { method: 'POST', body: "SELECT 1 AS a, 'x' AS b" })).json() as { data: unknown[] };
    expect(compact.data).toEqual([[1, 'x']]);
    const pretty = await (await fetch(`${url}/`, { method: 'POST', body: 'SELECT 1 AS a FORMAT Pretty' })).text();
    expect(pretty).toContain('┃');
    expect(await (await fetch(`${url}/ping`)).text()).toBe('Ok.\n');
  });

  it('refuses writes and DDL the way ClickHouse answers readonly violations', async () => {
    for (const sql of [
      "INSERT INTO touchstream.events (event_id) VALUES ('x')",
      'CREATE TABLE touchstream.nope (x UInt8) ENGINE = Memory',
      'DROP TABLE touchstream.events',
      'ALTER TABLE touchstream.events DELETE WHERE 1',
      'TRUNCATE TABLE touchstream.signals',
      'SET readonly = 0',
    ]) {
      await expect(client.command({ query: sql }), sql).rejects.toMatchObject({ code: '164', type: 'READONLY' });
      const answer = await fetch(`${url}/`, { method: 'POST', body: sql });
      expect(answer.status, sql).toBe(500);
      expect(answer.headers.get('x-clickhouse-exception-code'), sql).toBe('164');
      expect(await answer.text(), sql).toMatch(/^Code: 164\. DB::Exception: .*readonly mode.*\(READONLY\)\n$/);
    }
    // What readonly=1 lets through in the engine is refused here too: a second statement, a file written, readonly=0.
    const multi = await fetch(`${url}/`, { method: 'POST', body: 'SELECT 1; DROP TABLE touchstream.events' });
    expect(multi.status).toBe(400);
    expect(await multi.text()).toContain('Multi-statements are not allowed');
    expect((await fetch(`${url}/`, { method: 'POST', body: "SELECT 1 INTO OUTFILE '/tmp/touchstream-outfile'" })).status).toBe(500);
    expect((await fetch(`${url}/?readonly=0`, { method: 'POST', body: 'SELECT 1' })).status).toBe(500);
    // Table functions that reach the host are refused by the engine's readonly=1.
    const file = await fetch(`${url}/`, { method: 'POST', body: "SELECT * FROM file('/etc/hostname', 'LineAsString')" });
    expect(await file.text()).toContain('(READONLY)');
    // The tables are untouched.
    expect(JSON.parse(await query(dataDir, "SELECT count() AS n FROM system.tables WHERE database = 'touchstream' AND name = 'nope'"))).toEqual({ n: 0 });
  });

  it('finishes the replay, withdraws the endpoint, and `query` then opens the directory itself', async () => {
    expect(await exited, output).toBe(0);
    expect(output).toMatch(/replayed \d+ events/);
    expect(existsSync(join(dataDir, 'serving.json'))).toBe(false);
    const sessions = JSON.parse(await query(dataDir, 'SELECT count() AS n FROM touchstream.sessions FINAL')) as { n: number | string };
    expect(Number(sessions.n)).toBeGreaterThan(250);
    // A stale file (its process gone) is detected and removed; the query runs on the directory.
    writeFileSync(join(dataDir, 'serving.json'), JSON.stringify({ url: 'http://127.0.0.1:9', pid: 2 ** 22 + 17, startedAt: new Date().toISOString() }));
    const again = JSON.parse(await query(dataDir, 'SELECT count() AS n FROM touchstream.sessions FINAL')) as { n: number | string };
    expect(Number(again.n)).toBe(Number(sessions.n));
    expect(existsSync(join(dataDir, 'serving.json'))).toBe(false);
  });
});

// Erasure beside a restarted worker (docs/privacy.md): `touchstream run` as a child process is stopped or killed and started again (its loader thread too), then `touchstream erase` from the command line must complete within a bound and leave nothing of the customer in the tables.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import type { Runtime } from '../../app/runtime.ts';
import { inputPublisher, openRuntime } from '../../app/runtime.ts';
import { loadKeyFile, Pseudonymiser } from '../../privacy/index.ts';
import type { CxEvent } from '../../schemas/events.ts';
import { parseEvent } from '../../schemas/events.ts';
import { rowsHeldFor } from '../support/erasure-rows.ts';
import { requireEnvironment, runId, waitFor } from '../support/environment.ts';
import type { Worker, WorkerSettings } from '../support/workers.ts';
import { startWorker, workerEnv } from '../support/workers.ts';

const execute = promisify(execFile);
const CLI = join(import.meta.dirname, '..', '..', 'bin', 'touchstream.mjs');
const MIN = 60_000;
/** How long the erasure may take beside the restarted worker (one that completes does in a few seconds). */
const ERASE_WITHIN_S = 30;

describe.each(['SIGTERM', 'SIGKILL'] as const)('an erasure requested beside a worker restarted after %s', (signal) => {
  const run = runId();
  const database = `ts_erasure_restart_${run}`;
  const raw = (name: string) => `raw${run}-${name}`;
  const T0 = Math.floor((Date.now() - 6 * 60 * MIN) / MIN) * MIN;
  const dataDir = mkdtempSync(join(tmpdir(), 'touchstream-erasure-restart-'));
  const keyPath = join(dataDir, 'pseudonymisation.key');
  let settings: WorkerSettings;
  let runtime: Runtime;
  let alice: string;
  let bob: string;
  const workers: Worker[] = [];

  const event = (suffix: string, customer: string, minute: number, type: string, properties: object, channel = 'web'): CxEvent => {
    const parsed = parseEvent({ event_id: `${run}-${suffix}`, type, occurred_at: new Date(T0 + minute * MIN).toISOString(), channel, customer_id: customer, properties }, Date.now());
    if (!parsed.ok) throw new Error(parsed.failure.message);
    return parsed.event;
  };
  const page = (suffix: string, customer: string, minute: number, pageType: string) => event(suffix, customer, minute, 'page_view', { page: `/${pageType}`, page_type: pageType });
  const call = (suffix: string, customer: string, minute: number) => event(suffix, customer, minute, 'contact', { kind: 'call', reason: 'order' }, 'call_center');
  const rows = (sql: string) => runtime.clickhouse.rows<Record<string, unknown>>(sql.replaceAll('$db', database));
  const count = async (sql: string) => Number((await rows(sql))[0]!.n);
  const customerRows = (customer: string) => rowsHeldFor(runtime.clickhouse, database, customer);
  const logOf = (worker: Worker) => {
    const file = join(dataDir, `${worker.id}.log`);
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  };
  /** A started worker whose loader thread runs: it reports the tables' lag once its consumer has joined its group. */
  const start = async (id: string) => {
    // A restarted worker appends to the same log file: only what this one wrote counts.
    const from = existsSync(join(dataDir, `${id}.log`)) ? readFileSync(join(dataDir, `${id}.log`), 'utf8').length : 0;
    const worker = startWorker(settings, id);
    workers.push(worker);
    const metricsUrl = await waitFor(async () => /"metrics":"(http:[^"]+)"/.exec(logOf(worker).slice(from))?.[1], 60_000, `${id} running`);
    await waitFor(async () => {
      const text = await fetch(metricsUrl).then((response) => response.text(), () => '');
      return /^touchstream_table_lag_records\{/m.test(text) ? true : undefined;
    }, 60_000, `${id}'s loader reporting the tables' lag`);
    return worker;
  };

  beforeAll(async () => {
    writeFileSync(keyPath, `${randomBytes(48).toString('base64')}\n`, { mode: 0o600 });
    const pseudonymiser = new Pseudonymiser(loadKeyFile(keyPath));
    alice = pseudonymiser.pseudonym(raw('alice'));
    bob = pseudonymiser.pseudonym(raw('bob'));
    settings = {
      brokers: requireEnvironment('TOUCHSTREAM_TEST_KAFKA_BROKERS'),
      clickhouseUrl: requireEnvironment('TOUCHSTREAM_TEST_CLICKHOUSE_URL'),
      database, inputTopic: `it-erasure-restart-${run}`, groupId: `it-erasure-restart-${run}`, partitions: 2, dataDir,
      gapMs: 30 * MIN, outOfOrdernessMs: 5000, idleTimeoutMs: 5000,
      extraEnv: { TOUCHSTREAM_PSEUDONYMISATION_KEY_FILE: keyPath, TOUCHSTREAM_ERASURE_TOPIC: `it-erasure-restart-requests-${run}` },
    };
    runtime = await openRuntime(loadConfig({
      dataDir, transport: 'rdkafka',
      kafka: { brokers: settings.brokers, inputTopic: settings.inputTopic, erasureTopic: `it-erasure-restart-requests-${run}`, groupId: settings.groupId, partitions: 2 },
      clickhouse: { url: settings.clickhouseUrl, dialect: 'legacy', database },
    }, { TOUCHSTREAM_PSEUDONYMISATION_KEY_FILE: keyPath }));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop('SIGKILL')));
    await runtime?.clickhouse.command(`DROP DATABASE IF EXISTS ${database}`).catch(() => {});
    await runtime?.close();
  });

  it(`completes within ${ERASE_WITHIN_S} s and deletes every row of the customer`, async () => {
    const first = await start(`w-${run}-1`);
    // Both customers: a help session closed by a later one, a call; row topics of several tables get rows.
    await inputPublisher(runtime).publish([
      page('a1', raw('alice'), 0, 'help'), page('b1', raw('bob'), 0, 'help'),
      page('a2', raw('alice'), 60, 'product'), page('b2', raw('bob'), 60, 'product'),
      call('a3', raw('alice'), 61), call('b3', raw('bob'), 61),
    ]);
    await waitFor(async () => ((await count(`SELECT count() AS n FROM $db.sessions WHERE customer_id = '${alice}'`)) > 0
      && (await count(`SELECT count() AS n FROM $db.events WHERE customer_id = '${alice}'`)) >= 3
      && (await count(`SELECT count() AS n FROM $db.events WHERE customer_id = '${bob}'`)) >= 3 ? true : undefined), 60_000, "alice's and bob's rows in the tables");

    await first.stop(signal);
    // The restarted worker (same worker id) reads nothing new: every row topic ends where the first one left it.
    const second = await start(`w-${run}-1`);

    const started = Date.now();
    const { stdout } = await execute(process.execPath, [CLI, 'erase', raw('alice'), '--wait', String(ERASE_WITHIN_S)], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...workerEnv(settings, `eraser-${run}`) },
      timeout: (ERASE_WITHIN_S + 30) * 1000,
    }).catch((error: Error & { stdout?: string; stderr?: string }) => {
      throw new Error(`touchstream erase failed after ${Date.now() - started} ms: ${error.message}\n${error.stderr ?? ''}\n--- worker log ---\n${logOf(second).slice(-6000)}`);
    });
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as { request_id: string; customer_id: string; status: string; tables: string[] };
    expect(result.status).toBe('completed');
    expect(result.customer_id).toBe(alice);
    expect(result.tables).toEqual(expect.arrayContaining(['events', 'sessions', 'page_views']));
    expect(await customerRows(alice)).toEqual({});
    expect(Object.keys(await customerRows(bob))).toEqual(expect.arrayContaining(['events', 'sessions']));
    const log = await rows(`SELECT status FROM $db.erasure_log FINAL WHERE request_id = '${result.request_id}' ORDER BY status DESC`);
    expect(log.map((row) => row.status)).toEqual(['requested', 'completed']);
    expect(second.child.exitCode).toBeNull();
  }, 240_000);
});

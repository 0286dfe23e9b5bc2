// Action delivery on the embedded default: a bounded `touchstream replay FILE --destinations F` delivers every action before it exits; outcomes come in over HTTP and land in their table.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDestinations } from '../../actions/destinations.ts';
import { outcomeEndpoint, runActions } from '../../app/actions.ts';
import { loadConfig } from '../../app/config.ts';
import { PrometheusMetrics, outcomesPlugin, startOpsServer } from '../../app/prometheus.ts';
import { loadTables, openRuntime } from '../../app/runtime.ts';
import { MemoryLog } from '../../log/memory.ts';
import { toContractJson } from '../../schemas/events.ts';
import { generateDay } from '../../sources/generator/synthetic-day.ts';
import type { ActionReceiver } from '../support/action-receiver.ts';
import { startActionReceiver } from '../support/action-receiver.ts';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../bin/touchstream.mjs');
const dir = mkdtempSync(join(tmpdir(), 'touchstream-actions-cli-'));
const day = join(dir, 'day.ndjson');
writeFileSync(day, `${generateDay({ seed: 7, customers: 300 }).map((event) => JSON.stringify(toContractJson(event))).join('\n')}\n`);
const receivers: ActionReceiver[] = [];

afterAll(async () => {
  for (const receiver of receivers) await receiver.close();
});

describe('actions on the embedded default', () => {
  it('a bounded replay with --destinations delivers every action before it exits', async () => {
    // Every key fails once (503) before it is accepted: the replay must still deliver each. (The circuit breaker is
    // set not to trip: a receiver failing every first attempt would otherwise open it for resetMs again and again.)
    const receiver = await startActionReceiver({ answer: (_key, attempt) => (attempt === 1 ? 503 : 200) });
    receivers.push(receiver);
    const destinations = join(dir, 'destinations.yaml');
    writeFileSync(
      destinations,
      [
        'destinations:',
        `  ops-webhook: { type: webhook, url: "${receiver.url}", timeoutMs: 2000, maxAttempts: 8, backoff: { initialMs: 5, maxMs: 20 }, rateLimit: { perSecond: 1000, burst: 100 }, circuitBreaker: { failureThreshold: 1000, resetMs: 100 } }`,
        'actions:',
        ...['support_callback', 'support_case', 'rnd_ticket', 'crm_update', 'live_chat_offer', 'social_care', 'proactive_help', 'cart_reminder'].map((action) => `  ${action}: ops-webhook`),
        '',
      ].join('\n'),
    );
    const dataDir = join(dir, 'replay');
    const replayed = await run('node', [CLI, 'replay', day, '--data-dir', dataDir, '--destinations', destinations]);
    const line = /actions: (\d+) delivered, (\d+) dead-lettered, (\d+) not mapped/.exec(replayed.stdout);
    expect(line, replayed.stdout).not.toBeNull();
    const [delivered, deadLettered, unmapped] = line!.slice(1).map(Number) as [number, number, number];
    expect(deadLettered).toBe(0);
    expect(unmapped).toBe(0);
    const query = async (sql: string) => JSON.parse((await run('node', [CLI, 'query', sql, '--format', 'JSONEachRow', '--data-dir', dataDir])).stdout) as Record<string, string | number>;
    const emitted = Number((await query("SELECT count() AS n FROM touchstream.signals FINAL WHERE status = 'emitted'")).n);
    expect(emitted).toBeGreaterThan(0);
    expect(delivered).toBe(emitted);
    // Before the replay exited, the receiver had every emitted signal's action, once per key.
    expect(receiver.accepted.size).toBe(emitted);
    expect([...receiver.accepted.values()].every((count) => count === 1)).toBe(true);
    for (const attempt of receiver.attempts) expect(attempt.key).toBe(`${attempt.body.signal.signal_id}:${attempt.body.action}`);
    // And the tables hold a row per attempt: one failed and one delivered per action.
    const rows = await query("SELECT countIf(status = 'delivered') AS delivered, countIf(status = 'failed') AS failed, uniqExact(idempotency_key) AS keys FROM touchstream.action_deliveries FINAL");
    expect(rows).toEqual({ delivered: emitted, failed: emitted, keys: emitted });
  }, 300_000);

  it('a paced replay (--rate) with --destinations delivers every action too, once per key', async () => {
    const receiver = await startActionReceiver({ answer: () => 200 });
    receivers.push(receiver);
    const small = join(dir, 'small.ndjson');
    writeFileSync(small, `${generateDay({ seed: 8, customers: 80 }).map((event) => JSON.stringify(toContractJson(event))).join('\n')}\n`);
    const destinations = join(dir, 'paced-destinations.yaml');
    writeFileSync(destinations, [
      'destinations:',
      `  ops-webhook: { type: webhook, url: "${receiver.url}", timeoutMs: 2000, maxAttempts: 8 }`,
      'actions:',
      '  support_case: ops-webhook',
      '  rnd_ticket: ops-webhook',
      '  crm_update: ops-webhook',
      '',
    ].join('\n'));
    const dataDir = join(dir, 'paced');
    const replayed = await run('node', [CLI, 'replay', small, '--rate', '4000', '--data-dir', dataDir, '--destinations', destinations]);
    const line = /actions: (\d+) delivered, (\d+) dead-lettered, (\d+) not mapped/.exec(replayed.stdout);
    expect(line, replayed.stdout).not.toBeNull();
    const query = async (sql: string) => JSON.parse((await run('node', [CLI, 'query', sql, '--format', 'JSONEachRow', '--data-dir', dataDir])).stdout) as Record<string, string | number>;
    const internal = Number((await query("SELECT count() AS n FROM touchstream.signals FINAL WHERE status = 'emitted' AND audience = 'internal'")).n);
    expect(internal).toBeGreaterThan(0);
    expect(Number(line![2])).toBe(0);
    // Every internal action (the mapped ones) reached the receiver before the replay exited, each key accepted once.
    expect(receiver.accepted.size).toBe(internal);
    expect([...receiver.accepted.values()].every((count) => count === 1)).toBe(true);
    expect(Number(line![1])).toBeGreaterThanOrEqual(internal);
  }, 300_000);

  it('takes outcomes over HTTP onto the outcomes topic and into action_outcomes', async () => {
    const config = loadConfig({ dataDir: join(dir, 'outcomes'), clickhouse: { database: 'outcomes_test' } }, {});
    const runtime = await openRuntime(config, { log: new MemoryLog({ defaultPartitions: 2 }) });
    const metrics = new PrometheusMetrics();
    const ops = await startOpsServer({ metrics, ready: () => true, port: 0, plugins: [outcomesPlugin(outcomeEndpoint(runtime))] });
    try {
      const post = (body: unknown) => fetch(`${ops.url}/v1/outcomes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const accepted = await post([
        { signal_id: 'sig-1', action: 'support_case', status: 'acknowledged', at: '2026-12-03T10:00:00.000Z' },
        { signal_id: 'sig-1', action: 'support_case', status: 'resolved', at: '2026-12-03T12:30:00.000Z' },
      ]);
      expect(accepted.status).toBe(202);
      expect(await accepted.json()).toEqual({ accepted: 2 });
      const refused = await post({ signal_id: 'sig-2', action: 'support_case', status: 'closed', at: 'yesterday' });
      expect(refused.status).toBe(400);
      const problem = (await refused.json()) as { error: string; message: string };
      expect(problem.error).toBe('invalid_outcome');
      expect(problem.message).toMatch(/status: .*"acknowledged"\|"resolved"|status: /);
      expect(problem.message).toMatch(/at: /);
      expect((await fetch(`${ops.url}/v1/outcomes`, { method: 'POST', body: '{not json' })).status).toBe(400);
      // The relay runs with action delivery (a destinations file configured): bounded here.
      const result = await runActions(runtime, { bounded: true, routing: parseDestinations({ destinations: {} }, {}) });
      expect(result!.outcomes).toEqual({ outcomes: 2, invalid: 0 });
      await loadTables(runtime, { bounded: true });
      const rows = await runtime.clickhouse.rows<{ signal_id: string; status: string; at: string }>(
        'SELECT signal_id, status, toString(at) AS at FROM outcomes_test.action_outcomes FINAL ORDER BY status',
      );
      expect(rows).toEqual([
        { signal_id: 'sig-1', status: 'acknowledged', at: '2026-12-03 10:00:00.000' },
        { signal_id: 'sig-1', status: 'resolved', at: '2026-12-03 12:30:00.000' },
      ]);
    } finally {
      await ops.close();
      await runtime.close();
    }
  });
});

// Action delivery under chaos, end to end: a generated day through `touchstream run` worker processes on the real broker, delivered to a real receiver that fails a random third of requests (500, a stall past the timeout, a dropped connection), across a SIGKILL and restart: every action once per key, none lost, none dead-lettered, every failure in action_deliveries.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDestinations } from '../../actions/destinations.ts';
import { ACTION_TOPICS } from '../../actions/index.ts';
import { actionCodecs, runActions } from '../../app/actions.ts';
import { loadConfig } from '../../app/config.ts';
import type { Runtime } from '../../app/runtime.ts';
import { ingest, openRuntime } from '../../app/runtime.ts';
import type { LogConsumer } from '../../log/log.ts';
import { toContractJson } from '../../schemas/events.ts';
import { TOPICS } from '../../schemas/outputs.ts';
import { ndjsonReplay } from '../../sources/replay/ndjson-replay.ts';
import { generateDay } from '../../sources/generator/synthetic-day.ts';
import type { ActionReceiver } from '../support/action-receiver.ts';
import { chaosBehaviour, startActionReceiver } from '../support/action-receiver.ts';
import { requireEnvironment, runId, waitFor } from '../support/environment.ts';
import type { Worker, WorkerSettings } from '../support/workers.ts';
import { countOf, startWorker } from '../support/workers.ts';

const run = runId();
const prefix = `chaos${run}`;
/** Every action the default rules produce: all go to the one chaotic webhook. */
const ACTIONS = ['support_callback', 'support_case', 'rnd_ticket', 'crm_update', 'live_chat_offer', 'social_care', 'proactive_help', 'cart_reminder'];
const SEED = 14;
/** The receiver's seed: printed, so a failing run can be replayed with the same draws (in arrival order). */
const RECEIVER_SEED = Number.parseInt(run.slice(0, 6), 16);

/** A generated day whose customers, devices and events carry this run's prefix (signals are keyed by customer). */
function dayOfThisRun(): Record<string, unknown>[] {
  return generateDay({ seed: SEED, customers: 40 }).map((event) =>
    toContractJson({
      ...event,
      event_id: `${prefix}-${event.event_id}`,
      customer_id: event.customer_id === null ? null : `${prefix}-${event.customer_id}`,
      anonymous_id: event.anonymous_id === null || event.anonymous_id === undefined ? null : `${prefix}-${event.anonymous_id}`,
    }) as Record<string, unknown>,
  );
}

describe('action delivery under chaos: a flaky receiver and a SIGKILLed worker lose and double nothing', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'touchstream-chaos-'));
  const workers: Worker[] = [];
  let runtime: Runtime | undefined;
  let receiver: ActionReceiver | undefined;
  let signalsReader: LogConsumer | undefined;

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop('SIGKILL')));
    await signalsReader?.close().catch(() => {});
    await receiver?.close();
    await runtime?.close().catch(() => {});
  });

  it('delivers every action of a generated day exactly once per Idempotency-Key through 500s, stalls, dropped connections and a SIGKILL', async () => {
    const brokers = requireEnvironment('TOUCHSTREAM_TEST_KAFKA_BROKERS');
    const clickhouseUrl = requireEnvironment('TOUCHSTREAM_TEST_CLICKHOUSE_URL');
    receiver = await startActionReceiver(chaosBehaviour({ seed: RECEIVER_SEED, failureShare: 1 / 3, stallMs: 1500 }));
    const chaos = receiver;
    const destinations = join(dataDir, 'destinations.yaml');
    // Timeout 300 ms (a stall lasts 1.5 s); 12 attempts make a dead letter at a 1/3 failure rate ~2e-6 per action.
    // The rate limit paces delivery so the kill lands mid-way; the circuit breaker opens on runs of failures and
    // lets a trial through soon after (waiting on it spends no attempt).
    writeFileSync(destinations, [
      'destinations:',
      `  chaos: { type: webhook, url: "${chaos.url}", timeoutMs: 300, maxAttempts: 12, backoff: { initialMs: 20, maxMs: 200 }, rateLimit: { perSecond: 15, burst: 5 }, circuitBreaker: { failureThreshold: 8, resetMs: 250 } }`,
      'actions:',
      ...ACTIONS.map((action) => `  ${action}: chaos`),
      '',
    ].join('\n'));
    const settings: WorkerSettings = {
      brokers, clickhouseUrl, database: `ts_chaos_${run}`, inputTopic: `chaos-${run}`, groupId: `chaos-${run}`, partitions: 3, dataDir,
      // A real session gap for a generated day; idle partitions let the watermark close the last sessions (cart reminders).
      gapMs: 1_800_000, outOfOrdernessMs: 5000, idleTimeoutMs: 1500,
      extraEnv: { TOUCHSTREAM_DESTINATIONS: destinations },
    };
    const config = loadConfig({
      dataDir, transport: 'rdkafka',
      kafka: { brokers, inputTopic: settings.inputTopic, groupId: settings.groupId, partitions: settings.partitions },
      clickhouse: { url: clickhouseUrl, dialect: 'legacy', database: settings.database },
      session: { gapMs: settings.gapMs, outOfOrdernessMs: settings.outOfOrdernessMs, idleTimeoutMs: settings.idleTimeoutMs },
    }, {});
    runtime = await openRuntime(config);
    const rt = runtime;
    // touchstream.signals is shared with every earlier run on this broker: the workers' delivery group (and the
    // outcomes relay) start at its end, as if they had delivered everything before this run.
    await runActions(rt, { bounded: true, routing: parseDestinations({ destinations: {} }, {}) });
    // This run's signals as a read_committed reader sees them (keyed by customer: this run's prefix).
    signalsReader = await rt.log.consumer({ groupId: `chaos-${run}-signals-reader`, topics: [TOPICS.signals], start: 'earliest' });

    const day = dayOfThisRun();
    const file = join(dataDir, 'day.ndjson');
    writeFileSync(file, `${day.map((event) => JSON.stringify(event)).join('\n')}\n`);
    expect((await ingest(rt, ndjsonReplay({ path: file }))).rejected).toBe(0);

    const first = startWorker(settings, 'chaos-0');
    workers.push(first);
    const mine = () => [...chaos.attempts].filter((attempt) => String((attempt.body.signal as { customer_id?: unknown }).customer_id).startsWith(`${prefix}-`));
    const acceptedKeys = () => new Set(mine().filter((attempt) => typeof attempt.answer === 'number' && attempt.answer < 300).map((attempt) => attempt.key));
    await waitFor(async () => (acceptedKeys().size >= 15 ? true : undefined), 60_000, '15 actions accepted before the kill');
    expect(await first.stop('SIGKILL')).toBeNull();
    const acceptedAtKill = acceptedKeys();
    // Requests from here on are the restarted worker's (it sends none before it has booted and joined the groups).
    const requestsBeforeRestart = mine().length;

    const second = startWorker(settings, 'chaos-0'); // the same worker id: fences the dead one's transaction, takes its partitions back
    workers.push(second);

    // Done when the pipeline has taken in every event, the signals on the topic match its table, and the receiver and
    // action_deliveries hold every one of those actions as delivered.
    const emitted = new Map<string, { signal_id: string; action: string }>();
    const database = settings.database;
    // This run's attempt rows: the workers deliver any signal that reaches touchstream.signals after the start (other
    // runs on the broker write it too), so the rows are filtered to this run's keys.
    const attemptRows = async () =>
      (await rt.clickhouse.rows<{ idempotency_key: string; status: string; error_code: string | null; http_status: number | string | null }>(
        `SELECT idempotency_key, status, error_code, http_status FROM ${database}.action_deliveries FINAL`,
      )).filter((row) => emitted.has(row.idempotency_key));
    const seen: Record<string, number> = {};
    await waitFor(async () => {
      const records = (await signalsReader!.poll(1000, 200)).filter((record) => record.key?.toString().startsWith(`${prefix}-`));
      for (const decoded of await rt.codecs.signal.decodeBatch(records.map((record) => record.value))) {
        if (!decoded.ok) throw new Error(`a signal of this run does not decode: ${JSON.stringify(decoded)}`);
        const { signal_id, action, status } = decoded.value;
        if (status === 'emitted') emitted.set(`${signal_id}:${action}`, { signal_id, action });
      }
      seen.events = await countOf(rt.clickhouse, database, 'events');
      const [table] = await rt.clickhouse.rows<{ n: string | number }>(`SELECT count() AS n FROM ${database}.signals FINAL WHERE status = 'emitted'`);
      seen.signalsTable = Number(table?.n ?? 0);
      seen.signalsTopic = emitted.size;
      seen.accepted = acceptedKeys().size;
      seen.deliveredRows = new Set((await attemptRows()).filter((row) => row.status === 'delivered').map((row) => row.idempotency_key)).size;
      return seen.events === day.length && seen.signalsTopic > 0 && seen.signalsTable === seen.signalsTopic && seen.accepted === seen.signalsTopic && seen.deliveredRows === seen.signalsTopic ? true : undefined;
    }, 75_000, 'every action of the day delivered').catch((error: Error) => {
      throw new Error(`${error.message}; seen ${JSON.stringify(seen)}`);
    });
    expect(await second.stop()).toBe(0);

    const expectedKeys = [...emitted.keys()].sort();
    // The kill came after some actions were accepted and before all were.
    expect(acceptedAtKill.size).toBeGreaterThan(0);
    expect(acceptedAtKill.size).toBeLessThan(expectedKeys.length);
    // Every emitted signal's action reached the receiver: accepted keys = signal_id:action of the signals on the topic.
    expect([...acceptedKeys()].sort()).toEqual(expectedKeys);
    const ours = mine();
    for (const attempt of ours) expect(attempt.key).toBe(`${attempt.body.signal.signal_id}:${attempt.body.action}`);
    // Processed once per key by the deduplicating receiver: a repeat (the restarted worker redelivering the killed one's
    // unfinished poll) comes under the same key and is answered as a duplicate.
    for (const key of expectedKeys) expect(chaos.accepted.get(key), key).toBe(1);
    const repeats = ours.filter((attempt) => attempt.duplicate).length;
    // The chaos happened: each kind of failure, about a third of all requests.
    const answers = ours.map((attempt) => attempt.answer);
    const failed = { http_500: answers.filter((answer) => answer === 500).length, timeout: answers.filter((answer) => answer === 'stalled').length, closed: answers.filter((answer) => answer === 'closed').length };
    expect(failed.http_500).toBeGreaterThan(0);
    expect(failed.timeout).toBeGreaterThan(0);
    expect(failed.closed).toBeGreaterThan(0);
    const failureShare = (failed.http_500 + failed.timeout + failed.closed) / answers.length;
    expect(failureShare).toBeGreaterThan(0.15);
    expect(failureShare).toBeLessThan(0.55);

    // action_deliveries (the worker's database): a delivered row per key, the failures with their codes, no dead letter.
    const rows = await attemptRows();
    const byCode = new Map<string, number>();
    for (const row of rows.filter((row) => row.status === 'failed')) {
      const code = `${row.error_code}/${row.http_status ?? 'null'}`;
      byCode.set(code, (byCode.get(code) ?? 0) + 1);
    }
    expect([...byCode.keys()].sort()).toEqual(['connection_reset/null', 'http_500/500', 'timeout/null']);
    expect(rows.filter((row) => row.status !== 'failed' && row.status !== 'delivered')).toEqual([]);
    // Rows are written with their poll's commit: the killed worker's unfinished poll left none, so the rows hold at most
    // the receiver's failures, and at least the restarted worker's.
    const failedRows = [...byCode.values()].reduce((sum, n) => sum + n, 0);
    const isFailure = (answer: unknown) => answer === 500 || answer === 'stalled' || answer === 'closed';
    expect(failedRows).toBeLessThanOrEqual(failed.http_500 + failed.timeout + failed.closed);
    expect(failedRows).toBeGreaterThanOrEqual(ours.slice(requestsBeforeRestart).filter((attempt) => isFailure(attempt.answer)).length);
    // (A key may have two delivered rows: a poll whose rows were written but whose offsets the kill left uncommitted.)
    const deliveredKeys = [...new Set(rows.filter((row) => row.status === 'delivered').map((row) => row.idempotency_key))].sort();
    expect(deliveredKeys).toEqual(expectedKeys);
    // Nothing on the actions dead-letter topic for this run.
    const { deadLetter } = await actionCodecs(rt);
    const letters = await deadLetter.decodeBatch((await rt.log.readPartitions(ACTION_TOPICS.deadLetters, [0])).map((record) => record.value));
    expect(letters.filter((letter) => letter.ok && letter.value.customer_id.startsWith(`${prefix}-`))).toEqual([]);
    console.log(`chaos ${run} (receiver seed ${RECEIVER_SEED}): ${expectedKeys.length} actions, ${acceptedAtKill.size} accepted before the kill, ${ours.length} requests (${JSON.stringify(failed)}), ${repeats} repeats deduplicated, ${failedRows} failed attempt rows`);
  }, 120_000);
});

// Action delivery against the real broker and a real HTTP receiver: retries and a timeout still deliver each action once per key, a dead receiver dead-letters after maxAttempts, a stopped worker resumes from its committed offsets.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDestinations } from '../../actions/destinations.ts';
import type { ActionDeliveryOptions } from '../../actions/delivery-worker.ts';
import { runActionDelivery } from '../../actions/delivery-worker.ts';
import type { ActionDeadLetter, ActionDeliveryRow, DeliverableSignal } from '../../actions/records.ts';
import { MetricsRecorder } from '../../engine/index.ts';
import { KafkajsLog } from '../../log/kafkajs.ts';
import type { Log } from '../../log/log.ts';
import { loadSchema } from '../../schemas/avro.ts';
import { AvroWireCodec } from '../../schemas/codec.ts';
import type { Signal } from '../../schemas/outputs.ts';
import { LocalSchemaRegistry } from '../../schemas/registry.ts';
import type { ActionReceiver } from '../support/action-receiver.ts';
import { startActionReceiver } from '../support/action-receiver.ts';
import { requireEnvironment, runId, waitFor } from '../support/environment.ts';

const brokers = requireEnvironment('TOUCHSTREAM_TEST_KAFKA_BROKERS').split(',');
const run = runId();
let log: Log;
let codec: AvroWireCodec<Signal>;
const receivers: ActionReceiver[] = [];

beforeAll(async () => {
  log = new KafkajsLog({ brokers, clientId: `actions-test-${run}`, logLevel: logLevel.ERROR });
  const registry = new LocalSchemaRegistry(join(mkdtempSync(join(tmpdir(), 'touchstream-actions-')), 'registry.json'));
  codec = await new AvroWireCodec<Signal>(registry, 'touchstream.signals-value', loadSchema('signal')).init();
});

afterAll(async () => {
  for (const receiver of receivers) await receiver.close();
  await log.close();
});

const signalsOf = (count: number, action = 'support_case'): Signal[] =>
  Array.from({ length: count }, (_, index) => ({
    signal_id: `${run}-sig-${index}`,
    customer_id: `c${index}`,
    session_id: null,
    action,
    channel: 'call_center',
    priority: 100,
    rule_id: 'support_callback',
    reason: 'NPS detractor',
    evidence_event_ids: [`e${index}`],
    triggered_at: 1_760_000_000_000 + index,
    emitted_at: 1_760_000_000_100 + index,
    expires_at: 1_760_086_400_000 + index,
    status: 'emitted',
    audience: 'internal',
    context: null,
  }));

/** A signals topic written like the pipeline writes it: in transactions, keyed by customer. */
async function signalsTopic(name: string, signals: readonly Signal[], extra: readonly Signal[] = []): Promise<string> {
  const topic = `actions-test-${run}-${name}`;
  await log.createTopics([{ topic, partitions: 3 }]);
  const producer = await log.producer();
  try {
    await producer.send(topic, [...signals, ...extra].map((signal) => ({ key: signal.customer_id, value: codec.encode(signal) })));
  } finally {
    await producer.close();
  }
  return topic;
}

/** A counter's value for exactly these labels (MetricsRecorder keys them name{label="value",…}, labels sorted). */
const counter = (metrics: MetricsRecorder, name: string, labels: Record<string, string>) =>
  metrics.counters.get(`${name}{${Object.keys(labels).sort().map((label) => `${label}="${labels[label]}"`).join(',')}}`) ?? 0;

interface Collected {
  rows: ActionDeliveryRow[];
  letters: ActionDeadLetter[];
}

function deliveryOptions(topic: string, group: string, destination: Record<string, unknown>, collected: Collected, overrides: Partial<ActionDeliveryOptions> = {}): ActionDeliveryOptions {
  return {
    log,
    groupId: `actions-test-${run}-${group}`,
    topic,
    decode: async (values) => (await codec.decodeBatch(values)).map((decoded) => (decoded.ok ? (decoded.value as DeliverableSignal) : null)),
    routing: parseDestinations({ destinations: { ops: destination }, actions: { support_case: 'ops' } }, {}),
    writeAttempts: async (rows) => void collected.rows.push(...rows),
    writeDeadLetters: async (letters) => void collected.letters.push(...letters),
    bounded: true,
    poll: { maxRecords: 10, timeoutMs: 200 },
    ...overrides,
  };
}

describe('action delivery on the real broker', () => {
  it('delivers every action exactly once per Idempotency-Key through failures and a timeout', async () => {
    const stalledKey = `${run}-sig-3:support_case`;
    const receiver = await startActionReceiver({
      // The first two attempts of every key fail (503, then 500); the third attempt of one key stalls past the timeout.
      answer: (key, attempt) => (attempt === 1 ? 503 : attempt === 2 ? 500 : key === stalledKey && attempt === 3 ? 'stall' : 201),
      stallMs: 3000,
    });
    receivers.push(receiver);
    const signals = signalsOf(12);
    // An unmapped action and a suppressed signal on the topic: neither is delivered.
    const topic = await signalsTopic('flaky', signals, [{ ...signalsOf(1, 'cart_reminder')[0]!, signal_id: `${run}-unmapped` }, { ...signalsOf(1)[0]!, signal_id: `${run}-suppressed`, status: 'suppressed' }]);
    const collected: Collected = { rows: [], letters: [] };
    const metrics = new MetricsRecorder();
    const result = await runActionDelivery(
      deliveryOptions(topic, 'flaky', { type: 'webhook', url: receiver.url, timeoutMs: 500, maxAttempts: 5, backoff: { initialMs: 20, maxMs: 100 }, circuitBreaker: { failureThreshold: 1000, resetMs: 100 } }, collected, { metrics }),
    );
    expect(result).toEqual({ signals: 14, delivered: 12, deadLettered: 0, unmapped: 1 });
    // The receiver, deduplicating by key, processed each signal's action once: distinct keys = signals.
    expect([...receiver.accepted.keys()].sort()).toEqual(signals.map((signal) => `${signal.signal_id}:support_case`).sort());
    expect([...receiver.accepted.values()].every((count) => count === 1)).toBe(true);
    expect(receiver.duplicates.size).toBe(0);
    // Every attempt of a key is the same action of the same signal.
    for (const attempt of receiver.attempts) expect(attempt.key).toBe(`${attempt.body.signal.signal_id}:${attempt.body.action}`);
    expect(receiver.attemptsOf(stalledKey).map((attempt) => attempt.answer)).toEqual([503, 500, 'stalled', 201]);
    expect(receiver.attemptsOf(`${run}-sig-0:support_case`).map((attempt) => attempt.answer)).toEqual([503, 500, 201]);
    // A row per attempt, with the codes the receiver caused.
    const stalledRows = collected.rows.filter((row) => row.idempotency_key === stalledKey).sort((a, b) => a.attempt - b.attempt);
    expect(stalledRows.map((row) => [row.attempt, row.status, row.http_status, row.error_code])).toEqual([
      [1, 'failed', 503, 'http_503'], [2, 'failed', 500, 'http_500'], [3, 'failed', null, 'timeout'], [4, 'delivered', 201, null],
    ]);
    expect(stalledRows[2]!.latency_ms).toBeGreaterThanOrEqual(450);
    expect(collected.rows).toHaveLength(12 * 3 + 1);
    expect(collected.letters).toEqual([]);
    expect(counter(metrics, 'touchstream_actions_delivered_total', { destination: 'ops' })).toBe(12);
    expect(counter(metrics, 'touchstream_actions_unmapped_total', { action: 'cart_reminder' })).toBe(1);
  });

  it('dead-letters after maxAttempts when the receiver always fails, and at once when it refuses for good', async () => {
    const refusedKey = `${run}-sig-2:support_case`;
    const receiver = await startActionReceiver({ answer: (key) => (key === refusedKey ? 422 : 500) });
    receivers.push(receiver);
    const topic = await signalsTopic('dead', signalsOf(4));
    const collected: Collected = { rows: [], letters: [] };
    const metrics = new MetricsRecorder();
    const result = await runActionDelivery(
      deliveryOptions(topic, 'dead', { type: 'webhook', url: receiver.url, maxAttempts: 3, backoff: { initialMs: 10, maxMs: 50 }, circuitBreaker: { failureThreshold: 4, resetMs: 100 } }, collected, { metrics }),
    );
    expect(result).toMatchObject({ delivered: 0, deadLettered: 4 });
    expect(receiver.accepted.size).toBe(0);
    for (let index = 0; index < 4; index++) {
      const key = `${run}-sig-${index}:support_case`;
      expect(receiver.attemptsOf(key)).toHaveLength(key === refusedKey ? 1 : 3);
    }
    const letters = [...collected.letters].sort((a, b) => a.signal_id.localeCompare(b.signal_id));
    expect(letters.map((letter) => [letter.signal_id, letter.attempts, letter.error_code, letter.http_status])).toEqual([
      [`${run}-sig-0`, 3, 'http_500', 500], [`${run}-sig-1`, 3, 'http_500', 500], [`${run}-sig-2`, 1, 'http_422', 422], [`${run}-sig-3`, 3, 'http_500', 500],
    ]);
    // Ids and codes only: no payload, no URL.
    expect(Object.keys(letters[0]!).sort()).toEqual(['action', 'attempts', 'customer_id', 'dead_lettered_at', 'destination', 'error_code', 'http_status', 'idempotency_key', 'signal_id']);
    expect(JSON.stringify(letters)).not.toContain(receiver.url);
    expect(collected.rows.filter((row) => row.status === 'dead_lettered')).toHaveLength(4);
    // 9 failures against a threshold of 4 consecutive: the circuit opened (and let trials through after resetMs).
    expect(counter(metrics, 'touchstream_action_circuit_opened_total', { destination: 'ops' })).toBeGreaterThanOrEqual(1);
    expect(counter(metrics, 'touchstream_actions_dead_lettered_total', { destination: 'ops', reason: 'attempts_exhausted' })).toBe(3);
    expect(counter(metrics, 'touchstream_actions_dead_lettered_total', { destination: 'ops', reason: 'refused' })).toBe(1);
  });

  it('resumes from its committed offsets after being stopped mid-way: nothing lost, repeats only under the same key', async () => {
    const receiver = await startActionReceiver({ answer: () => 200, delayMs: 30 });
    receivers.push(receiver);
    const signals = signalsOf(40);
    const topic = await signalsTopic('restart', signals);
    const destination = { type: 'webhook', url: receiver.url, backoff: { initialMs: 10, maxMs: 50 } };
    const first: Collected = { rows: [], letters: [] };
    const stop = new AbortController();
    const running = runActionDelivery(deliveryOptions(topic, 'restart', destination, first, { bounded: false, signal: stop.signal, poll: { maxRecords: 5, timeoutMs: 200 }, concurrency: 2 }));
    await waitFor(async () => (receiver.accepted.size >= 12 ? true : undefined), 60_000, '12 actions delivered');
    stop.abort();
    const stopped = await running;
    expect(stopped.delivered).toBeLessThan(40);
    const acceptedBefore = new Set(receiver.accepted.keys());
    // The second worker of the same group: resumes where the first committed.
    const second: Collected = { rows: [], letters: [] };
    const resumed = await runActionDelivery(deliveryOptions(topic, 'restart', destination, second, { poll: { maxRecords: 5, timeoutMs: 200 }, concurrency: 2 }));
    // No action lost: every signal's key was accepted.
    expect([...receiver.accepted.keys()].sort()).toEqual(signals.map((signal) => `${signal.signal_id}:support_case`).sort());
    expect([...receiver.accepted.values()].every((count) => count === 1)).toBe(true);
    // It did not start over: only the poll in flight at the stop (≤ 5 signals) is delivered again, under the same keys.
    const repeated = [...receiver.duplicates.keys()];
    expect(repeated.length).toBeLessThanOrEqual(5);
    for (const key of repeated) expect(acceptedBefore.has(key)).toBe(true);
    expect(resumed.signals).toBeLessThanOrEqual(40 - stopped.delivered + 5);
    expect(stopped.delivered + resumed.delivered).toBeGreaterThanOrEqual(40);
  });

  it('a bounded run from committed offsets ends, also when partitions have nothing new since the last one (a second replay)', async () => {
    const receiver = await startActionReceiver({ answer: () => 200 });
    receivers.push(receiver);
    // Three partitions; the later signal lands in one of them only.
    const topic = await signalsTopic('again', signalsOf(6));
    const destination = { type: 'webhook', url: receiver.url, backoff: { initialMs: 10, maxMs: 50 } };
    const first = await runActionDelivery(deliveryOptions(topic, 'again', destination, { rows: [], letters: [] }));
    expect(first.delivered).toBe(6);
    const producer = await log.producer();
    const later = { ...signalsOf(1)[0]!, signal_id: `${run}-later`, customer_id: 'c-later' };
    await producer.send(topic, [{ key: later.customer_id, value: codec.encode(later) }]);
    await producer.close();
    const started = Date.now();
    const second = await runActionDelivery(deliveryOptions(topic, 'again', destination, { rows: [], letters: [] }));
    expect(second).toEqual({ signals: 1, delivered: 1, deadLettered: 0, unmapped: 0 });
    // A third run finds nothing new anywhere, and ends too.
    const third = await runActionDelivery(deliveryOptions(topic, 'again', destination, { rows: [], letters: [] }));
    expect(third).toEqual({ signals: 0, delivered: 0, deadLettered: 0, unmapped: 0 });
    expect(Date.now() - started).toBeLessThan(60_000);
    expect([...receiver.accepted.values()].every((count) => count === 1)).toBe(true);
    expect(receiver.accepted.size).toBe(7);
  });
});

// The detractor fan-out end to end on the real broker and ClickHouse server: a detractor whose comment names a product fault gives four signals with their context on touchstream.signals; `--destinations` (the issue's YAML shape) delivers the internal actions to a real HTTP receiver once per Idempotency-Key; KPI anomalies go to touchstream.alerts, never to the signals.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDestinations } from '../../actions/destinations.ts';
import { runActions } from '../../app/actions.ts';
import { loadConfig } from '../../app/config.ts';
import type { Runtime } from '../../app/runtime.ts';
import { openRuntime, replay } from '../../app/runtime.ts';
import type { LogRecord } from '../../log/log.ts';
import type { Alert, Signal } from '../../schemas/outputs.ts';
import { TOPICS } from '../../schemas/outputs.ts';
import { ndjsonReplay } from '../../sources/replay/ndjson-replay.ts';
import type { ActionReceiver } from '../support/action-receiver.ts';
import { startActionReceiver } from '../support/action-receiver.ts';
import { requireEnvironment, runId, waitFor } from '../support/environment.ts';

const run = runId();
const T0 = Date.parse('2026-11-20T09:00:00.000Z');
const minute = (n: number, seconds = 0) => new Date(T0 + n * 60_000 + seconds * 1000).toISOString();
const touchpoint = `tp-${run}`;
const customer = (name: string) => `${run}-${name}`;
/** The customer and audience of the signal a receiver got. */
const sent = (body: { signal: object }) => body.signal as { customer_id?: string; audience?: string };
const FAULT_COMMENT = 'The zipper of the jacket broke after two days and the app crashed when I tried to return it.';

/**
 * Three baseline minutes of promoters at one touchpoint, then a minute with three detractors of five (an anomaly of
 * the detractor share): d1 names a product fault, d2 does not, d3 leaves no comment.
 */
function events() {
  let sequence = 0;
  const nps = (who: string, at: string, score: number, comment: string | null) => ({
    event_id: `${run}-e${++sequence}`, type: 'survey_response', occurred_at: at, channel: 'survey', customer_id: customer(who), touchpoint,
    properties: { survey_id: 'post-purchase', metric: 'nps', score, ...(comment === null ? {} : { comment, language: 'en' }) },
  });
  const lines: unknown[] = [];
  for (let m = 0; m < 3; m++) for (let index = 0; index < 5; index++) lines.push(nps(`b${m}-${index}`, minute(m, index), 9, null));
  lines.push(nps('d1', minute(3, 1), 2, FAULT_COMMENT));
  lines.push(nps('d2', minute(3, 2), 4, 'Too expensive'));
  lines.push(nps('d3', minute(3, 3), 6, null));
  lines.push(nps('p1', minute(3, 4), 10, null));
  lines.push(nps('p2', minute(3, 5), 9, null));
  return lines;
}

describe('detractor fan-out on the real broker, delivered by --destinations', () => {
  let runtime: Runtime;
  let receiver: ActionReceiver;
  let delivery: { delivered: number; deadLettered: number } | undefined;
  const database = `ts_fanout_${run}`;

  beforeAll(async () => {
    // The internal actions of d1 and d2's CRM update fail once (503) before they are accepted: retried under the same key.
    receiver = await startActionReceiver({
      answer: (_key, attempt, body) => {
        const mine = String(sent(body).customer_id).startsWith(run);
        const failOnce = body.action === 'rnd_ticket' || (body.action === 'crm_update' && sent(body).customer_id === customer('d2'));
        return mine && failOnce && attempt === 1 ? 503 : 200;
      },
    });
    const dir = mkdtempSync(join(tmpdir(), 'touchstream-fanout-it-'));
    // The destinations file exactly in the issue's shape.
    const destinations = join(dir, 'destinations.yaml');
    writeFileSync(
      destinations,
      [
        'destinations:',
        `  ops-webhook: { type: webhook, url: "${receiver.url}", timeoutMs: 2000, maxAttempts: 8 }`,
        'actions:',
        '  support_case: ops-webhook',
        '  rnd_ticket: ops-webhook',
        '  crm_update: ops-webhook',
        '',
      ].join('\n'),
    );
    const config = loadConfig(
      {
        dataDir: dir,
        transport: 'kafkajs',
        kafka: { brokers: requireEnvironment('TOUCHSTREAM_TEST_KAFKA_BROKERS'), inputTopic: `fanout-events-${run}`, groupId: `fanout-${run}` },
        clickhouse: { url: requireEnvironment('TOUCHSTREAM_TEST_CLICKHOUSE_URL'), dialect: 'legacy', database },
        destinations,
        anomaly: { enabled: true, bucketMs: 60_000, baselineBuckets: 24, minBaselineBuckets: 3, minVolume: 5, threshold: 2.5, minIncrease: 0.1 },
      },
      {},
    );
    runtime = await openRuntime(config);
    // touchstream.signals is shared with every earlier run on this broker: this run's delivery group starts at its end.
    await runActions(runtime, { bounded: true, routing: parseDestinations({ destinations: {} }, {}) });
    const file = join(dir, 'journeys.ndjson');
    writeFileSync(file, `${events().map((line) => JSON.stringify(line)).join('\n')}\n`);
    const result = await replay(runtime, ndjsonReplay({ path: file }));
    expect(result.events).toBe(20);
    delivery = result.actions?.delivery;
  }, 240_000);

  afterAll(async () => {
    await receiver?.close();
    await runtime?.close();
  });

  /** This run's records on a shared topic (keys start with the run id or name this run's touchpoint). */
  async function mineOn(topic: string, group: string, count: number, keep: (record: LogRecord) => boolean): Promise<LogRecord[]> {
    const consumer = await runtime.log.consumer({ groupId: `fanout-${run}-${group}`, topics: [topic], start: 'earliest' });
    const mine: LogRecord[] = [];
    try {
      return await waitFor(async () => {
        for (let polls = 0; polls < 20; polls++) mine.push(...(await consumer.poll(10_000, 200)).filter(keep));
        return mine.length >= count ? mine : undefined;
      }, 60_000, `${count} records of this run on ${topic}`);
    } finally {
      await consumer.close();
    }
  }

  it('puts the four signals of the product-fault detractor, with their context, on touchstream.signals', async () => {
    const records = await mineOn(TOPICS.signals, 'signals', 10, (record) => record.key?.toString().startsWith(run) ?? false);
    expect(records).toHaveLength(10); // d1: 4, d2 and d3: 3 each (no R&D ticket); promoters: none
    const signals = (await runtime.codecs.signal.decodeBatch(records.map((record) => record.value))).map((decoded) => (decoded.ok ? decoded.value : null)) as Signal[];
    const of = (who: string) => signals.filter((signal) => signal.customer_id === customer(who)).map((signal) => [signal.action, signal.audience, signal.status]).sort();
    expect(of('d1')).toEqual([['crm_update', 'internal', 'emitted'], ['rnd_ticket', 'internal', 'emitted'], ['support_callback', 'customer', 'emitted'], ['support_case', 'internal', 'emitted']]);
    expect(of('d2')).toEqual([['crm_update', 'internal', 'emitted'], ['support_callback', 'customer', 'emitted'], ['support_case', 'internal', 'emitted']]);
    expect(of('d3')).toEqual(of('d2'));
    const d1 = signals.filter((signal) => signal.customer_id === customer('d1'));
    expect(new Set(d1.map((signal) => signal.signal_id)).size).toBe(4);
    for (const signal of d1) {
      expect(signal.context).toMatchObject({
        trigger: { type: 'survey_response', occurred_at: Date.parse(minute(3, 1)), channel: 'survey' },
        feedback: { survey_id: 'post-purchase', metric: 'nps', score: 2, comment: FAULT_COMMENT, product_fault_terms: ['broke', 'app', 'crashed'] },
        mention: null,
        session: null,
        experience: { last_nps: 2, last_nps_at: Date.parse(minute(3, 1)) },
      });
    }
  });

  it('delivers support_case, rnd_ticket and crm_update to the receiver once per Idempotency-Key, and writes every attempt', async () => {
    expect(delivery?.deadLettered).toBe(0);
    const ours = receiver.attempts.filter((attempt) => String(sent(attempt.body).customer_id).startsWith(run));
    const keys = [...new Set(ours.map((attempt) => attempt.key))];
    expect(ours.map((attempt) => `${String(sent(attempt.body).customer_id).slice(run.length + 1)}:${attempt.body.action}`).sort()).toEqual(
      ['d1:crm_update', 'd1:rnd_ticket', 'd1:rnd_ticket', 'd1:support_case', 'd2:crm_update', 'd2:crm_update', 'd2:support_case', 'd3:crm_update', 'd3:support_case'],
    );
    expect(keys).toHaveLength(7);
    for (const key of keys) {
      expect(receiver.accepted.get(key)).toBe(1);
      expect(receiver.duplicates.get(key)).toBeUndefined();
    }
    for (const attempt of ours) {
      expect(attempt.key).toBe(`${attempt.body.signal.signal_id}:${attempt.body.action}`);
      expect(sent(attempt.body).audience).toBe('internal');
    }
    const ticket = ours.find((attempt) => attempt.body.action === 'rnd_ticket')!;
    expect(ticket.body.context).toMatchObject({ feedback: { score: 2, comment: FAULT_COMMENT } });
    const rows = await runtime.clickhouse.rows<{ key: string; status: string; http_status: string | number | null }>(
      `SELECT idempotency_key AS key, status, http_status FROM ${database}.action_deliveries FINAL WHERE idempotency_key IN (${keys.map((key) => `'${key}'`).join(', ')}) ORDER BY key, attempted_at`,
    );
    expect(rows.filter((row) => row.status === 'delivered').map((row) => row.key).sort()).toEqual([...keys].sort());
    expect(rows.filter((row) => row.status === 'failed').map((row) => Number(row.http_status))).toEqual([503, 503]);
  });

  it('sends the KPI anomaly to touchstream.alerts and the alerts table, and none to the signals', async () => {
    const records = await mineOn(TOPICS.alerts, 'alerts', 1, (record) => record.key?.toString() === `detractor_share:${touchpoint}`);
    expect(records).toHaveLength(1);
    const [decoded] = await runtime.codecs.alert.decodeBatch(records.map((record) => record.value));
    const alert = (decoded!.ok ? decoded!.value : null) as Alert;
    expect(alert).toMatchObject({
      kpi: 'detractor_share', dimension: 'touchpoint', dimension_value: touchpoint, channel: 'survey', rate: 0.6, baseline: 0, bad: 3, total: 5,
      window_start: Date.parse(minute(3)), window_end: Date.parse(minute(4)),
    });
    expect(alert.evidence_event_ids).toHaveLength(3);
    const table = await runtime.clickhouse.rows<{ alert_id: string; kpi: string }>(`SELECT alert_id, kpi FROM ${database}.alerts FINAL`);
    expect(table).toEqual([{ alert_id: alert.alert_id, kpi: 'detractor_share' }]);
    const signalRows = await runtime.clickhouse.rows<{ action: string; n: string | number; contexts: string | number }>(
      `SELECT action, count() AS n, countIf(context != '{}') AS contexts FROM ${database}.signals FINAL GROUP BY action ORDER BY action`,
    );
    expect(signalRows.map((row) => [row.action, Number(row.n), Number(row.contexts)])).toEqual([
      ['crm_update', 3, 3], ['rnd_ticket', 1, 1], ['support_callback', 3, 3], ['support_case', 3, 3],
    ]);
  });
});

// Consent through the real broker (Avro on the input topic) into the 18.16 server: a marketing signal without consent is recorded suppressed with reason no_consent and never published; analytics: false rows are in the tables without the person and still in the KPI roll-up.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import type { Runtime } from '../../app/runtime.ts';
import { inputPublisher, openRuntime, runPipeline } from '../../app/runtime.ts';
import type { CxEvent } from '../../schemas/events.ts';
import { parseEvent } from '../../schemas/events.ts';
import { TOPICS } from '../../schemas/outputs.ts';
import { requireEnvironment, runId } from '../support/environment.ts';

const MIN = 60_000;

describe('consent on Kafka and the ClickHouse 18.16 server', () => {
  const run = runId();
  const database = `ts_consent_${run}`;
  const T0 = Math.floor((Date.now() - 6 * 60 * MIN) / MIN) * MIN;
  let runtime: Runtime;
  const customer = (name: string) => `${name}-${run}`;
  const event = (suffix: string, who: string, minute: number, type: string, properties: object, consent?: object): CxEvent => {
    const parsed = parseEvent({ event_id: `${run}-${suffix}`, type, occurred_at: new Date(T0 + minute * MIN).toISOString(), channel: 'web', customer_id: customer(who), properties, ...(consent ? { consent } : {}) }, Date.now());
    if (!parsed.ok) throw new Error(parsed.failure.message);
    return parsed.event;
  };
  /** An abandoned cart worth 30: the default rules' e-mail cart_reminder when the session closes. */
  const cart = (who: string, consent?: object) => [event(`${who}-1`, who, 0, 'add_to_cart', { product_id: 'sku', price: 30, quantity: 1 }, consent), event(`${who}-2`, who, 1, 'page_view', { page: '/cart', page_type: 'cart' })];
  const rows = (sql: string) => runtime.clickhouse.rows<Record<string, unknown>>(sql.replaceAll('$db', database));

  beforeAll(async () => {
    runtime = await openRuntime(loadConfig({
      dataDir: mkdtempSync(join(tmpdir(), 'touchstream-consent-')),
      transport: 'rdkafka',
      kafka: { brokers: requireEnvironment('TOUCHSTREAM_TEST_KAFKA_BROKERS'), inputTopic: `it-consent-${run}`, erasureTopic: `it-consent-erasure-${run}`, groupId: `it-consent-${run}`, partitions: 1 },
      clickhouse: { url: requireEnvironment('TOUCHSTREAM_TEST_CLICKHOUSE_URL'), dialect: 'legacy', database },
    }, {}));
    await inputPublisher(runtime).publish([...cart('yes', { marketing: true }), ...cart('no', { marketing: false }), ...cart('private', { analytics: false })]);
    await runPipeline(runtime, { boundedBy: await runtime.log.endOffsets(runtime.config.kafka.inputTopic) });
  }, 90_000);

  afterAll(async () => {
    await runtime?.clickhouse.command(`DROP DATABASE IF EXISTS ${database}`).catch(() => {});
    await runtime?.close();
  });

  it('records the marketing signal of a customer who said no as suppressed, no_consent, and publishes only the others', async () => {
    const signals = await rows(`SELECT customer_id, action, status, reason FROM $db.signals FINAL WHERE action = 'cart_reminder' ORDER BY customer_id`);
    expect(signals.map((row) => [row.customer_id, row.status, row.status === 'suppressed' ? row.reason : ''])).toEqual([
      [customer('no'), 'suppressed', 'no_consent'], [customer('private'), 'emitted', ''], [customer('yes'), 'emitted', ''],
    ]);
    const published = await runtime.log.readPartitions(TOPICS.signals, (await runtime.log.endOffsets(TOPICS.signals)).map((end) => end.partition));
    expect(published.some((record) => String(record.key) === customer('no'))).toBe(false);
    expect(published.some((record) => String(record.key) === customer('yes'))).toBe(true);
  });

  it('keeps analytics: false rows without the person, and counts them in the roll-up', async () => {
    const events = await rows(`SELECT event_id, customer_id FROM $db.events FINAL WHERE event_id LIKE '${run}-private-%' ORDER BY event_id`);
    expect(events.map((row) => [row.event_id, row.customer_id])).toEqual([[`${run}-private-1`, ''], [`${run}-private-2`, '']]);
    expect((await rows(`SELECT count() AS n FROM $db.sessions FINAL WHERE customer_id = '${customer('private')}'`))[0]!.n).toBe('0');
    expect((await rows(`SELECT count() AS n FROM $db.sessions FINAL WHERE customer_id = '' AND started_at = toDateTime(${T0 / 1000})`))[0]!.n).toBe('1');
    // Three customers' sessions in the roll-up, the private one included.
    const [rollup] = await rows(`SELECT sum(sessions) AS sessions FROM $db.kpi_minute FINAL`);
    expect(Number(rollup!.sessions)).toBe(3);
  });
});

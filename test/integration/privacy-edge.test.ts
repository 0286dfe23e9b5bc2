// With a pseudonymisation key, no raw customer id reaches the input, output, row or changelog topics, the tables or the dead letters, from any source; free text arrives scrubbed.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector } from '../../app/collect.ts';
import type { RunningCollector } from '../../app/collect.ts';
import { loadConfig } from '../../app/config.ts';
import type { Runtime } from '../../app/runtime.ts';
import { ingest, openRuntime, runPipeline } from '../../app/runtime.ts';
import { rowTopicOf, TABLE_OUTPUTS } from '../../app/table-outputs.ts';
import { changelogTopicOf } from '../../engine/changelog.ts';
import type { LogRecord } from '../../log/log.ts';
import { scoreSentiment } from '../../pipelines/cx/sentiment.ts';
import { loadKeyFile, openBytes, PSEUDONYM_PATTERN, Pseudonymiser, sealedKeyId } from '../../privacy/index.ts';
import { eventFromAvro, eventToAvro } from '../../schemas/avro.ts';
import { parseEvent } from '../../schemas/events.ts';
import type { CxEvent } from '../../schemas/events.ts';
import { TOPICS } from '../../schemas/outputs.ts';
import { TABLES } from '../../sinks/clickhouse/tables.ts';
import { kafkaTopicSource } from '../../sources/kafka/topic-source.ts';
import { ndjsonReplay } from '../../sources/replay/ndjson-replay.ts';
import { requireEnvironment, runId } from '../support/environment.ts';

describe('privacy at the source edge, on the real broker and ClickHouse', () => {
  const run = runId();
  /** Every raw id of this run contains this marker: finding it anywhere downstream is a leak. */
  const RAW = `raw${run}`;
  const id = (name: string) => `${RAW}-${name}`;
  const database = `ts_privacy_${run}`;
  const writeKey = `wk-${run}`;
  let runtime: Runtime;
  let collector: RunningCollector;
  let pseudonymiser: Pseudonymiser;
  let keyId: string;
  let keyPath: string;
  const at = (minute: number) => new Date(Date.parse('2026-11-02T10:00:00.000Z') + minute * 60_000).toISOString();

  const readAll = async (topic: string): Promise<LogRecord[]> => {
    const ends = await runtime.log.endOffsets(topic);
    return runtime.log.readPartitions(topic, ends.map((end) => end.partition));
  };
  const leaks = (records: readonly LogRecord[]) =>
    records.filter((record) => String(record.key ?? '').includes(RAW) || Buffer.from(record.value).includes(RAW));

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'touchstream-privacy-'));
    keyPath = join(dataDir, 'pseudonymisation.key');
    writeFileSync(keyPath, `${randomBytes(48).toString('base64')}\n`, { mode: 0o600 });
    const key = loadKeyFile(keyPath);
    pseudonymiser = new Pseudonymiser(key);
    keyId = key.keyId;
    const config = loadConfig({
      dataDir,
      transport: 'rdkafka',
      kafka: { brokers: requireEnvironment('TOUCHSTREAM_TEST_KAFKA_BROKERS'), inputTopic: `it-privacy-${run}`, groupId: `it-privacy-${run}` },
      clickhouse: { url: requireEnvironment('TOUCHSTREAM_TEST_CLICKHOUSE_URL'), dialect: 'legacy', database },
      collector: { port: 0, writeKeys: [writeKey] },
    }, { TOUCHSTREAM_PSEUDONYMISATION_KEY_FILE: keyPath });
    runtime = await openRuntime(config);
    collector = await startCollector(runtime);
    const post = async (path: string, body: string | object, contentType = 'application/json') => {
      const response = await fetch(`${collector.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${writeKey}`, 'content-type': contentType },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return response.status;
    };

    // 1. Collector: an anonymous visit that logs in, two checkout errors (a live signal), one bad event, one body that is not JSON.
    const web = (suffix: string, minute: number, type: string, properties: object, ids: object) =>
      ({ event_id: `${run}-${suffix}`, type, occurred_at: at(minute), channel: 'web', properties, ...ids });
    expect(await post('/v1/events/batch', [
      web('w1', 0, 'page_view', { page: `/login?email=${id('alice')}@example.de`, page_type: 'home' }, { anonymous_id: id('anon') }),
      web('w2', 1, 'page_view', { page: '/cart', page_type: 'cart' }, { customer_id: id('alice'), anonymous_id: id('anon') }),
      web('w3', 2, 'add_to_cart', { product_id: 'sku-1', price: 30, quantity: 1 }, { customer_id: id('alice') }),
      web('w4', 3, 'checkout_error', { code: 'card_declined' }, { customer_id: id('alice') }),
      web('w5', 4, 'checkout_error', { code: 'card_declined' }, { customer_id: id('alice') }),
      web('bad', 5, 'teleport', {}, { customer_id: id('alice') }),
    ])).toBe(207);
    expect(await post('/v1/events', `${id('alice')} sent this, not JSON`)).toBe(400);

    // 2. Survey webhook: a detractor with personal data in the comment; a response out of range.
    expect(await post('/v1/webhooks/survey', [
      { response_id: `${run}-r1`, respondent: id('bob'), survey: 'post-purchase', question_type: 'nps', score: 3, language: 'de',
        comment: 'Schlechter Service! Ruft mich an: 0171 1234567 oder schreibt an bob.mustermann@example.de', submitted_at: at(10) },
      { response_id: `${run}-r2`, respondent: id('bob'), survey: 'post-purchase', question_type: 'nps', score: 11, submitted_at: at(11) },
    ])).toBe(207);

    // 3. Social webhook: an author (the anonymous key platform:author) with an IBAN and a card number in the text.
    expect(await post('/v1/webhooks/social', { id: `${run}-p1`, platform: 'x', author: id('carol'), language: 'en', created_at: at(12),
      text: 'Terrible refund process, still nothing on DE89 3704 0044 0532 0130 00 and my card 4111 1111 1111 1111 was charged twice' })).toBe(202);

    // 4. Replay (NDJSON): a customer's click and a line with an unknown type.
    const file = join(dataDir, 'replay.ndjson');
    writeFileSync(file, [
      JSON.stringify({ event_id: `${run}-f1`, type: 'click', occurred_at: at(20), channel: 'app', customer_id: id('dave'), properties: { element: 'buy' } }),
      JSON.stringify({ event_id: `${run}-f2`, type: 'teleport', occurred_at: at(21), channel: 'app', customer_id: id('dave'), properties: {} }),
    ].join('\n'));
    expect(await ingest(runtime, ndjsonReplay({ path: file }))).toEqual({ events: 1, rejected: 1 });

    // 5. ingest-topic (a JSON topic): a contact and a record that is not JSON.
    const foreign = `it-privacy-foreign-${run}`;
    await runtime.log.createTopics([{ topic: foreign, partitions: 1 }]);
    await runtime.producer.send(foreign, [
      { key: id('erin'), value: Buffer.from(JSON.stringify({ event_id: `${run}-t1`, type: 'contact', occurred_at: at(30), channel: 'call_center', customer_id: id('erin'), properties: { kind: 'call', reason: 'IBAN DE89370400440532013000 falsch' } })) },
      { key: id('erin'), value: Buffer.from(`{"customer_id": "${id('erin')}", broken`) },
    ]);
    expect(await ingest(runtime, kafkaTopicSource({ topic: foreign, format: 'json' }, { log: runtime.log }))).toEqual({ events: 1, rejected: 1 });

    // 6. Past every source: a raw event and raw garbage written straight onto the input topic (the pipeline's edge catches them).
    const direct = (parseEvent({ event_id: `${run}-d1`, type: 'click', occurred_at: at(40), channel: 'web', customer_id: id('frank'), properties: { element: 'x' } }, Date.now()) as { event: CxEvent }).event;
    await runtime.producer.send(runtime.config.kafka.inputTopic, [
      { key: id('frank'), value: runtime.codecs.event.encode(eventToAvro(direct)) },
      { key: null, value: Buffer.from(`not avro: ${id('frank')}`) },
    ]);

    const boundedBy = await runtime.log.endOffsets(runtime.config.kafka.inputTopic);
    await runPipeline(runtime, { boundedBy });
  });

  afterAll(async () => {
    await collector?.close();
    await runtime?.close();
  });

  it('puts only pseudonyms on the input topic, as keys and in the events', async () => {
    const records = await readAll(runtime.config.kafka.inputTopic);
    const decoded = await runtime.codecs.event.decodeBatch(records.filter((record) => record.value[0] === 0).map((record) => record.value));
    const events = decoded.flatMap((result) => (result.ok ? [eventFromAvro(result.value)!] : []));
    // The direct raw event is there as written (the topic is the pipeline's input, not its output); everything else is pseudonymous.
    const fromSources = events.filter((event) => event.event_id !== `${run}-d1`);
    expect(fromSources.filter((event) => event.handover === undefined).map((event) => event.event_id).sort()).toEqual(
      [`${run}-w1`, `${run}-w2`, `${run}-w3`, `${run}-w4`, `${run}-w5`, 'survey:post-purchase:' + `${run}-r1`, `x:${run}-p1`, `${run}-f1`, `${run}-t1`].sort());
    // Identity stitching's copy of the anonymous page view (for the customer) and the login's link (to the anonymous
    // id's partition), made on the pseudonyms: checked for raw ids below like the rest.
    expect(fromSources.filter((event) => event.handover !== undefined).map((event) => [event.event_id, event.handover]).sort()).toEqual([[`${run}-w1`, 'copy'], [`${run}-w2`, 'link']]);
    for (const event of fromSources) {
      for (const value of [event.customer_id, event.anonymous_id]) if (value !== null) expect(value).toMatch(PSEUDONYM_PATTERN);
    }
    expect(leaks(records.filter((record) => !String(record.key ?? '').includes('frank') && !record.value.includes('frank')))).toEqual([]);
    const login = fromSources.find((event) => event.event_id === `${run}-w2`)!;
    expect(login.customer_id).toBe(pseudonymiser.pseudonym(id('alice')));
    expect(login.anonymous_id).toBe(pseudonymiser.pseudonym(id('anon')));
    expect(login.customer_id!.startsWith(`p1:${keyId}:`)).toBe(true);
  });

  it('leaves no raw id in any table, and keys the rows by pseudonyms', async () => {
    for (const table of TABLES) {
      const text = await runtime.clickhouse.text(`SELECT * FROM ${database}.${table.name}`, 'TabSeparated');
      expect(text.includes(RAW), `raw id in table ${table.name}`).toBe(false);
    }
    const customers = await runtime.clickhouse.rows<{ customer_id: string }>(`SELECT DISTINCT customer_id FROM ${database}.events ORDER BY customer_id`);
    expect(customers.map((row) => row.customer_id).sort()).toEqual(
      [id('alice'), id('anon'), id('bob'), `x:${id('carol')}`, id('dave'), id('erin'), id('frank')].map((raw) => pseudonymiser.pseudonym(raw)).sort()
        // The anonymous page view before the login is keyed by its anonymous id: both appear.
        .filter((value, index, all) => all.indexOf(value) === index));
    const sessions = await runtime.clickhouse.rows<{ customer_id: string }>(`SELECT customer_id FROM ${database}.sessions FINAL`);
    expect(sessions.length).toBeGreaterThan(0);
    for (const session of sessions) expect(session.customer_id).toMatch(PSEUDONYM_PATTERN);
    const signals = await runtime.clickhouse.rows<{ customer_id: string; action: string }>(`SELECT customer_id, action FROM ${database}.signals FINAL ORDER BY action`);
    expect(signals).toEqual(expect.arrayContaining([
      { customer_id: pseudonymiser.pseudonym(id('alice')), action: 'live_chat_offer' },
      { customer_id: pseudonymiser.pseudonym(id('bob')), action: 'support_callback' },
      { customer_id: pseudonymiser.pseudonym(`x:${id('carol')}`), action: 'social_care' },
    ]));
  });

  it('stores free text scrubbed, with the sentiment of the scrubbed text', async () => {
    const [feedback] = await runtime.clickhouse.rows<{ comment: string; sentiment_score: number }>(`SELECT comment, sentiment_score FROM ${database}.feedback FINAL`);
    expect(feedback!.comment).toBe('Schlechter Service! Ruft mich an: [phone] oder schreibt an [email]');
    expect(feedback!.sentiment_score).toBeCloseTo(scoreSentiment('Schlechter Service! Ruft mich an: oder schreibt an', 'de').score, 6);
    expect(feedback!.sentiment_score).toBeLessThan(-0.05);
    const [mention] = await runtime.clickhouse.rows<{ text: string; sentiment_label: string }>(`SELECT text, sentiment_label FROM ${database}.social_mentions FINAL`);
    expect(mention!.text).toBe('Terrible refund process, still nothing on [iban] and my card [card] was charged twice');
    expect(mention!.sentiment_label).toBe('negative');
    const [page] = await runtime.clickhouse.rows<{ properties: string }>(`SELECT properties FROM ${database}.events FINAL WHERE event_id = '${run}-w1'`);
    expect(JSON.parse(page!.properties).page).toBe('/login?email=[email]');
  });

  it('seals every dead letter\'s original bytes; its reason names no payload; the key opens them again', async () => {
    const rows = await runtime.clickhouse.rows<{ source: string; reason_code: string; message: string; original: string }>(
      `SELECT source, reason_code, message, original FROM ${database}.rejected_events FINAL ORDER BY source, reason_code`);
    expect(rows.map((row) => [row.source, row.reason_code])).toEqual([
      ['collector', 'invalid_json'],
      ['collector', 'unknown_type'],
      [`kafka:${runtime.config.kafka.inputTopic}`, 'not_wire_format'],
      [`kafka:it-privacy-foreign-${run}`, 'invalid_json'],
      ['replay', 'unknown_type'],
      ['webhook:survey', 'invalid_event'],
    ]);
    const key = loadKeyFile(keyPath);
    for (const row of rows) {
      const original = Buffer.from(row.original, 'base64');
      expect(sealedKeyId(original)).toBe(keyId);
      expect(row.message.includes(RAW)).toBe(false);
      // What was refused is all there for whoever holds the key (and gone for good once the key is deleted).
      expect(openBytes([key], original).toString()).toContain(row.source === 'webhook:survey' ? 'post-purchase' : RAW);
    }
  });

  it('leaves no raw id on the output topics, the DLQ, the row topics or the state changelog', async () => {
    const groupId = runtime.config.kafka.groupId;
    const internal = [...TABLE_OUTPUTS.map(({ table }) => rowTopicOf(groupId, table)), changelogTopicOf(groupId)];
    for (const topic of [TOPICS.sessions, TOPICS.signals, TOPICS.deadLetters, ...internal]) {
      const records = await readAll(topic);
      expect(leaks(records).length, `raw id on ${topic}`).toBe(0);
    }
    // Positive controls: this run's pseudonyms are there, so the topics read were the ones written.
    const signals = await readAll(TOPICS.signals);
    expect(signals.some((record) => String(record.key) === pseudonymiser.pseudonym(id('bob')))).toBe(true);
    const changelog = await readAll(changelogTopicOf(groupId));
    expect(changelog.some((record) => String(record.key ?? '').includes(pseudonymiser.pseudonym(id('alice'))))).toBe(true);
  });
});

// The Kafka topic source on the real broker: JSON and Avro topics into the input topic, bad records to dead letters, a re-run adds nothing.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import type { Runtime } from '../../app/runtime.ts';
import { ingest, loadTables, openRuntime } from '../../app/runtime.ts';
import { eventToAvro } from '../../schemas/avro.ts';
import { parseEvent } from '../../schemas/events.ts';
import type { CxEvent } from '../../schemas/events.ts';
import { kafkaTopicSource } from '../../sources/kafka/topic-source.ts';
import { requireEnvironment, runId } from '../support/environment.ts';

describe('Kafka topic source on the real broker', { timeout: 60_000 }, () => {
  const run = runId();
  const database = `ts_topic_${run}`;
  let runtime: Runtime;
  const event = (index: number) => ({
    event_id: `${run}-t${index}`,
    type: 'click',
    occurred_at: '2026-11-02T10:00:00.000Z',
    customer_id: `${run}-c${index % 3}`,
    channel: 'web',
    properties: { element: 'buy' },
  });
  const inputCount = async () => (await runtime.log.endOffsets(runtime.config.kafka.inputTopic)).reduce((sum, p) => sum + p.offset, 0);

  beforeAll(async () => {
    const config = loadConfig({
      dataDir: mkdtempSync(join(tmpdir(), 'touchstream-topic-')),
      transport: 'rdkafka',
      kafka: { brokers: requireEnvironment('TOUCHSTREAM_TEST_KAFKA_BROKERS'), inputTopic: `it-topic-input-${run}`, groupId: `it-topic-${run}` },
      clickhouse: { url: requireEnvironment('TOUCHSTREAM_TEST_CLICKHOUSE_URL'), dialect: 'legacy', database },
    }, {});
    runtime = await openRuntime(config);
  });

  afterAll(async () => {
    await runtime?.close();
  });

  it('reads a JSON topic: valid events in, each bad record a dead letter with its position; a re-run adds nothing', async () => {
    const topic = `it-foreign-json-${run}`;
    await runtime.log.createTopics([{ topic, partitions: 2 }]);
    await runtime.producer.send(topic, [
      ...[0, 1, 2, 3, 4].map((index) => ({ key: `k${index}`, value: Buffer.from(JSON.stringify(event(index))) })),
      { key: 'bad1', value: Buffer.from('{"event_id": "x", ') },
      { key: 'bad2', value: Buffer.from(JSON.stringify({ ...event(9), type: 'teleport' })) },
      { key: 'bad3', value: Buffer.from(JSON.stringify({ ...event(8), properties: {} })) },
    ]);
    const source = () => kafkaTopicSource({ topic, format: 'json' }, { log: runtime.log });
    expect(await ingest(runtime, source())).toEqual({ events: 5, rejected: 3 });
    expect(await inputCount()).toBe(5);
    // rejected_events is loaded from its row topic, like every table.
    expect((await loadTables(runtime, { bounded: true })).rows.rejected_events).toBe(3);
    const letters = await runtime.clickhouse.rows<{ reason_code: string; source: string; topic: string; offset: string }>(
      `SELECT reason_code, source, topic, offset FROM ${database}.rejected_events FINAL WHERE topic = '${topic}' ORDER BY reason_code`);
    expect(letters.map((letter) => [letter.reason_code, letter.source])).toEqual([
      ['invalid_event', `kafka:${topic}`],
      ['invalid_json', `kafka:${topic}`],
      ['unknown_type', `kafka:${topic}`],
    ]);
    expect(letters.every((letter) => /^\d+$/.test(letter.offset))).toBe(true);
    // The source's group committed after the batch was durable: a second run finds nothing new.
    expect(await ingest(runtime, source())).toEqual({ events: 0, rejected: 0 });
    expect(await inputCount()).toBe(5);
  });

  it('reads an Avro topic through the registry; a corrupt record is a dead letter', async () => {
    const topic = `it-foreign-avro-${run}`;
    await runtime.log.createTopics([{ topic, partitions: 1 }]);
    const typed = (index: number) => (parseEvent(event(index), Date.now()) as { event: CxEvent }).event;
    await runtime.producer.send(topic, [
      ...[10, 11, 12].map((index) => ({ key: `k${index}`, value: runtime.codecs.event.encode(eventToAvro(typed(index))) })),
      { key: 'bad', value: Buffer.from([0, 0, 0, 0, 1, 0xff, 0xff]) },
    ]);
    const before = await inputCount();
    expect(await ingest(runtime, kafkaTopicSource({ topic, format: 'avro' }, { log: runtime.log, codec: runtime.codecs.event }))).toEqual({ events: 3, rejected: 1 });
    expect(await inputCount()).toBe(before + 3);
  });
});

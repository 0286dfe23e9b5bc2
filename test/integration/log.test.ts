// The `Log` contract, run identically against the in-process log and the kafkajs and node-rdkafka transports on the real broker.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Partitioners, logLevel, type PartitionMetadata } from 'kafkajs';
import {
  KafkajsLog,
  MemoryLog,
  RdkafkaLog,
  partitionOf,
  type Log,
  type LogConsumer,
  type LogRecord,
  type PartitionOffset,
  type ProduceRecord,
} from '../../log/index.ts';

const BROKERS_VARIABLE = 'TOUCHSTREAM_TEST_KAFKA_BROKERS';
const KAFKA_TIMEOUT_MS = 90_000;

/** The broker list; a Kafka case without it fails (never skips), saying how to get one. */
function brokers(): string[] {
  const setting = process.env[BROKERS_VARIABLE]?.trim();
  if (!setting) {
    throw new Error(
      `${BROKERS_VARIABLE} is not set: the Kafka cases of the Log contract need a broker. ` +
        `Start one with \`bash ops/infra.sh up\` and run with ${BROKERS_VARIABLE}=127.0.0.1:9092 (or use \`npm test\`).`,
    );
  }
  return setting.split(',').map((broker) => broker.trim());
}

const transports: { name: string; create: () => Log }[] = [
  { name: 'memory', create: () => new MemoryLog() },
  { name: 'kafkajs', create: () => new KafkajsLog({ brokers: brokers(), logLevel: logLevel.ERROR }) },
  { name: 'rdkafka', create: () => new RdkafkaLog({ brokers: brokers() }) },
];

const unique = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;

/** Polls until `done` holds for everything read so far; fails after `timeoutMs`. */
async function pollUntil(consumer: LogConsumer, done: (records: LogRecord[]) => boolean, timeoutMs = 60_000): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  while (!done(records)) {
    if (Date.now() > deadline) throw new Error(`pollUntil: condition still false after ${timeoutMs} ms (${records.length} records read)`);
    for (const record of await consumer.poll(500, 250)) records.push(record);
  }
  return records;
}

/** After the expected records, nothing else may come (a duplicate would show up here). */
async function expectNothingMore(consumer: LogConsumer): Promise<void> {
  expect(await consumer.poll(1_000, 1_000)).toEqual([]);
}

/** The next offset to read per partition after `records` (the commit that moves past them). */
function nextOffsets(records: readonly LogRecord[]): PartitionOffset[] {
  const next = new Map<string, PartitionOffset>();
  for (const { topic, partition, offset } of records) {
    const key = `${topic}/${partition}`;
    if ((next.get(key)?.offset ?? -1) < offset + 1) next.set(key, { topic, partition, offset: offset + 1 });
  }
  return [...next.values()];
}

/** Offsets of each partition, in the order read. */
function offsetsByPartition(records: readonly LogRecord[]): Map<number, number[]> {
  const byPartition = new Map<number, number[]>();
  for (const { partition, offset } of records) byPartition.set(partition, [...(byPartition.get(partition) ?? []), offset]);
  return byPartition;
}

/** One key per partition, so a round of records reaches every partition. */
function keysCoveringPartitions(partitions: number): string[] {
  const keys: string[] = new Array(partitions);
  for (let index = 0, found = 0; found < partitions; index++) {
    const key = `cover-${index}`;
    const partition = partitionOf(key, partitions);
    if (keys[partition] === undefined) {
      keys[partition] = key;
      found++;
    }
  }
  return keys;
}

const keyedRecords = (count: number, prefix = 'event'): ProduceRecord[] =>
  Array.from({ length: count }, (_, index) => ({ key: `user-${index % 97}`, value: Buffer.from(`${prefix}-${index}`) }));

describe('partitionOf', () => {
  it('agrees with kafkajs DefaultPartitioner (Java murmur2) on text and binary keys', () => {
    const partitioner = Partitioners.DefaultPartitioner();
    const keys: (string | Buffer)[] = ['a', 'user-1', 'session:42', 'ünïcödé ✓', '0123456789abcdef0', Buffer.from([0xff, 0x00, 0x80, 0x7f, 0x01])];
    for (let index = 0; index < 200; index++) keys.push(randomBytes(1 + (index % 40)));
    for (const partitions of [1, 3, 4, 12, 100]) {
      const partitionMetadata: PartitionMetadata[] = Array.from({ length: partitions }, (_, partitionId) => ({
        partitionErrorCode: 0,
        partitionId,
        leader: 1,
        replicas: [1],
        isr: [1],
      }));
      for (const key of keys) {
        expect(partitioner({ topic: 't', partitionMetadata, message: { key, value: null } })).toBe(partitionOf(key, partitions));
      }
    }
  });
});

/** Creates a log per describe block; a creation error (no broker configured) fails every case that uses it, not skips it. */
function logPerBlock(create: () => Log): () => Log {
  let log: Log | undefined;
  let failure: unknown;
  beforeAll(() => {
    try {
      log = create();
    } catch (error) {
      failure = error;
    }
  });
  afterAll(async () => {
    await log?.close();
  }, KAFKA_TIMEOUT_MS);
  return () => {
    if (!log) throw failure;
    return log;
  };
}

describe.each(transports)('Log contract: $name', ({ create }) => {
  const logUnderTest = logPerBlock(create);

  it(
    'createTopics makes N partitions (twice is harmless) and endOffsets answers zeros',
    async () => {
      const log = logUnderTest();
      const topic = unique('create');
      await log.createTopics([{ topic, partitions: 3 }]);
      await log.createTopics([{ topic, partitions: 3 }]);
      expect(await log.endOffsets(topic)).toEqual([0, 1, 2].map((partition) => ({ topic, partition, offset: 0 })));
    },
    KAFKA_TIMEOUT_MS,
  );

  it(
    'reads 1,000 keyed records back exactly once, in offset order, each key in partitionOf(key, n)',
    async () => {
      const log = logUnderTest();
      const topic = unique('roundtrip');
      const partitions = 4;
      await log.createTopics([{ topic, partitions }]);
      const sent = keyedRecords(1_000);
      const producer = await log.producer();
      await producer.send(topic, sent.slice(0, 400));
      await producer.send(topic, sent.slice(400));
      await producer.close();
      const ends = await log.endOffsets(topic);
      expect(ends.reduce((sum, { offset }) => sum + offset, 0)).toBe(1_000);

      const consumer = await log.consumer({ groupId: unique('group'), topics: [topic] });
      const records = await pollUntil(consumer, (read) => read.length >= 1_000);
      await expectNothingMore(consumer);
      await consumer.close();

      expect(records).toHaveLength(1_000);
      const indexes = records.map((record) => Number(record.value.toString().slice('event-'.length)));
      expect(new Set(indexes).size).toBe(1_000);
      for (const [position, record] of records.entries()) {
        const index = indexes[position]!;
        expect(record.topic).toBe(topic);
        expect(record.key?.toString()).toBe(`user-${index % 97}`);
        expect(record.value.equals(sent[index]!.value)).toBe(true);
        expect(record.partition).toBe(partitionOf(record.key!, partitions));
        expect(record.timestamp).toBeGreaterThan(Date.now() - 10 * 60_000);
      }
      for (const [partition, offsets] of offsetsByPartition(records)) {
        // Every partition read from 0 up to its end offset, in order, without gaps.
        expect(offsets).toEqual(Array.from({ length: ends[partition]!.offset }, (_, offset) => offset));
      }
      // A key's records sit in one partition in send order.
      const lastIndexOfKey = new Map<string, number>();
      for (const [position, record] of records.entries()) {
        const key = record.key!.toString();
        expect(indexes[position]!).toBeGreaterThan(lastIndexOfKey.get(key) ?? -1);
        lastIndexOfKey.set(key, indexes[position]!);
      }
    },
    KAFKA_TIMEOUT_MS,
  );

  it(
    'keeps every byte of a key, NUL and U+001F included, whether sent as text or bytes (changelog keys join parts)',
    async () => {
      const log = logUnderTest();
      const topic = unique('nul-keys');
      await log.createTopics([{ topic, partitions: 1 }]);
      const keys = ['store|3\u0000kpi\u0000web', 'store|a\u001fb', 'plain'];
      const producer = await log.producer();
      await producer.send(topic, [
        ...keys.map((key, index) => ({ key, value: Buffer.from(`text-${index}`), partition: 0 })),
        ...keys.map((key, index) => ({ key: Buffer.from(key), value: Buffer.from(`bytes-${index}`), partition: 0 })),
      ]);
      await producer.close();
      const records = await log.readPartitions(topic, [0]);
      expect(records.map((record) => [record.key?.toString(), record.value.toString()])).toEqual([
        ...keys.map((key, index) => [key, `text-${index}`]),
        ...keys.map((key, index) => [key, `bytes-${index}`]),
      ]);
    },
    KAFKA_TIMEOUT_MS,
  );

  it(
    'a new consumer of the group resumes exactly after the committed offsets (no loss, no duplicates)',
    async () => {
      const log = logUnderTest();
      const topic = unique('resume');
      await log.createTopics([{ topic, partitions: 4 }]);
      const producer = await log.producer();
      await producer.send(topic, keyedRecords(1_000));
      await producer.close();
      const groupId = unique('group');

      const first = await log.consumer({ groupId, topics: [topic] });
      const read = await pollUntil(first, (records) => records.length >= 300);
      // Commit only a prefix: what the first consumer read beyond it must come again.
      const committed = read.slice(0, 250);
      const commit = nextOffsets(committed);
      await first.commit(commit);
      await first.close();

      const second = await log.consumer({ groupId, topics: [topic] });
      const rest = await pollUntil(second, (records) => committed.length + records.length >= 1_000);
      await expectNothingMore(second);
      await second.close();

      const id = (record: LogRecord) => `${record.partition}/${record.offset}`;
      const all = [...committed, ...rest].map(id);
      expect(new Set(all).size).toBe(1_000);
      for (const [partition, offsets] of offsetsByPartition(rest)) {
        const from = commit.find((offset) => offset.partition === partition)?.offset ?? 0;
        expect(offsets[0]).toBe(from);
      }
    },
    KAFKA_TIMEOUT_MS,
  );

  it(
    "start: 'latest' skips the records already there",
    async () => {
      const log = logUnderTest();
      const topic = unique('latest');
      const partitions = 2;
      await log.createTopics([{ topic, partitions }]);
      const producer = await log.producer();
      await producer.send(topic, keyedRecords(100, 'old'));
      const consumer = await log.consumer({ groupId: unique('group'), topics: [topic], start: 'latest' });

      // Where 'latest' lands is fixed when the consumer gets its partitions: send a round to every partition until
      // each has answered, then a final batch that must arrive whole.
      const keys = keysCoveringPartitions(partitions);
      const read: LogRecord[] = [];
      const deadline = Date.now() + 60_000;
      for (let round = 0; new Set(read.map((record) => record.partition)).size < partitions; round++) {
        if (Date.now() > deadline) throw new Error(`no record of the rounds arrived in every partition (${read.length} read)`);
        await producer.send(topic, keys.map((key) => ({ key, value: Buffer.from(`round-${round}`) })));
        for (const record of await consumer.poll(100, 250)) read.push(record);
      }
      await producer.send(topic, keyedRecords(20, 'final'));
      await producer.close();
      const finals = await pollUntil(consumer, (records) => records.filter((record) => record.value.toString().startsWith('final-')).length >= 20);
      await consumer.close();

      const values = [...read, ...finals].map((record) => record.value.toString());
      expect(values.filter((value) => value.startsWith('old-'))).toEqual([]);
      expect(values.filter((value) => value.startsWith('final-')).sort()).toEqual(keyedRecords(20, 'final').map((record) => record.value.toString()).sort());
    },
    KAFKA_TIMEOUT_MS,
  );

  it(
    'poll with nothing to read answers [] after about the timeout',
    async () => {
      const log = logUnderTest();
      const topic = unique('empty');
      await log.createTopics([{ topic, partitions: 1 }]);
      const consumer = await log.consumer({ groupId: unique('group'), topics: [topic] });
      const started = Date.now();
      const records = await consumer.poll(100, 1_000);
      const elapsed = Date.now() - started;
      await consumer.close();
      expect(records).toEqual([]);
      expect(elapsed).toBeGreaterThanOrEqual(500);
      expect(elapsed).toBeLessThan(10_000);
    },
    KAFKA_TIMEOUT_MS,
  );
});

describe('cross-transport: the same bytes through kafkajs and node-rdkafka', () => {
  const logs: Record<string, () => Log> = {
    kafkajs: logPerBlock(() => new KafkajsLog({ brokers: brokers(), logLevel: logLevel.ERROR })),
    rdkafka: logPerBlock(() => new RdkafkaLog({ brokers: brokers() })),
  };

  it.each([
    ['rdkafka', 'kafkajs'],
    ['kafkajs', 'rdkafka'],
  ])(
    'produced with %s, read with %s',
    async (producerName, consumerName) => {
      const writer = logs[producerName]!();
      const reader = logs[consumerName]!();
      const topic = unique(`cross-${producerName}`);
      const partitions = 5;
      await writer.createTopics([{ topic, partitions }]);
      // Binary values and keys (text, binary, none); each value starts with its index so it is unique.
      const sent: ProduceRecord[] = Array.from({ length: 300 }, (_, index) => ({
        key: index % 3 === 0 ? `text-key-${index % 41}` : index % 3 === 1 ? randomBytes(1 + (index % 17)) : null,
        value: Buffer.concat([Buffer.from(`${index}:`), randomBytes(index % 64)]),
      }));
      const producer = await writer.producer();
      await producer.send(topic, sent);
      await producer.close();

      const consumer = await reader.consumer({ groupId: unique('group'), topics: [topic] });
      const records = await pollUntil(consumer, (read) => read.length >= sent.length);
      await expectNothingMore(consumer);
      await consumer.close();

      const byValue = new Map(records.map((record) => [record.value.toString('hex'), record]));
      expect(byValue.size).toBe(sent.length);
      for (const { key, value } of sent) {
        const record = byValue.get(value.toString('hex'));
        expect(record, `record ${value.toString('latin1', 0, 6)}`).toBeDefined();
        const expectedKey = key === null ? null : typeof key === 'string' ? Buffer.from(key) : key;
        expect(record!.key).toEqual(expectedKey);
        if (expectedKey !== null) expect(record!.partition).toBe(partitionOf(expectedKey, partitions));
      }
    },
    KAFKA_TIMEOUT_MS,
  );
});

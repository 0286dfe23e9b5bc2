// kafkajs back-pressure on the real broker: while the engine does not poll (its sink is down), the kafkajs consumer stops fetching once its buffer holds maxBufferedRecords, so memory stays bounded; polling again delivers every record once.
import { randomBytes } from 'node:crypto';
import { logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { KafkajsLog } from '../../log/kafkajs.ts';
import type { LogConsumer, LogRecord } from '../../log/log.ts';
import { requireEnvironment, waitFor } from '../support/environment.ts';

const PARTITIONS = 3;
const RECORDS_PER_PARTITION = 1500;
const VALUE_BYTES = 2048;
const MAX_BUFFERED = 200;
/** kafkajs fetches at most 1 MiB per partition (maxBytesPerPartition): one batch of 2 KiB values holds fewer than this. */
const ONE_BATCH = Math.ceil((1024 * 1024) / VALUE_BYTES);

describe('the kafkajs transport under back-pressure', () => {
  const log = new KafkajsLog({ brokers: requireEnvironment('TOUCHSTREAM_TEST_KAFKA_BROKERS').split(','), logLevel: logLevel.ERROR, maxBufferedRecords: MAX_BUFFERED });
  const consumers: LogConsumer[] = [];

  afterAll(async () => {
    for (const consumer of consumers) await consumer.close().catch(() => {});
    await log.close();
  });

  it('stops fetching at maxBufferedRecords (plus one batch) while nothing is polled, then delivers every record once', async () => {
    const topic = `kjs-bp-${randomBytes(4).toString('hex')}`;
    await log.createTopics([{ topic, partitions: PARTITIONS }]);
    const producer = await log.producer();
    const total = PARTITIONS * RECORDS_PER_PARTITION;
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const records = Array.from({ length: RECORDS_PER_PARTITION }, (_, index) => ({ key: `k${index}`, value: randomBytes(VALUE_BYTES), partition }));
      await producer.send(topic, records);
    }
    await producer.close();

    const consumer = await log.consumer({ groupId: `${topic}-g`, topics: [topic] });
    consumers.push(consumer);
    const buffered = () => (consumer as unknown as { bufferedRecords(): number }).bufferedRecords();
    // One record taken, then the engine "waits for its sink": nothing is polled from here on.
    const first = await waitFor(async () => {
      const records = await consumer.poll(1, 250);
      return records.length > 0 ? records : undefined;
    }, 60_000, 'the first record');

    // The buffer fills up to its bound and then stays put: the fetcher is waiting, not reading the rest of the log.
    let previous = -1;
    let since = Date.now();
    const settled = await waitFor(async () => {
      const now = buffered();
      if (now !== previous) {
        previous = now;
        since = Date.now();
        return undefined;
      }
      return Date.now() - since >= 3000 ? now : undefined; // unchanged for 3 s
    }, 60_000, 'the kafkajs buffer to stop growing');
    expect(settled).toBeGreaterThanOrEqual(MAX_BUFFERED);
    expect(settled).toBeLessThanOrEqual(MAX_BUFFERED + ONE_BATCH);
    expect(settled + first.length).toBeLessThan(total / 3); // most of the log was never fetched meanwhile

    // Polling again drains the buffer, the fetcher resumes, and every record arrives exactly once.
    const records: LogRecord[] = [...first];
    await waitFor(async () => {
      for (const record of await consumer.poll(1000, 250)) records.push(record);
      return records.length >= total ? true : undefined;
    }, 120_000, `all ${total} records`);
    expect(await consumer.poll(1000, 500)).toEqual([]);
    const distinct = new Set(records.map(({ partition, offset }) => `${partition}/${offset}`));
    expect(distinct.size).toBe(total);
    expect(records).toHaveLength(total);
  }, 240_000);
});

// The `Log` on kafkajs (pure JS): an idempotent producer, and kafkajs' push consumer (eachBatch) turned into pull polling through a bounded buffer.
import { randomUUID } from 'node:crypto';
import { Kafka, Partitioners, logLevel, type Admin, type Consumer, type EachBatchPayload, type Message, type Producer, type Transaction } from 'kafkajs';
import { LogError } from './errors.ts';
import type {
  ConsumerOptions,
  Log,
  LogConsumer,
  LogProducer,
  LogRecord,
  PartitionOffset,
  ProduceRecord,
  TopicPartition,
  TopicSpec,
  TransactionalProducer,
  TransactionalProducerOptions,
} from './log.ts';

export interface KafkajsLogOptions {
  brokers: string[];
  clientId?: string;
  /** kafkajs' own logging; default WARN. */
  logLevel?: logLevel;
  /** Records buffered between kafkajs' fetcher and `poll`; a full buffer stops fetching (backpressure). Default 20,000. */
  maxBufferedRecords?: number;
  /** Payload bytes per produce request; larger sends go in sequential chunks (Kafka's message.max.bytes is ~1 MB). Default 512 KiB. */
  maxRequestBytes?: number;
}

/** Key, offset and length fields of one record in a produce request, roughly. */
const RECORD_OVERHEAD_BYTES = 24;
/** How long an eachBatch waiting for buffer room sleeps between heartbeats. */
const ROOM_WAIT_MS = 1_000;
const EMPTY = Buffer.alloc(0);
/** A changelog is read to its end at restore; an open transaction of a crashed writer holds it up to its timeout. */
const READ_PARTITIONS_TIMEOUT_MS = 120_000;

const isRetriable = (error: unknown): boolean => (error as { retriable?: unknown } | null)?.retriable === true;
/** The errors after which kafkajs' runner rejoins the group (its own `isRebalancing`, plus an unknown member id). */
const REJOIN_ERRORS = new Set(['REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR_FOR_GROUP', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID']);
const needsRejoin = (error: unknown): boolean => REJOIN_ERRORS.has(String((error as { type?: unknown } | null)?.type));
const partitionKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/**
 * A transaction started right after the previous one committed meets CONCURRENT_TRANSACTIONS until the coordinator
 * has written its markers (a few ms): retried after kafkajs' default 300 ms, that wait was most of a checkpoint's
 * time. Short first retries, doubling (5, 10, 20 … ms, at most 30 s apart); the retries stay unlimited, as kafkajs
 * gives an idempotent producer by default (fewer may break exactly-once); the engine's stall watchdog bounds a call.
 */
const TRANSACTION_RETRY = { initialRetryTime: 5, retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 30_000 };

export class KafkajsLog implements Log {
  readonly #kafka: Kafka;
  readonly #maxBufferedRecords: number;
  readonly #maxRequestBytes: number;
  readonly #open = new Set<{ close(): Promise<void> }>();
  #admin: Promise<Admin> | undefined;

  constructor(options: KafkajsLogOptions) {
    this.#kafka = new Kafka({
      brokers: options.brokers,
      clientId: options.clientId ?? 'touchstream',
      logLevel: options.logLevel ?? logLevel.WARN,
    });
    this.#maxBufferedRecords = options.maxBufferedRecords ?? 20_000;
    this.#maxRequestBytes = options.maxRequestBytes ?? 512 * 1024;
  }

  async createTopics(specs: readonly TopicSpec[]): Promise<void> {
    const admin = await this.#connectedAdmin();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = specs.filter((spec) => !existing.has(spec.topic));
      if (missing.length === 0) return;
      // Resolves false when a racing creator won: the topics exist either way.
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((spec) => ({
          topic: spec.topic,
          numPartitions: spec.partitions,
          configEntries: Object.entries(spec.config ?? {}).map(([name, value]) => ({ name, value })),
        })),
      });
    } catch (error) {
      throw LogError.wrap('admin', error, isRetriable(error));
    }
  }

  async endOffsets(topic: string): Promise<PartitionOffset[]> {
    const admin = await this.#connectedAdmin();
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets
        .map(({ partition, high }) => ({ topic, partition, offset: Number(high) }))
        .sort((a, b) => a.partition - b.partition);
    } catch (error) {
      throw LogError.wrap('admin', error, isRetriable(error));
    }
  }

  async producer(): Promise<LogProducer> {
    const producer = this.#kafka.producer({
      idempotent: true,
      // kafkajs 2.2.4 already serialises idempotent produce requests per broker (a lock in its EOS manager); 1 states it.
      maxInFlightRequests: 1,
      // The Java-compatible murmur2 partitioner (kafkajs' default since 2.0); naming it also silences the v2 warning.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    try {
      await producer.connect();
    } catch (error) {
      throw LogError.wrap('connection', error, true);
    }
    const wrapper = new KafkajsProducer(producer, this.#maxRequestBytes);
    wrapper.release = this.#track(wrapper);
    return wrapper;
  }

  async transactionalProducer(options: TransactionalProducerOptions): Promise<TransactionalProducer> {
    const producer = this.#kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      transactionalId: options.transactionalId,
      transactionTimeout: options.timeoutMs ?? 10_000,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: TRANSACTION_RETRY,
    });
    try {
      await producer.connect();
    } catch (error) {
      throw LogError.wrap('connection', error, true);
    }
    const wrapper = new KafkajsTransactionalProducer(producer, this.#maxRequestBytes, options.transactionalId);
    wrapper.release = this.#track(wrapper);
    return wrapper;
  }

  /**
   * kafkajs has no manual assignment: a throwaway group reads the topic from the start; a partition is done when a
   * batch (also one of only transaction markers) ends at its high watermark.
   */
  async readPartitions(topic: string, partitions: readonly number[]): Promise<LogRecord[]> {
    const admin = await this.#connectedAdmin();
    let offsets: Array<{ partition: number; high: string; low: string }>;
    try {
      offsets = await admin.fetchTopicOffsets(topic);
    } catch (error) {
      throw LogError.wrap('admin', error, isRetriable(error));
    }
    const open = new Set(offsets.filter((o) => partitions.includes(o.partition) && Number(o.high) > Number(o.low)).map((o) => o.partition));
    if (open.size === 0) return [];
    const wanted = new Set(open);
    const reader = this.#kafka.consumer({ groupId: `touchstream-reader-${randomUUID()}`, maxWaitTimeInMs: 200 });
    const records: LogRecord[] = [];
    const done = new Signal();
    reader.on(reader.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.topic === topic && Number(payload.offsetLag) <= 0) {
        open.delete(payload.partition);
        if (open.size === 0) done.wake();
      }
    });
    try {
      await reader.connect();
      await reader.subscribe({ topics: [topic], fromBeginning: true });
      await reader.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          if (!wanted.has(batch.partition)) return;
          for (const message of batch.messages) {
            records.push({
              topic,
              partition: batch.partition,
              offset: Number(message.offset),
              key: message.key ?? null,
              value: message.value ?? EMPTY,
              timestamp: Number(message.timestamp),
            });
          }
        },
      });
      const deadline = Date.now() + READ_PARTITIONS_TIMEOUT_MS;
      while (open.size > 0) {
        if (Date.now() > deadline) throw new LogError('consume', `readPartitions: ${topic} did not reach its end in ${READ_PARTITIONS_TIMEOUT_MS} ms`, true);
        await done.wait(200);
      }
    } catch (error) {
      throw LogError.wrap('consume', error, isRetriable(error));
    } finally {
      await reader.disconnect().catch(() => {});
    }
    // A batch may be fetched twice around a rejoin: keep each offset once, in order.
    const seen = new Set<string>();
    return records
      .sort((a, b) => a.partition - b.partition || a.offset - b.offset)
      .filter((record) => {
        const id = `${record.partition}/${record.offset}`;
        if (seen.has(id)) return false;
        seen.add(id);
        return true;
      });
  }

  async consumer(options: ConsumerOptions): Promise<LogConsumer> {
    const consumer = this.#kafka.consumer({
      groupId: options.groupId,
      // An idle fetch long-polls this long; it bounds how long close() waits for the fetcher.
      maxWaitTimeInMs: 1_000,
      // As on rdkafka: a member that died (SIGKILL) is replaced after 10 s, not kafkajs' default 30 s. kafkajs has no
      // static membership, so a restarted worker's loader waits this long for the dead one's partitions.
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
    });
    const wrapper = new KafkajsConsumer(consumer, this.#maxBufferedRecords, options.groupId, async (topics) => {
      const admin = await this.#connectedAdmin();
      try {
        return await admin.fetchOffsets({ groupId: options.groupId, topics });
      } catch (error) {
        throw LogError.wrap('admin', error, isRetriable(error));
      }
    });
    try {
      await wrapper.start(options.topics, options.start ?? 'earliest');
    } catch (error) {
      await wrapper.close().catch(() => {});
      throw LogError.wrap('connection', error, isRetriable(error));
    }
    wrapper.release = this.#track(wrapper);
    return wrapper;
  }

  async close(): Promise<void> {
    const open = [...this.#open];
    this.#open.clear();
    await Promise.allSettled(open.map((client) => client.close()));
    const admin = this.#admin;
    this.#admin = undefined;
    if (admin) await (await admin.catch(() => undefined))?.disconnect();
  }

  /** Registers a client for `close()`; the client calls the returned function when closed on its own. */
  #track(client: { close(): Promise<void> }): () => void {
    this.#open.add(client);
    return () => this.#open.delete(client);
  }

  #connectedAdmin(): Promise<Admin> {
    if (!this.#admin) {
      const admin = this.#kafka.admin();
      this.#admin = admin.connect().then(
        () => admin,
        (error: unknown) => {
          this.#admin = undefined;
          throw LogError.wrap('connection', error, true);
        },
      );
    }
    return this.#admin;
  }
}

class KafkajsProducer implements LogProducer {
  protected readonly producer: Producer;
  readonly #maxRequestBytes: number;
  release = (): void => {};
  #closed = false;

  constructor(producer: Producer, maxRequestBytes: number) {
    this.producer = producer;
    this.#maxRequestBytes = maxRequestBytes;
  }

  /** Sends in chunks of at most `maxRequestBytes`, one after the other, so a partition's records keep their order. */
  async send(topic: string, records: readonly ProduceRecord[]): Promise<void> {
    if (this.#closed) throw new LogError('closed', 'send: the producer is closed', false);
    let chunk: Message[] = [];
    let bytes = 0;
    for (const record of records) {
      const key = record.key;
      const size = record.value.length + (key === null ? 0 : typeof key === 'string' ? Buffer.byteLength(key) : key.length) + RECORD_OVERHEAD_BYTES;
      if (chunk.length > 0 && bytes + size > this.#maxRequestBytes) {
        await this.#sendChunk(topic, chunk);
        chunk = [];
        bytes = 0;
      }
      const value = record.value.length === 0 ? null : record.value;
      chunk.push(record.partition === undefined ? { key, value } : { key, value, partition: record.partition });
      bytes += size;
    }
    if (chunk.length > 0) await this.#sendChunk(topic, chunk);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.release();
    await this.producer.disconnect();
  }

  /** Where a chunk goes: the producer itself, or the open transaction. */
  protected target(): Pick<Producer, 'send'> {
    return this.producer;
  }

  async #sendChunk(topic: string, messages: Message[]): Promise<void> {
    try {
      await this.target().send({ topic, messages, acks: -1 });
    } catch (error) {
      throw LogError.wrap('produce', error, isRetriable(error));
    }
  }
}

/** kafkajs transactions; offsets go in with the group id only (no generation: a zombie worker is not fenced, see docs/engine.md). */
class KafkajsTransactionalProducer extends KafkajsProducer implements TransactionalProducer {
  #transaction: Transaction | undefined;

  constructor(
    producer: Producer,
    maxRequestBytes: number,
    readonly transactionalId: string,
  ) {
    super(producer, maxRequestBytes);
  }

  async begin(): Promise<void> {
    try {
      this.#transaction = await this.producer.transaction();
    } catch (error) {
      throw LogError.wrap('produce', error, isRetriable(error));
    }
  }

  protected override target(): Pick<Producer, 'send'> {
    return this.#transaction ?? this.producer;
  }

  async commit(consumer: LogConsumer, offsets: readonly PartitionOffset[]): Promise<void> {
    const transaction = this.#transaction;
    if (!transaction) throw new LogError('commit', 'commit: no open transaction', false);
    if (!(consumer instanceof KafkajsConsumer)) throw new LogError('commit', 'commit: the consumer is not a kafkajs consumer', false);
    try {
      if (offsets.length > 0) {
        const topics = new Map<string, Array<{ partition: number; offset: string }>>();
        for (const { topic, partition, offset } of offsets) {
          const list = topics.get(topic) ?? [];
          list.push({ partition, offset: String(offset) });
          topics.set(topic, list);
        }
        await transaction.sendOffsets({ consumerGroupId: consumer.groupId, topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })) });
      }
      await transaction.commit();
      this.#transaction = undefined;
    } catch (error) {
      throw LogError.wrap('commit', error, isRetriable(error));
    }
  }

  async abort(): Promise<void> {
    const transaction = this.#transaction;
    this.#transaction = undefined;
    if (transaction?.isActive()) await transaction.abort();
  }
}

/** Wakes whoever waits, or lets a wait end after its timeout. */
class Signal {
  readonly #waiters = new Set<() => void>();

  wait(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#waiters.add(done);
    });
  }

  wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

/** FIFO of fetched batches (each one partition's records in offset order), read record by record. */
class RecordBuffer {
  #batches: LogRecord[][] = [];
  /** Records of the first batch already taken. */
  #head = 0;
  size = 0;

  push(records: LogRecord[]): void {
    this.#batches.push(records);
    this.size += records.length;
  }

  take(maxRecords: number): LogRecord[] {
    const taken: LogRecord[] = [];
    while (taken.length < maxRecords && this.#batches.length > 0) {
      const batch = this.#batches[0]!;
      const end = Math.min(batch.length, this.#head + maxRecords - taken.length);
      for (let index = this.#head; index < end; index++) taken.push(batch[index]!);
      if (end === batch.length) {
        this.#batches.shift();
        this.#head = 0;
      } else {
        this.#head = end;
      }
    }
    this.size -= taken.length;
    return taken;
  }

  /** Keeps only the batches of partitions in `owned` (keys from `partitionKey`). */
  retain(owned: ReadonlySet<string>): void {
    if (this.#head > 0 && this.#batches.length > 0) this.#batches[0] = this.#batches[0]!.slice(this.#head);
    this.#head = 0;
    this.#batches = this.#batches.filter((batch) => owned.has(partitionKey(batch[0]!.topic, batch[0]!.partition)));
    this.size = this.#batches.reduce((sum, batch) => sum + batch.length, 0);
  }
}

class KafkajsConsumer implements LogConsumer {
  readonly #consumer: Consumer;
  readonly #maxBufferedRecords: number;
  readonly #buffer = new RecordBuffer();
  readonly #data = new Signal();
  readonly #room = new Signal();
  /**
   * Next offset to buffer per partition. After a rebalance kafkajs fetches a kept partition again from its
   * committed offset; records below this were handed out already and are skipped.
   */
  readonly #positions = new Map<string, number>();
  /** Each partition's high watermark from its last fetched batch (see `LogConsumer.logEnds`). */
  readonly #logEnds = new Map<string, PartitionOffset>();
  /** Per partition, past the last batch kafkajs fetched (records, markers or aborted records alike). */
  readonly #skipped = new Map<string, number>();
  #assignment: TopicPartition[] = [];
  /**
   * From a heartbeat's "rejoin" answer or kafkajs' REBALANCING event until GROUP_JOIN, ownership is unknown: nothing
   * is handed out, and batches kafkajs had queued are skipped unresolved (fetched again if still ours) rather than
   * each waiting for room and its own failing heartbeat.
   */
  #rebalancing = false;
  #closed = false;
  #failure: LogError | undefined;
  #generation = 0;
  /** The generation of the records the last `poll` answered (see `LogConsumer.generation`). */
  #polledGeneration = 0;
  release = (): void => {};

  constructor(
    consumer: Consumer,
    maxBufferedRecords: number,
    readonly groupId: string,
    /** The group's committed offsets from the broker (kafkajs' consumer cannot tell; its admin client can). */
    private readonly fetchOffsets?: (topics: string[]) => Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>>,
  ) {
    this.#consumer = consumer;
    this.#maxBufferedRecords = maxBufferedRecords;
  }

  async committed(): Promise<PartitionOffset[]> {
    const assignment = this.#assignment;
    if (this.#closed || !this.fetchOffsets || assignment.length === 0) return [];
    const fetched = await this.fetchOffsets([...new Set(assignment.map(({ topic }) => topic))]);
    const offsets = new Map<string, number>();
    for (const { topic, partitions } of fetched) for (const { partition, offset } of partitions) offsets.set(partitionKey(topic, partition), Number(offset));
    return assignment.map(({ topic, partition }) => {
      const offset = offsets.get(partitionKey(topic, partition)) ?? -1;
      return { topic, partition, offset: Number.isFinite(offset) && offset >= 0 ? offset : -1 };
    });
  }

  generation(): number {
    return this.#polledGeneration;
  }

  /** Records fetched and waiting for `poll` (bounded by `maxBufferedRecords` plus the batch that crossed it). */
  bufferedRecords(): number {
    return this.#buffer.size;
  }

  logEnds(): PartitionOffset[] {
    return this.#assignment.flatMap(({ topic, partition }) => this.#logEnds.get(partitionKey(topic, partition)) ?? []);
  }

  /** Once every buffered record is handed out: past them and past the batches kafkajs processed (skipped ones too); else unknown. */
  positions(): PartitionOffset[] {
    const drained = this.#buffer.size === 0;
    return this.#assignment.map(({ topic, partition }) => {
      const key = partitionKey(topic, partition);
      return { topic, partition, offset: drained ? Math.max(this.#positions.get(key) ?? -1, this.#skipped.get(key) ?? -1) : -1 };
    });
  }

  async start(topics: readonly string[], start: 'earliest' | 'latest'): Promise<void> {
    const { events } = this.#consumer;
    this.#consumer.on(events.GROUP_JOIN, ({ payload }) => this.#onJoin(payload.memberAssignment));
    this.#consumer.on(events.REBALANCING, () => {
      this.#rebalancing = true;
    });
    // A batch of only transaction markers or aborted records never reaches eachBatch: kafkajs skips past it. Its
    // end is taken once the batch is processed (a batch of records is buffered by then).
    this.#consumer.on(events.START_BATCH_PROCESS, ({ payload }) => {
      const end = Number(payload.highWatermark);
      if (Number.isFinite(end) && end >= 0) this.#logEnds.set(partitionKey(payload.topic, payload.partition), { topic: payload.topic, partition: payload.partition, offset: end });
    });
    this.#consumer.on(events.END_BATCH_PROCESS, ({ payload }) => {
      const key = partitionKey(payload.topic, payload.partition);
      const last = Number(payload.lastOffset);
      if (Number.isFinite(last) && last + 1 > (this.#skipped.get(key) ?? 0)) this.#skipped.set(key, last + 1);
    });
    this.#consumer.on(events.CRASH, ({ payload }) => {
      if (payload.restart) return;
      this.#failure = LogError.wrap('consume', payload.error, false);
      this.#data.wake();
    });
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topics: [...topics], fromBeginning: start === 'earliest' });
    // Resolves once the group is joined (kafkajs' runner joins before it starts fetching).
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.#onBatch(payload),
    });
  }

  async poll(maxRecords: number, timeoutMs: number): Promise<LogRecord[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#failure) throw this.#failure;
      const records = this.#take(maxRecords);
      this.#polledGeneration = this.#generation;
      const remaining = deadline - Date.now();
      if (records.length > 0 || remaining <= 0 || this.#closed) return records;
      await this.#data.wait(remaining);
    }
  }

  async commit(offsets: readonly PartitionOffset[]): Promise<void> {
    if (this.#closed) throw new LogError('closed', 'commit: the consumer is closed', false);
    if (this.#failure) throw this.#failure;
    if (offsets.length === 0) return;
    try {
      await this.#consumer.commitOffsets(
        offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset: String(offset) })),
      );
    } catch (error) {
      throw LogError.wrap('commit', error, isRetriable(error));
    }
  }

  assignment(): TopicPartition[] {
    return this.#assignment.slice();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.release();
    this.#assignment = [];
    this.#data.wake();
    this.#room.wake();
    await this.#consumer.disconnect();
  }

  #take(maxRecords: number): LogRecord[] {
    if (this.#rebalancing) return [];
    const records = this.#buffer.take(maxRecords);
    if (records.length > 0 && this.#buffer.size < this.#maxBufferedRecords) this.#room.wake();
    return records;
  }

  #onJoin(memberAssignment: Record<string, number[]>): void {
    const assignment: TopicPartition[] = [];
    const owned = new Set<string>();
    for (const [topic, partitions] of Object.entries(memberAssignment)) {
      for (const partition of partitions) {
        assignment.push({ topic, partition });
        owned.add(partitionKey(topic, partition));
      }
    }
    assignment.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
    // A new generation reads every partition again from its committed offset (the engine restores its state to
    // match), so nothing buffered or handed out before counts.
    this.#positions.clear();
    this.#skipped.clear();
    this.#buffer.retain(new Set());
    this.#generation++;
    this.#assignment = assignment;
    this.#rebalancing = false;
    this.#data.wake();
  }

  /** Waits for buffer room (heartbeating; a rebalance surfaces as heartbeat's error), then buffers the batch and resolves its offsets. */
  async #onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const current = () => !this.#closed && !this.#rebalancing && isRunning() && !isStale();
    const end = Number(batch.highWatermark);
    if (Number.isFinite(end) && end >= 0) this.#logEnds.set(partitionKey(batch.topic, batch.partition), { topic: batch.topic, partition: batch.partition, offset: end });
    while (this.#buffer.size >= this.#maxBufferedRecords) {
      if (!current()) return;
      await this.#room.wait(ROOM_WAIT_MS);
      try {
        await heartbeat();
      } catch (error) {
        if (needsRejoin(error)) this.#rebalancing = true;
        throw error;
      }
    }
    const { topic, partition, messages } = batch;
    if (!current() || messages.length === 0) return;
    const key = partitionKey(topic, partition);
    const from = this.#positions.get(key) ?? 0;
    const records: LogRecord[] = [];
    for (const message of messages) {
      const offset = Number(message.offset);
      if (offset < from) continue;
      records.push({
        topic,
        partition,
        offset,
        key: message.key ?? null,
        value: message.value ?? EMPTY,
        timestamp: Number(message.timestamp),
      });
    }
    if (records.length > 0) {
      this.#buffer.push(records);
      this.#positions.set(key, records[records.length - 1]!.offset + 1);
      this.#data.wake();
    }
    // Moves kafkajs' fetch position; with autoCommit off nothing is committed until `commit`.
    resolveOffset(messages[messages.length - 1]!.offset);
  }
}

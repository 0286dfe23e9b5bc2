// The `Log` on node-rdkafka (librdkafka): an idempotent producer acknowledged by delivery reports, and a KafkaConsumer read in batches.
import { createRequire } from 'node:module';
import type Rdkafka from 'node-rdkafka';
import { randomUUID } from 'node:crypto';
import type { IAdminClient, KafkaConsumer, LibrdKafkaError, Message, Metadata, Producer, TopicPartitionOffset } from 'node-rdkafka';
import { LogError, type LogErrorCode } from './errors.ts';
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

export interface RdkafkaLogOptions {
  brokers: string[];
  clientId?: string;
  /** Producer compression. kafkajs reads only gzip without an extra codec, so lz4/snappy are not offered. Default none. */
  compression?: 'none' | 'gzip';
  /** Producer batching delay; default 5 ms. */
  lingerMs?: number;
  /** Extra librdkafka properties for every client, e.g. { debug: 'cgrp' }. */
  config?: Record<string, string | number | boolean>;
}

// Loaded on first use: importing the log stage must not need the native addon unless this transport is picked.
let loaded: typeof Rdkafka | undefined;
const rdkafka = (): typeof Rdkafka => (loaded ??= createRequire(import.meta.url)('node-rdkafka') as typeof Rdkafka);
const errors = () => rdkafka().CODES.ERRORS;
const REQUEST_TIMEOUT_MS = 10_000;
const DISCONNECT_TIMEOUT_MS = 15_000;
const LEADER_WAIT_MS = 30_000;
/** Delivery reports are served by `poll()`; this bounds how late `send` learns of its acks. */
const DELIVERY_POLL_MS = 5;
/** A blocking consume holds a libuv pool thread; slices keep it short and let `close` in. */
const CONSUME_SLICE_MS = 250;
const EMPTY = Buffer.alloc(0);
/** A changelog is read to its end at restore; an open transaction of a crashed writer holds it up to its timeout. */
const READ_PARTITIONS_TIMEOUT_MS = 120_000;

/**
 * node-rdkafka's message object already carries a LogRecord's fields: it is normalised in place (a string key to a
 * Buffer, a missing value or timestamp to empty / 0) instead of copied into a second object per message.
 */
const toRecord = (message: Message): LogRecord => {
  const record = message as unknown as LogRecord;
  const key = message.key;
  if (key === undefined) record.key = null;
  else if (typeof key === 'string') record.key = Buffer.from(key);
  if (!message.value) record.value = EMPTY;
  if (message.timestamp === undefined) record.timestamp = 0;
  return record;
};

/** Runs a callback-style librdkafka call as a promise, failing with a typed error. */
const settle = (call: (done: (error: LibrdKafkaError | null | undefined) => void) => void, code: LogErrorCode): Promise<void> =>
  new Promise((resolve, reject) => call((error) => (error ? reject(toError(code, error)) : resolve())));

type Client = Producer | KafkaConsumer;

const toError = (code: LogErrorCode, error: LibrdKafkaError | Error): LogError => {
  const { isRetriable, isFatal } = error as Partial<LibrdKafkaError>;
  return LogError.wrap(code, error, isRetriable ?? isFatal !== true);
};

/**
 * A librdkafka call's answer, or a retriable error once `ms` passed: calls run on libuv's thread pool, where they can
 * queue behind other blocking calls, and a delivery report can be lost with a closing client. The engine must see
 * a failure it can restart from, never a promise that stays pending.
 */
const withDeadline = <T>(promise: Promise<T>, ms: number, code: LogErrorCode, what: string): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new LogError(code, `${what}: no answer from librdkafka in ${ms} ms`, true)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
/** Slack over librdkafka's own timeouts before the JS side gives up on a call. */
const DEADLINE_SLACK_MS = 5_000;
/** How long closing a transactional producer waits for a transactional call in flight before leaving it to finish. */
const CLOSE_CALL_WAIT_MS = 5_000;

const connect = (client: Client): Promise<void> =>
  new Promise((resolve, reject) => {
    client.connect({ allTopics: false, timeout: REQUEST_TIMEOUT_MS }, (error) => (error ? reject(toError('connection', error)) : resolve()));
  });

/**
 * Disconnects, but never waits longer than DISCONNECT_TIMEOUT_MS: with the broker gone librdkafka's disconnect (a
 * producer's flush, a consumer leaving its group) can wait indefinitely, and a restart must not hang behind it.
 */
const disconnect = (client: Client): Promise<void> =>
  new Promise((resolve) => {
    if (!client.isConnected()) return resolve();
    const timer = setTimeout(resolve, DISCONNECT_TIMEOUT_MS);
    client.disconnect(() => {
      clearTimeout(timer);
      resolve();
    });
  });

/**
 * A key as bytes: node-rdkafka hands a string key to librdkafka as a C string, which ends at the first NUL (a changelog
 * key joining parts with NUL collapsed to its first part, and compaction then kept one entry of many).
 */
const keyBytes = (key: string | Buffer | null): Buffer | null => (typeof key === 'string' ? Buffer.from(key) : key);

export class RdkafkaLog implements Log {
  readonly #global: Record<string, string | number | boolean>;
  readonly #compression: 'none' | 'gzip';
  readonly #lingerMs: number;
  readonly #open = new Set<{ close(): Promise<void> }>();
  #admin: IAdminClient | undefined;
  /** A producer that never produces: metadata and watermark queries. */
  #control: Promise<Producer> | undefined;

  constructor(options: RdkafkaLogOptions) {
    this.#global = {
      'metadata.broker.list': options.brokers.join(','),
      'client.id': options.clientId ?? 'touchstream',
      ...options.config,
    };
    this.#compression = options.compression ?? 'none';
    this.#lingerMs = options.lingerMs ?? 5;
  }

  async createTopics(specs: readonly TopicSpec[]): Promise<void> {
    this.#admin ??= rdkafka().AdminClient.create(this.#global);
    const admin = this.#admin;
    await Promise.all(
      specs.map(
        (spec) =>
          new Promise<void>((resolve, reject) => {
            // replication_factor -1: the broker's default.replication.factor.
            const topic = { topic: spec.topic, num_partitions: spec.partitions, replication_factor: -1, config: spec.config ?? {} };
            admin.createTopic(topic, REQUEST_TIMEOUT_MS, (error) => {
              if (!error || error.code === errors().ERR_TOPIC_ALREADY_EXISTS) resolve();
              else reject(toError('admin', error));
            });
          }),
      ),
    );
    const deadline = Date.now() + LEADER_WAIT_MS;
    for (const spec of specs) await this.#awaitLeaders(spec.topic, deadline);
  }

  async endOffsets(topic: string): Promise<PartitionOffset[]> {
    const control = await this.#controlClient();
    const partitions = await this.#partitions(topic);
    if (partitions.length === 0) throw new LogError('admin', `endOffsets: unknown topic ${topic}`, true);
    return Promise.all(
      partitions.map(
        ({ id: partition }) =>
          new Promise<PartitionOffset>((resolve, reject) => {
            control.queryWatermarkOffsets(topic, partition, REQUEST_TIMEOUT_MS, (error, offsets) =>
              error ? reject(toError('admin', error)) : resolve({ topic, partition, offset: offsets.highOffset }),
            );
          }),
      ),
    );
  }

  async producer(): Promise<LogProducer> {
    const producer = new (rdkafka().Producer)(
      {
        ...this.#global,
        'enable.idempotence': true,
        'linger.ms': this.#lingerMs,
        'compression.codec': this.#compression,
        dr_cb: true,
      },
      // murmur2_random: Java's (and kafkajs') murmur2 for keys, random for null keys.
      { partitioner: 'murmur2_random', 'request.required.acks': -1 },
    );
    await connect(producer);
    producer.setPollInterval(DELIVERY_POLL_MS);
    const wrapper = new RdkafkaProducer(producer);
    wrapper.release = this.#track(wrapper);
    return wrapper;
  }

  async transactionalProducer(options: TransactionalProducerOptions): Promise<TransactionalProducer> {
    const producer = new (rdkafka().Producer)(
      {
        ...this.#global,
        'transactional.id': options.transactionalId,
        'transaction.timeout.ms': options.timeoutMs ?? 10_000,
        'enable.idempotence': true,
        'linger.ms': this.#lingerMs,
        'compression.codec': this.#compression,
        // No per-record delivery reports: commitTransaction flushes every record and fails if one failed.
        dr_cb: false,
        // A checkpoint queues its whole changelog and outputs at once.
        'queue.buffering.max.messages': 1_000_000,
        // A transaction begun right after the last one committed meets CONCURRENT_TRANSACTIONS until the coordinator
        // has written that one's markers (a few ms). At librdkafka's default backoff (100 ms) a checkpoint took 92 ms
        // at p50 on this broker; retried after 5 ms (doubling to 50), 13 ms.
        'retry.backoff.ms': 5,
        'retry.backoff.max.ms': 50,
      },
      { partitioner: 'murmur2_random', 'request.required.acks': -1 },
    );
    await connect(producer);
    producer.setPollInterval(DELIVERY_POLL_MS);
    // Fences an older producer with the same id and aborts the transaction it left open.
    await settle((done) => producer.initTransactions(REQUEST_TIMEOUT_MS, done), 'connection');
    const wrapper = new RdkafkaTransactionalProducer(producer, options.transactionalId, options.timeoutMs ?? 10_000);
    wrapper.release = this.#track(wrapper);
    return wrapper;
  }

  async readPartitions(topic: string, partitions: readonly number[]): Promise<LogRecord[]> {
    const control = await this.#controlClient();
    const ends = await Promise.all(
      partitions.map(
        (partition) =>
          new Promise<{ partition: number; low: number; high: number }>((resolve, reject) => {
            control.queryWatermarkOffsets(topic, partition, REQUEST_TIMEOUT_MS, (error, offsets) =>
              error ? reject(toError('admin', error)) : resolve({ partition, low: offsets.lowOffset, high: offsets.highOffset }),
            );
          }),
      ),
    );
    const wanted = ends.filter(({ low, high }) => high > low);
    if (wanted.length === 0) return [];
    // No group: a manual assignment from the start, read (committed records only) until every partition reports its end.
    const reader = new (rdkafka().KafkaConsumer)(
      {
        ...this.#global,
        'group.id': `touchstream-reader-${randomUUID()}`,
        'enable.auto.commit': false,
        'enable.partition.eof': true,
        'isolation.level': 'read_committed',
      },
      { 'auto.offset.reset': 'earliest' },
    );
    await connect(reader);
    const open = new Set(wanted.map(({ partition }) => partition));
    reader.on('partition.eof', (eof: { topic: string; partition: number }) => {
      if (eof.topic === topic) open.delete(eof.partition);
    });
    const records: LogRecord[] = [];
    try {
      reader.assign(wanted.map(({ partition, low }) => ({ topic, partition, offset: low })));
      const deadline = Date.now() + READ_PARTITIONS_TIMEOUT_MS;
      while (open.size > 0) {
        if (Date.now() > deadline) throw new LogError('consume', `readPartitions: ${topic} did not reach its end in ${READ_PARTITIONS_TIMEOUT_MS} ms`, true);
        const messages = await new Promise<Message[]>((resolve, reject) => {
          reader.setDefaultConsumeTimeout(CONSUME_SLICE_MS);
          reader.consume(10_000, (error, batch) => (error ? reject(toError('consume', error)) : resolve(batch)));
        });
        for (const message of messages) records.push(toRecord(message));
      }
    } finally {
      await disconnect(reader);
    }
    return records;
  }

  async consumer(options: ConsumerOptions): Promise<LogConsumer> {
    const wrapper = new RdkafkaConsumer();
    const consumer = new (rdkafka().KafkaConsumer)(
      {
        ...this.#global,
        'group.id': options.groupId,
        'enable.auto.commit': false,
        // Static membership: a restarted worker with the same id takes its partitions back without waiting for
        // the dead one's session to time out; a worker gone for good is replaced after the session timeout.
        ...(options.instanceId ? { 'group.instance.id': options.instanceId } : {}),
        'session.timeout.ms': 10_000,
        // What librdkafka prefetches while the engine does not poll (a sink is down): bounded, so memory is.
        'queued.max.messages.kbytes': 16_384,
        rebalance_cb: (error: LibrdKafkaError, assignment: TopicPartition[]) => wrapper.onRebalance(error, assignment),
      },
      { 'auto.offset.reset': options.start ?? 'earliest' },
    );
    await connect(consumer);
    try {
      consumer.subscribe([...options.topics]);
    } catch (error) {
      await disconnect(consumer);
      throw toError('consume', error as LibrdKafkaError);
    }
    wrapper.attach(consumer);
    wrapper.release = this.#track(wrapper);
    return wrapper;
  }

  async close(): Promise<void> {
    const open = [...this.#open];
    this.#open.clear();
    await Promise.allSettled(open.map((client) => client.close()));
    this.#admin?.disconnect();
    this.#admin = undefined;
    const control = this.#control;
    this.#control = undefined;
    const producer = await control?.catch(() => undefined);
    if (producer) await disconnect(producer);
  }

  #track(client: { close(): Promise<void> }): () => void {
    this.#open.add(client);
    return () => this.#open.delete(client);
  }

  #controlClient(): Promise<Producer> {
    if (!this.#control) {
      // No auto-creation: a query about a missing topic must not create it with broker defaults.
      const producer = new (rdkafka().Producer)({ ...this.#global, 'allow.auto.create.topics': false });
      this.#control = connect(producer).then(
        () => producer,
        (error: unknown) => {
          this.#control = undefined;
          throw error;
        },
      );
    }
    return this.#control;
  }

  async #partitions(topic: string): Promise<{ id: number; leader: number }[]> {
    const control = await this.#controlClient();
    const metadata = await new Promise<Metadata>((resolve, reject) => {
      control.getMetadata({ topic, timeout: REQUEST_TIMEOUT_MS }, (error, data) => (error ? reject(toError('admin', error)) : resolve(data)));
    });
    return metadata.topics.find((candidate) => candidate.name === topic)?.partitions ?? [];
  }

  /** A created topic answers produce and fetch only once each partition has a leader. */
  async #awaitLeaders(topic: string, deadline: number): Promise<void> {
    for (;;) {
      const partitions = await this.#partitions(topic);
      if (partitions.length > 0 && partitions.every((partition) => partition.leader >= 0)) return;
      if (Date.now() > deadline) throw new LogError('admin', `createTopics: ${topic} has no leader after ${LEADER_WAIT_MS} ms`, true);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** The acknowledgements one `send` waits for; the delivery report of each record carries it as its opaque. */
class Delivery {
  readonly done: Promise<void>;
  #remaining: number;
  #error: LibrdKafkaError | Error | undefined;
  #resolve!: () => void;
  #reject!: (error: LogError) => void;

  constructor(records: number) {
    this.#remaining = records;
    this.done = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** Counts `records` as settled, failed with `error` if given. */
  settle(records: number, error: LibrdKafkaError | Error | null | undefined): void {
    if (error && !this.#error) this.#error = error;
    this.#remaining -= records;
    if (this.#remaining > 0) return;
    if (this.#error) this.#reject(toError('produce', this.#error));
    else this.#resolve();
  }
}

class RdkafkaProducer implements LogProducer {
  protected readonly producer: Producer;
  release = (): void => {};
  #closed = false;

  constructor(producer: Producer) {
    this.producer = producer;
    producer.on('delivery-report', (error, report) => (report.opaque as Delivery | undefined)?.settle(1, error));
  }

  /** Queues every record, then resolves when the last delivery report is in (all acked by all in-sync replicas). */
  async send(topic: string, records: readonly ProduceRecord[]): Promise<void> {
    if (this.#closed) throw new LogError('closed', 'send: the producer is closed', false);
    if (records.length === 0) return;
    const delivery = new Delivery(records.length);
    for (let index = 0; index < records.length; ) {
      const record = records[index]!;
      try {
        this.producer.produce(topic, record.partition ?? null, record.value.length === 0 ? null : record.value, keyBytes(record.key), null, delivery);
        index++;
      } catch (error) {
        if ((error as LibrdKafkaError).code === errors().ERR__QUEUE_FULL) {
          await this.#deliveries();
          continue;
        }
        delivery.settle(records.length - index, error as LibrdKafkaError);
        break;
      }
    }
    await delivery.done;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.release();
    // Producer.disconnect flushes (delivering what is queued) before it disconnects.
    await disconnect(this.producer);
  }

  /** Waits until delivery reports free room in librdkafka's queue (or a short while). */
  #deliveries(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.producer.removeListener('delivery-report', done);
        resolve();
      };
      const timer = setTimeout(done, 50);
      this.producer.once('delivery-report', done);
      this.producer.poll();
    });
  }
}

/** librdkafka transactions: begin, produce, send the consumer's offsets with its group metadata (fencing zombies), commit. */
class RdkafkaTransactionalProducer extends RdkafkaProducer implements TransactionalProducer {
  #open = false;
  /**
   * The transactional call waiting for librdkafka's answer, if any. Its thread waits for a reply from librdkafka's
   * main thread with no timeout of its own (rd_kafka_txn_op_req); destroying the handle meanwhile deadlocks that
   * thread and the destroying one (rd_kafka_txns_term vs the waiter): two libuv pool threads pinned for good and a
   * process that cannot exit. Seen after a broker restart: sendOffsetsToTransaction unanswered for over 15 s.
   */
  #call: Promise<unknown> = Promise.resolve();
  /** How long a send waits out a full librdkafka queue: every queued record is delivered or failed by then. */
  readonly #queueWaitMs: number;

  constructor(
    producer: Producer,
    readonly transactionalId: string,
    transactionTimeoutMs: number,
  ) {
    super(producer);
    // librdkafka caps message.timeout.ms at the transaction timeout: every record is settled by then.
    this.#queueWaitMs = transactionTimeoutMs + DEADLINE_SLACK_MS;
  }

  /**
   * Queues the records in the open transaction without waiting for their acknowledgements: `commit` flushes them
   * and fails when any failed (no per-record delivery report crosses into JavaScript). A full queue is waited out.
   */
  override async send(topic: string, records: readonly ProduceRecord[]): Promise<void> {
    if (!this.#open) throw new LogError('produce', `send to ${topic}: no transaction is open`, false);
    const deadline = Date.now() + this.#queueWaitMs;
    for (let index = 0; index < records.length; ) {
      const record = records[index]!;
      try {
        this.producer.produce(topic, record.partition ?? null, record.value.length === 0 ? null : record.value, keyBytes(record.key));
        index++;
      } catch (error) {
        if ((error as LibrdKafkaError).code !== errors().ERR__QUEUE_FULL) throw toError('produce', error as LibrdKafkaError);
        if (Date.now() > deadline) throw new LogError('produce', `send to ${topic}: librdkafka's queue stayed full`, true);
        // librdkafka's own threads deliver meanwhile and free room.
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  }

  async begin(): Promise<void> {
    await withDeadline(this.#track(settle((done) => this.producer.beginTransaction(done), 'produce')), REQUEST_TIMEOUT_MS, 'produce', 'beginTransaction');
    this.#open = true;
  }

  async commit(consumer: LogConsumer, offsets: readonly PartitionOffset[]): Promise<void> {
    if (!(consumer instanceof RdkafkaConsumer)) throw new LogError('commit', 'commit: the consumer is not an rdkafka consumer', false);
    if (offsets.length > 0) {
      const native = consumer.native();
      await withDeadline(
        this.#track(settle(
          (done) => this.producer.sendOffsetsToTransaction(offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })), native, REQUEST_TIMEOUT_MS, done),
          'commit',
        )),
        REQUEST_TIMEOUT_MS + DEADLINE_SLACK_MS,
        'commit',
        'sendOffsetsToTransaction',
      );
    }
    await withDeadline(this.#track(settle((done) => this.producer.commitTransaction(REQUEST_TIMEOUT_MS, done), 'commit')), REQUEST_TIMEOUT_MS + DEADLINE_SLACK_MS, 'commit', 'commitTransaction');
    this.#open = false;
  }

  async abort(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    await withDeadline(this.#track(settle((done) => this.producer.abortTransaction(REQUEST_TIMEOUT_MS, done), 'produce')), REQUEST_TIMEOUT_MS + DEADLINE_SLACK_MS, 'produce', 'abortTransaction');
  }

  /**
   * Destroys the handle only once no transactional call waits for its answer (see `#call`). A call still unanswered
   * after CLOSE_CALL_WAIT_MS (the broker gone) is left to finish: the handle is destroyed when it does (when the
   * broker answers, or fences this producer because its successor with the same id started), and close returns now.
   */
  override async close(): Promise<void> {
    const call = this.#call;
    const answered = await withDeadline(call.then(() => true), CLOSE_CALL_WAIT_MS, 'closed', 'close').catch(() => false);
    if (answered) await super.close();
    else void call.then(() => super.close());
  }

  #track<T>(call: Promise<T>): Promise<T> {
    this.#call = call.catch(() => {});
    return call;
  }
}

class RdkafkaConsumer implements LogConsumer {
  #generation = 0;
  #consumer: KafkaConsumer | undefined;
  #assignment: TopicPartition[] = [];
  #consuming: Promise<unknown> = Promise.resolve();
  #closed = false;
  release = (): void => {};

  attach(consumer: KafkaConsumer): void {
    this.#consumer = consumer;
  }

  /** librdkafka's rebalance callback: applies the (eager or cooperative) assignment and records it. */
  onRebalance(error: LibrdKafkaError, partitions: TopicPartition[]): void {
    const consumer = this.#consumer;
    if (!consumer) return;
    const cooperative = consumer.rebalanceProtocol() === 'COOPERATIVE';
    const changed = partitions.map(({ topic, partition }) => ({ topic, partition }));
    this.#generation++;
    try {
      if (error.code === errors().ERR__ASSIGN_PARTITIONS) {
        if (cooperative) consumer.incrementalAssign(changed);
        else consumer.assign(changed);
        this.#assignment = cooperative ? [...this.#assignment, ...changed] : changed;
      } else {
        if (cooperative && error.code === errors().ERR__REVOKE_PARTITIONS) consumer.incrementalUnassign(changed);
        else consumer.unassign();
        const revoked = new Set(changed.map(({ topic, partition }) => `${topic}\u0000${partition}`));
        this.#assignment = cooperative ? this.#assignment.filter(({ topic, partition }) => !revoked.has(`${topic}\u0000${partition}`)) : [];
      }
    } catch {
      // Assigning fails only once the consumer is disconnecting; the group takes the partitions back anyway.
      this.#assignment = [];
    }
  }

  /**
   * One non-blocking consume takes what librdkafka has queued; only when that is nothing, blocking consumes of one
   * record wait (in slices) until the deadline, then a last non-blocking one tops the batch up.
   */
  async poll(maxRecords: number, timeoutMs: number): Promise<LogRecord[]> {
    if (maxRecords <= 0) return [];
    const deadline = Date.now() + timeoutMs;
    // A rebalance between two consumes makes what the first one read stale (it is read again from the committed offset).
    let generation = this.#generation;
    let messages = await this.#consume(maxRecords, 0);
    while (messages.length === 0) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 || this.#closed) return [];
      generation = this.#generation;
      messages = await this.#consume(1, Math.min(remaining, CONSUME_SLICE_MS));
      if (messages.length > 0 && maxRecords > 1) messages = messages.concat(await this.#consume(maxRecords - 1, 0));
    }
    if (generation !== this.#generation) {
      // Whether these came before or after the new assignment is unknown: drop them all and read again from the
      // committed offsets, where the new generation starts anyway.
      if (messages.length > 0) await this.#rewind();
      return [];
    }
    for (const message of messages) toRecord(message);
    return messages as unknown as LogRecord[];
  }

  generation(): number {
    return this.#generation;
  }

  /** librdkafka's cached high watermark (the last stable offset under read_committed) from its fetch responses: no round trip. */
  logEnds(): PartitionOffset[] {
    const consumer = this.#consumer;
    if (this.#closed || !consumer) return [];
    const ends: PartitionOffset[] = [];
    for (const { topic, partition } of this.#assignment) {
      try {
        const { highOffset } = consumer.getWatermarkOffsets(topic, partition);
        // Not fetched yet (after an assignment, or while a restarted broker has no leader for it): -1, unknown.
        ends.push({ topic, partition, offset: highOffset >= 0 ? highOffset : -1 });
      } catch {
        // Not connected (closing): nothing known.
      }
    }
    return ends;
  }

  /** librdkafka's application position: past the last message consumed and the control records after it. */
  positions(): PartitionOffset[] {
    const consumer = this.#consumer;
    if (this.#closed || !consumer || this.#assignment.length === 0) return [];
    try {
      return consumer.position(this.#assignment).map(({ topic, partition, offset }) => ({ topic, partition, offset: typeof offset === 'number' && offset >= 0 ? offset : -1 }));
    } catch {
      return [];
    }
  }

  async committed(): Promise<PartitionOffset[]> {
    const consumer = this.#consumer;
    if (this.#closed || !consumer || this.#assignment.length === 0) return [];
    const partitions = await new Promise<Array<{ topic: string; partition: number; offset?: number }>>((resolve, reject) =>
      consumer.committed(this.#assignment, REQUEST_TIMEOUT_MS, (error, offsets) => (error ? reject(toError('commit', error)) : resolve(offsets))),
    );
    return partitions.map(({ topic, partition, offset }) => ({ topic, partition, offset: typeof offset === 'number' && offset >= 0 ? offset : -1 }));
  }

  /** Seeks every assigned partition back to its committed offset (the group's start position where none is). */
  async #rewind(): Promise<void> {
    const consumer = this.#consumer;
    if (!consumer || this.#assignment.length === 0) return;
    const committed = await new Promise<TopicPartitionOffset[]>((resolve, reject) =>
      consumer.committed(this.#assignment, REQUEST_TIMEOUT_MS, (error, partitions) => (error ? reject(toError('consume', error)) : resolve(partitions))),
    );
    await Promise.all(
      committed.map(
        ({ topic, partition, offset }) =>
          new Promise<void>((resolve, reject) =>
            // librdkafka's logical offsets: -2 is the beginning (no commit yet; the group starts at 'earliest').
            consumer.seek({ topic, partition, offset: offset !== undefined && offset >= 0 ? offset : -2 }, REQUEST_TIMEOUT_MS, (error) =>
              error ? reject(toError('consume', error)) : resolve(),
            ),
          ),
      ),
    );
  }

  /** The librdkafka consumer, for `sendOffsetsToTransaction`. */
  native(): KafkaConsumer {
    if (!this.#consumer) throw new LogError('closed', 'the consumer is not connected', false);
    return this.#consumer;
  }

  async commit(offsets: readonly PartitionOffset[]): Promise<void> {
    if (this.#closed || !this.#consumer) throw new LogError('closed', 'commit: the consumer is closed', false);
    if (offsets.length === 0) return;
    try {
      // Synchronous: blocks the event loop for one OffsetCommit round trip, but reports the broker's answer.
      this.#consumer.commitSync(offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })));
    } catch (error) {
      throw toError('commit', error as LibrdKafkaError);
    }
  }

  assignment(): TopicPartition[] {
    return this.#assignment.slice();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.release();
    // A consume in flight ends within its slice, unless the thread pool is saturated: never wait on it for long.
    await withDeadline(this.#consuming, REQUEST_TIMEOUT_MS, 'consume', 'consume before close').catch(() => {});
    this.#assignment = [];
    if (this.#consumer) await disconnect(this.#consumer);
  }

  #consume(maxRecords: number, timeoutMs: number): Promise<Message[]> {
    const consumer = this.#consumer;
    if (this.#closed || !consumer) return Promise.resolve([]);
    const consuming = new Promise<Message[]>((resolve, reject) => {
      consumer.setDefaultConsumeTimeout(timeoutMs);
      consumer.consume(maxRecords, (error, messages) => (error ? reject(toError('consume', error)) : resolve(messages)));
    });
    this.#consuming = consuming;
    return consuming;
  }
}

// The in-process log: Kafka's partition, offset and commit semantics in one process's memory, for the embedded default and tests.
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
import { partitionOf } from './partitioner.ts';

interface Topic {
  partitions: LogRecord[][];
}

export interface MemoryLogOptions {
  /** Partitions of a topic created implicitly by a producer or consumer (Kafka's num.partitions). */
  defaultPartitions?: number;
  /** Wall clock for record timestamps; injectable for tests. */
  now?: () => number;
}

export class MemoryLog implements Log {
  readonly #topics = new Map<string, Topic>();
  /** Committed next offsets per group, keyed "topic/partition". */
  readonly #committed = new Map<string, Map<string, number>>();
  readonly #waiters = new Set<() => void>();
  readonly #defaultPartitions: number;
  readonly #now: () => number;
  #roundRobin = 0;

  constructor(options: MemoryLogOptions = {}) {
    this.#defaultPartitions = options.defaultPartitions ?? 4;
    this.#now = options.now ?? Date.now;
  }

  async createTopics(specs: readonly TopicSpec[]): Promise<void> {
    for (const spec of specs) this.#topic(spec.topic, spec.partitions);
  }

  async endOffsets(topic: string): Promise<PartitionOffset[]> {
    return this.#topic(topic).partitions.map((records, partition) => ({ topic, partition, offset: records.length }));
  }

  async producer(): Promise<LogProducer> {
    return {
      send: async (topic, records) => this.append(topic, records),
      close: async () => {},
    };
  }

  /** In one process a transaction is the records held back until `commit` appends them with the offsets, at once. */
  async transactionalProducer(options: TransactionalProducerOptions): Promise<TransactionalProducer> {
    let pending: Array<{ topic: string; records: readonly ProduceRecord[] }> | null = null;
    return {
      transactionalId: options.transactionalId,
      begin: async () => {
        pending = [];
      },
      send: async (topic, records) => {
        if (pending === null) this.append(topic, records);
        else pending.push({ topic, records });
      },
      commit: async (consumer, offsets) => {
        for (const { topic, records } of pending ?? []) this.append(topic, records);
        pending = null;
        await consumer.commit(offsets);
      },
      abort: async () => {
        pending = null;
      },
      close: async () => {},
    };
  }

  async readPartitions(topic: string, partitions: readonly number[]): Promise<LogRecord[]> {
    const topicPartitions = this.#topic(topic).partitions;
    return partitions.flatMap((partition) => topicPartitions[partition] ?? []);
  }

  /** Appends records synchronously; keyed records go to murmur2(key) like Kafka, unkeyed ones round-robin. */
  append(topic: string, records: readonly ProduceRecord[]): void {
    const { partitions } = this.#topic(topic);
    const timestamp = this.#now();
    for (const record of records) {
      const key = record.key === null ? null : typeof record.key === 'string' ? Buffer.from(record.key) : record.key;
      const partition =
        record.partition ?? (key === null ? this.#roundRobin++ % partitions.length : partitionOf(key, partitions.length));
      const log = partitions[partition]!;
      log.push({ topic, partition, offset: log.length, key, value: record.value, timestamp });
    }
    for (const wake of this.#waiters) wake();
  }

  /** Everything in a topic, partition by partition (for tests and the CLI's topic reader). */
  read(topic: string): LogRecord[] {
    return this.#topic(topic).partitions.flat();
  }

  async consumer(options: ConsumerOptions): Promise<LogConsumer> {
    const group = this.#committed.get(options.groupId) ?? new Map<string, number>();
    this.#committed.set(options.groupId, group);
    const positions = new Map<string, number>();
    const assignment: TopicPartition[] = [];
    for (const topic of options.topics) {
      this.#topic(topic).partitions.forEach((records, partition) => {
        assignment.push({ topic, partition });
        const key = `${topic}/${partition}`;
        positions.set(key, group.get(key) ?? (options.start === 'latest' ? records.length : 0));
      });
    }
    let closed = false;
    const poll = async (maxRecords: number, timeoutMs: number): Promise<LogRecord[]> => {
      const batch = this.#take(assignment, positions, maxRecords);
      if (batch.length > 0 || closed || timeoutMs <= 0) return batch;
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, timeoutMs);
        this.#waiters.add(wake);
      });
      return this.#take(assignment, positions, maxRecords);
    };
    return {
      poll,
      commit: async (offsets) => {
        for (const { topic, partition, offset } of offsets) group.set(`${topic}/${partition}`, offset);
      },
      assignment: () => assignment.slice(),
      // One consumer owns every partition of its topics: the assignment never changes.
      generation: () => 1,
      // No transaction markers here: the next offset to hand out is the position itself.
      positions: () => assignment.map(({ topic, partition }) => ({ topic, partition, offset: positions.get(`${topic}/${partition}`)! })),
      committed: async () => assignment.map(({ topic, partition }) => ({ topic, partition, offset: group.get(`${topic}/${partition}`) ?? -1 })),
      close: async () => {
        closed = true;
      },
    };
  }

  async close(): Promise<void> {
    for (const wake of this.#waiters) wake();
  }

  /** Takes up to `maxRecords`, a fair share from each partition so no partition starves the others. */
  #take(assignment: TopicPartition[], positions: Map<string, number>, maxRecords: number): LogRecord[] {
    const batch: LogRecord[] = [];
    const share = Math.max(1, Math.ceil(maxRecords / Math.max(1, assignment.length)));
    for (const { topic, partition } of assignment) {
      const key = `${topic}/${partition}`;
      const records = this.#topic(topic).partitions[partition]!;
      const from = positions.get(key)!;
      const to = Math.min(records.length, from + share, from + maxRecords - batch.length);
      for (let offset = from; offset < to; offset++) batch.push(records[offset]!);
      positions.set(key, to);
      if (batch.length >= maxRecords) break;
    }
    return batch;
  }

  #topic(name: string, partitions = this.#defaultPartitions): Topic {
    let topic = this.#topics.get(name);
    if (!topic) {
      topic = { partitions: Array.from({ length: partitions }, () => []) };
      this.#topics.set(name, topic);
    }
    return topic;
  }
}

// The one `Log` interface every transport implements: partitioned topics, offsets, batch polling, commits.

/** A record read from a partition. `offset` is the record's own offset; commit `offset + 1` to move past it. */
export interface LogRecord {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer;
  /** Broker/producer timestamp, wall clock ms (not event time). */
  timestamp: number;
}

export interface ProduceRecord {
  key: string | Buffer | null;
  /** An empty value is sent as Kafka's null value: a tombstone that deletes the key on a compacted topic (read back empty). */
  value: Buffer;
  /** An explicit partition (changelogs are partitioned like their input); default: by key. */
  partition?: number;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** The next offset to read in a partition (Kafka's committed-offset convention). */
export interface PartitionOffset extends TopicPartition {
  offset: number;
}

export interface TopicSpec {
  topic: string;
  partitions: number;
  /** Extra topic configs, e.g. { 'cleanup.policy': 'compact' }. */
  config?: Record<string, string>;
}

export interface LogProducer {
  /** Resolves once every record is acknowledged by the log (durable by its standard). Partitions by key (murmur2). */
  send(topic: string, records: readonly ProduceRecord[]): Promise<void>;
  close(): Promise<void>;
}

export interface ConsumerOptions {
  groupId: string;
  topics: readonly string[];
  /** Where a group with no committed offset starts; default 'earliest'. */
  start?: 'earliest' | 'latest';
  /** A stable member id (Kafka static membership) where the client supports it: a restart keeps the assignment. */
  instanceId?: string;
}

/**
 * A producer whose sends and the consumer offsets they came from commit atomically (Kafka transactions): readers
 * see a transaction's records only once it is committed, and never those of an aborted one.
 */
export interface TransactionalProducer {
  readonly transactionalId: string;
  /** Opens a transaction; sends until `commit` or `abort` belong to it. */
  begin(): Promise<void>;
  send(topic: string, records: readonly ProduceRecord[]): Promise<void>;
  /** Commits the open transaction together with these next-to-read offsets of `consumer`'s group. */
  commit(consumer: LogConsumer, offsets: readonly PartitionOffset[]): Promise<void>;
  /** Drops the open transaction's records (no-op when none is open). */
  abort(): Promise<void>;
  close(): Promise<void>;
}

export interface TransactionalProducerOptions {
  /** Stable per worker: a restarted worker with the same id fences (aborts) its predecessor's open transaction. */
  transactionalId: string;
  /** The broker aborts a transaction left open this long (a crashed worker's); default 10 s. */
  timeoutMs?: number;
}

export interface LogConsumer {
  /**
   * Answers the records available now, up to `maxRecords`, waiting at most `timeoutMs` when there are none.
   * Records of one partition come in offset order.
   */
  poll(maxRecords: number, timeoutMs: number): Promise<LogRecord[]>;
  /** Commits the next offsets to read for this group. */
  commit(offsets: readonly PartitionOffset[]): Promise<void>;
  /** The partitions this consumer owns now (empty until it has joined its group). */
  assignment(): TopicPartition[];
  /**
   * Counts assignment changes (rebalances). After a change every assigned partition is read again from its
   * committed offset, and the records a `poll` answers all belong to the generation `generation()` reports
   * right after it: a caller that sees a new generation drops what it did since its last commit and restores.
   */
  generation(): number;
  /**
   * Where each assigned partition's log ends (next offset to be written; the last stable offset for a
   * read_committed reader), as the client last saw it while fetching, without a broker round trip. A partition the
   * client has not fetched yet is reported with offset -1 when the client can tell (librdkafka), else left out.
   * Optional: the engine uses it so a partition with records in the log that were not polled yet is never judged
   * idle.
   */
  logEnds?(): PartitionOffset[];
  /**
   * The next offset this consumer will hand out per assigned partition: past the records `poll` answered and past
   * what the client skipped after them (transaction markers, aborted records), -1 where unknown. Reading a
   * transactional topic, this reaches the log end once everything committed is read, although no record sits at
   * the last offsets (the commit markers). Optional: the loader uses it to tell it has caught up.
   */
  positions?(): PartitionOffset[];
  /** The group's committed offsets of the assigned partitions (-1 where none), from the broker. Optional. */
  committed?(): Promise<PartitionOffset[]>;
  close(): Promise<void>;
}

export interface Log {
  /** Creates the topics that do not exist yet. */
  createTopics(specs: readonly TopicSpec[]): Promise<void>;
  /** The offset after the last record of each partition of `topic`. */
  endOffsets(topic: string): Promise<PartitionOffset[]>;
  producer(): Promise<LogProducer>;
  transactionalProducer(options: TransactionalProducerOptions): Promise<TransactionalProducer>;
  /**
   * Reads the committed records of some partitions of a topic from their start to their end now, without a
   * consumer group (restoring state from a changelog). Tombstones come back with an empty value.
   */
  readPartitions(topic: string, partitions: readonly number[]): Promise<LogRecord[]>;
  consumer(options: ConsumerOptions): Promise<LogConsumer>;
  close(): Promise<void>;
}

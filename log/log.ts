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
  value: Buffer;
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
  close(): Promise<void>;
}

export interface Log {
  /** Creates the topics that do not exist yet. */
  createTopics(specs: readonly TopicSpec[]): Promise<void>;
  /** The offset after the last record of each partition of `topic`. */
  endOffsets(topic: string): Promise<PartitionOffset[]>;
  producer(): Promise<LogProducer>;
  consumer(options: ConsumerOptions): Promise<LogConsumer>;
  close(): Promise<void>;
}

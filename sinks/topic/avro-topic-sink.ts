// A sink that writes values to a Kafka-style topic as Avro in the Confluent wire format, keyed for partitioning.

/** What the sink needs of a producer (the log's producer satisfies it). */
export interface TopicProducer {
  send(topic: string, records: readonly { key: string | Buffer | null; value: Buffer }[]): Promise<void>;
}

export interface ValueEncoder<T> {
  encode(value: T): Buffer;
}

export interface AvroTopicSinkOptions<T> {
  topic: string;
  producer: TopicProducer;
  codec: ValueEncoder<T>;
  keyOf(value: T): string | null;
  /** Only values that pass go to the topic (e.g. emitted signals, not suppressed ones). */
  filter?(value: T): boolean;
  /** Adapts a value to the Avro record shape when they differ. */
  toRecord?(value: T): T;
}

export function avroTopicSink<T>(options: AvroTopicSinkOptions<T>) {
  return {
    name: `topic:${options.topic}`,
    async write(batch: readonly T[]): Promise<void> {
      const records = [];
      for (const value of batch) {
        if (options.filter && !options.filter(value)) continue;
        const record = options.toRecord ? options.toRecord(value) : value;
        records.push({ key: options.keyOf(value), value: options.codec.encode(record) });
      }
      if (records.length > 0) await options.producer.send(options.topic, records);
    },
  };
}

// A sink that writes an output's values as row chunks to its table's topic (in the engine's checkpoint transaction); the loader reads them into ClickHouse.
import type { RowCodec } from './row-chunks.ts';
import { encodeRowChunks } from './row-chunks.ts';

/** What the sink needs of a producer (the engine's transactional producer satisfies it). */
export interface RowTopicProducer {
  send(topic: string, records: readonly { key: string | Buffer | null; value: Buffer }[]): Promise<void>;
}

export interface RowTopicSinkOptions<T> {
  topic: string;
  producer: RowTopicProducer;
  codec: RowCodec<T>;
}

export function rowTopicSink<T>(options: RowTopicSinkOptions<T>) {
  return {
    name: `rows:${options.topic}`,
    transactional: true as const,
    async write(batch: readonly T[], pace?: () => Promise<void>): Promise<void> {
      if (batch.length === 0) return;
      const chunks = await encodeRowChunks(batch, options.codec, pace);
      await options.producer.send(options.topic, chunks.map((value) => ({ key: null, value })));
    },
  };
}

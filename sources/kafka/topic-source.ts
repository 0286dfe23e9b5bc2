// Reads contract events from an existing Kafka topic (JSON or Avro in the Confluent wire format) into touchstream, committing only what is durable.
import { z } from 'zod';
import type { Log, LogConsumer, LogRecord, PartitionOffset } from '../../log/log.ts';
import type { AvroWireCodec } from '../../schemas/codec.ts';
import { parseEvent } from '../../schemas/events.ts';
import type { CxEvent } from '../../schemas/events.ts';
import type { DeadLetter } from '../../schemas/outputs.ts';
import type { Source, SourceBatch } from '../source.ts';
import { createEventDecoder, deadLetterFor } from './event-decoder.ts';

const QUIET_POLLS_AT_END = 4;

export const topicSourceConfigSchema = z.object({
  topic: z.string().min(1),
  format: z.enum(['json', 'avro']).default('json'),
  /** Consumer group of the source; its committed offsets make a re-run continue where the last one stopped. */
  groupId: z.string().min(1).optional(),
  /** Stop at the end offsets seen at start (bounded) instead of following the topic. */
  bounded: z.boolean().default(true),
  maxPayloadBytes: z.number().int().min(1).default(1_000_000),
  batchSize: z.number().int().min(1).default(5000),
});
export type TopicSourceConfig = z.input<typeof topicSourceConfigSchema>;

export interface TopicSourceDependencies {
  log: Log;
  /** Needed for `avro`: resolves writer schemas by id. */
  codec?: AvroWireCodec<Record<string, unknown>>;
  wallClock?: () => number;
}

export function kafkaTopicSource(config: TopicSourceConfig, dependencies: TopicSourceDependencies): Source {
  const options = topicSourceConfigSchema.parse(config);
  const wallClock = dependencies.wallClock ?? Date.now;
  const name = `kafka:${options.topic}`;
  if (options.format === 'avro' && !dependencies.codec) throw new Error('an avro topic source needs the event codec');
  const decodeAvro = options.format === 'avro' && dependencies.codec
    ? createEventDecoder({ source: name, codec: dependencies.codec, maxPayloadBytes: options.maxPayloadBytes, wallClock })
    : null;

  const decodeJson = (records: readonly LogRecord[]): SourceBatch => {
    const events: CxEvent[] = [];
    const rejected: DeadLetter[] = [];
    const now = wallClock();
    for (const record of records) {
      if (record.value.length > options.maxPayloadBytes) {
        rejected.push(deadLetterFor(name, record, record.value, 'oversized_payload', `payload of ${record.value.length} bytes exceeds ${options.maxPayloadBytes}`, now));
        continue;
      }
      let json: unknown;
      try {
        json = JSON.parse(record.value.toString('utf8'));
      } catch (error) {
        rejected.push(deadLetterFor(name, record, record.value, 'invalid_json', (error as Error).message, now));
        continue;
      }
      const parsed = parseEvent(json, now);
      if (parsed.ok) events.push(parsed.event);
      else {
        const eventId = typeof (json as { event_id?: unknown })?.event_id === 'string' ? (json as { event_id: string }).event_id : null;
        rejected.push(deadLetterFor(name, record, record.value, parsed.failure.code, parsed.failure.message, now, eventId));
      }
    }
    return { events, rejected };
  };

  return {
    name,
    async *batches(signal?: AbortSignal): AsyncIterable<SourceBatch> {
      const consumer: LogConsumer = await dependencies.log.consumer({ groupId: options.groupId ?? `touchstream-ingest-${options.topic}`, topics: [options.topic], start: 'earliest' });
      const end = options.bounded ? new Map((await dependencies.log.endOffsets(options.topic)).filter((p) => p.offset > 0).map((p) => [p.partition, p.offset])) : null;
      const position = new Map<number, number>();
      // Bounded: stop at the end offsets seen at start, or — when the group's committed offsets are already past some
      // of them, so those records never come — once joined and quiet for a few polls.
      let quietPolls = 0;
      const done = () =>
        end !== null &&
        ([...end].every(([partition, offset]) => (position.get(partition) ?? 0) >= offset) ||
          (consumer.assignment().length > 0 && quietPolls >= QUIET_POLLS_AT_END));
      try {
        while (!signal?.aborted && !done()) {
          const records = (await consumer.poll(options.batchSize, 500)).filter((record) => record.topic === options.topic);
          quietPolls = records.length === 0 ? quietPolls + 1 : 0;
          if (records.length === 0) continue;
          const offsets = new Map<number, number>();
          for (const record of records) offsets.set(record.partition, record.offset + 1);
          let batch: SourceBatch;
          if (decodeAvro) {
            const rejected: DeadLetter[] = [];
            const decoded = await decodeAvro(records, (letter) => rejected.push(letter));
            batch = { events: decoded.map((item) => item.value), rejected };
          } else batch = decodeJson(records);
          const commit: PartitionOffset[] = [...offsets].map(([partition, offset]) => ({ topic: options.topic, partition, offset }));
          yield { ...batch, ack: () => consumer.commit(commit) };
          for (const [partition, offset] of offsets) position.set(partition, offset);
        }
      } finally {
        await consumer.close();
      }
    },
  };
}

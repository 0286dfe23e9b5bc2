// Decodes contract events from a Kafka topic (Avro, Confluent wire format); anything unreadable or invalid becomes a dead letter.
import type { LogRecord } from '../../log/log.ts';
import { eventFromAvro } from '../../schemas/avro.ts';
import type { AvroWireCodec } from '../../schemas/codec.ts';
import type { CxEvent } from '../../schemas/events.ts';
import { checkTypedEvent } from '../../schemas/events.ts';
import type { DeadLetter, RejectReason } from '../../schemas/outputs.ts';

export interface EventDecoderOptions {
  /** Names the source in dead letters and metrics. */
  source: string;
  codec: AvroWireCodec<Record<string, unknown>>;
  /** Payloads above this many bytes are refused before decoding. */
  maxPayloadBytes: number;
  wallClock: () => number;
}

export interface DecodedEvent {
  record: LogRecord;
  value: CxEvent;
}

export type RejectSink = (letter: DeadLetter) => void;

export function deadLetterFor(source: string, record: LogRecord | null, original: Buffer, reason: RejectReason, message: string, receivedAt: number, eventId: string | null = null): DeadLetter {
  return {
    reason_code: reason,
    message,
    source,
    topic: record?.topic ?? null,
    partition: record?.partition ?? null,
    offset: record === null ? null : String(record.offset),
    event_id: eventId,
    received_at: receivedAt,
    original,
  };
}

export function createEventDecoder(options: EventDecoderOptions) {
  const { source, codec, maxPayloadBytes, wallClock } = options;
  return async function decode(records: readonly LogRecord[], reject: RejectSink): Promise<DecodedEvent[]> {
    const now = wallClock();
    const accepted: DecodedEvent[] = [];
    const sized = records.filter((record) => {
      if (record.value.length <= maxPayloadBytes) return true;
      reject(deadLetterFor(source, record, record.value, 'oversized_payload', `payload of ${record.value.length} bytes exceeds ${maxPayloadBytes}`, now));
      return false;
    });
    const decoded = await codec.decodeBatch(sized.map((record) => record.value));
    for (let index = 0; index < sized.length; index++) {
      const record = sized[index]!;
      const result = decoded[index]!;
      if (!result.ok) {
        reject(deadLetterFor(source, record, record.value, result.code, result.message, now));
        continue;
      }
      const event = eventFromAvro(result.value);
      if (event === null) {
        reject(deadLetterFor(source, record, record.value, 'type_properties_mismatch', `properties do not match type ${String(result.value.type)}`, now, String(result.value.event_id)));
        continue;
      }
      const failure = checkTypedEvent(event, now);
      if (failure) {
        reject(deadLetterFor(source, record, record.value, failure.code, failure.message, now, event.event_id));
        continue;
      }
      accepted.push({ record, value: event });
    }
    return accepted;
  };
}

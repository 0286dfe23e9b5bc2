// Avro decode rate: Confluent-framed event bytes → validated typed events, through touchstream's Kafka event decoder, on one core.
import type { LogRecord } from '../../log/index.ts';
import { eventToAvro } from '../../schemas/avro.ts';
import type { AvroWireCodec } from '../../schemas/codec.ts';
import type { CxEvent } from '../../schemas/events.ts';
import { createEventDecoder } from '../../sources/kafka/event-decoder.ts';

export interface DecodeResult {
  events: number;
  /** Framed bytes → typed value (avsc) only. */
  avroOnlyPerSecond: number;
  /** The whole decoder the pipeline runs: size check, Avro, branch unwrap, contract checks, dead letters. */
  decoderPerSecond: number;
  meanBytes: number;
}

const BATCH = 10_000;

export async function measureDecode(codec: AvroWireCodec<Record<string, unknown>>, events: readonly CxEvent[]): Promise<DecodeResult> {
  const records: LogRecord[] = events.map((event, offset) => ({ topic: 'bench', partition: 0, offset, key: null, value: codec.encode(eventToAvro(event)), timestamp: 0 }));
  const decode = createEventDecoder({ source: 'bench', codec, maxPayloadBytes: 1_000_000, wallClock: Date.now });
  let rejected = 0;
  const reject = () => {
    rejected++;
  };
  const pass = async (limit: number) => {
    for (let start = 0; start < limit; start += BATCH) await decode(records.slice(start, Math.min(limit, start + BATCH)), reject);
  };
  await pass(Math.min(records.length, 100_000)); // warm-up
  rejected = 0;
  let started = performance.now();
  await pass(records.length);
  const decoderSeconds = (performance.now() - started) / 1000;
  if (rejected > 0) throw new Error(`the decoder rejected ${rejected} generated events`);
  started = performance.now();
  for (const record of records) codec.decodeKnown(record.value);
  const avroSeconds = (performance.now() - started) / 1000;
  const bytes = records.reduce((sum, record) => sum + record.value.length, 0);
  return {
    events: records.length,
    avroOnlyPerSecond: records.length / avroSeconds,
    decoderPerSecond: records.length / decoderSeconds,
    meanBytes: bytes / records.length,
  };
}

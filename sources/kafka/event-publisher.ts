// Publishes validated events to the input topic as Avro (Confluent wire format), keyed by the session key (a stitching link by its anonymous id).
import type { LogProducer } from '../../log/log.ts';
import { eventToAvro } from '../../schemas/avro.ts';
import type { AvroWireCodec } from '../../schemas/codec.ts';
import type { CxEvent } from '../../schemas/events.ts';
import { sessionKeyOf } from '../../schemas/events.ts';

export function createEventPublisher(producer: LogProducer, codec: AvroWireCodec<Record<string, unknown>>, topic: string) {
  return {
    /** Resolves once the log acknowledged every event. */
    async publish(events: readonly CxEvent[]): Promise<void> {
      if (events.length === 0) return;
      await producer.send(
        topic,
        events.map((event) => ({ key: partitionKeyOf(event), value: codec.encode(eventToAvro(event)) })),
      );
    },
  };
}

/** The record key: the session key, except for identity stitching's link, which goes to the anonymous id's partition. */
export function partitionKeyOf(event: CxEvent): string {
  return event.handover === 'link' ? (event.anonymous_id as string) : sessionKeyOf(event);
}

// Avro types of the contract (loaded from the .avsc files beside this one) and the Confluent wire format.
import { readFileSync } from 'node:fs';
import avro from 'avsc';
import type { CxEvent, EventType } from './events.ts';
import { EVENT_TYPES } from './events.ts';

export type AvroSchema = Record<string, unknown>;
export type AvroType = avro.Type;

const here = new URL('./avro/', import.meta.url);

/** The contract's Avro schemas by subject-ish name; the files are the source of truth. */
export function loadSchema(name: 'event' | 'session' | 'signal' | 'alert' | 'dead-letter' | 'action-dead-letter' | 'action-outcome' | 'erasure'): AvroSchema {
  return JSON.parse(readFileSync(new URL(`${name}.avsc`, here), 'utf8')) as AvroSchema;
}

export function avroType(schema: AvroSchema): AvroType {
  // `auto` unwraps nullable fields (null | T); the union of property records stays wrapped by branch name.
  return avro.Type.forSchema(schema as avro.Schema, { wrapUnions: 'auto' });
}

/** Branch name of the `properties` union for each event type, e.g. page_view → touchstream.events.PageViewProperties. */
export const PROPERTY_BRANCH: Record<EventType, string> = Object.fromEntries(
  EVENT_TYPES.map((type) => [
    type,
    `touchstream.events.${type
      .split('_')
      .map((part) => part[0]!.toUpperCase() + part.slice(1))
      .join('')}Properties`,
  ]),
) as Record<EventType, string>;

/** The Avro record shape of an event: the same as `CxEvent` except that `properties` is wrapped by its branch. */
export function eventToAvro(event: CxEvent): Record<string, unknown> {
  return { ...event, handover: event.handover ?? null, consent: event.consent ?? null, properties: { [PROPERTY_BRANCH[event.type]]: event.properties } };
}

/** Unwraps a decoded Avro event; null when `properties` is not the branch that `type` requires. */
export function eventFromAvro(decoded: Record<string, unknown>): CxEvent | null {
  const wrapped = decoded.properties as Record<string, unknown>;
  const properties = wrapped[PROPERTY_BRANCH[decoded.type as EventType]];
  if (properties === undefined) return null;
  decoded.properties = properties;
  // Only stitching's copies and links carry it: every other event reads as the contract's, without the field.
  if (decoded.handover === null) delete decoded.handover;
  return decoded as unknown as CxEvent;
}

// Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro body.
export const MAGIC_BYTE = 0;
export const WIRE_HEADER_BYTES = 5;

export function frame(schemaId: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(WIRE_HEADER_BYTES + body.length);
  out[0] = MAGIC_BYTE;
  out.writeUInt32BE(schemaId, 1);
  body.copy(out, WIRE_HEADER_BYTES);
  return out;
}

/** The schema id of a framed message, or -1 when the bytes are not in the Confluent wire format. */
export function schemaIdOf(bytes: Buffer): number {
  if (bytes.length < WIRE_HEADER_BYTES || bytes[0] !== MAGIC_BYTE) return -1;
  return bytes.readUInt32BE(1);
}

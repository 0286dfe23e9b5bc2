// The TypeScript/zod event types and the Avro schema cannot drift apart: every property of every type matches in name, optionality and kind.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadSchema, PROPERTY_BRANCH } from '../../schemas/avro.ts';
import { EVENT_TYPES, propertySchemas } from '../../schemas/events.ts';
import { SESSION_KPI_COLUMNS } from '../../schemas/session-kpi-columns.ts';
import { ALERTS_TABLE, SESSIONS_TABLE } from '../../sinks/clickhouse/tables.ts';

type AvroField = { name: string; type: unknown };
const event = loadSchema('event') as { fields: AvroField[] };
const branches = new Map(
  ((event.fields.find((field) => field.name === 'properties')!.type as Array<{ name: string; fields: AvroField[] }>)).map((record) => [`touchstream.events.${record.name}`, record.fields]),
);

/** The Avro kind of a field, with nullability split off: ['string', true] for ["null","string"]. */
function avroKind(type: unknown): [string, boolean] {
  if (Array.isArray(type)) {
    const other = type.filter((branch) => branch !== 'null');
    return [avroKind(other[0])[0], type.includes('null')];
  }
  if (typeof type === 'string') return [type, false];
  const named = type as { type: string };
  return [named.type, false];
}

/** The zod kind of a property schema, with optionality split off. */
function zodKind(schema: z.ZodType): [string, boolean] {
  let inner = schema;
  let optional = false;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodNullable) {
    optional = true;
    inner = inner.unwrap() as z.ZodType;
  }
  if (inner instanceof z.ZodString) return ['string', optional];
  if (inner instanceof z.ZodEnum) return ['enum', optional];
  if (inner instanceof z.ZodNumber) return [inner.format === 'safeint' || inner.isInt ? 'int' : 'double', optional];
  return [inner.constructor.name, optional];
}

describe('zod properties ↔ Avro properties', () => {
  it.each(EVENT_TYPES)('%s has the same fields, optionality and kinds in both', (type) => {
    const avro = branches.get(PROPERTY_BRANCH[type]);
    expect(avro, `Avro branch ${PROPERTY_BRANCH[type]}`).toBeDefined();
    const shape = propertySchemas[type].shape as Record<string, z.ZodType>;
    const fromZod = Object.fromEntries(Object.entries(shape).map(([name, schema]) => [name, zodKind(schema)]));
    const fromAvro = Object.fromEntries(avro!.map((field) => [field.name, avroKind(field.type)]));
    expect(fromAvro).toEqual(fromZod);
  });

  it('has one Avro branch per event type and no other', () => {
    expect([...branches.keys()].sort()).toEqual(EVENT_TYPES.map((type) => PROPERTY_BRANCH[type]).sort());
  });
});

describe('session KPI table ↔ Avro session schema and the sessions table', () => {
  const session = loadSchema('session') as { fields: AvroField[] };
  const avroType = (name: string) => avroKind(session.fields.find((field) => field.name === name)?.type ?? 'missing')[0];

  it.each(SESSION_KPI_COLUMNS.map((entry) => [entry.column, entry.kind] as const))('%s (%s) is a field of session.avsc of the matching kind and a sessions column', (column, kind) => {
    expect(avroType(column)).toBe(kind === 'flag' ? 'boolean' : kind === 'money' ? 'double' : 'int');
    expect(SESSIONS_TABLE.columns.map((entry) => entry.name)).toContain(column);
  });
});

describe('signal context and alerts ↔ their Avro schemas', () => {
  type Named = { name: string; type: unknown; fields?: AvroField[] };
  const signal = loadSchema('signal') as { fields: AvroField[] };
  const contextRecord = (signal.fields.find((field) => field.name === 'context')!.type as Named[]).find((branch) => branch !== ('null' as unknown))!;
  const sessionRecord = (contextRecord.fields!.find((field) => field.name === 'session')!.type as Named[]).find((branch) => branch !== ('null' as unknown))!;

  it.each(SESSION_KPI_COLUMNS.map((entry) => [entry.column, entry.kind] as const))('context.session.%s (%s) is in signal.avsc', (column, kind) => {
    const field = sessionRecord.fields!.find((candidate) => candidate.name === column);
    expect(field, column).toBeDefined();
    expect(avroKind(field!.type)[0]).toBe(kind === 'flag' ? 'boolean' : kind === 'money' ? 'double' : 'int');
  });

  it('has one alerts column per field of alert.avsc, in order', () => {
    const alert = loadSchema('alert') as { fields: AvroField[] };
    expect(ALERTS_TABLE.columns.map((column) => column.name)).toEqual(alert.fields.map((field) => field.name));
  });
});

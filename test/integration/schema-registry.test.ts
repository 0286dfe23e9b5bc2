// The Confluent-compatible registry client against a real registry (Apicurio's ccompat API, started by ops/infra.sh): register, wire-format round trip, evolution, BACKWARD refusals.
import { describe, expect, it } from 'vitest';
import { eventFromAvro, eventToAvro, loadSchema } from '../../schemas/avro.ts';
import { AvroWireCodec } from '../../schemas/codec.ts';
import { parseEvent } from '../../schemas/events.ts';
import type { CxEvent } from '../../schemas/events.ts';
import { HttpSchemaRegistry, SchemaRegistryError } from '../../schemas/registry-http.ts';
import { requireEnvironment, runId } from '../support/environment.ts';

const url = requireEnvironment('TOUCHSTREAM_TEST_SCHEMA_REGISTRY_URL');

const v1 = { type: 'record', name: 'Probe', namespace: 'touchstream.it', fields: [{ name: 'id', type: 'string' }] };
const v2Optional = { ...v1, fields: [...v1.fields, { name: 'note', type: ['null', 'string'], default: null }] };
const v3Required = { ...v1, fields: [...v2Optional.fields, { name: 'score', type: 'int' }] };

describe('HttpSchemaRegistry on a real registry', () => {
  const run = runId();

  it('registers the event schema, encodes in the wire format and a fresh client decodes it by id', async () => {
    const subject = `it-events-${run}-value`;
    const writer = await new AvroWireCodec<Record<string, unknown>>(new HttpSchemaRegistry({ url }), subject, loadSchema('event')).init();
    expect(writer.schemaId).toBeGreaterThan(0);
    // The same schema under the same subject is the same id, also from a client without a cache.
    expect(await new HttpSchemaRegistry({ url }).register(subject, loadSchema('event'))).toBe(writer.schemaId);

    const parsed = parseEvent({ event_id: `${run}-1`, type: 'purchase', occurred_at: '2026-11-02T10:00:00.000Z', customer_id: 'c-1', channel: 'web', properties: { order_id: 'o-1', revenue: 42.5, currency: 'EUR' } }, Date.now());
    const event = (parsed as { ok: true; event: CxEvent }).event;
    const bytes = writer.encode(eventToAvro(event));
    expect(bytes.readUInt32BE(1)).toBe(writer.schemaId);

    const reader = new AvroWireCodec<Record<string, unknown>>(new HttpSchemaRegistry({ url }), subject, loadSchema('event'));
    const [decoded] = await reader.decodeBatch([bytes]);
    expect(decoded!.ok).toBe(true);
    const back = eventFromAvro((decoded as { ok: true; value: Record<string, unknown> }).value)!;
    expect({ ...back, properties: { ...back.properties } }).toEqual(event);
  });

  it('answers undefined for an id the registry does not have, and the codec dead-letters it as unknown_schema_id', async () => {
    const registry = new HttpSchemaRegistry({ url });
    expect(await registry.schemaById(987_654)).toBeUndefined();
    const codec = new AvroWireCodec<Record<string, unknown>>(registry, `it-unknown-${run}-value`, v1);
    const frame = Buffer.from([0, 0, 0x0f, 0x12, 0x06, 2, 0x61]);
    const [decoded] = await codec.decodeBatch([frame]);
    expect(decoded).toMatchObject({ ok: false, code: 'unknown_schema_id' });
  });

  it('reads data written with an older registered schema with the newer one (defaults filled in)', async () => {
    const subject = `it-evolve-${run}-value`;
    const old = await new AvroWireCodec<{ id: string }>(new HttpSchemaRegistry({ url }), subject, v1).init();
    const bytes = old.encode({ id: 'written-by-v1' });
    const current = await new AvroWireCodec<{ id: string; note: string | null }>(new HttpSchemaRegistry({ url }), subject, v2Optional).init();
    expect(current.schemaId).not.toBe(old.schemaId);
    const [decoded] = await current.decodeBatch([bytes]);
    expect(decoded).toEqual({ ok: true, value: { id: 'written-by-v1', note: null } });
  });

  it('with BACKWARD set, accepts an optional field and refuses a new required field with 409', async () => {
    const subject = `it-compat-${run}-value`;
    const registry = new HttpSchemaRegistry({ url });
    await registry.register(subject, v1);
    await registry.setCompatibility(subject, 'BACKWARD');
    expect(await registry.isCompatible(subject, v2Optional)).toBe(true);
    await registry.register(subject, v2Optional);
    expect(await registry.isCompatible(subject, v3Required)).toBe(false);
    const refused = await registry.register(subject, v3Required).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(SchemaRegistryError);
    expect(refused).toMatchObject({ code: 'schema_incompatible', status: 409, retriable: false });
  });

  it('says a registry that does not answer is retriable', async () => {
    const refused = await new HttpSchemaRegistry({ url: 'http://127.0.0.1:9/apis/ccompat/v7', timeoutMs: 2000 }).schemaById(1).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'schema_registry_unreachable', retriable: true });
  });
});

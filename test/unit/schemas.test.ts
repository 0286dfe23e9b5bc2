// Pins the contract edges: every event type validates from JSON and survives Avro in the wire format; bad input is refused with its reason.
import { describe, expect, it } from 'vitest';
import { eventFromAvro, eventToAvro, loadSchema } from '../../schemas/avro.ts';
import { AvroWireCodec } from '../../schemas/codec.ts';
import { EVENT_TYPES, checkTypedEvent, parseEvent } from '../../schemas/events.ts';
import type { CxEvent } from '../../schemas/events.ts';
import { LocalSchemaRegistry } from '../../schemas/registry.ts';

const NOW = Date.parse('2026-11-02T12:00:00.000Z');

const PROPERTIES: Record<string, Record<string, unknown>> = {
  page_view: { page: '/p/1', page_type: 'product' },
  click: { element: 'buy' },
  add_to_cart: { product_id: 'sku-1', price: 19.99, quantity: 2 },
  remove_from_cart: { product_id: 'sku-1', quantity: 1 },
  checkout_start: {},
  checkout_error: { code: 'PAYMENT_DECLINED' },
  purchase: { order_id: 'o-1', revenue: 39.98, currency: 'EUR' },
  video_start: { video_id: 'v1' },
  video_progress: { video_id: 'v1', percent: 50 },
  video_complete: { video_id: 'v1' },
  email_open: { campaign_id: 'c1' },
  email_click: { campaign_id: 'c1', url: 'https://shop.example/x' },
  ad_impression: { campaign_id: 'c1', placement: 'search' },
  ad_click: { campaign_id: 'c1', placement: 'search' },
  contact: { kind: 'call', reason: 'checkout problem' },
  survey_response: { survey_id: 's1', metric: 'nps', score: 9, comment: 'Schnell und einfach', language: 'de' },
  social_mention: { platform: 'x', text: 'Love it', language: 'en', rating: 5, product_id: 'sku-1' },
};

const valid = (type: string, extra: Record<string, unknown> = {}) => ({
  event_id: `e-${type}`,
  type,
  occurred_at: '2026-11-02T10:00:00.123+01:00',
  customer_id: 'c-1',
  channel: 'web',
  properties: PROPERTIES[type],
  ...extra,
});

describe('contract events', () => {
  it('covers every contract type in the tests', () => {
    expect(Object.keys(PROPERTIES).sort()).toEqual([...EVENT_TYPES].sort());
  });

  it.each(EVENT_TYPES)('%s: JSON validates and round-trips through Avro in the Confluent wire format unchanged', async (type) => {
    const parsed = parseEvent(valid(type, { touchpoint: 'tp', experiment: { id: 'x', variant: 'A' } }), NOW);
    expect(parsed.ok).toBe(true);
    const event = (parsed as { event: CxEvent }).event;
    expect(event.occurred_at).toBe(Date.parse('2026-11-02T09:00:00.123Z'));
    const codec = await new AvroWireCodec<Record<string, unknown>>(new LocalSchemaRegistry(), 'events-value', loadSchema('event')).init();
    const bytes = codec.encode(eventToAvro(event));
    expect(bytes[0]).toBe(0);
    expect(bytes.readUInt32BE(1)).toBe(codec.schemaId);
    const [decoded] = await codec.decodeBatch([bytes]);
    expect(decoded!.ok).toBe(true);
    const back = eventFromAvro((decoded as { value: Record<string, unknown> }).value)!;
    expect({ ...back, properties: { ...back.properties } }).toEqual(event);
    expect(checkTypedEvent(back, NOW)).toBeNull();
  });

  const BAD: Array<[string, unknown, string, string]> = [
    ['unknown type', valid('page_view', { type: 'teleport' }), 'unknown_type', 'type'],
    ['missing event_id', { ...valid('click'), event_id: undefined }, 'invalid_event', 'event_id'],
    ['empty event_id', valid('click', { event_id: '' }), 'invalid_event', 'event_id'],
    ['event_id over 64 chars', valid('click', { event_id: 'x'.repeat(65) }), 'invalid_event', 'event_id'],
    ['no customer_id nor anonymous_id', { ...valid('click'), customer_id: undefined }, 'invalid_event', 'customer_id'],
    ['customer_id over 128 chars', valid('click', { customer_id: 'c'.repeat(129) }), 'invalid_event', 'customer_id'],
    ['unknown channel', valid('click', { channel: 'fax' }), 'invalid_event', 'channel'],
    ['timestamp without zone', valid('click', { occurred_at: '2026-11-02T10:00:00' }), 'invalid_event', 'occurred_at'],
    ['timestamp not a date', valid('click', { occurred_at: 'yesterday' }), 'invalid_event', 'occurred_at'],
    ['more than 24 h in the future', valid('click', { occurred_at: '2026-11-04T12:00:00Z' }), 'future_timestamp', 'occurred_at'],
    ['touchpoint over 128 chars', valid('click', { touchpoint: 't'.repeat(129) }), 'invalid_event', 'touchpoint'],
    ['experiment without variant', valid('click', { experiment: { id: 'x' } }), 'invalid_event', 'experiment.variant'],
    ['page_view without page', valid('page_view', { properties: { page_type: 'home' } }), 'invalid_event', 'properties.page'],
    ['unknown page_type', valid('page_view', { properties: { page: '/', page_type: 'blog' } }), 'invalid_event', 'properties.page_type'],
    ['negative price', valid('add_to_cart', { properties: { product_id: 'p', price: -1, quantity: 1 } }), 'invalid_event', 'properties.price'],
    ['price as a string', valid('add_to_cart', { properties: { product_id: 'p', price: '9.99', quantity: 1 } }), 'invalid_event', 'properties.price'],
    ['quantity 0', valid('add_to_cart', { properties: { product_id: 'p', price: 1, quantity: 0 } }), 'invalid_event', 'properties.quantity'],
    ['fractional quantity', valid('remove_from_cart', { properties: { product_id: 'p', quantity: 1.5 } }), 'invalid_event', 'properties.quantity'],
    ['currency not ISO-4217', valid('purchase', { properties: { order_id: 'o', revenue: 1, currency: 'euro' } }), 'invalid_event', 'properties.currency'],
    ['negative revenue', valid('purchase', { properties: { order_id: 'o', revenue: -5, currency: 'EUR' } }), 'invalid_event', 'properties.revenue'],
    ['video percent over 100', valid('video_progress', { properties: { video_id: 'v', percent: 101 } }), 'invalid_event', 'properties.percent'],
    ['email_click without url', valid('email_click', { properties: { campaign_id: 'c' } }), 'invalid_event', 'properties.url'],
    ['unknown contact kind', valid('contact', { properties: { kind: 'pigeon' } }), 'invalid_event', 'properties.kind'],
    ['nps score 11', valid('survey_response', { properties: { survey_id: 's', metric: 'nps', score: 11 } }), 'invalid_event', 'properties.score'],
    ['csat score 0', valid('survey_response', { properties: { survey_id: 's', metric: 'csat', score: 0 } }), 'invalid_event', 'properties.score'],
    ['ces score 8', valid('survey_response', { properties: { survey_id: 's', metric: 'ces', score: 8 } }), 'invalid_event', 'properties.score'],
    ['fractional nps score', valid('survey_response', { properties: { survey_id: 's', metric: 'nps', score: 7.5 } }), 'invalid_event', 'properties.score'],
    ['unknown survey metric', valid('survey_response', { properties: { survey_id: 's', metric: 'ces2', score: 3 } }), 'invalid_event', 'properties.metric'],
    ['social text over 10,000 chars', valid('social_mention', { properties: { platform: 'x', text: 'a'.repeat(10_001) } }), 'invalid_event', 'properties.text'],
    ['social rating 6', valid('social_mention', { properties: { platform: 'x', text: 'ok', rating: 6 } }), 'invalid_event', 'properties.rating'],
    ['properties not an object', valid('click', { properties: 'element=buy' }), 'invalid_event', 'properties'],
    ['not an object at all', 42, 'invalid_event', '(event)'],
  ];

  it.each(BAD)('refuses %s with its reason and the field', (_, input, code, field) => {
    const parsed = parseEvent(input, NOW);
    expect(parsed.ok).toBe(false);
    const failure = (parsed as { failure: { code: string; message: string } }).failure;
    expect(failure.code).toBe(code);
    expect(failure.message).toContain(`${field}:`);
  });

  it('refuses bytes that are not a framed event, an unknown schema id, and a corrupt body', async () => {
    const codec = await new AvroWireCodec<Record<string, unknown>>(new LocalSchemaRegistry(), 'events-value', loadSchema('event')).init();
    const good = codec.encode(eventToAvro((parseEvent(valid('click'), NOW) as { event: CxEvent }).event));
    const unknownId = Buffer.from(good);
    unknownId.writeUInt32BE(999, 1);
    const results = await codec.decodeBatch([Buffer.from('{"json":true}'), unknownId, good.subarray(0, good.length - 3), Buffer.concat([good, Buffer.from([1])])]);
    expect(results.map((result) => (result.ok ? 'ok' : result.code))).toEqual(['not_wire_format', 'unknown_schema_id', 'corrupt_avro', 'corrupt_avro']);
  });

  it('reads data written with an older schema through a resolver (schema evolution)', async () => {
    const registry = new LocalSchemaRegistry();
    const current = loadSchema('event') as { fields: Array<{ name: string }> };
    const older = { ...current, fields: current.fields.filter((field) => field.name !== 'touchpoint') };
    const writer = await new AvroWireCodec<Record<string, unknown>>(registry, 'events-value', older).init();
    const reader = await new AvroWireCodec<Record<string, unknown>>(registry, 'events-value', current).init();
    const event = (parseEvent(valid('click'), NOW) as { event: CxEvent }).event;
    const { touchpoint: _, ...withoutTouchpoint } = eventToAvro(event);
    const [decoded] = await reader.decodeBatch([writer.encode(withoutTouchpoint)]);
    expect(decoded).toMatchObject({ ok: true, value: { event_id: event.event_id, touchpoint: null } });
  });
});

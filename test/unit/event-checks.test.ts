// Pins the hot path's check of event properties (no zod for valid events) to the zod schemas' verdicts, case by case.
import { describe, expect, it } from 'vitest';
import { checkTypedEvent, propertiesPlainlyValid, propertySchemas } from '../../schemas/events.ts';
import type { CxEvent, EventType } from '../../schemas/events.ts';

const NOW = Date.parse('2026-11-02T12:00:00.000Z');
const long = (length: number) => 'x'.repeat(length);

/** [type, properties, valid?]: the verdicts are the contract's (CONTRACT §1), written out by hand. */
const CASES: Array<[EventType, unknown, boolean]> = [
  ['page_view', { page: '/p/1', page_type: 'product' }, true],
  ['page_view', { page: '/p/1', page_type: 'product', extra: 1 }, true],
  ['page_view', { page: '', page_type: 'product' }, false],
  ['page_view', { page: long(2048), page_type: 'help' }, true],
  ['page_view', { page: long(2049), page_type: 'help' }, false],
  ['page_view', { page: '/p/1', page_type: 'landing' }, false],
  ['page_view', { page: 7, page_type: 'home' }, false],
  ['page_view', null, false],
  ['page_view', ['/p/1', 'home'], false],
  ['click', { element: 'buy' }, true],
  ['click', { element: long(513) }, false],
  ['add_to_cart', { product_id: 'sku-1', price: 0, quantity: 1 }, true],
  ['add_to_cart', { product_id: 'sku-1', price: -0.01, quantity: 1 }, false],
  ['add_to_cart', { product_id: 'sku-1', price: Number.POSITIVE_INFINITY, quantity: 1 }, false],
  ['add_to_cart', { product_id: 'sku-1', price: Number.NaN, quantity: 1 }, false],
  ['add_to_cart', { product_id: 'sku-1', price: 5, quantity: 0 }, false],
  ['add_to_cart', { product_id: 'sku-1', price: 5, quantity: 1.5 }, false],
  ['add_to_cart', { product_id: 'sku-1', price: 5, quantity: 2 ** 53 }, false],
  ['add_to_cart', { product_id: long(257), price: 5, quantity: 1 }, false],
  ['remove_from_cart', { product_id: 'sku-1', quantity: 3 }, true],
  ['remove_from_cart', { product_id: 'sku-1' }, false],
  ['checkout_start', {}, true],
  ['checkout_start', { anything: 'goes' }, true],
  ['checkout_error', { code: 'TIMEOUT' }, true],
  ['checkout_error', { code: '' }, false],
  ['purchase', { order_id: 'o-1', revenue: 10, currency: 'EUR' }, true],
  ['purchase', { order_id: 'o-1', revenue: 10, currency: 'eur' }, false],
  ['purchase', { order_id: 'o-1', revenue: 10, currency: 'EURO' }, false],
  ['video_start', { video_id: 'v1' }, true],
  ['video_progress', { video_id: 'v1', percent: 0 }, true],
  ['video_progress', { video_id: 'v1', percent: 100 }, true],
  ['video_progress', { video_id: 'v1', percent: 100.5 }, false],
  ['video_complete', { video_id: '' }, false],
  ['email_open', { campaign_id: 'c1' }, true],
  ['email_click', { campaign_id: 'c1', url: long(4097) }, false],
  ['ad_impression', { campaign_id: 'c1', placement: 'search' }, true],
  ['ad_click', { campaign_id: 'c1' }, false],
  ['contact', { kind: 'call', reason: null }, true],
  ['contact', { kind: 'chat' }, true],
  ['contact', { kind: 'email', reason: 'x' }, false],
  ['contact', { kind: 'call', reason: '' }, false],
  ['survey_response', { survey_id: 's1', metric: 'nps', score: 0, comment: null, language: null }, true],
  ['survey_response', { survey_id: 's1', metric: 'nps', score: 10, comment: 'ok', language: 'de' }, true],
  ['survey_response', { survey_id: 's1', metric: 'nps', score: 11 }, false],
  ['survey_response', { survey_id: 's1', metric: 'csat', score: 0 }, false],
  ['survey_response', { survey_id: 's1', metric: 'csat', score: 5 }, true],
  ['survey_response', { survey_id: 's1', metric: 'ces', score: 7 }, true],
  ['survey_response', { survey_id: 's1', metric: 'ces', score: 8 }, false],
  ['survey_response', { survey_id: 's1', metric: 'ces', score: 3.5 }, false],
  ['survey_response', { survey_id: 's1', metric: 'nps', score: 5, language: 'x' }, false],
  ['survey_response', { survey_id: 's1', metric: 'nps', score: 5, comment: long(10_001) }, false],
  ['survey_response', { survey_id: 's1', metric: 'effort', score: 5 }, false],
  ['social_mention', { platform: 'x', text: '', language: null, rating: null, product_id: null }, true],
  ['social_mention', { platform: 'x', text: 'Super', language: 'de', rating: 5, product_id: 'sku-1' }, true],
  ['social_mention', { platform: 'x', text: long(10_001) }, false],
  ['social_mention', { platform: 'x', text: 'ok', rating: 6 }, false],
  ['social_mention', { platform: long(65), text: 'ok' }, false],
];

const eventOf = (type: EventType, properties: unknown): CxEvent =>
  ({ event_id: 'e-1', type, occurred_at: NOW, customer_id: 'c-1', anonymous_id: null, channel: 'web', touchpoint: null, experiment: null, properties }) as CxEvent;

describe('the fast check of event properties', () => {
  it.each(CASES)('%s %j → valid: %s', (type, properties, valid) => {
    expect(propertySchemas[type].safeParse(properties).success).toBe(valid);
    expect(propertiesPlainlyValid(type, properties)).toBe(valid);
    const failure = checkTypedEvent(eventOf(type, properties), NOW);
    if (valid) expect(failure).toBeNull();
    else expect(failure?.code).toBe('invalid_event');
  });

  it('keeps zod’s message for a refused event', () => {
    expect(checkTypedEvent(eventOf('survey_response', { survey_id: 's1', metric: 'nps', score: 11 }), NOW)?.message).toBe('properties.score: nps score must be 0–10');
  });
});

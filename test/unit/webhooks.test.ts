// Pins the survey and social webhook mappings (generic and Typeform-like surveys; social JSON and NDJSON) through the collector, and the sentiment scorer.
import { describe, expect, it } from 'vitest';
import { MetricsRecorder } from '../../engine/metrics.ts';
import { scoreSentiment, sentimentLabel } from '../../pipelines/cx/sentiment.ts';
import type { CxEvent } from '../../schemas/events.ts';
import type { DeadLetter } from '../../schemas/outputs.ts';
import { createHttpCollector } from '../../sources/collector/http-collector.ts';

const NOW = Date.parse('2026-11-02T12:00:00.000Z');
const auth = { authorization: 'Bearer k' };

function setup() {
  const published: CxEvent[] = [];
  const letters: DeadLetter[] = [];
  const app = createHttpCollector({ writeKeys: ['k'] }, {
    publisher: { publish: async (events) => void published.push(...events) },
    deadLetters: async (batch) => void letters.push(...batch),
    metrics: new MetricsRecorder(),
    wallClock: () => NOW,
  });
  return { app, published, letters };
}

const typeform = {
  event_id: '01HTF',
  event_type: 'form_response',
  form_response: {
    form_id: 'lT4Z3j',
    token: 'a3a12ec67a1365927098a606107fac15',
    submitted_at: '2026-11-02T09:30:00Z',
    hidden: { customer_id: 'cust-7', language: 'de' },
    answers: [
      { type: 'number', number: 3, field: { id: 'f-nps', type: 'opinion_scale', ref: 'nps' } },
      { type: 'number', number: 4, field: { id: 'f-stars', type: 'rating', ref: 'stars' } },
      { type: 'text', text: 'Lieferung zu spät', field: { id: 'f-why', type: 'long_text' } },
    ],
  },
};

describe('survey webhook', () => {
  it('maps a generic response to a survey_response event', async () => {
    const { app, published } = setup();
    const body = { response_id: 'r-1', respondent: 'cust-1', survey: 'post-purchase', question_type: 'NPS', score: '9', comment: 'Great', submitted_at: '2026-11-02T10:00:00Z' };
    const response = await app.inject({ method: 'POST', url: '/v1/webhooks/survey', headers: auth, payload: body });
    expect(response.statusCode).toBe(202);
    expect(published).toEqual([
      {
        event_id: 'survey:post-purchase:r-1',
        type: 'survey_response',
        occurred_at: Date.parse('2026-11-02T10:00:00Z'),
        customer_id: 'cust-1',
        anonymous_id: null,
        channel: 'survey',
        touchpoint: null,
        experiment: null,
        consent: null,
        properties: { survey_id: 'post-purchase', metric: 'nps', score: 9, comment: 'Great', language: null },
      },
    ]);
  });

  it('maps a Typeform response: one event per NPS/CSAT answer, the text answer as comment, hidden fields as key and language', async () => {
    const { app, published } = setup();
    const response = await app.inject({ method: 'POST', url: '/v1/webhooks/survey', headers: auth, payload: typeform });
    expect(response.statusCode).toBe(202);
    expect(published.map((event) => [event.event_id, event.customer_id, event.properties])).toEqual([
      ['typeform:a3a12ec67a1365927098a606107fac15:f-nps', 'cust-7', { survey_id: 'lT4Z3j', metric: 'nps', score: 3, comment: 'Lieferung zu spät', language: 'de' }],
      ['typeform:a3a12ec67a1365927098a606107fac15:f-stars', 'cust-7', { survey_id: 'lT4Z3j', metric: 'csat', score: 4, comment: 'Lieferung zu spät', language: 'de' }],
    ]);
  });

  it('refuses out-of-range scores, unknown metrics and unknown shapes with their reason, and dead-letters each', async () => {
    const { app, published, letters } = setup();
    const base = { respondent: 'cust-1', survey: 's', submitted_at: '2026-11-02T10:00:00Z' };
    const bodies = [
      { ...base, question_type: 'csat', score: 6 },
      { ...base, question_type: 'ces', score: 0 },
      { ...base, question_type: 'smiley', score: 1 },
      { hello: 'world' },
      { ...typeform, form_response: { ...typeform.form_response, hidden: {} } },
    ];
    const response = await app.inject({ method: 'POST', url: '/v1/webhooks/survey', headers: auth, payload: bodies });
    expect(response.statusCode).toBe(400);
    const messages = response.json().results.map((result: { message: string }) => result.message);
    expect(messages[0]).toBe('properties.score: csat score must be 1–5');
    expect(messages[1]).toBe('properties.score: ces score must be 1–7');
    expect(messages[2]).toMatch(/^survey response: question_type: /);
    expect(messages[3]).toMatch(/^survey response: respondent: /);
    expect(messages[4]).toMatch(/hidden.customer_id: required/);
    expect(published).toEqual([]);
    expect(letters.map((letter) => [letter.source, letter.reason_code])).toEqual(Array(5).fill(['webhook:survey', 'invalid_event']));
  });
});

describe('social webhook', () => {
  const post = { id: 123, platform: 'x', author: 'anna', text: 'Der Checkout funktioniert nicht, total ärgerlich.', created_at: '2026-11-02T08:00:00Z' };

  it('maps a post to a social_mention keyed by platform:author, detecting its language', async () => {
    const { app, published } = setup();
    const response = await app.inject({ method: 'POST', url: '/v1/webhooks/social', headers: auth, payload: post });
    expect(response.statusCode).toBe(202);
    expect(published).toEqual([
      {
        event_id: 'x:123',
        type: 'social_mention',
        occurred_at: Date.parse('2026-11-02T08:00:00Z'),
        customer_id: null,
        anonymous_id: 'x:anna',
        channel: 'social',
        touchpoint: null,
        experiment: null,
        consent: null,
        properties: { platform: 'x', text: post.text, language: 'de', rating: null, product_id: null },
      },
    ]);
  });

  it('reads NDJSON: valid lines become events, a broken line and an over-long text become dead letters', async () => {
    const { app, published, letters } = setup();
    const lines = [
      JSON.stringify({ ...post, id: 'a', customer_id: 'cust-9', text: 'Love the new jacket, great quality and fast delivery!' }),
      '{"id": "b", oops',
      JSON.stringify({ ...post, id: 'c', text: 'x'.repeat(10_001) }),
      '',
    ].join('\n');
    const response = await app.inject({ method: 'POST', url: '/v1/webhooks/social', headers: { ...auth, 'content-type': 'application/x-ndjson' }, payload: lines });
    expect(response.statusCode).toBe(207);
    expect(published.map((event) => [event.event_id, event.customer_id, (event.properties as { language: string }).language])).toEqual([['x:a', 'cust-9', 'en']]);
    expect(letters.map((letter) => [letter.reason_code, letter.event_id])).toEqual([
      ['invalid_json', null],
      ['invalid_event', 'x:c'],
    ]);
    expect(letters[0]!.original.toString()).toBe('{"id": "b", oops');
  });
});

describe('sentiment', () => {
  it('labels by the contract thresholds', () => {
    expect([-0.06, -0.05, 0, 0.05, 0.051].map(sentimentLabel)).toEqual(['negative', 'neutral', 'neutral', 'neutral', 'positive']);
  });

  it.each([
    ['Love the new jacket, great quality and fast delivery!', 'positive', 'en'],
    ['Terrible support, waited an hour on the phone.', 'negative', 'en'],
    ['The package arrived on Tuesday.', 'neutral', 'en'],
    ['Super Qualität und schnelle Lieferung, sehr zufrieden!', 'positive', 'de'],
    ['Schlechter Kundenservice, niemand hat zurückgerufen.', 'negative', 'de'],
    ['Die Lieferung kam am Dienstag.', 'neutral', 'de'],
  ])('%s → %s (%s)', (text, label, language) => {
    const sentiment = scoreSentiment(text);
    expect(sentiment.label).toBe(label);
    expect(sentiment.language).toBe(language);
    expect(sentiment.score).toBeGreaterThanOrEqual(-1);
    expect(sentiment.score).toBeLessThanOrEqual(1);
  });

  it('applies negation, and a language hint wins over detection', () => {
    expect(scoreSentiment('not good').label).toBe('negative');
    expect(scoreSentiment('nicht gut', 'de-AT')).toMatchObject({ label: 'negative', language: 'de' });
    expect(scoreSentiment('gut', 'de').label).toBe('positive');
  });

  it('answers neutral for a language it has no vocabulary for, and for empty text', () => {
    expect(scoreSentiment('très bien', 'fr')).toEqual({ score: 0, label: 'neutral', language: 'fr' });
    expect(scoreSentiment('')).toEqual({ score: 0, label: 'neutral', language: 'und' });
  });
});

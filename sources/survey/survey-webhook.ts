// Maps NPS/CSAT/CES responses as survey tools send them (generic, Typeform-like) to contract `survey_response` events; docs/sources.md has the mapping.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { SURVEY_METRICS } from '../../schemas/events.ts';
import type { SurveyMetric } from '../../schemas/events.ts';
import type { Candidate } from '../collector/intake.ts';

const metric = z.string().transform((value) => value.toLowerCase()).pipe(z.enum(SURVEY_METRICS));
const numeric = z.union([z.number(), z.string().regex(/^-?\d+$/).transform(Number)]);

/** Generic shape (also what a Qualtrics "Web Service" workflow task or a Zapier step is configured to post). */
export const genericSurveyResponseSchema = z.object({
  response_id: z.string().min(1).optional(),
  respondent: z.string().min(1).max(128),
  anonymous: z.boolean().optional(),
  survey: z.string().min(1),
  question_type: metric,
  score: numeric,
  comment: z.string().optional().nullable(),
  language: z.string().min(2).max(35).optional().nullable(),
  submitted_at: z.string(),
  touchpoint: z.string().max(128).optional(),
});

/** Typeform's webhook body (`form_response` with `answers`); only the fields we read. */
const typeformSchema = z.object({
  event_id: z.string().optional(),
  event_type: z.literal('form_response'),
  form_response: z.object({
    form_id: z.string().min(1),
    token: z.string().min(1),
    submitted_at: z.string(),
    hidden: z.record(z.string(), z.unknown()).optional(),
    answers: z.array(
      z.object({
        type: z.string(),
        number: z.number().optional(),
        text: z.string().optional(),
        field: z.object({ id: z.string(), type: z.string(), ref: z.string().optional() }),
      }),
    ),
  }),
});

type Json = Record<string, unknown>;

/** Event ids are at most 64 characters: long tool ids are hashed, keeping them deterministic (replays dedupe). */
function eventId(...parts: string[]): string {
  const joined = parts.join(':');
  return joined.length <= 64 ? joined : `srv:${createHash('sha256').update(joined).digest('hex').slice(0, 40)}`;
}

function surveyEvent(input: {
  id: string;
  occurredAt: string;
  customer: string;
  anonymous: boolean;
  surveyId: string;
  metric: SurveyMetric;
  score: number;
  comment?: string | null | undefined;
  language?: string | null | undefined;
  touchpoint?: string | undefined;
}): Json {
  const properties: Json = { survey_id: input.surveyId, metric: input.metric, score: input.score };
  if (input.comment) properties.comment = input.comment;
  if (input.language) properties.language = input.language;
  const event: Json = {
    event_id: input.id,
    type: 'survey_response',
    occurred_at: input.occurredAt,
    channel: 'survey',
    properties,
  };
  event[input.anonymous ? 'anonymous_id' : 'customer_id'] = input.customer;
  if (input.touchpoint) event.touchpoint = input.touchpoint;
  return event;
}

const issues = (error: z.ZodError) => error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`).join('; ');

/** Typeform field → metric: an explicit ref (`nps`, `csat`, `ces`) wins; else the field type `nps`, or `rating` (stars) as CSAT. */
function typeformMetric(field: { type: string; ref?: string | undefined }): SurveyMetric | null {
  const ref = field.ref?.toLowerCase();
  if (ref && (SURVEY_METRICS as readonly string[]).includes(ref)) return ref as SurveyMetric;
  if (field.type === 'nps') return 'nps';
  if (field.type === 'rating') return 'csat';
  return null;
}

function fromTypeform(body: z.output<typeof typeformSchema>, original: Buffer): Candidate[] {
  const response = body.form_response;
  const hidden = response.hidden ?? {};
  const customer = typeof hidden.customer_id === 'string' ? hidden.customer_id : typeof hidden.anonymous_id === 'string' ? hidden.anonymous_id : null;
  const comment = response.answers.find((answer) => answer.type === 'text' && answer.text)?.text ?? null;
  const language = typeof hidden.language === 'string' ? hidden.language : null;
  const scored = response.answers.flatMap((answer) => {
    const metricOf = typeformMetric(answer.field);
    return metricOf !== null && answer.type === 'number' && answer.number !== undefined ? [{ answer, metric: metricOf }] : [];
  });
  if (customer === null) return [{ ok: false, code: 'invalid_event', message: 'form_response.hidden.customer_id: required (or hidden.anonymous_id) to key the response', original }];
  if (scored.length === 0) return [{ ok: false, code: 'invalid_event', message: 'form_response.answers: no NPS, CSAT or CES answer (field type nps/rating, or ref nps/csat/ces)', original }];
  return scored.map(({ answer, metric: metricOf }) => {
    const json = surveyEvent({
      id: eventId('typeform', response.token, answer.field.id),
      occurredAt: response.submitted_at,
      customer,
      anonymous: typeof hidden.customer_id !== 'string',
      surveyId: response.form_id,
      metric: metricOf,
      score: answer.number!,
      comment,
      language,
    });
    return { ok: true, json, original: Buffer.from(JSON.stringify(json)) };
  });
}

function fromGeneric(body: z.output<typeof genericSurveyResponseSchema>): Candidate {
  const json = surveyEvent({
    id: body.response_id ? eventId('survey', body.survey, body.response_id) : eventId('survey', body.survey, body.respondent, body.question_type, body.submitted_at),
    occurredAt: body.submitted_at,
    customer: body.respondent,
    anonymous: body.anonymous === true,
    surveyId: body.survey,
    metric: body.question_type,
    score: body.score,
    comment: body.comment,
    language: body.language,
    touchpoint: body.touchpoint,
  });
  return { ok: true, json, original: Buffer.from(JSON.stringify(json)) };
}

/**
 * Turns one webhook body (a response, or an array of generic responses) into candidate contract events; the collector
 * validates them like any other event. A body of no known shape is one refused candidate, holding its bytes.
 */
export function surveyCandidates(body: unknown, original: Buffer): Candidate[] {
  if (Array.isArray(body)) return body.flatMap((item) => surveyCandidates(item, Buffer.from(JSON.stringify(item) ?? 'null')));
  if ((body as { event_type?: unknown } | null)?.event_type === 'form_response') {
    const typeform = typeformSchema.safeParse(body);
    return typeform.success ? fromTypeform(typeform.data, original) : [{ ok: false, code: 'invalid_event', message: `typeform: ${issues(typeform.error)}`, original }];
  }
  const generic = genericSurveyResponseSchema.safeParse(body);
  if (generic.success) return [fromGeneric(generic.data)];
  return [{ ok: false, code: 'invalid_event', message: `survey response: ${issues(generic.error)}`, original }];
}

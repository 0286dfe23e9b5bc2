// The contract's input events (CONTRACT §1): TypeScript types and the zod schema that guards the JSON edge.
import { z } from 'zod';

/** Milliseconds since the Unix epoch, in event time (when it happened), never wall-clock time. */
export type EventTimeMs = number;

export const CHANNELS = ['web', 'app', 'email', 'ads', 'call_center', 'chat', 'store', 'social', 'survey'] as const;
export type Channel = (typeof CHANNELS)[number];

export const PAGE_TYPES = ['home', 'category', 'product', 'cart', 'checkout', 'help', 'contact', 'other'] as const;
export const CONTACT_KINDS = ['call', 'chat', 'store_visit'] as const;
export const SURVEY_METRICS = ['nps', 'csat', 'ces'] as const;
export type SurveyMetric = (typeof SURVEY_METRICS)[number];

/** Inclusive score range per survey metric (CONTRACT §1). */
export const SCORE_RANGE: Record<SurveyMetric, readonly [number, number]> = {
  nps: [0, 10],
  csat: [1, 5],
  ces: [1, 7],
};

const text = (max: number) => z.string().min(1).max(max);
const id = z.string().min(1).max(256);
const campaign = z.object({ campaign_id: id });
const video = z.object({ video_id: id });
const adProperties = z.object({ campaign_id: id, placement: text(256) });

/** `properties` per event type; the keys are the contract's event types. */
export const propertySchemas = {
  page_view: z.object({ page: text(2048), page_type: z.enum(PAGE_TYPES) }),
  click: z.object({ element: text(512) }),
  add_to_cart: z.object({ product_id: id, price: z.number().nonnegative().finite(), quantity: z.number().int().min(1) }),
  remove_from_cart: z.object({ product_id: id, quantity: z.number().int().min(1) }),
  checkout_start: z.object({}),
  checkout_error: z.object({ code: text(256) }),
  purchase: z.object({
    order_id: id,
    revenue: z.number().nonnegative().finite(),
    currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO-4217 code such as EUR'),
  }),
  video_start: video,
  video_progress: z.object({ video_id: id, percent: z.number().min(0).max(100) }),
  video_complete: video,
  email_open: campaign,
  email_click: z.object({ campaign_id: id, url: text(4096) }),
  ad_impression: adProperties,
  ad_click: adProperties,
  contact: z.object({ kind: z.enum(CONTACT_KINDS), reason: text(1024).nullish() }),
  survey_response: z
    .object({
      survey_id: id,
      metric: z.enum(SURVEY_METRICS),
      score: z.number().int(),
      comment: z.string().max(10_000).nullish(),
      language: z.string().min(2).max(35).nullish(),
    })
    .superRefine((value, issue) => {
      const [min, max] = SCORE_RANGE[value.metric];
      if (value.score < min || value.score > max) {
        issue.addIssue({ code: 'custom', path: ['score'], message: `${value.metric} score must be ${min}–${max}` });
      }
    }),
  social_mention: z.object({
    platform: text(64),
    text: z.string().max(10_000),
    language: z.string().min(2).max(35).nullish(),
    rating: z.number().int().min(1).max(5).nullish(),
    product_id: id.nullish(),
  }),
} as const;

export type EventType = keyof typeof propertySchemas;
export const EVENT_TYPES = Object.keys(propertySchemas) as EventType[];
export type PropertiesOf<T extends EventType> = z.output<(typeof propertySchemas)[T]>;

/** Session event types (CONTRACT §2): only these, on web and app, form digital journeys. */
export const SESSION_EVENT_TYPES: ReadonlySet<EventType> = new Set<EventType>([
  'page_view', 'click', 'add_to_cart', 'remove_from_cart', 'checkout_start', 'checkout_error', 'purchase',
  'video_start', 'video_progress', 'video_complete',
]);
export const SESSION_CHANNELS: ReadonlySet<Channel> = new Set<Channel>(['web', 'app']);

export interface Experiment {
  id: string;
  variant: string;
}

/** A customer's consent as an event states it (CONTRACT §6); null: not stated. */
export interface Consent {
  analytics: boolean | null;
  marketing: boolean | null;
}

/** One decoded, validated contract event: the value every stage after the source works on. */
export type CxEvent = {
  [T in EventType]: {
    event_id: string;
    type: T;
    occurred_at: EventTimeMs;
    customer_id: string | null;
    anonymous_id: string | null;
    channel: Channel;
    touchpoint: string | null;
    experiment: Experiment | null;
    /** Null when the event states none (optional for hand-built values). */
    consent?: Consent | null;
    properties: PropertiesOf<T>;
    /** Set only by identity stitching at the source edge, never from input (see `Handover`). */
    handover?: Handover;
  };
}[EventType];

/**
 * Identity stitching's marks on the input topic (docs/analytics.md "Identity stitching"): `copy`, an anonymous
 * visitor's event of its open session handed over to the customer who logged in (keyed by that customer, just before
 * the login); `link`, the login itself once more, keyed by the anonymous id, so the anonymous key's partition drops the
 * open session it handed over.
 */
export type Handover = 'copy' | 'link';

export type CxEventOf<T extends EventType> = Extract<CxEvent, { type: T }>;

/** The key every piece of state and every table is keyed by: `customer_id`, else `anonymous_id`. */
export function sessionKeyOf(event: CxEvent): string {
  return (event.customer_id ?? event.anonymous_id) as string;
}

export function isSessionEvent(event: CxEvent): boolean {
  return SESSION_EVENT_TYPES.has(event.type) && SESSION_CHANNELS.has(event.channel);
}

const MAX_FUTURE_MS = 24 * 60 * 60 * 1000;

const envelope = z
  .object({
    event_id: z.string().min(1).max(64),
    type: z.enum(EVENT_TYPES as [EventType, ...EventType[]]),
    occurred_at: z.iso.datetime({ offset: true }),
    customer_id: z.string().min(1).max(128).nullish(),
    anonymous_id: z.string().min(1).max(128).nullish(),
    channel: z.enum(CHANNELS),
    touchpoint: z.string().max(128).nullish(),
    experiment: z.object({ id: z.string().min(1).max(128), variant: z.string().min(1).max(128) }).nullish(),
    consent: z.object({ analytics: z.boolean().nullish(), marketing: z.boolean().nullish() }).nullish(),
    properties: z.record(z.string(), z.unknown()).default({}),
  })
  .refine((event) => event.customer_id != null || event.anonymous_id != null, {
    message: 'customer_id is required unless anonymous_id is given',
    path: ['customer_id'],
  });

/** Why an input was refused: a stable machine-readable code plus the field path and rule a person can read. */
export interface ValidationFailure {
  code: 'invalid_json' | 'invalid_event' | 'unknown_type' | 'future_timestamp';
  message: string;
}

export type ParseResult = { ok: true; event: CxEvent } | { ok: false; failure: ValidationFailure };

function describe(error: z.ZodError, prefix: string[] = []): string {
  return error.issues
    .map((issue) => `${[...prefix, ...issue.path.map(String)].join('.') || '(event)'}: ${issue.message}`)
    .join('; ');
}

/**
 * Validates one JSON value against the contract. `now` is wall-clock time, used only for the
 * "more than 24 h in the future" rule.
 */
export function parseEvent(input: unknown, now: number): ParseResult {
  const head = envelope.safeParse(input);
  if (!head.success) {
    const unknownType = head.error.issues.some((issue) => issue.path[0] === 'type' && issue.code === 'invalid_value');
    return { ok: false, failure: { code: unknownType ? 'unknown_type' : 'invalid_event', message: describe(head.error) } };
  }
  const raw = head.data;
  const properties = propertySchemas[raw.type].safeParse(raw.properties);
  if (!properties.success) {
    return { ok: false, failure: { code: 'invalid_event', message: describe(properties.error, ['properties']) } };
  }
  const occurredAt = Date.parse(raw.occurred_at);
  if (occurredAt - now > MAX_FUTURE_MS) {
    return {
      ok: false,
      failure: { code: 'future_timestamp', message: `occurred_at: ${raw.occurred_at} is more than 24 h in the future` },
    };
  }
  const event = {
    event_id: raw.event_id,
    type: raw.type,
    occurred_at: occurredAt,
    customer_id: raw.customer_id ?? null,
    anonymous_id: raw.anonymous_id ?? null,
    channel: raw.channel,
    touchpoint: raw.touchpoint ?? null,
    experiment: raw.experiment ?? null,
    consent: raw.consent ? { analytics: raw.consent.analytics ?? null, marketing: raw.consent.marketing ?? null } : null,
    properties: withNulls(raw.type, properties.data as Record<string, unknown>),
  } as CxEvent;
  return { ok: true, event };
}

/** Optional properties are `null` when absent, as Avro decodes them, so both edges give equal values. */
function withNulls(type: EventType, properties: Record<string, unknown>): Record<string, unknown> {
  for (const key of Object.keys(propertySchemas[type].shape)) if (properties[key] === undefined) properties[key] = null;
  return properties;
}

// The hot path's check of `properties` (Avro-decoded events, one per record): the same rules as `propertySchemas`,
// written out so that a valid event costs no zod parse. It may only say "valid" where zod says so too; when it says
// no, the caller asks zod, so verdicts and messages are zod's.
const isText = (value: unknown, max: number): boolean => typeof value === 'string' && value.length >= 1 && value.length <= max;
const isId = (value: unknown): boolean => isText(value, 256);
const isAmount = (value: unknown): boolean => typeof value === 'number' && Number.isFinite(value) && value >= 0;
const isIntIn = (value: unknown, min: number, max: number): boolean => typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max;
const isAbsentOr = (value: unknown, check: (value: unknown) => boolean): boolean => value === null || value === undefined || check(value);
const isLanguage = (value: unknown): boolean => isAbsentOr(value, (text) => typeof text === 'string' && text.length >= 2 && text.length <= 35);
const oneOf = (values: readonly string[]) => {
  const allowed = new Set<unknown>(values);
  return (value: unknown): boolean => allowed.has(value);
};
const isPageType = oneOf(PAGE_TYPES);
const isContactKind = oneOf(CONTACT_KINDS);
const CURRENCY = /^[A-Z]{3}$/;

const PLAINLY_VALID: Record<EventType, (properties: Record<string, unknown>) => boolean> = {
  page_view: (p) => isText(p.page, 2048) && isPageType(p.page_type),
  click: (p) => isText(p.element, 512),
  add_to_cart: (p) => isId(p.product_id) && isAmount(p.price) && isIntIn(p.quantity, 1, Number.MAX_SAFE_INTEGER),
  remove_from_cart: (p) => isId(p.product_id) && isIntIn(p.quantity, 1, Number.MAX_SAFE_INTEGER),
  checkout_start: () => true,
  checkout_error: (p) => isText(p.code, 256),
  purchase: (p) => isId(p.order_id) && isAmount(p.revenue) && typeof p.currency === 'string' && CURRENCY.test(p.currency),
  video_start: (p) => isId(p.video_id),
  video_progress: (p) => isId(p.video_id) && typeof p.percent === 'number' && Number.isFinite(p.percent) && p.percent >= 0 && p.percent <= 100,
  video_complete: (p) => isId(p.video_id),
  email_open: (p) => isId(p.campaign_id),
  email_click: (p) => isId(p.campaign_id) && isText(p.url, 4096),
  ad_impression: (p) => isId(p.campaign_id) && isText(p.placement, 256),
  ad_click: (p) => isId(p.campaign_id) && isText(p.placement, 256),
  contact: (p) => isContactKind(p.kind) && isAbsentOr(p.reason, (reason) => isText(reason, 1024)),
  survey_response: (p) => {
    if (!isId(p.survey_id) || (p.metric !== 'nps' && p.metric !== 'csat' && p.metric !== 'ces')) return false;
    const [min, max] = SCORE_RANGE[p.metric];
    return isIntIn(p.score, min, max) && isAbsentOr(p.comment, (comment) => typeof comment === 'string' && comment.length <= 10_000) && isLanguage(p.language);
  },
  social_mention: (p) =>
    isText(p.platform, 64) &&
    typeof p.text === 'string' &&
    p.text.length <= 10_000 &&
    isLanguage(p.language) &&
    isAbsentOr(p.rating, (rating) => isIntIn(rating, 1, 5)) &&
    isAbsentOr(p.product_id, isId),
};

/** True only when `properties` certainly passes `propertySchemas[type]`; false means "ask zod". */
export function propertiesPlainlyValid(type: EventType, properties: unknown): boolean {
  if (typeof properties !== 'object' || properties === null || Array.isArray(properties)) return false;
  const check = PLAINLY_VALID[type];
  return check !== undefined && check(properties as Record<string, unknown>);
}

const inRange = (value: string | null, max: number) => value === null || (value.length >= 1 && value.length <= max);

/**
 * Checks an event that arrived already typed (decoded from Avro) against the rules Avro cannot express:
 * lengths, ranges, the key rule and the future limit. Answers null when it is valid.
 */
export function checkTypedEvent(event: CxEvent, now: number): ValidationFailure | null {
  const problems: string[] = [];
  if (!inRange(event.event_id, 64)) problems.push('event_id: must be 1–64 characters');
  if (event.customer_id === null && event.anonymous_id === null) problems.push('customer_id: is required unless anonymous_id is given');
  if (!inRange(event.customer_id, 128)) problems.push('customer_id: must be 1–128 characters');
  if (!inRange(event.anonymous_id, 128)) problems.push('anonymous_id: must be 1–128 characters');
  if (event.touchpoint !== null && event.touchpoint.length > 128) problems.push('touchpoint: must be at most 128 characters');
  if (!Number.isFinite(event.occurred_at)) problems.push('occurred_at: must be a timestamp');
  // The fast check answers "valid" only where zod would too; anything else gets zod's verdict and message.
  if (!propertiesPlainlyValid(event.type, event.properties as unknown)) {
    const properties = propertySchemas[event.type].safeParse(event.properties);
    if (!properties.success) problems.push(describe(properties.error, ['properties']));
  }
  if (problems.length > 0) return { code: 'invalid_event', message: problems.join('; ') };
  if (event.occurred_at - now > MAX_FUTURE_MS) {
    return { code: 'future_timestamp', message: `occurred_at: ${new Date(event.occurred_at).toISOString()} is more than 24 h in the future` };
  }
  return null;
}

/** The contract's JSON form of an event (what the collector accepts and `generate` writes). */
export function toContractJson(event: CxEvent): Record<string, unknown> {
  const json: Record<string, unknown> = {
    event_id: event.event_id,
    type: event.type,
    occurred_at: new Date(event.occurred_at).toISOString(),
    channel: event.channel,
  };
  if (event.customer_id !== null) json.customer_id = event.customer_id;
  if (event.anonymous_id !== null) json.anonymous_id = event.anonymous_id;
  if (event.touchpoint !== null) json.touchpoint = event.touchpoint;
  if (event.experiment !== null) json.experiment = event.experiment;
  if (event.consent) json.consent = event.consent;
  const properties: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event.properties)) if (value !== null && value !== undefined) properties[key] = value;
  json.properties = properties;
  return json;
}

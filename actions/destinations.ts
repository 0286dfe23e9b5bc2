// The destinations file (YAML or JSON): where each action is delivered and how (connector, retries, timeouts, rate limit, circuit breaker, secrets), validated with zod.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { TouchstreamError } from '../schemas/errors.ts';
import type { BackoffPolicy } from './backoff.ts';
import type { CircuitBreakerPolicy } from './circuit-breaker.ts';
import type { RateLimitPolicy } from './rate-limiter.ts';
import { Secret } from './secret.ts';

/** A header value: literal text, or `{ env: NAME }` read from the environment at start (secrets). */
const headerValue = z.union([z.string(), z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name') })]);

/** What every connector shares: the delivery policy of one destination. */
const delivery = {
  /** One attempt's time limit (connect, send, answer). */
  timeoutMs: z.number().int().min(1).max(300_000).default(5000),
  /** Attempts before the action is dead-lettered (the first attempt counts). */
  maxAttempts: z.number().int().min(1).max(100).default(8),
  backoff: z
    .strictObject({
      initialMs: z.number().int().min(0).default(500),
      maxMs: z.number().int().min(0).default(60_000),
      multiplier: z.number().min(1).default(2),
    })
    .prefault({}),
  rateLimit: z
    .strictObject({
      perSecond: z.number().positive().default(20),
      burst: z.number().int().min(1).default(20),
    })
    .prefault({}),
  circuitBreaker: z
    .strictObject({
      failureThreshold: z.number().int().min(1).default(5),
      resetMs: z.number().int().min(1).default(30_000),
    })
    .prefault({}),
  /** Extra request headers, e.g. `Authorization: { env: ZENDESK_TOKEN }`. */
  headers: z.record(z.string().regex(/^[A-Za-z0-9-]+$/, 'a header name'), headerValue).default({}),
};

const webhook = z.strictObject({
  type: z.literal('webhook'),
  /** POSTed JSON: the action, the signal and its context. */
  url: z.url({ protocol: /^https?$/ }),
  ...delivery,
});

/** GitHub Issues REST: `POST {apiUrl}/repos/{owner}/{repo}/issues` with title, body, labels. */
const githubIssues = z.strictObject({
  type: z.literal('github_issues'),
  apiUrl: z.url({ protocol: /^https?$/ }).default('https://api.github.com'),
  owner: z.string().min(1),
  repo: z.string().min(1),
  labels: z.array(z.string().min(1)).default(['touchstream']),
  ...delivery,
});

/** Zendesk Support API: `POST {url}/api/v2/tickets` with subject, comment, requester, priority, external_id, tags. */
const zendeskTickets = z.strictObject({
  type: z.literal('zendesk_tickets'),
  /** The account's base URL, e.g. https://acme.zendesk.com */
  url: z.url({ protocol: /^https?$/ }),
  /** The requester's e-mail: `{customer_id}` is replaced by the (pseudonymous) customer id. */
  requesterEmail: z.string().min(3).default('{customer_id}@customers.invalid'),
  tags: z.array(z.string().min(1)).default(['touchstream']),
  ...delivery,
});

/** HubSpot CRM v3: `PATCH {apiUrl}/crm/v3/objects/{objectType}/{customer_id}?idProperty={idProperty}` with properties. */
const hubspotRecords = z.strictObject({
  type: z.literal('hubspot_records'),
  apiUrl: z.url({ protocol: /^https?$/ }).default('https://api.hubapi.com'),
  objectType: z.string().regex(/^[A-Za-z0-9_-]+$/).default('contacts'),
  /** The unique property that holds touchstream's customer id in the CRM. */
  idProperty: z.string().min(1).default('touchstream_customer_id'),
  /** Prefix of the properties written (`{prefix}last_action`, …). */
  propertyPrefix: z.string().regex(/^[a-z0-9_]*$/).default('touchstream_'),
  ...delivery,
});

const destination = z.discriminatedUnion('type', [webhook, githubIssues, zendeskTickets, hubspotRecords]);

/** Destination names are metric labels: short and plain. */
const DESTINATION_NAME = /^[A-Za-z0-9._-]{1,64}$/;

export const destinationsFileSchema = z
  .strictObject({
    destinations: z.record(z.string(), destination),
    /** action → destination name; actions not listed are not delivered (counted). */
    actions: z.record(z.string().min(1), z.string()).default({}),
  })
  .superRefine((file, context) => {
    const declared = Object.keys(file.destinations);
    for (const [action, name] of Object.entries(file.actions)) {
      if (!(name in file.destinations)) {
        context.addIssue({ code: 'custom', path: ['actions', action], message: `unknown destination "${name}" (declared: ${declared.join(', ') || 'none'})` });
      }
    }
    for (const [name, declaredDestination] of Object.entries(file.destinations)) {
      if (!DESTINATION_NAME.test(name)) context.addIssue({ code: 'custom', path: ['destinations', name], message: 'a destination name is 1–64 letters, digits, . _ - (it is a metric label)' });
      if (declaredDestination.backoff.maxMs < declaredDestination.backoff.initialMs) {
        context.addIssue({ code: 'custom', path: ['destinations', name, 'backoff', 'maxMs'], message: 'must be ≥ backoff.initialMs' });
      }
    }
  });

export type DestinationsFile = z.output<typeof destinationsFileSchema>;
export type DestinationConfig = z.output<typeof destination>;
export type DestinationType = DestinationConfig['type'];

/** A destination ready to deliver to: its config with secrets resolved. */
export interface Destination {
  name: string;
  config: DestinationConfig;
  /** Header values; secrets stay `Secret`s until the request is built. */
  headers: Record<string, string | Secret>;
  backoff: BackoffPolicy;
  rateLimit: RateLimitPolicy;
  circuitBreaker: CircuitBreakerPolicy;
}

/** The validated destinations and the action → destination map. */
export interface ActionRouting {
  destinations: ReadonlyMap<string, Destination>;
  /** action → destination name. */
  actions: ReadonlyMap<string, string>;
}

const problemsOf = (error: z.ZodError) => error.issues.map((issue) => `${issue.path.join('.') || '(file)'}: ${issue.message}`).join('; ');

/**
 * Validates a destinations document (parsed YAML/JSON) and resolves its secrets from `env`; a problem throws
 * `invalid_destinations` naming the field path and the rule. A missing secret names the variable, never a value.
 */
export function parseDestinations(document: unknown, env: Readonly<Record<string, string | undefined>>, source = 'destinations'): ActionRouting {
  const parsed = destinationsFileSchema.safeParse(document);
  if (!parsed.success) throw new TouchstreamError('invalid_destinations', `${source}: ${problemsOf(parsed.error)}`);
  const missing: string[] = [];
  const destinations = new Map<string, Destination>();
  for (const [name, config] of Object.entries(parsed.data.destinations)) {
    const headers: Record<string, string | Secret> = {};
    for (const [header, value] of Object.entries(config.headers)) {
      if (typeof value === 'string') headers[header] = value;
      else {
        const secret = env[value.env];
        if (secret === undefined || secret === '') missing.push(`destinations.${name}.headers.${header}: environment variable ${value.env} is not set`);
        else headers[header] = new Secret(secret, value.env);
      }
    }
    destinations.set(name, { name, config, headers, backoff: config.backoff, rateLimit: config.rateLimit, circuitBreaker: config.circuitBreaker });
  }
  if (missing.length > 0) throw new TouchstreamError('invalid_destinations', `${source}: ${missing.join('; ')}`);
  return { destinations, actions: new Map(Object.entries(parsed.data.actions)) };
}

/** Reads and validates a destinations file, YAML or JSON (JSON is YAML). */
export function loadDestinationsFile(path: string, env: Readonly<Record<string, string | undefined>>): ActionRouting {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new TouchstreamError('invalid_destinations', `destinations file ${path}: ${(error as Error).message}`);
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new TouchstreamError('invalid_destinations', `destinations file ${path}: not YAML or JSON: ${(error as Error).message}`);
  }
  return parseDestinations(document, env, path);
}

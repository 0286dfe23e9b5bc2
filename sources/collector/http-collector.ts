// The HTTP collector (fastify): contract events one by one or in batches, survey and social webhooks; answers 2xx only after the log acknowledged.
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { CxEvent } from '../../schemas/events.ts';
import type { DeadLetter } from '../../schemas/outputs.ts';
import { TouchstreamError } from '../../schemas/errors.ts';
import { deadLetterFor } from '../kafka/event-decoder.ts';
import { socialCandidates, socialNdjsonCandidates } from '../social/social-mention.ts';
import { surveyCandidates } from '../survey/survey-webhook.ts';
import { collectorConfigSchema } from './config.ts';
import type { Candidate, ItemResult } from './intake.ts';
import { candidatesOf, intake, parseJsonBody } from './intake.ts';

/** Where the collector counts requests, events and rejects (the composition root passes its Prometheus metrics). */
export interface CollectorMetrics {
  count(name: string, value: number, labels?: Record<string, string>): void;
}


export interface CollectorDependencies {
  /** Resolves once the log acknowledged every event (see sources/kafka/event-publisher.ts). */
  publisher: { publish(events: readonly CxEvent[]): Promise<void> };
  /** The runtime's dead-letter path (DLQ topic and rejected_events); resolves when both have them. */
  deadLetters(letters: readonly DeadLetter[]): Promise<void>;
  metrics: CollectorMetrics;
  wallClock?: () => number;
  /**
   * Erasure requests (`POST /v1/erasure`, docs/privacy.md): takes the raw id, answers the request id once the request
   * is durable. Without it the route answers 501.
   */
  erasures?: { request(customerId: string): Promise<{ requestId: string }> };
}

/** The JSON answer to a request with events in it. */
export interface CollectorAnswer {
  accepted: number;
  rejected: number;
  results: ItemResult[];
}

const digest = (key: string) => createHash('sha256').update(key).digest();

function authorizer(writeKeys: readonly string[]) {
  const keys = writeKeys.map(digest);
  return (header: string | undefined): boolean => {
    if (!header) return false;
    const [scheme, value] = header.split(' ', 2);
    let key: string | undefined;
    if (scheme?.toLowerCase() === 'bearer') key = value;
    // Basic with the key as user name (how Segment-style SDKs send write keys).
    else if (scheme?.toLowerCase() === 'basic' && value) key = Buffer.from(value, 'base64').toString('utf8').split(':')[0];
    if (!key) return false;
    const candidate = digest(key);
    let match = false;
    for (const known of keys) match = timingSafeEqual(known, candidate) || match;
    return match;
  };
}

/** Builds the collector; `listen()` it, or `inject()` requests in tests. */
export function createHttpCollector(configInput: z.input<typeof collectorConfigSchema>, dependencies: CollectorDependencies): FastifyInstance {
  const config = collectorConfigSchema.parse(configInput);
  if (config.writeKeys.length === 0) {
    throw new TouchstreamError('invalid_config', 'invalid configuration: collector.writeKeys: at least one write key is required (TOUCHSTREAM_COLLECTOR_WRITE_KEYS)');
  }
  const { publisher, deadLetters, metrics } = dependencies;
  const wallClock = dependencies.wallClock ?? Date.now;
  const authorized = authorizer(config.writeKeys);
  const app = Fastify({ bodyLimit: config.maxBodyBytes, logger: false });

  // Bodies stay bytes: we parse them ourselves so a body that is not JSON becomes a dead letter holding its original bytes.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/v1/')) return;
    if (!authorized(request.headers.authorization)) {
      metrics.count('touchstream_collector_requests_total', 1, { route: request.routeOptions.url ?? 'unknown', status: '401' });
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'a valid write key is required: Authorization: Bearer <key>' });
    }
  });

  app.setErrorHandler(async (error: { code?: string; statusCode?: number; message: string }, request, reply) => {
    const source = sourceOf(request);
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      // The body was not read past the limit: the dead letter records the refusal and its size, not the bytes.
      const size = request.headers['content-length'] ?? 'unknown';
      const letter = deadLetterFor(source, null, Buffer.alloc(0), 'oversized_payload', `request body of ${size} bytes exceeds ${config.maxBodyBytes}`, wallClock());
      return answerRefusal(reply, 413, [letter], source);
    }
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    metrics.count('touchstream_collector_requests_total', 1, { route: request.routeOptions.url ?? 'unknown', status: String(status) });
    return reply.code(status).send({ error: error.code ?? 'internal_error', message: error.message, retriable: status >= 500 });
  });

  async function answerRefusal(reply: FastifyReply, status: number, letters: DeadLetter[], source: string) {
    try {
      await deadLetters(letters);
    } catch (error) {
      return unavailable(reply, error, source);
    }
    for (const letter of letters) metrics.count('touchstream_rejected_total', 1, { source, reason: letter.reason_code });
    metrics.count('touchstream_collector_requests_total', 1, { route: source, status: String(status) });
    const [letter] = letters;
    return reply.code(status).send({
      accepted: 0,
      rejected: letters.length,
      results: [{ index: 0, status: 'rejected', code: letter!.reason_code, message: letter!.message, event_id: null }],
    } satisfies CollectorAnswer);
  }

  function unavailable(reply: FastifyReply, error: unknown, source: string) {
    metrics.count('touchstream_collector_requests_total', 1, { route: source, status: '503' });
    return reply.code(503).header('retry-after', '1').send({
      error: 'log_unavailable',
      message: `nothing was accepted, retry the request: ${(error as Error).message}`,
      retriable: true,
    });
  }

  /** Validates, publishes, dead-letters, then answers: 202 all accepted, 207 mixed, 400 none accepted. */
  async function handle(reply: FastifyReply, source: string, candidates: Candidate[]) {
    const taken = intake(candidates, { source, maxEventBytes: config.maxEventBytes, now: wallClock() });
    metrics.count('touchstream_source_received_total', candidates.length, { source });
    try {
      await Promise.all([publisher.publish(taken.events), taken.rejected.length > 0 ? deadLetters(taken.rejected) : undefined]);
    } catch (error) {
      return unavailable(reply, error, source);
    }
    metrics.count('touchstream_source_events_total', taken.events.length, { source });
    for (const letter of taken.rejected) metrics.count('touchstream_rejected_total', 1, { source, reason: letter.reason_code });
    const status = taken.rejected.length === 0 ? 202 : taken.events.length === 0 ? 400 : 207;
    metrics.count('touchstream_collector_requests_total', 1, { route: source, status: String(status) });
    return reply.code(status).send({ accepted: taken.events.length, rejected: taken.rejected.length, results: taken.results } satisfies CollectorAnswer);
  }

  const bodyOf = (request: FastifyRequest): Buffer => (Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0));
  const invalidJson = (body: Buffer, message: string): Candidate[] => [{ ok: false, code: 'invalid_json', message, original: body }];

  app.post('/v1/events', async (request, reply) => {
    const body = bodyOf(request);
    const parsed = parseJsonBody(body);
    return handle(reply, 'collector', parsed.ok ? [{ ok: true, json: parsed.json, original: body }] : invalidJson(body, parsed.message));
  });

  app.post('/v1/events/batch', async (request, reply) => {
    const body = bodyOf(request);
    const parsed = parseJsonBody(body);
    if (!parsed.ok) return handle(reply, 'collector', invalidJson(body, parsed.message));
    // Accept a bare array or `{ "events": [...] }`.
    const items = Array.isArray(parsed.json) ? parsed.json : (parsed.json as { events?: unknown } | null)?.events;
    if (!Array.isArray(items)) return handle(reply, 'collector', [{ ok: false, code: 'invalid_event', message: '(body): a batch is a JSON array of events or { "events": [...] }', original: body }]);
    if (items.length > config.maxBatchEvents) {
      const letter = deadLetterFor('collector', null, body, 'oversized_payload', `batch of ${items.length} events exceeds ${config.maxBatchEvents}`, wallClock());
      return answerRefusal(reply, 413, [letter], 'collector');
    }
    return handle(reply, 'collector', candidatesOf(items));
  });

  app.post('/v1/webhooks/survey', async (request, reply) => {
    const body = bodyOf(request);
    const parsed = parseJsonBody(body);
    return handle(reply, 'webhook:survey', parsed.ok ? surveyCandidates(parsed.json, body) : invalidJson(body, parsed.message));
  });

  app.post('/v1/webhooks/social', async (request, reply) => {
    const body = bodyOf(request);
    const type = String(request.headers['content-type'] ?? '');
    if (/ndjson|jsonl|jsonlines/i.test(type)) return handle(reply, 'webhook:social', socialNdjsonCandidates(body));
    const parsed = parseJsonBody(body);
    return handle(reply, 'webhook:social', parsed.ok ? socialCandidates(parsed.json, body) : invalidJson(body, parsed.message));
  });

  // Erasure (Art. 17): `{ "customer_id": "…" }`. The body holds a raw id: it is never dead-lettered, logged or echoed.
  app.post('/v1/erasure', async (request, reply) => {
    const route = 'erasure';
    const parsed = parseJsonBody(bodyOf(request));
    const id = parsed.ok ? (parsed.json as { customer_id?: unknown } | null)?.customer_id : undefined;
    if (typeof id !== 'string' || id.length === 0 || id.length > 128) {
      metrics.count('touchstream_collector_requests_total', 1, { route, status: '400' });
      return reply.code(400).send({ error: 'invalid_erasure', message: 'the body must be { "customer_id": "<1–128 characters>" }' });
    }
    if (!dependencies.erasures) {
      metrics.count('touchstream_collector_requests_total', 1, { route, status: '501' });
      return reply.code(501).send({ error: 'erasure_unavailable', message: 'this collector takes no erasure requests' });
    }
    let requestId: string;
    try {
      ({ requestId } = await dependencies.erasures.request(id));
    } catch (error) {
      return unavailable(reply, error, route);
    }
    metrics.count('touchstream_collector_requests_total', 1, { route, status: '202' });
    return reply.code(202).send({ request_id: requestId, status: 'requested' });
  });

  app.get('/healthz', async () => ({ ok: true }));
  return app;
}

function sourceOf(request: FastifyRequest): string {
  if (request.url.startsWith('/v1/webhooks/survey')) return 'webhook:survey';
  if (request.url.startsWith('/v1/webhooks/social')) return 'webhook:social';
  return 'collector';
}

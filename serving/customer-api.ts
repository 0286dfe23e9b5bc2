// The customer API as a fastify plugin: API-key auth, the three live-state routes answered locally or forwarded to the partition's owner, and /openapi.json.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Metrics } from '../engine/index.ts';
import { noMetrics } from '../engine/index.ts';
import type { LiveState } from './live-state.ts';
import { journeyResponseOf, sessionResponseOf, signalsResponseOf } from './live-state.ts';
import type { ErrorResponse } from './live-state.ts';
import { openApiDocument } from './openapi.ts';
import type { PartitionDirectory } from './partition-directory.ts';
import { soleWorkerDirectory } from './partition-directory.ts';

/** Marks a request one worker forwarded to another (the owner answers it or says 503; it never forwards again). */
export const FORWARDED_HEADER = 'x-touchstream-forwarded-by';
/** Names the member that answered (the owner of the customer's partition). */
export const SERVED_BY_HEADER = 'x-touchstream-served-by';

export interface CustomerApiOptions {
  /** The worker's live state (the composition root implements it over the pipeline's stores). */
  state: LiveState;
  /** The input partition of a stored key: the transport's partitioner over the input topic's partition count. */
  partitionOf: (key: string) => number;
  /** Where partitions this worker does not hold are served; default: this worker is the only one (embedded). */
  directory?: PartitionDirectory;
  /** Accepted bearer keys; none: loopback clients only (see docs/serving-api.md). */
  apiKeys: readonly string[];
  /** Maps the id in the path to the stored key (the edge's pseudonymiser when privacy is on); default identity. */
  pseudonymise?: (rawId: string) => string;
  /** Retry-After of a 503 (seconds); default 1. */
  retryAfterSeconds?: number;
  /** Timeout of a forwarded request; default 2000 ms. */
  forwardTimeoutMs?: number;
  /** Wall clock (ms), for signal expiry. */
  wallClock?: () => number;
  /**
   * `touchstream_serving_requests_total{route, status, served}` and `touchstream_serving_request_ms{route, served}`,
   * `served` being `local`, `forwarded` or `refused`.
   */
  metrics?: Metrics;
}

const MAX_ID_LENGTH = 128;
const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const digest = (key: string) => createHash('sha256').update(key).digest();

/** Checks `Authorization: Bearer <key>` in constant time per key; without keys, only loopback clients pass. */
function authorizer(apiKeys: readonly string[]) {
  const keys = apiKeys.map(digest);
  return (request: FastifyRequest): boolean => {
    if (keys.length === 0) return LOOPBACK.has(request.socket.remoteAddress ?? '');
    const header = request.headers.authorization;
    if (!header) return false;
    const [scheme, value] = header.split(' ', 2);
    if (scheme?.toLowerCase() !== 'bearer' || !value) return false;
    const candidate = digest(value);
    let match = false;
    for (const known of keys) match = timingSafeEqual(known, candidate) || match;
    return match;
  };
}

type Route = 'session' | 'signals' | 'journey';

/**
 * The plugin (register it on the worker's HTTP server, without fastify-plugin so its auth hook stays inside it):
 * `GET /v1/customers/:id/session|signals|journey` and `GET /openapi.json`. The server needs `maxParamLength` ≥ 128
 * for the longest customer ids (fastify's default is 100).
 */
export function customerApi(options: CustomerApiOptions): FastifyPluginAsync {
  const directory = options.directory ?? soleWorkerDirectory();
  const pseudonymise = options.pseudonymise ?? ((id: string) => id);
  const retryAfter = String(options.retryAfterSeconds ?? 1);
  const forwardTimeoutMs = options.forwardTimeoutMs ?? 2000;
  const wallClock = options.wallClock ?? Date.now;
  const authorized = authorizer(options.apiKeys);
  const { state } = options;
  const metrics = options.metrics ?? noMetrics;
  /** How each request was served, for its metrics (set by the handler; a refusal before it is `refused`). */
  const served = new WeakMap<FastifyRequest, 'local' | 'forwarded'>();

  const fail = (reply: FastifyReply, status: number, error: string, message: string) =>
    reply.code(status).send({ error, message, retriable: status === 503 } satisfies ErrorResponse);
  const unavailable = (reply: FastifyReply, error: string, message: string) => fail(reply.header('retry-after', retryAfter), 503, error, message);

  /** Answers from this worker's state (it owns the key's partition). */
  const answerLocally = (reply: FastifyReply, route: Route, key: string) => {
    reply.header(SERVED_BY_HEADER, directory.memberId);
    const unknown = () => fail(reply, 404, 'unknown_customer', 'no live state for this customer');
    switch (route) {
      case 'session': {
        const session = state.session(key);
        return session ? reply.send(sessionResponseOf(key, session)) : unknown();
      }
      case 'signals': {
        const now = wallClock();
        const signals = state.openSignals(key, now);
        return signals ? reply.send(signalsResponseOf(key, signals, now)) : unknown();
      }
      case 'journey': {
        const journey = state.journey(key);
        return journey ? reply.send(journeyResponseOf(key, journey)) : unknown();
      }
    }
  };

  /** Sends the request on to the owner with the caller's credentials and relays its answer. */
  const forward = async (request: FastifyRequest, reply: FastifyReply, url: string) => {
    const headers: Record<string, string> = { accept: 'application/json', [FORWARDED_HEADER]: directory.memberId };
    if (request.headers.authorization) headers.authorization = request.headers.authorization;
    let response: Response;
    let body: Buffer;
    try {
      response = await fetch(`${url}${request.url}`, { headers, signal: AbortSignal.timeout(forwardTimeoutMs) });
      body = Buffer.from(await response.arrayBuffer());
    } catch (error) {
      return unavailable(reply, 'owner_unreachable', `the worker serving this customer did not answer: ${(error as Error).message}`);
    }
    for (const name of ['content-type', 'retry-after', SERVED_BY_HEADER]) {
      const value = response.headers.get(name);
      if (value !== null) reply.header(name, value);
    }
    return reply.code(response.status).send(body);
  };

  const handle = (route: Route) => async (request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    const rawId = request.params.id;
    if (rawId.length === 0 || rawId.length > MAX_ID_LENGTH) return fail(reply, 400, 'invalid_customer_id', `a customer id is 1–${MAX_ID_LENGTH} characters`);
    const key = pseudonymise(rawId);
    const partition = options.partitionOf(key);
    const owned = state.ownedPartitions();
    if (owned !== 'rebalancing' && owned.includes(partition)) {
      served.set(request, 'local');
      return answerLocally(reply, route, key);
    }
    // A forwarded request is answered by its receiver or refused: two workers with different views never bounce it.
    if (request.headers[FORWARDED_HEADER] !== undefined) {
      return unavailable(reply, 'partition_unavailable', `partition ${partition} is being rebalanced: this worker does not serve it now`);
    }
    const target = directory.ownerOf(partition);
    if (target.kind === 'owner' && target.owner.memberId !== directory.memberId) {
      served.set(request, 'forwarded');
      return forward(request, reply, target.owner.url);
    }
    const message = target.kind === 'owner' ? `partition ${partition} is being rebalanced onto this worker` : target.message;
    return unavailable(reply, 'partition_unavailable', message);
  };

  return async (app) => {
    const document = openApiDocument();
    app.addHook('onRequest', async (request, reply) => {
      if ((request.routeOptions.config as { public?: boolean } | undefined)?.public) return;
      if (!authorized(request)) {
        reply.header('www-authenticate', 'Bearer');
        return fail(
          reply,
          401,
          'unauthorized',
          options.apiKeys.length > 0 ? 'a valid API key is required: Authorization: Bearer <key>' : 'no API keys are configured (TOUCHSTREAM_API_KEYS): only loopback clients are served',
        );
      }
    });
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url;
      if (!route?.includes('/v1/customers/')) return;
      const how = served.get(request) ?? 'refused';
      metrics.count('touchstream_serving_requests_total', 1, { route, status: String(reply.statusCode), served: how });
      metrics.observe('touchstream_serving_request_ms', reply.elapsedTime, { route, served: how });
    });
    // Our error shape for whatever else goes wrong; a failure's message may hold state, so it is not echoed.
    app.setErrorHandler(async (error: { statusCode?: number }, _request, reply) => {
      const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
      return fail(reply, status, status === 500 ? 'internal_error' : 'bad_request', status === 500 ? 'the worker failed to answer' : 'the request is not valid');
    });
    app.get('/openapi.json', { config: { public: true } }, async () => document);
    app.get('/v1/customers/:id/session', handle('session'));
    app.get('/v1/customers/:id/signals', handle('signals'));
    app.get('/v1/customers/:id/journey', handle('journey'));
  };
}

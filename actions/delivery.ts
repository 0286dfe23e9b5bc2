// Delivers one action of one signal to its destination: rate limit, circuit breaker, timeouts, retries with backoff and jitter, the same Idempotency-Key on every attempt, a dead letter after the last.
import { backoffDelay, retryAfterMs } from './backoff.ts';
import { CircuitBreaker } from './circuit-breaker.ts';
import type { Destination } from './destinations.ts';
import type { Fetch } from './http-attempt.ts';
import { attemptRequest } from './http-attempt.ts';
import type { ActionMetrics } from './metrics.ts';
import { noActionMetrics, sleep } from './metrics.ts';
import { requestOf } from './payloads.ts';
import { RateLimiter } from './rate-limiter.ts';
import type { ActionDeadLetter, ActionDeliveryRow, DeliverableSignal } from './records.ts';
import { idempotencyKeyOf } from './records.ts';

/** A destination with its live state: one rate limiter and one circuit breaker per destination, shared by all its deliveries. */
export class DestinationChannel {
  readonly limiter: RateLimiter;
  readonly breaker: CircuitBreaker;

  constructor(
    readonly destination: Destination,
    clock: () => number,
    metrics: ActionMetrics,
  ) {
    this.limiter = new RateLimiter(destination.rateLimit, clock);
    const labels = { destination: destination.name };
    this.breaker = new CircuitBreaker(destination.circuitBreaker, clock, (state) => {
      metrics.gauge('touchstream_action_circuit_open', state === 'closed' ? 0 : 1, labels);
      if (state === 'open') metrics.count('touchstream_action_circuit_opened_total', 1, labels);
    });
  }
}

export interface DeliveryContext {
  fetch: Fetch;
  clock: () => number;
  random: () => number;
  metrics: ActionMetrics;
  /** Aborted when the worker stops: the delivery ends at once, without a dead letter (it is not committed). */
  halt: AbortSignal;
  /** Takes each attempt's row as it ends. */
  record(row: ActionDeliveryRow): void;
}

export type DeliveryOutcome =
  | { kind: 'delivered'; attempts: number }
  | { kind: 'dead_lettered'; attempts: number; letter: ActionDeadLetter }
  | { kind: 'halted' };

/**
 * Attempts until the destination answers 2xx, refuses for good (a 4xx other than 408/409/425/429), or `maxAttempts`
 * attempts failed; waits for the rate limit and an open circuit before each attempt (neither counts as one).
 */
export async function deliverAction(signal: DeliverableSignal, action: string, channel: DestinationChannel, context: DeliveryContext): Promise<DeliveryOutcome> {
  const { destination } = channel;
  const config = destination.config;
  const labels = { destination: destination.name };
  const key = idempotencyKeyOf(signal.signal_id, action);
  const request = requestOf(config, signal, action);
  for (let attempt = 1; ; attempt++) {
    // An open circuit: wait (without spending an attempt) until it lets a trial through.
    for (let wait = channel.breaker.acquire(); wait > 0; wait = channel.breaker.acquire()) {
      if (!(await sleep(wait, context.halt))) return { kind: 'halted' };
    }
    const turn = channel.limiter.reserve();
    if (turn > 0 && !(await sleep(turn, context.halt))) return { kind: 'halted' };
    const started = context.clock();
    const timer = performance.now();
    const result = await attemptRequest(context.fetch, request, destination.headers, key, config.timeoutMs, context.halt);
    if (result.kind === 'halted') {
      channel.breaker.release();
      return { kind: 'halted' };
    }
    const latency = Math.round(performance.now() - timer);
    context.metrics.observe('touchstream_action_attempt_seconds', latency / 1000, labels);
    const row = (status: ActionDeliveryRow['status'], httpStatus: number | null, errorCode: string | null): ActionDeliveryRow => ({
      signal_id: signal.signal_id, action, destination: destination.name, attempt, status, http_status: httpStatus,
      latency_ms: latency, attempted_at: started, error_code: errorCode, idempotency_key: key,
    });
    if (result.kind === 'delivered') {
      channel.breaker.success();
      context.record(row('delivered', result.httpStatus, null));
      context.metrics.count('touchstream_actions_delivered_total', 1, labels);
      return { kind: 'delivered', attempts: attempt };
    }
    // A refusal is about this request, not the destination's health: it does not move the breaker (but gives back a trial).
    if (result.kind === 'retriable') channel.breaker.failure();
    else channel.breaker.release();
    if (result.kind === 'refused' || attempt >= config.maxAttempts) {
      context.record(row('dead_lettered', result.httpStatus, result.code));
      context.metrics.count('touchstream_actions_dead_lettered_total', 1, { ...labels, reason: result.kind === 'refused' ? 'refused' : 'attempts_exhausted' });
      return {
        kind: 'dead_lettered',
        attempts: attempt,
        letter: {
          signal_id: signal.signal_id, action, destination: destination.name, customer_id: signal.customer_id, idempotency_key: key,
          attempts: attempt, error_code: result.code, http_status: result.httpStatus, dead_lettered_at: context.clock(),
        },
      };
    }
    context.record(row('failed', result.httpStatus, result.code));
    context.metrics.count('touchstream_actions_retried_total', 1, { ...labels, code: result.code });
    const asked = retryAfterMs(result.retryAfter, context.clock());
    const delay = Math.max(backoffDelay(attempt, destination.backoff, context.random), Math.min(asked ?? 0, destination.backoff.maxMs));
    if (!(await sleep(delay, context.halt))) return { kind: 'halted' };
  }
}

/** Channels for every destination of a routing, created once per worker. */
export function channelsOf(destinations: Iterable<Destination>, clock: () => number, metrics: ActionMetrics = noActionMetrics): Map<string, DestinationChannel> {
  return new Map([...destinations].map((destination) => [destination.name, new DestinationChannel(destination, clock, metrics)]));
}

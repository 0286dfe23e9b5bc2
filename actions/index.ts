// Action management's public face: the destinations file, payload mappings, delivery with retries/idempotency/dead letters, and outcomes.
export { backoffCeiling, backoffDelay, retryAfterMs, type BackoffPolicy } from './backoff.ts';
export { CircuitBreaker, type CircuitBreakerPolicy, type CircuitState } from './circuit-breaker.ts';
export { RateLimiter, type RateLimitPolicy } from './rate-limiter.ts';
export { Secret } from './secret.ts';
export {
  destinationsFileSchema, loadDestinationsFile, parseDestinations,
  type ActionRouting, type Destination, type DestinationConfig, type DestinationsFile, type DestinationType,
} from './destinations.ts';
export { requestOf, signalJson, zendeskPriority, type ActionRequest } from './payloads.ts';
export { attemptRequest, type AttemptResult, type Fetch } from './http-attempt.ts';
export { channelsOf, deliverAction, DestinationChannel, type DeliveryContext, type DeliveryOutcome } from './delivery.ts';
export { runActionDelivery, type ActionDeliveryOptions, type ActionDeliveryResult } from './delivery-worker.ts';
export { outcomeSchema, parseOutcome, type OutcomeParse, type OutcomeRow } from './outcomes.ts';
export { noActionMetrics, sleep, type ActionMetrics } from './metrics.ts';
export {
  ACTION_TOPICS, idempotencyKeyOf,
  type ActionDeadLetter, type ActionDeliveryRow, type ActionOutcome, type AttemptStatus, type DeliverableSignal, type OutcomeStatus,
} from './records.ts';
export { runOutcomeRelay, type OutcomeRelayOptions } from './outcome-relay.ts';

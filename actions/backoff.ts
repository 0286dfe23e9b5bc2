// Exponential backoff with jitter: how long a delivery waits before its next attempt.

export interface BackoffPolicy {
  /** The base delay before the second attempt. */
  initialMs: number;
  /** No wait is longer than this. */
  maxMs: number;
  /** The base delay grows by this factor per attempt. */
  multiplier: number;
}

/** The ceiling of the wait after `attempt` (1-based) failed: initial × multiplier^(attempt−1), at most maxMs. */
export function backoffCeiling(attempt: number, policy: BackoffPolicy): number {
  return Math.min(policy.maxMs, policy.initialMs * policy.multiplier ** Math.max(0, attempt - 1));
}

/**
 * The wait after `attempt` failed: "equal jitter", uniformly in [ceiling/2, ceiling]. Half the ceiling is kept so a
 * retry never comes back at once; the other half is random so receivers recovering from an outage are not hit by
 * every worker's retries in the same instant. `random` answers in [0, 1).
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = backoffCeiling(attempt, policy);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Honours a receiver's Retry-After (seconds or an HTTP date) when it asks for a longer wait, up to maxMs. */
export function retryAfterMs(header: string | null, now: number): number | null {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

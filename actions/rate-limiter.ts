// A per-destination rate limit: a token bucket that says how long an attempt must wait for its turn.

export interface RateLimitPolicy {
  /** Sustained attempts per second. */
  perSecond: number;
  /** Attempts allowed at once after a quiet period. */
  burst: number;
}

export class RateLimiter {
  #tokens: number;
  #updatedAt: number;

  constructor(
    readonly policy: RateLimitPolicy,
    private readonly clock: () => number = Date.now,
  ) {
    this.#tokens = policy.burst;
    this.#updatedAt = clock();
  }

  /**
   * Takes a token: answers 0 when the attempt may go now, else how many ms until it may (the token is reserved:
   * the caller waits that long and goes, without asking again). Callers are served in the order they ask.
   */
  reserve(): number {
    const now = this.clock();
    this.#tokens = Math.min(this.policy.burst, this.#tokens + ((now - this.#updatedAt) / 1000) * this.policy.perSecond);
    this.#updatedAt = now;
    this.#tokens -= 1;
    if (this.#tokens >= 0) return 0;
    return Math.ceil((-this.#tokens / this.policy.perSecond) * 1000);
  }
}

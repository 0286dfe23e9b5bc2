// Pins the delivery policies of action management: backoff with jitter stays in its bounds, the circuit breaker's state machine, the token-bucket rate limit.
import { describe, expect, it } from 'vitest';
import { backoffCeiling, backoffDelay, retryAfterMs } from '../../actions/backoff.ts';
import { CircuitBreaker } from '../../actions/circuit-breaker.ts';
import type { CircuitState } from '../../actions/circuit-breaker.ts';
import { RateLimiter } from '../../actions/rate-limiter.ts';

const policy = { initialMs: 100, maxMs: 1000, multiplier: 2 };

describe('backoff with jitter', () => {
  it('grows exponentially to its cap', () => {
    expect([1, 2, 3, 4, 5, 6, 10].map((attempt) => backoffCeiling(attempt, policy))).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it('waits between half the ceiling and the ceiling, never less and never more', () => {
    expect(backoffDelay(3, policy, () => 0)).toBe(200);
    expect(backoffDelay(3, policy, () => 0.999999)).toBe(400);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(300);
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const delays = new Set<number>();
    for (let attempt = 1; attempt <= 8; attempt++) {
      const ceiling = backoffCeiling(attempt, policy);
      for (let draw = 0; draw < 500; draw++) {
        const delay = backoffDelay(attempt, policy, random);
        expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
        expect(delay).toBeLessThanOrEqual(ceiling);
        delays.add(delay);
      }
    }
    // Jitter: the draws spread, they are not one value per attempt.
    expect(delays.size).toBeGreaterThan(100);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterMs('3', 0)).toBe(3000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(retryAfterMs(null, 0)).toBeNull();
    expect(retryAfterMs('soon', 0)).toBeNull();
  });
});

describe('circuit breaker', () => {
  it('opens after the threshold of consecutive failures, half-opens after resetMs, closes on a good trial', () => {
    let now = 0;
    const changes: CircuitState[] = [];
    const breaker = new CircuitBreaker({ failureThreshold: 3, resetMs: 1000 }, () => now, (state) => changes.push(state));
    expect(breaker.acquire()).toBe(0);
    breaker.failure();
    breaker.failure();
    breaker.success(); // a success in between resets the run
    breaker.failure();
    breaker.failure();
    expect(breaker.state).toBe('closed');
    breaker.failure();
    expect(breaker.state).toBe('open');
    now = 400;
    expect(breaker.acquire()).toBe(600); // wait the rest of resetMs
    now = 1000;
    expect(breaker.state).toBe('half_open');
    expect(breaker.acquire()).toBe(0); // the one trial
    expect(breaker.acquire()).toBeGreaterThan(0); // others wait while it is in flight
    breaker.success();
    expect(breaker.state).toBe('closed');
    expect(breaker.acquire()).toBe(0);
    expect(changes).toEqual(['open', 'half_open', 'closed']);
  });

  it('goes back to open when the half-open trial fails, for another resetMs', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failureThreshold: 1, resetMs: 500 }, () => now);
    breaker.failure();
    expect(breaker.state).toBe('open');
    now = 500;
    expect(breaker.acquire()).toBe(0);
    breaker.failure();
    expect(breaker.state).toBe('open');
    now = 900;
    expect(breaker.acquire()).toBe(100);
    now = 1000;
    expect(breaker.state).toBe('half_open');
  });

  it('gives the half-open trial back when it ends in neither success nor failure (a refusal, a stop), so the next attempt is the trial', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failureThreshold: 1, resetMs: 100 }, () => now);
    breaker.failure();
    now = 100;
    expect(breaker.acquire()).toBe(0); // the trial…
    expect(breaker.acquire()).toBeGreaterThan(0);
    breaker.release(); // …was refused for its own request
    expect(breaker.state).toBe('half_open');
    expect(breaker.acquire()).toBe(0); // another trial may go
  });
});

describe('rate limiter', () => {
  it('lets a burst through, then spaces attempts at the sustained rate', () => {
    let now = 0;
    const limiter = new RateLimiter({ perSecond: 10, burst: 3 }, () => now);
    expect([limiter.reserve(), limiter.reserve(), limiter.reserve()]).toEqual([0, 0, 0]);
    // Reserved turns queue up: 100 ms apart at 10/s.
    expect([limiter.reserve(), limiter.reserve(), limiter.reserve()]).toEqual([100, 200, 300]);
    now = 1000; // 10 tokens earned, 3 owed: the bucket is full again (capped at the burst)
    expect([limiter.reserve(), limiter.reserve(), limiter.reserve(), limiter.reserve()]).toEqual([0, 0, 0, 100]);
  });

  it('never lets more than burst + rate × time through', () => {
    let now = 0;
    const limiter = new RateLimiter({ perSecond: 50, burst: 5 }, () => now);
    let allowed = 0;
    for (let step = 0; step < 2000; step++) {
      now = step; // one try per ms for 2 s
      if (limiter.reserve() === 0) allowed += 1;
      else break;
    }
    expect(allowed).toBe(5);
  });
});

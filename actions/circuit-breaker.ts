// A per-destination circuit breaker: after a run of failures it stops calling the destination for a while, then lets one trial through.

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerPolicy {
  /** Consecutive failed attempts that open the circuit. */
  failureThreshold: number;
  /** How long an open circuit refuses attempts before it lets one trial through (half-open). */
  resetMs: number;
}

/**
 * closed ─(failureThreshold consecutive failures)─► open ─(resetMs)─► half_open ─(trial succeeds)─► closed
 *                                                     ▲                   │
 *                                                     └─(trial fails)─────┘
 * While half-open only one trial is in flight; other attempts wait as if it were open. Every acquired attempt ends in
 * success(), failure() or release(), or the trial would be held for ever and every delivery would wait.
 */
export class CircuitBreaker {
  #state: CircuitState = 'closed';
  #failures = 0;
  #openedAt = 0;
  #trialInFlight = false;

  constructor(
    readonly policy: CircuitBreakerPolicy,
    private readonly clock: () => number = Date.now,
    /** Told each state change (metrics). */
    private readonly onChange?: (state: CircuitState) => void,
  ) {}

  get state(): CircuitState {
    if (this.#state === 'open' && this.clock() - this.#openedAt >= this.policy.resetMs) this.#set('half_open');
    return this.#state;
  }

  /**
   * Asks to make an attempt now: 0 means go (and, half-open, this caller holds the one trial); a positive number is
   * how long to wait before asking again.
   */
  acquire(): number {
    const state = this.state;
    if (state === 'closed') return 0;
    if (state === 'open') return Math.max(1, this.#openedAt + this.policy.resetMs - this.clock());
    if (this.#trialInFlight) return Math.max(1, Math.min(100, this.policy.resetMs));
    this.#trialInFlight = true;
    return 0;
  }

  success(): void {
    this.#failures = 0;
    this.#trialInFlight = false;
    if (this.#state !== 'closed') this.#set('closed');
  }

  /**
   * An attempt that says nothing about the destination's health (refused for this request, or stopped): it moves no
   * state but gives back the half-open trial it may hold, so the next attempt can be the trial.
   */
  release(): void {
    this.#trialInFlight = false;
  }

  failure(): void {
    this.#failures += 1;
    const trial = this.#state === 'half_open';
    this.#trialInFlight = false;
    if (trial || (this.#state === 'closed' && this.#failures >= this.policy.failureThreshold)) {
      this.#openedAt = this.clock();
      this.#set('open');
    }
  }

  #set(state: CircuitState): void {
    this.#state = state;
    this.onChange?.(state);
  }
}

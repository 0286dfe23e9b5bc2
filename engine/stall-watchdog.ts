// Bounds the engine's external awaits: a step (poll, sink write, transaction call, restore) that does not settle in time fails the job with a retriable `engine_stalled` error, so the supervisor restarts it from its last checkpoint.
import { TouchstreamError } from '../schemas/errors.ts';
import type { Metrics } from './metrics.ts';

/** A step of the job that made no progress for too long; retriable: a restart (restore + re-read) is consistent. */
export class StallError extends TouchstreamError {
  constructor(
    readonly job: string,
    readonly stage: string,
    readonly waitedMs: number,
  ) {
    super('engine_stalled', `${job}: ${stage} made no progress for ${waitedMs} ms`, true);
  }
}

export interface StallWatchdogOptions {
  /** Names the job in the error and the metric. */
  job: string;
  /** How long one step may stay unsettled before the job is failed. */
  timeoutMs: number;
  metrics: Metrics;
  /** Timers, injectable for tests; default setTimeout/clearTimeout. */
  timers?: { set(callback: () => void, ms: number): unknown; clear(handle: unknown): void };
}

const realTimers = {
  set: (callback: () => void, ms: number): unknown => setTimeout(callback, ms),
  clear: (handle: unknown): void => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export class StallWatchdog {
  readonly #timers: NonNullable<StallWatchdogOptions['timers']>;

  constructor(private readonly options: StallWatchdogOptions) {
    this.#timers = options.timers ?? realTimers;
  }

  get timeoutMs(): number {
    return this.options.timeoutMs;
  }

  /**
   * Answers `step`'s outcome, or rejects with a `StallError` once it has been pending `timeoutMs` (default: the
   * watchdog's). The step itself is not cancelled: whatever it still does belongs to a job that is restarting, and
   * the transactional checkpoints fence it (a later commit of the old producer is refused).
   */
  bound<T>(stage: string, step: Promise<T>, timeoutMs = this.options.timeoutMs): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.#timers.set(() => {
        this.options.metrics.count('touchstream_stalls_total', 1, { job: this.options.job, stage });
        reject(new StallError(this.options.job, stage, timeoutMs));
      }, timeoutMs);
      step.then(
        (value) => {
          this.#timers.clear(timer);
          resolve(value);
        },
        (error: unknown) => {
          this.#timers.clear(timer);
          reject(error);
        },
      );
    });
  }
}

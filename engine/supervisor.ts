// Restarts a stream job after a retriable failure (a failed checkpoint, a broker gone): a fresh consumer and producer, state restored from the changelogs.
import { isRetriable } from '../schemas/errors.ts';
import type { Metrics } from './metrics.ts';

export interface SuperviseOptions {
  name: string;
  metrics: Metrics;
  signal?: AbortSignal;
  /** Backoff between attempts; default 200 ms doubling to 5 s. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Told about each restart (for the log). */
  onRestart?(error: unknown, delayMs: number): void;
}

/**
 * Runs `attempt` until it resolves or fails with a non-retriable error. Each attempt opens its own resources, so a
 * restart is a clean rejoin: nothing of the failed attempt's uncommitted work survives it.
 */
export async function supervise<T>(attempt: () => Promise<T>, options: SuperviseOptions): Promise<T> {
  const initial = options.initialDelayMs ?? 200;
  let delay = initial;
  for (;;) {
    const started = Date.now();
    try {
      return await attempt();
    } catch (error) {
      if (!isRetriable(error) || options.signal?.aborted) throw error;
      options.metrics.count('touchstream_job_restarts_total', 1, { job: options.name });
      // An attempt that ran a while before failing starts the backoff over.
      if (Date.now() - started > 30_000) delay = initial;
      options.onRestart?.(error, delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(options.maxDelayMs ?? 5000, delay * 2);
    }
  }
}

// The one retry policy for writes outside the log: retriable failures are retried with doubling backoff for as long as it takes, each attempt bounded by the stall watchdog.
import { setTimeout as sleep } from 'node:timers/promises';
import { isRetriable } from '../schemas/errors.ts';
import type { Metrics } from './metrics.ts';
import type { Pace, Sink } from './operator.ts';
import { StallError } from './stall-watchdog.ts';
import type { StallWatchdog } from './stall-watchdog.ts';

export interface RetryOptions {
  /** First backoff (default 100 ms), doubled after each failure up to `maxDelayMs` (default 5 s). */
  initialDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Writes to a sink, retrying retriable failures with backoff for as long as it takes (the caller's input waits
 * meanwhile). Each attempt is bounded by the watchdog (an answer, even an error, is progress; no answer is a
 * stall), and the retries stop when `halted` aborts, so a failed job leaves nothing running behind it. Answers
 * whether the batch was written (false: halted first).
 */
export async function writeWithRetry<T>(
  sink: Sink<T>,
  values: readonly T[],
  options: { pace?: Pace; retry?: RetryOptions; metrics: Metrics; stall: StallWatchdog; halted: AbortSignal },
): Promise<boolean> {
  let delay = options.retry?.initialDelayMs ?? 100;
  const maxDelay = options.retry?.maxDelayMs ?? 5000;
  while (!options.halted.aborted) {
    try {
      await options.stall.bound(`write ${sink.name}`, sink.write(values, options.pace));
      return true;
    } catch (error) {
      options.metrics.count('touchstream_sink_errors_total', 1, { sink: sink.name, retriable: String(isRetriable(error)) });
      if (!isRetriable(error) || error instanceof StallError) throw error;
      // The backoff ends early when the job ends (the abort rejects; the loop condition then stops).
      await sleep(delay, undefined, { signal: options.halted }).catch(() => {});
      delay = Math.min(maxDelay, delay * 2);
    }
  }
  return false;
}

// The messages between `touchstream run` and its loader thread: the config in, metrics and the end out, a stop in.
import type { Config } from '../config.ts';

/** What the thread starts with (structured-clonable). */
export interface LoaderThreadData {
  config: Config;
  bounded: boolean;
}

/** From the thread: a metric update (applied to the process's metrics), a restart, the end, or a failure. */
export type LoaderThreadMessage =
  | { kind: 'metric'; method: 'count' | 'gauge' | 'observe'; name: string; value: number; labels?: Record<string, string> }
  | { kind: 'restart'; error: { message: string; code?: string }; delayMs: number }
  | { kind: 'done'; rows: Record<string, number> }
  | { kind: 'failed'; error: { message: string; code?: string; retriable?: boolean } };

/** To the thread. */
export type LoaderThreadCommand = { kind: 'stop' };

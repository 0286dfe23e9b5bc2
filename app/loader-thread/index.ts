// Runs the ClickHouse loader in a worker thread of this process (the second core): the same loader as `touchstream load`, reporting through this process's metrics.
import { Worker } from 'node:worker_threads';
import type { Metrics } from '../../engine/index.ts';
import type { TableLoadResult } from '../../loader/table-loader.ts';
import { TouchstreamError } from '../../schemas/errors.ts';
import type { Config } from '../config.ts';
import type { LoaderThreadCommand, LoaderThreadData, LoaderThreadMessage } from './protocol.ts';

export interface LoaderThreadOptions {
  config: Config;
  metrics: Metrics;
  bounded?: boolean;
  signal?: AbortSignal;
  onRestart?(error: unknown, delayMs: number): void;
}

/** Resolves when the thread's loader ends (caught up, or stopped by `signal`); rejects with its failure. */
export function loadTablesInThread(options: LoaderThreadOptions): Promise<TableLoadResult> {
  const data: LoaderThreadData = { config: options.config, bounded: options.bounded ?? false };
  const worker = new Worker(new URL('./bootstrap.mjs', import.meta.url), { workerData: data });
  const stop = () => worker.postMessage({ kind: 'stop' } satisfies LoaderThreadCommand);
  if (options.signal?.aborted) stop();
  else options.signal?.addEventListener('abort', stop, { once: true });
  return new Promise<TableLoadResult>((resolve, reject) => {
    let ended = false;
    worker.on('message', (message: LoaderThreadMessage) => {
      switch (message.kind) {
        case 'metric':
          options.metrics[message.method](message.name, message.value, message.labels);
          return;
        case 'restart':
          options.onRestart?.(new TouchstreamError(message.error.code ?? 'loader_failed', message.error.message, true), message.delayMs);
          return;
        case 'done':
          ended = true;
          // Its work is over: whatever a client library left running there must not outlive it.
          void worker.terminate().finally(() => resolve({ rows: message.rows }));
          return;
        case 'failed':
          ended = true;
          void worker.terminate().finally(() => reject(new TouchstreamError(message.error.code ?? 'loader_failed', `loader thread: ${message.error.message}`, message.error.retriable ?? false)));
      }
    });
    worker.on('error', (error) => {
      ended = true;
      reject(new TouchstreamError('loader_failed', `loader thread: ${error.message}`, false, { cause: error }));
    });
    worker.on('exit', (code) => {
      options.signal?.removeEventListener('abort', stop);
      if (!ended) reject(new TouchstreamError('loader_failed', `loader thread exited with code ${code} before it ended`, false));
    });
  });
}

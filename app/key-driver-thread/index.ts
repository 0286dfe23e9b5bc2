// Key-driver computations in a worker thread of the process: a full sample's bootstrap takes tens of ms, which the event loop then spends deciding signals instead.
import { Worker } from 'node:worker_threads';
import type { KeyDriverCompute, KeyDriverResult } from '../../pipelines/cx/key-drivers.ts';
import { TouchstreamError } from '../../schemas/errors.ts';
import type { KeyDriverReply, KeyDriverRequest } from './protocol.ts';

export interface KeyDriverThread {
  compute: KeyDriverCompute;
  /** Stops the thread; computations still running fail, and later ones. */
  close(): Promise<void>;
}

interface Waiting {
  resolve(result: KeyDriverResult): void;
  reject(error: Error): void;
}

/**
 * The thread starts with the first computation (most runs of a few minutes compute nothing). It keeps the process
 * alive only while a computation runs (a pipeline that ends without `close` still exits); a thread that dies fails
 * what it was running and every computation after it (the job then restarts, with a new thread).
 */
export function startKeyDriverThread(): KeyDriverThread {
  let worker: Worker | null = null;
  const waiting = new Map<number, Waiting>();
  let next = 0;
  let failure: Error | null = null;
  const failAll = (error: Error) => {
    failure ??= error;
    for (const { reject } of waiting.values()) reject(error);
    waiting.clear();
  };
  const started = (): Worker => {
    if (worker) return worker;
    const thread = new Worker(new URL('./bootstrap.mjs', import.meta.url));
    thread.on('message', (reply: KeyDriverReply) => {
      const entry = waiting.get(reply.id);
      if (!entry) return;
      waiting.delete(reply.id);
      if (waiting.size === 0) thread.unref();
      if ('result' in reply) entry.resolve(reply.result);
      else entry.reject(new TouchstreamError('key_drivers_failed', `key-driver computation failed: ${reply.error}`, false));
    });
    thread.on('error', (error) => failAll(new TouchstreamError('key_drivers_failed', `key-driver thread: ${error.message}`, true, { cause: error })));
    thread.on('exit', (code) => failAll(new TouchstreamError('key_drivers_failed', `key-driver thread exited with code ${code}`, true)));
    return (worker = thread);
  };
  return {
    compute: (job) => {
      if (failure) return Promise.reject(failure);
      const thread = started();
      const id = next++;
      return new Promise<KeyDriverResult>((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        thread.ref();
        thread.postMessage({ id, job } satisfies KeyDriverRequest);
      });
    },
    close: async () => {
      failAll(new TouchstreamError('key_drivers_failed', 'key-driver thread closed', false));
      await worker?.terminate();
    },
  };
}

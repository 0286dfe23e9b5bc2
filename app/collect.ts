// Composition of `touchstream collect`: the HTTP collector wired to the runtime's input-topic publisher and dead-letter path.
import { createHttpCollector } from '../sources/collector/http-collector.ts';
import type { Runtime } from './runtime.ts';
import { deadLetterPath, inputPublisher } from './runtime.ts';
import { requestErasure } from './erasure.ts';

export interface RunningCollector {
  /** Base URL it listens on, e.g. http://127.0.0.1:8088. */
  url: string;
  close(): Promise<void>;
}

/** Builds the collector on a runtime's producer and sinks (tests `inject` into it without listening). */
export function collectorFor(runtime: Runtime, wallClock: () => number = Date.now) {
  return createHttpCollector(runtime.config.collector, {
    publisher: inputPublisher(runtime),
    deadLetters: deadLetterPath(runtime),
    metrics: runtime.metrics,
    wallClock,
    erasures: { request: (id) => requestErasure(runtime, id, { source: 'http' }) },
  });
}

export async function startCollector(runtime: Runtime): Promise<RunningCollector> {
  const app = collectorFor(runtime);
  const { host, port } = runtime.config.collector;
  const url = await app.listen({ host, port });
  return { url, close: () => app.close() };
}

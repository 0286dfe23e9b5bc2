// The loader's own thread: its own Kafka consumer and ClickHouse connection, so loading the tables uses the second core and never shares the pipeline's event loop.
import { parentPort, workerData } from 'node:worker_threads';
import type { Metrics } from '../../engine/index.ts';
import { loadTables, openRuntime } from '../runtime.ts';
import type { LoaderThreadCommand, LoaderThreadData, LoaderThreadMessage } from './protocol.ts';

const port = parentPort!;
const post = (message: LoaderThreadMessage) => port.postMessage(message);
const errorOf = (error: unknown) => {
  const failure = error as { message?: string; code?: string; retriable?: boolean };
  return { message: failure.message ?? String(error), ...(failure.code ? { code: failure.code } : {}), ...(failure.retriable !== undefined ? { retriable: failure.retriable } : {}) };
};

/** The process's metrics, reached through the parent. */
const metrics: Metrics = {
  count: (name, value, labels) => post({ kind: 'metric', method: 'count', name, value, ...(labels ? { labels } : {}) }),
  gauge: (name, value, labels) => post({ kind: 'metric', method: 'gauge', name, value, ...(labels ? { labels } : {}) }),
  observe: (name, value, labels) => post({ kind: 'metric', method: 'observe', name, value, ...(labels ? { labels } : {}) }),
};

async function main(): Promise<void> {
  const { config, bounded } = workerData as LoaderThreadData;
  const stop = new AbortController();
  port.on('message', (command: LoaderThreadCommand) => {
    if (command.kind === 'stop') stop.abort();
  });
  // Migrations and topics are the parent's (it opened its runtime first): here only a consumer and a writer. The
  // consumer is kafkajs' whatever the pipeline's transport: node-rdkafka's addon loads into one thread of a process
  // only, and the loader reads few, large records (chunks of rows), where kafkajs' per-record cost does not matter.
  const runtime = await openRuntime({ ...config, transport: 'kafkajs' }, { metrics, migrate: false });
  try {
    const result = await loadTables(runtime, {
      bounded,
      signal: stop.signal,
      onRestart: (error, delayMs) => post({ kind: 'restart', error: errorOf(error), delayMs }),
    });
    post({ kind: 'done', rows: result.rows });
  } finally {
    await runtime.close();
  }
}

main().catch((error: unknown) => {
  post({ kind: 'failed', error: errorOf(error) });
});

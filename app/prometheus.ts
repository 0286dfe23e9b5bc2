// Backs the engine's metrics surface with prom-client and serves /metrics, /healthz and /readyz over HTTP.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Labels, Metrics } from '../engine/metrics.ts';

/** Creates each Prometheus metric on first use, with the label names of that first call. */
export class PrometheusMetrics implements Metrics {
  readonly registry = new Registry();
  readonly #counters = new Map<string, Counter>();
  readonly #gauges = new Map<string, Gauge>();
  readonly #histograms = new Map<string, Histogram>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'touchstream_process_', eventLoopMonitoringPrecision: 10 });
  }

  count(name: string, value: number, labels: Labels = {}): void {
    let counter = this.#counters.get(name);
    if (!counter) {
      counter = new Counter({ name, help: helpOf(name), labelNames: Object.keys(labels), registers: [this.registry] });
      this.#counters.set(name, counter);
    }
    counter.inc(labels, value);
  }

  gauge(name: string, value: number, labels: Labels = {}): void {
    let gauge = this.#gauges.get(name);
    if (!gauge) {
      gauge = new Gauge({ name, help: helpOf(name), labelNames: Object.keys(labels), registers: [this.registry] });
      this.#gauges.set(name, gauge);
    }
    gauge.set(labels, value);
  }

  observe(name: string, value: number, labels: Labels = {}): void {
    let histogram = this.#histograms.get(name);
    if (!histogram) {
      histogram = new Histogram({ name, help: helpOf(name), labelNames: Object.keys(labels), registers: [this.registry] });
      this.#histograms.set(name, histogram);
    }
    histogram.observe(labels, value);
  }
}

function helpOf(name: string): string {
  return `touchstream ${name.replace(/^touchstream_/, '').replace(/_/g, ' ')}`;
}

export interface OpsServerOptions {
  metrics: PrometheusMetrics;
  /** Ready when the pipeline is connected and running. */
  ready: () => boolean;
  port: number;
  host?: string;
  /** `POST /v1/outcomes` (action outcomes, docs/actions.md): takes the parsed JSON body, answers status and JSON. */
  outcomes?: (body: unknown) => Promise<{ status: number; body: Record<string, unknown> }>;
}

/** Outcome bodies are small: a larger one is refused before it is read. */
const MAX_OUTCOME_BYTES = 1_000_000;

/** The SRE endpoints: /metrics (Prometheus text), /healthz (process alive), /readyz (pipeline running). */
export async function startOpsServer(options: OpsServerOptions): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      options.metrics.registry
        .metrics()
        .then((text) => {
          response.writeHead(200, { 'content-type': options.metrics.registry.contentType });
          response.end(text);
        })
        .catch((error: Error) => {
          response.writeHead(500).end(error.message);
        });
      return;
    }
    if (path === '/v1/outcomes' && options.outcomes) return void answerOutcomes(request, response, options.outcomes);
    if (path === '/healthz') return void response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    if (path === '/readyz') {
      const ready = options.ready();
      return void response.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'not ready\n');
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(options.port, options.host ?? '127.0.0.1', resolve));
  const { address, port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://${address}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function answerOutcomes(request: IncomingMessage, response: ServerResponse, handle: NonNullable<OpsServerOptions['outcomes']>): void {
  const reply = (status: number, body: unknown) => void response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  if (request.method !== 'POST') return void response.writeHead(405, { allow: 'POST' }).end();
  const chunks: Buffer[] = [];
  let size = 0;
  request.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_OUTCOME_BYTES) {
      reply(413, { error: 'oversized_payload' });
      request.destroy();
    } else chunks.push(chunk);
  });
  request.on('end', () => {
    if (response.headersSent) return;
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return reply(400, { error: 'invalid_json' });
    }
    handle(body).then(
      (answer) => reply(answer.status, answer.body),
      (error: { code?: string }) => reply(503, { error: error.code ?? 'unavailable' }),
    );
  });
}

// Backs the engine's metrics surface with prom-client and serves /metrics, /healthz, /readyz and the route plugins the composition root adds (fastify).
import type { Server } from 'node:http';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
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

/** A route plugin the composition root mounts on the ops server (the live SQL endpoint, the KPI page, the customer API…). */
export type OpsPlugin = FastifyPluginAsync | { plugin: FastifyPluginAsync<any>; options?: Record<string, unknown> };

export interface OpsServerOptions {
  metrics: PrometheusMetrics;
  /** Ready when the pipeline is connected and running. */
  ready: () => boolean;
  port: number;
  host?: string;
  /**
   * Further routes, registered in this order after /metrics, /healthz and /readyz. Each plugin is its own fastify
   * context (its hooks, decorators and content-type parsers stay inside it); paths are absolute, no prefix is added.
   */
  plugins?: readonly OpsPlugin[];
}

export interface OpsServer {
  app: FastifyInstance;
  server: Server;
  /** Base URL it listens on, e.g. http://127.0.0.1:9464 (loopback when bound to every interface). */
  url: string;
  close(): Promise<void>;
}

/** The worker's HTTP server: /metrics (Prometheus text), /healthz (process alive), /readyz (pipeline running), and the plugins' routes. */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  // Path parameters up to 256 characters: customer ids (≤ 128) URL-encoded, and pseudonyms (docs/serving-api.md).
  const app = Fastify({ logger: false, forceCloseConnections: true, routerOptions: { maxParamLength: 256 } });
  app.get('/metrics', async (_request, reply) => {
    const text = await options.metrics.registry.metrics();
    return reply.header('content-type', options.metrics.registry.contentType).send(text);
  });
  app.get('/healthz', async (_request, reply) => reply.type('text/plain').send('ok\n'));
  app.get('/readyz', async (_request, reply) => {
    const ready = options.ready();
    return reply.code(ready ? 200 : 503).type('text/plain').send(ready ? 'ready\n' : 'not ready\n');
  });
  for (const entry of options.plugins ?? []) {
    if (typeof entry === 'function') await app.register(entry);
    else await app.register(entry.plugin, entry.options ?? {});
  }
  await app.listen({ port: options.port, host: options.host ?? '127.0.0.1' });
  const { address, family, port } = app.server.address() as AddressInfo;
  const reachable = address === '0.0.0.0' ? '127.0.0.1' : address === '::' ? '[::1]' : family === 'IPv6' ? `[${address}]` : address;
  return { app, server: app.server, url: `http://${reachable}:${port}`, close: () => app.close() };
}

/** Outcome bodies are small: a larger one is refused before it is read. */
const MAX_OUTCOME_BYTES = 1_000_000;

/**
 * `POST /v1/outcomes` (action outcomes, docs/actions.md) as an ops-server plugin: `handle` takes the parsed JSON body
 * and answers the status and JSON; an error is a 503 with its code, never its message.
 */
export function outcomesPlugin(handle: (body: unknown) => Promise<{ status: number; body: Record<string, unknown> }>): FastifyPluginAsync {
  return async (app) => {
    app.setErrorHandler((error: { statusCode?: number; code?: string }, _request, reply) => {
      if (error.statusCode === 413) return reply.code(413).send({ error: 'oversized_payload' });
      if (error.statusCode === 400 || error.statusCode === 415) return reply.code(400).send({ error: 'invalid_json' });
      return reply.code(503).send({ error: error.code ?? 'unavailable' });
    });
    app.post('/v1/outcomes', { bodyLimit: MAX_OUTCOME_BYTES }, async (request, reply) => {
      const answer = await handle(request.body);
      return reply.code(answer.status).type('application/json').send(answer.body);
    });
  };
}

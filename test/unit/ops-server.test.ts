// The worker's ops server: /metrics, /healthz, /readyz, and route plugins the composition root registers on it.
import type { FastifyPluginAsync } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { OpsServer } from '../../app/prometheus.ts';
import { PrometheusMetrics, startOpsServer } from '../../app/prometheus.ts';

describe('startOpsServer', () => {
  let ops: OpsServer | undefined;
  afterEach(async () => {
    await ops?.close();
    ops = undefined;
  });

  it('serves metrics, health and readiness as before', async () => {
    const metrics = new PrometheusMetrics();
    metrics.count('touchstream_test_total', 3, { part: 'ops' });
    let ready = false;
    ops = await startOpsServer({ metrics, ready: () => ready, port: 0 });
    expect(ops.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const scrape = await fetch(`${ops.url}/metrics`);
    expect(scrape.headers.get('content-type')).toContain('text/plain');
    expect(await scrape.text()).toContain('touchstream_test_total{part="ops"} 3');
    expect(await (await fetch(`${ops.url}/healthz`)).text()).toBe('ok\n');
    expect((await fetch(`${ops.url}/readyz`)).status).toBe(503);
    ready = true;
    expect(await (await fetch(`${ops.url}/readyz`)).text()).toBe('ready\n');
    expect((await fetch(`${ops.url}/nothing`)).status).toBe(404);
  });

  it('mounts plugins, with options, each in its own context', async () => {
    const hello: FastifyPluginAsync = async (app) => {
      app.addHook('onRequest', async (_request, reply) => {
        reply.header('x-hello', 'yes');
      });
      app.get('/v1/hello', async () => ({ hello: 'world' }));
    };
    const echo: FastifyPluginAsync<{ word: string }> = async (app, options) => {
      app.post('/v1/echo', async (request) => ({ word: options.word, body: request.body }));
    };
    ops = await startOpsServer({ metrics: new PrometheusMetrics(), ready: () => true, port: 0, plugins: [hello, { plugin: echo, options: { word: 'hi' } }] });
    const answer = await fetch(`${ops.url}/v1/hello`);
    expect(await answer.json()).toEqual({ hello: 'world' });
    expect(answer.headers.get('x-hello')).toBe('yes');
    const echoed = await fetch(`${ops.url}/v1/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(await echoed.json()).toEqual({ word: 'hi', body: { a: 1 } });
    // The first plugin's hook stays in its context.
    expect(echoed.headers.get('x-hello')).toBeNull();
    expect((await fetch(`${ops.url}/metrics`)).headers.get('x-hello')).toBeNull();
  });

  it('takes path parameters up to 256 characters (customer ids URL-encoded, pseudonyms)', async () => {
    const ids: FastifyPluginAsync = async (app) => {
      app.get('/v1/customers/:id/session', async (request) => ({ id: (request.params as { id: string }).id }));
    };
    ops = await startOpsServer({ metrics: new PrometheusMetrics(), ready: () => true, port: 0, plugins: [ids] });
    // An id is URL-encoded in the path: 42 'ü' are 252 characters there (fastify's default limit is 100).
    const id = 'ü'.repeat(42);
    const answer = await fetch(`${ops.url}/v1/customers/${encodeURIComponent(id)}/session`);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ id });
    expect((await fetch(`${ops.url}/v1/customers/${'x'.repeat(257)}/session`)).status).toBe(404);
  });
});

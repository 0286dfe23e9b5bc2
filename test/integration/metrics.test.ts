// SRE view during a real run: /metrics counters move as events flow and rejects happen; /healthz and /readyz answer.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import { ConsumerLag } from '../../app/consumer-lag.ts';
import { noMetrics } from '../../engine/metrics.ts';
import { PrometheusMetrics, startOpsServer } from '../../app/prometheus.ts';
import type { Runtime } from '../../app/runtime.ts';
import { ingest, openRuntime, runPipeline } from '../../app/runtime.ts';
import { ndjsonReplay } from '../../sources/replay/ndjson-replay.ts';
import { requireEnvironment, runId, waitFor } from '../support/environment.ts';

/** Sum of a metric's samples whose label text contains every given fragment. */
function sample(text: string, name: string, ...fragments: string[]): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (fragments.every((fragment) => line.includes(fragment))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

describe('metrics during a live run on the real broker', () => {
  const run = runId();
  const dataDir = mkdtempSync(join(tmpdir(), 'touchstream-metrics-'));
  const metrics = new PrometheusMetrics();
  const stop = new AbortController();
  let runtime: Runtime;
  let ops: Awaited<ReturnType<typeof startOpsServer>>;
  let running = false;
  let lag: ConsumerLag;
  let job: Promise<unknown>;

  const lines = (count: number, from: number) =>
    Array.from({ length: count }, (_, index) =>
      JSON.stringify({
        event_id: `${run}-m${from + index}`,
        type: 'page_view',
        occurred_at: new Date(Date.parse('2026-11-02T10:00:00Z') + (from + index) * 1000).toISOString(),
        customer_id: `${run}-c${index % 5}`,
        channel: 'web',
        properties: { page: '/', page_type: 'home' },
      }));
  const send = async (name: string, text: string[]) => {
    const file = join(dataDir, name);
    writeFileSync(file, `${text.join('\n')}\n`);
    return ingest(runtime, ndjsonReplay({ path: file }));
  };
  const scrape = async () => (await fetch(`${ops.url}/metrics`)).text();

  beforeAll(async () => {
    const config = loadConfig({
      dataDir,
      transport: 'rdkafka',
      kafka: { brokers: requireEnvironment('TOUCHSTREAM_TEST_KAFKA_BROKERS'), inputTopic: `it-metrics-${run}`, groupId: `it-metrics-${run}` },
      clickhouse: { url: requireEnvironment('TOUCHSTREAM_TEST_CLICKHOUSE_URL'), dialect: 'legacy', database: `ts_metrics_${run}` },
    }, {});
    ops = await startOpsServer({ metrics, ready: () => running, port: 0 });
    runtime = await openRuntime(config, { metrics });
    lag = new ConsumerLag(runtime.log, config.kafka.inputTopic, metrics);
    running = true;
    job = runPipeline(runtime, { signal: stop.signal, onCommit: (offsets) => lag.committed(offsets) });
  });

  afterAll(async () => {
    stop.abort();
    await job;
    running = false;
    await runtime?.close();
    await ops?.close();
  });

  it('answers /healthz and /readyz', async () => {
    expect((await fetch(`${ops.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${ops.url}/readyz`)).status).toBe(200);
  });

  it('counts input, outputs and rejects as they happen', async () => {
    const first = await send('first.ndjson', [...lines(50, 0), '{"broken json', JSON.stringify({ event_id: `${run}-x`, type: 'teleport' })]);
    expect(first).toEqual({ events: 50, rejected: 2 });
    await runtime.producer.send(runtime.config.kafka.inputTopic, [{ key: `${run}-c0`, value: Buffer.from('garbage') }]);
    const afterFirst = await waitFor(async () => {
      const text = await scrape();
      return sample(text, 'touchstream_input_records_total') >= 51 && sample(text, 'touchstream_output_values_total', 'output="events"') >= 50 ? text : undefined;
    }, 60_000, 'the first batch in the counters');
    expect(sample(afterFirst, 'touchstream_input_records_total')).toBe(51);
    expect(sample(afterFirst, 'touchstream_output_values_total', 'output="events"')).toBe(50);
    expect(sample(afterFirst, 'touchstream_rejected_total', 'reason="invalid_json"')).toBe(1);
    expect(sample(afterFirst, 'touchstream_rejected_total', 'reason="unknown_type"')).toBe(1);
    expect(sample(afterFirst, 'touchstream_rejected_total', 'reason="not_wire_format"')).toBe(1);
    expect(sample(afterFirst, 'touchstream_source_events_total')).toBe(50);
    expect(sample(afterFirst, 'touchstream_live_sessions')).toBe(5);
    expect(afterFirst).toContain('touchstream_process_nodejs_eventloop_lag_seconds');

    await send('second.ndjson', [...lines(30, 50), lines(1, 0)[0]!]); // the last one repeats an event_id
    const afterSecond = await waitFor(async () => {
      const text = await scrape();
      return sample(text, 'touchstream_input_records_total') >= 82 && sample(text, 'touchstream_duplicate_events_total') >= 1 ? text : undefined;
    }, 60_000, 'the second batch in the counters');
    expect(sample(afterSecond, 'touchstream_input_records_total')).toBe(82);
    expect(sample(afterSecond, 'touchstream_duplicate_events_total')).toBe(1);
    await waitFor(async () => (sample(await scrape(), 'touchstream_output_values_total', 'output="events"') === 80 ? true : undefined), 30_000, 'events output at 80');

    // Lag: 82 records are in the topic; once they are committed the sampled lag is 0 on every partition.
    const caughtUp = await waitFor(async () => ((await lag.sample()) === 0 ? scrape() : undefined), 30_000, 'consumer lag 0');
    expect(caughtUp).toMatch(/touchstream_consumer_lag\{[^}]*partition="0"[^}]*\} 0/);
    expect(sample(caughtUp, 'touchstream_event_to_output_seconds_count')).toBeGreaterThan(0);
    // The tables are loaded by the loader from what the topology committed: it can trail the commit by a poll.
    const loaded = await waitFor(async () => {
      const text = await scrape();
      return sample(text, 'touchstream_clickhouse_insert_rows_total', 'table="events"') >= 80 ? text : undefined;
    }, 30_000, 'the events table loaded');
    expect(sample(loaded, 'touchstream_clickhouse_insert_rows_total', 'table="events"')).toBe(80);
    expect(sample(loaded, 'touchstream_clickhouse_insert_seconds_count', 'table="events"')).toBeGreaterThan(0);
    // A group that has committed nothing lags by every record in the topic.
    expect(await new ConsumerLag(runtime.log, runtime.config.kafka.inputTopic, noMetrics).sample()).toBe(82);
  });
});

// The benchmark harness itself (`npm run bench`'s benchmarks/run.ts) at a small scale on the real broker and ClickHouse: every system it measures must produce the sessions of the input, and the results file must hold every section it ran.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OUT_OF_ORDERNESS_MS } from '../../benchmarks/dataset.ts';
import type { BenchResults } from '../../benchmarks/report.ts';
import { requireEnvironment } from '../support/environment.ts';

/** Kafka Streams is left out: it needs Maven, which the benchmark needs and the test suite does not. */
const SECTIONS = ['decode', 'kcat', 'kafkajs-peer', 'touchstream-rdkafka', 'touchstream-two-workers', 'latency', 'memory', 'sinks'];

function runHarness(args: readonly string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'benchmarks/run.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('the benchmark harness on the real broker and ClickHouse', () => {
  const dir = mkdtempSync(join(tmpdir(), 'touchstream-bench-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every section at 300 customers: each system closes exactly the expected sessions and the results hold each measurement', async () => {
    const resultsDir = join(dir, 'results');
    const { code, output } = await runHarness([
      '--brokers', requireEnvironment('TOUCHSTREAM_TEST_KAFKA_BROKERS'),
      '--clickhouse-url', requireEnvironment('TOUCHSTREAM_TEST_CLICKHOUSE_URL'),
      '--customers', '300',
      '--sections', SECTIONS.join(','),
      '--latency-seconds', '5',
      '--memory-sessions', '2000',
      '--sink-rows', '2000',
      '--run-timeout-seconds', '120',
      '--results-dir', resultsDir,
      '--work-dir', join(dir, 'work'),
    ]);
    expect(code, output).toBe(0);
    // One run file and latest.json, the same results.
    const files = readdirSync(resultsDir).sort();
    expect(files).toHaveLength(2);
    expect(files).toContain('latest.json');
    const results = JSON.parse(readFileSync(join(resultsDir, 'latest.json'), 'utf8')) as BenchResults;
    expect(readFileSync(join(resultsDir, files.find((file) => file !== 'latest.json')!), 'utf8')).toBe(readFileSync(join(resultsDir, 'latest.json'), 'utf8'));

    expect(results.input.expectedSessions).toBeGreaterThan(500);
    const runs = Object.values(results.throughput);
    expect(runs.map((run) => run.label).sort()).toEqual(
      ['kafkajs-peer-eachBatch', 'kafkajs-peer-eachMessage', 'kcat-avro', 'kcat-json', 'touchstream-rdkafka', 'touchstream-rdkafka-2-workers'],
    );
    for (const run of runs) {
      expect(run.ok, `${run.label}: ${run.error}`).toBe(true);
      expect(run.eventsPerSecond).toBeGreaterThan(0);
      // kcat only reads; every other system must have closed exactly the sessions the oracle counts.
      if (!run.label.startsWith('kcat')) expect(run.sessions, run.label).toBe(results.input.expectedSessions);
    }
    const touchstream = results.throughput['touchstream-rdkafka']!;
    expect(touchstream.checkpoints).toBeGreaterThan(0);
    expect(touchstream.cpuSeconds).toBeGreaterThan(0);

    expect(results.decode!.decoderPerSecond).toBeGreaterThan(0);
    expect(results.latency!.ok).toBe(true);
    expect(results.latency!.signals).toBeGreaterThan(0);
    expect(results.latency!.emittedAt.p99).toBeGreaterThanOrEqual(results.latency!.emittedAt.p50);
    // Live traffic: the contact policy decides once the watermark passed the trigger, so no signal comes sooner than
    // the out-of-orderness bound (events are stamped with the wall time they are sent).
    expect(results.latencyLive!.ok, results.latencyLive!.error).toBe(true);
    expect(results.latencyLive!.signals).toBeGreaterThan(0);
    expect(results.latencyLive!.emittedAt.p50).toBeGreaterThanOrEqual(OUT_OF_ORDERNESS_MS);
    expect(results.memory!.map((entry) => entry.liveSessions)).toEqual([2000]);
    expect(results.memory![0]!.bytesPerSession).toBeGreaterThan(0);
    expect(results.sinks!.map((sink) => sink.ok)).toEqual([true, true]);
    // Every target is judged and printed: three throughput ratios (Kafka Streams' one not measured here), latency on
    // both clocks, and state at the one memory size.
    expect(results.targets).toHaveLength(6);
    expect(results.targets.filter((target) => target.measured === null).map((target) => target.target)).toEqual(['per-worker throughput vs Kafka Streams']);
    for (const target of results.targets) expect(output).toContain(target.target);
  });
});

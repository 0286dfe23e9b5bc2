// (d) ClickHouse unreachable for 30 s while events flow: signals keep reaching their topic within the latency target, input keeps being consumed with memory bounded, the tables' backlog waits in Kafka, and afterwards every row is there once and identical to an uninterrupted run.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../app/runtime.ts';
import type { LogConsumer } from '../../log/log.ts';
import { TOPICS } from '../../schemas/outputs.ts';
import type { CxEvent } from '../../schemas/events.ts';
import type { Source } from '../../sources/source.ts';
import { waitFor } from '../support/environment.ts';
import { FaultRuns } from '../support/fault-run.ts';
import { TcpProxy } from '../../benchmarks/tcp-proxy.ts';
import type { Worker } from '../support/workers.ts';
import { countOf, outputRows, startWorker } from '../support/workers.ts';
import { parseEvent } from '../../schemas/events.ts';

const OUTAGE_MS = 30_000;
/** Phase B is sent in slices this far apart, spread over the outage (events flow while ClickHouse is down). */
const SLICE_MS = 100;
/**
 * Event-to-topic latency bound asserted here, at p99, for signals fired by events sent during the outage. The contract's
 * target is 100 ms (benchmarks/README.md measures it at half the maximum rate); on a loaded CI machine with the broker,
 * ClickHouse and this test on the same 2 cores the bound is wider, and still far from the 30 s a signal waiting for
 * ClickHouse would take.
 */
const LATENCY_BOUND_MS = 1000;
/** Signals fired by an event (their last evidence event); a cart reminder fires when its session closes. */
const EVENT_FIRED = new Set(['live_chat_offer', 'proactive_help', 'support_callback']);

/** Resident set size of a process, from /proc (bytes). */
function residentBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** Sum of a Prometheus counter or gauge over its label sets (those whose labels text passes `labels`, given it). */
function counter(text: string, name: string, labels?: (labelsText: string) => boolean): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labels && !labels(line.slice(name.length, line.lastIndexOf(' ')))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

const percentile = (values: readonly number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))]!;

describe('the engine on the real broker: during a ClickHouse outage signals keep flowing, and the tables catch up afterwards', () => {
  const runs = new FaultRuns('cho', { customers: 120, sessionsPerCustomer: 3, experience: true });
  const workers: Worker[] = [];
  let proxy: TcpProxy;
  let signals: LogConsumer | undefined;
  /** The signals reader's loop runs while this is true. */
  let reading = false;

  beforeAll(async () => {
    const target = new URL(runs.clickhouseUrl);
    proxy = new TcpProxy(target.hostname, Number(target.port));
    await proxy.open();
    expect((await runs.runReference()).sessions.length).toBeGreaterThan(600);
  });

  afterAll(async () => {
    reading = false;
    await signals?.close();
    await Promise.all(workers.map((worker) => worker.stop('SIGKILL')));
    await proxy?.shut();
    await runs.close();
  });

  it('(d) ClickHouse down for 30 s: signals on the topic throughout within the bound, input consumed, RSS bounded, table lag in Kafka; rows once and identical', async () => {
    const { settings, runtime } = await runs.prepare('outage', `http://127.0.0.1:${proxy.port}`);
    await runs.publish(runtime, 'outage-a', runs.phaseA);
    const worker = startWorker(settings, 'cho-0');
    workers.push(worker);
    const pid = worker.child.pid!;
    const metricsUrl = await waitFor(async () => {
      const file = join(settings.dataDir, 'cho-0.log');
      const line = existsSync(file) ? readFileSync(file, 'utf8').split('\n').find((text) => text.includes('"touchstream running"')) : undefined;
      return line ? String(JSON.parse(line).metrics) : undefined;
    }, 45_000, 'the worker to start');
    const scrape = async () => (await fetch(metricsUrl)).text();

    await waitFor(async () => ((await countOf(runtime.clickhouse, settings.database, 'sessions')) > 100 ? true : undefined), 45_000, 'first sessions');
    expect(proxy.connections).toBeGreaterThan(0); // the worker really reaches ClickHouse through the proxy
    await runs.untilPhaseAComplete(runtime, settings.database); // every partition idle: phase B wakes them all (fault-run.ts)

    // A read_committed reader of the signals topic, from its end now: when each of this run's signals becomes visible.
    signals = await runtime.log.consumer({ groupId: `cho-signals-${runs.run}`, topics: [TOPICS.signals], start: 'latest' });
    const seenAt = new Map<string, { at: number; action: string; trigger: string }>();
    const customers = `${runs.name}${runs.run}-`;
    reading = true;
    const reader = (async () => {
      while (reading) {
        const records = await signals!.poll(1000, 50);
        const at = Date.now();
        for (const result of await runtime.codecs.signal.decodeBatch(records.map((record) => record.value))) {
          if (!result.ok || !String(result.value.customer_id).startsWith(customers)) continue;
          const evidence = result.value.evidence_event_ids as string[];
          if (!seenAt.has(String(result.value.signal_id))) seenAt.set(String(result.value.signal_id), { at, action: String(result.value.action), trigger: evidence[evidence.length - 1]! });
        }
      }
    })();
    // (It joins its group while it polls.)
    await waitFor(async () => (signals!.assignment().length > 0 ? true : undefined), 30_000, 'the signals reader to join');
    await new Promise((resolve) => setTimeout(resolve, 1000)); // its first fetch positions it at the end

    // The outage: ClickHouse refuses connections while phase B is sent, slice by slice, over most of it.
    await proxy.shut();
    const outageStarted = Date.now();
    const rssBefore = residentBytes(pid);
    let rssPeak = rssBefore;
    const sentAt = new Map<string, number>();
    const slices = Math.ceil((OUTAGE_MS * 0.8) / SLICE_MS);
    const perSlice = Math.ceil(runs.phaseB.length / slices);
    for (let from = 0; from < runs.phaseB.length; from += perSlice) {
      const slice = runs.phaseB.slice(from, from + perSlice).map((raw) => {
        const parsed = parseEvent(raw, Date.now());
        if (!parsed.ok) throw new Error(`phase B holds an invalid event: ${parsed.failure.message}`);
        return parsed.event;
      });
      const now = Date.now();
      for (const event of slice) if (!sentAt.has(event.event_id)) sentAt.set(event.event_id, now);
      const result = await ingest(runtime, oneBatch(slice));
      expect(result.rejected).toBe(0);
      rssPeak = Math.max(rssPeak, residentBytes(pid));
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, SLICE_MS - (Date.now() - now))));
    }
    // Still down: the worker takes in all of phase B (nothing waits for ClickHouse) and its signals are on the topic.
    const published = async () => (await runtime.log.endOffsets(settings.inputTopic)).reduce((sum, { offset }) => sum + offset, 0);
    const total = await published();
    const takenIn = await waitFor(async () => {
      const text = await scrape();
      return counter(text, 'touchstream_input_records_total') >= total - runs.phaseA.length ? text : undefined;
    }, Math.max(1000, OUTAGE_MS - (Date.now() - outageStarted) - 2000), 'the worker to take in all of phase B while ClickHouse is down');
    while (Date.now() - outageStarted < OUTAGE_MS) {
      rssPeak = Math.max(rssPeak, residentBytes(pid));
      await new Promise((resolve) => setTimeout(resolve, 250)); // sampling until the outage ends
    }
    const during = await scrape();
    const duringOutage = [...seenAt.values()].filter(({ action, trigger }) => EVENT_FIRED.has(action) && sentAt.has(trigger));
    const latencies = duringOutage.map(({ at, trigger }) => at - sentAt.get(trigger)!);
    // Only the loader's ClickHouse writes failed (and were retried); the pipeline's topic writes never did.
    expect(counter(during, 'touchstream_sink_errors_total', (labels) => labels.includes('sink="clickhouse:'))).toBeGreaterThan(1);
    expect(counter(during, 'touchstream_sink_errors_total', (labels) => !labels.includes('sink="clickhouse:'))).toBe(0);
    expect(counter(takenIn, 'touchstream_checkpoint_failures_total')).toBe(0);
    expect(counter(during, 'touchstream_table_lag_records')).toBeGreaterThan(0); // the tables' backlog, in Kafka
    expect(worker.child.exitCode).toBeNull();
    expect(rssPeak - rssBefore).toBeLessThan(64 * 1024 * 1024);
    expect(duringOutage.length).toBeGreaterThan(20);
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    console.log(`(d) ${duringOutage.length} event-fired signals during the outage: on the topic p50 ${p50} ms, p99 ${p99} ms after their event was sent; RSS +${((rssPeak - rssBefore) / 1048576).toFixed(1)} MiB`);
    expect(p99).toBeLessThanOrEqual(LATENCY_BOUND_MS);

    // ClickHouse is back: the loader catches up by itself, without a restart.
    await proxy.open();
    const faultEnded = Date.now();
    await runs.untilComplete(runtime, settings.database, 60_000);
    console.log(`(d) tables caught up ${Date.now() - faultEnded} ms after ClickHouse was reachable again`);
    const after = await scrape();
    expect(counter(after, 'touchstream_job_restarts_total')).toBe(0);
    expect(counter(after, 'touchstream_stalls_total')).toBe(0);
    reading = false;
    await reader;
    expect(await worker.stop()).toBe(0);
    expect(await outputRows(runtime.clickhouse, settings.database)).toEqual(runs.reference);
    const copies = await runs.sessionCopiesOnTopic(runtime);
    expect(copies.size).toBe(runs.reference.sessions.length);
    expect([...copies.values()].filter((count) => count !== 2)).toEqual([]);
  }, 300_000);
});

/** A source of one batch. */
function oneBatch(events: CxEvent[]): Source {
  return {
    name: 'test',
    async *batches() {
      yield { events, rejected: [] };
    },
  };
}

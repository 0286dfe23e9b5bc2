// (d) ClickHouse unreachable for ~10 s while input keeps arriving: consumption pauses with memory bounded, resumes by itself, and every row ends up once and identical to an uninterrupted run.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/environment.ts';
import { FaultRuns } from '../support/fault-run.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';
import type { Worker } from '../support/workers.ts';
import { countOf, outputRows, startWorker } from '../support/workers.ts';

const OUTAGE_MS = 10_000;
const MAX_POLL_RECORDS = 50;
/** The worker's flush interval here. */
const FLUSH_INTERVAL_MS = 100;
/**
 * Outputs the worker buffers while a flush is in flight: it processes on until it holds this many, then waits. Each
 * input record gives at least one output (its `events` row or a dead letter) except a duplicate send (about one in
 * twenty here, test/support/workers.ts), and the check follows each poll: after a write failed it takes in at most
 * this many records plus one poll, plus the duplicates among them (a quarter more allows for them).
 */
const MAX_BUFFERED_VALUES = 500;
const MAX_STEP_RECORDS = Math.ceil((MAX_BUFFERED_VALUES + MAX_POLL_RECORDS) * 1.25);

/** Resident set size of a process, from /proc (bytes). */
function residentBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** Sum of a Prometheus counter over its label sets. */
function counter(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

describe('the engine on the real broker: a ClickHouse outage pauses consumption and then gives the rows of an uninterrupted run', () => {
  const runs = new FaultRuns('cho');
  const workers: Worker[] = [];
  let proxy: TcpProxy;

  beforeAll(async () => {
    const target = new URL(runs.clickhouseUrl);
    proxy = new TcpProxy(target.hostname, Number(target.port));
    await proxy.open();
    expect((await runs.runReference()).sessions.length).toBeGreaterThan(600);
  });

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop('SIGKILL')));
    await proxy?.shut();
    await runs.close();
  });

  it('(d) ClickHouse down for 10 s: input stops being consumed and lag grows, RSS stays bounded, the worker resumes alone; rows once and identical', async () => {
    const { settings, runtime } = await runs.prepare('outage', `http://127.0.0.1:${proxy.port}`);
    // Small polls: a poll's worth of input is what the worker takes in before a failing flush stops it.
    settings.extraEnv = {
      TOUCHSTREAM_MAX_POLL_RECORDS: String(MAX_POLL_RECORDS),
      TOUCHSTREAM_FLUSH_INTERVAL_MS: String(FLUSH_INTERVAL_MS),
      TOUCHSTREAM_MAX_BUFFERED_VALUES: String(MAX_BUFFERED_VALUES),
    };
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
    const published = async () => (await runtime.log.endOffsets(settings.inputTopic)).reduce((sum, { offset }) => sum + offset, 0);

    await waitFor(async () => ((await countOf(runtime.clickhouse, settings.database, 'sessions')) > 100 ? true : undefined), 45_000, 'first sessions');
    await waitFor(async () => ([...(await runs.sessionCopiesOnTopic(runtime)).values()].some((count) => count === 2) ? true : undefined), 45_000, 'a committed checkpoint');
    expect(proxy.connections).toBeGreaterThan(0); // the worker really reaches ClickHouse through the proxy
    await runs.untilPhaseAComplete(runtime, settings.database); // every partition idle: phase B wakes them all (fault-run.ts)

    // The outage: ClickHouse refuses connections while phase B arrives. Its first part makes a write fail (the
    // worker takes in at most a flush interval of input before that); the rest arrives while the worker is blocked.
    await proxy.shut();
    const outageStarted = Date.now();
    const rssBefore = residentBytes(pid);
    const first = 100;
    await runs.publish(runtime, 'outage-b1', runs.phaseB.slice(0, first));
    const takenInWhenBlocked = await waitFor(async () => {
      const text = await scrape();
      return counter(text, 'touchstream_sink_errors_total') > 0 ? counter(text, 'touchstream_input_records_total') : undefined;
    }, OUTAGE_MS, 'a failed ClickHouse write');
    await runs.publish(runtime, 'outage-b2', runs.phaseB.slice(first));
    // The runner processes on while a flush is in flight until its buffered outputs are full, then waits for it:
    // input taken in settles a bounded step after the first failed write, and then stays put.
    let previous = -1;
    let changedAt = Date.now();
    const takenInSettled = await waitFor(async () => {
      const now = counter(await scrape(), 'touchstream_input_records_total');
      if (now !== previous) {
        previous = now;
        changedAt = Date.now();
        return undefined;
      }
      return Date.now() - changedAt >= 1500 ? now : undefined; // unchanged for 1.5 s: settled
    }, OUTAGE_MS, 'input taken in to settle while ClickHouse is down');
    expect(takenInSettled - takenInWhenBlocked).toBeLessThanOrEqual(MAX_STEP_RECORDS);
    const lagWhenBlocked = (await published()) - takenInSettled;
    let rssPeak = rssBefore;
    while (Date.now() - outageStarted < OUTAGE_MS) {
      rssPeak = Math.max(rssPeak, residentBytes(pid));
      await new Promise((resolve) => setTimeout(resolve, 250)); // sampling during the outage, which lasts OUTAGE_MS
    }
    const metricsAtEnd = await scrape();
    const takenInAtEnd = counter(metricsAtEnd, 'touchstream_input_records_total');
    const lagAtEnd = (await published()) - takenInAtEnd;
    expect(worker.child.exitCode).toBeNull();
    expect(takenInAtEnd).toBe(takenInSettled); // consumption paused
    expect(counter(metricsAtEnd, 'touchstream_sink_errors_total')).toBeGreaterThan(1); // retried, not given up
    expect(lagAtEnd).toBe(lagWhenBlocked); // all that arrived meanwhile waits in the log
    expect(lagAtEnd).toBeGreaterThanOrEqual(runs.phaseB.length - first - MAX_STEP_RECORDS);
    expect(rssPeak - rssBefore).toBeLessThan(64 * 1024 * 1024);

    // ClickHouse is back: the worker resumes by itself, without a restart.
    await proxy.open();
    const faultEnded = Date.now();
    // Recovery takes 12–16 s here (the retry backoff reaches 5 s). 60 s catches a hang; the old "hang" was events of
    // phase B's first second judged late (the partition delivered first moved the watermark past idle ones'), so
    // the counts never matched: see untilPhaseAComplete and WatermarkTracker.arrived. A stuck step fails the job.
    await runs.untilComplete(runtime, settings.database, 60_000);
    const recoveredMs = Date.now() - faultEnded;
    const metricsAfter = await scrape();
    console.log(`(d) recovered ${recoveredMs} ms after ClickHouse was reachable again; waited for flushes ${counter(metricsAfter, 'touchstream_flush_wait_seconds_total').toFixed(1)} s in all`);
    expect(counter(metricsAfter, 'touchstream_job_restarts_total')).toBe(0);
    expect(counter(metricsAfter, 'touchstream_stalls_total')).toBe(0);
    expect(await worker.stop()).toBe(0);
    expect(await outputRows(runtime.clickhouse, settings.database)).toEqual(runs.reference);
    const copies = await runs.sessionCopiesOnTopic(runtime);
    expect(copies.size).toBe(runs.reference.sessions.length);
    expect([...copies.values()].filter((count) => count !== 2)).toEqual([]);
  }, 300_000);
});

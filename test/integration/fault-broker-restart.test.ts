// (c) The broker restarted mid-stream while a worker runs and input keeps arriving: every row once and identical to an uninterrupted run.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireEnvironment, waitFor } from '../support/environment.ts';
import { FaultRuns } from '../support/fault-run.ts';
import type { Worker } from '../support/workers.ts';
import { countOf, outputRows, startWorker } from '../support/workers.ts';

const run = promisify(execFile);

describe('the engine on the real broker: a broker restart mid-stream gives the rows of an uninterrupted run', () => {
  const runs = new FaultRuns('br');
  const workers: Worker[] = [];
  let infra: string;
  let brokerDown = false;

  /** ops/infra.sh kafka-stop / kafka-start keep the broker's data; the ports come from the inherited environment. */
  async function broker(command: 'kafka-stop' | 'kafka-start') {
    await run('bash', [infra, command], { env: process.env, timeout: 120_000 });
    brokerDown = command === 'kafka-stop';
  }

  beforeAll(async () => {
    infra = requireEnvironment('TOUCHSTREAM_TEST_INFRA');
    expect((await runs.runReference()).sessions.length).toBeGreaterThan(600);
  });

  afterAll(async () => {
    if (brokerDown) await broker('kafka-start').catch(() => {});
    await Promise.all(workers.map((worker) => worker.stop('SIGKILL')));
    await runs.close();
  });

  it('(c) broker stopped and started while the worker processes and new input arrives: every row once, identical, once on the sessions topic', async () => {
    const { settings, runtime } = await runs.prepare('restart');
    await runs.publish(runtime, 'restart-a', runs.phaseA);
    const worker = startWorker(settings, 'br-0');
    workers.push(worker);
    await waitFor(async () => ((await countOf(runtime.clickhouse, settings.database, 'sessions')) > 100 ? true : undefined), 45_000, 'first sessions');
    // At least one checkpoint committed (this run's copy of some session is on the topic), so the restart lands mid-stream.
    await waitFor(async () => ([...(await runs.sessionCopiesOnTopic(runtime)).values()].some((count) => count === 2) ? true : undefined), 45_000, 'a committed checkpoint');
    await runs.untilPhaseAComplete(runtime, settings.database); // every partition idle: phase B wakes them all (fault-run.ts)

    // Phase B starts arriving; the broker goes away in the middle of it and the rest is sent while it is down.
    const third = Math.ceil(runs.phaseB.length / 3);
    await runs.publish(runtime, 'restart-b1', runs.phaseB.slice(0, third));
    await broker('kafka-stop');
    const rest = runs.publish(runtime, 'restart-b2', runs.phaseB.slice(third)); // waits in the producer until the broker is back
    await new Promise((resolve) => setTimeout(resolve, 3000)); // the outage itself: what is under test, not a wait for a result
    expect(worker.child.exitCode).toBeNull();
    await broker('kafka-start');
    const faultEnded = Date.now();
    await rest;

    // Recovery waits on the group and transaction coordinators (18–25 s measured here after the broker is back).
    // A transactional call librdkafka never answers fails the job after a bound and its handle is destroyed only
    // once the call returns (log/rdkafka.ts), so 60 s catches a hang.
    await runs.untilComplete(runtime, settings.database, 60_000);
    console.log(`(c) recovered ${Date.now() - faultEnded} ms after the broker started again`);
    expect(await worker.stop()).toBe(0);
    expect(await outputRows(runtime.clickhouse, settings.database)).toEqual(runs.reference);

    // Each session once from the reference run and once from this one: no duplicate a read_committed consumer would see.
    const copies = await runs.sessionCopiesOnTopic(runtime);
    expect(copies.size).toBe(runs.reference.sessions.length);
    expect([...copies.values()].filter((count) => count !== 2)).toEqual([]);
  }, 420_000);
});

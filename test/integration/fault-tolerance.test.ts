// Scale-out and crashes on the real broker: worker processes of `touchstream run` against an uninterrupted reference run of the same input.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import type { Runtime } from '../../app/runtime.ts';
import { ingest, openRuntime, runPipeline } from '../../app/runtime.ts';
import { changelogTopicOf, WATERMARK_STORE } from '../../engine/changelog.ts';
import type { PartitionTimeState } from '../../engine/watermarks.ts';
import type { PartitionOffset } from '../../log/log.ts';
import { TOPICS } from '../../schemas/outputs.ts';
import { ndjsonReplay } from '../../sources/replay/ndjson-replay.ts';
import { requireEnvironment, runId, waitFor } from '../support/environment.ts';
import type { Worker, WorkerSettings } from '../support/workers.ts';
import { compressedJourneys, countOf, experienceRows, outputRows, startWorker } from '../support/workers.ts';

const PARTITIONS = 6;
const TIMING = { gapMs: 2000, outOfOrdernessMs: 500, idleTimeoutMs: 1500 };
const START = Date.parse('2026-01-05T10:00:00.000Z');

describe('the engine on the real broker: workers, kills and restarts give the rows of an uninterrupted run', () => {
  const run = runId();
  const prefix = `ft${run}`;
  // Two phases an hour apart in event time: phase A is processed before the crash, phase B around it.
  // With calls and NPS responses after some sessions: feedback (X+O), channel switches and support callbacks depend on
  // the customer history, waiting responses/contacts and queued signals, all of which must survive a restart.
  const phaseA = compressedJourneys({ prefix, eventPrefix: `${prefix}a`, customers: 150, sessionsPerCustomer: 3, startMs: START, seed: 1, experience: true });
  const phaseB = compressedJourneys({ prefix, eventPrefix: `${prefix}b`, customers: 150, sessionsPerCustomer: 3, startMs: START + 3_600_000, seed: 2, experience: true });
  const dataDir = mkdtempSync(join(tmpdir(), 'touchstream-ft-'));
  let brokers: string;
  let clickhouseUrl: string;
  const runtimes: Runtime[] = [];
  const workers: Worker[] = [];
  let reference: Awaited<ReturnType<typeof outputRows>>;
  let referenceExperience: Awaited<ReturnType<typeof experienceRows>>;

  /** A run of its own: input topic, group and database; the test process ingests through its runtime. */
  async function prepare(name: string) {
    const settings: WorkerSettings = {
      brokers, clickhouseUrl, database: `ts_ft_${run}_${name}`, inputTopic: `ft-${run}-${name}`, groupId: `ft-${run}-${name}`,
      partitions: PARTITIONS, dataDir, ...TIMING,
    };
    const config = loadConfig({
      dataDir, transport: 'rdkafka',
      kafka: { brokers, inputTopic: settings.inputTopic, groupId: settings.groupId, partitions: PARTITIONS },
      clickhouse: { url: clickhouseUrl, dialect: 'legacy', database: settings.database },
      session: TIMING,
    }, {});
    const runtime = await openRuntime(config);
    runtimes.push(runtime);
    return { settings, runtime };
  }

  async function publish(runtime: Runtime, name: string, events: readonly Record<string, unknown>[]) {
    const file = join(dataDir, `${name}.ndjson`);
    writeFileSync(file, events.map((event) => JSON.stringify(event)).join('\n') + '\n');
    const result = await ingest(runtime, ndjsonReplay({ path: file }));
    expect(result.rejected).toBe(0);
  }

  /** Waits until the run's tables hold as many sessions, events, signals, feedback and channel-switch rows as the reference. */
  async function untilComplete(runtime: Runtime, database: string, timeoutMs = 60_000) {
    const expected = {
      sessions: reference.sessions.length, events: reference.events.length, signals: reference.signals.length,
      feedback: referenceExperience.feedback.length, channel_switches: referenceExperience.channelSwitches.length,
    };
    // The counts last seen go into the timeout's message: a slow catch-up and a lost row read differently.
    const seen: Record<string, number> = {};
    await waitFor(async () => {
      for (const table of Object.keys(expected)) seen[table] = await countOf(runtime.clickhouse, database, table);
      return Object.entries(expected).every(([table, count]) => seen[table] === count) ? true : undefined;
    }, timeoutMs, `${database} to hold ${JSON.stringify(expected)} rows`).catch((error: Error) => {
      throw new Error(`${error.message}; it held ${JSON.stringify(seen)}`);
    });
  }

  beforeAll(async () => {
    brokers = requireEnvironment('TOUCHSTREAM_TEST_KAFKA_BROKERS');
    clickhouseUrl = requireEnvironment('TOUCHSTREAM_TEST_CLICKHOUSE_URL');
    // The reference: one bounded in-process run over both phases (the watermark goes to infinity at the end).
    const { settings, runtime } = await prepare('reference');
    await publish(runtime, 'reference', [...phaseA, ...phaseB]);
    await runPipeline(runtime, { boundedBy: await runtime.log.endOffsets(settings.inputTopic) });
    reference = await outputRows(runtime.clickhouse, settings.database);
    referenceExperience = await experienceRows(runtime.clickhouse, settings.database);
    expect(reference.sessions.length).toBeGreaterThan(800);
    expect(referenceExperience.feedback.length).toBeGreaterThan(200);
    expect(referenceExperience.channelSwitches.length).toBeGreaterThan(50);
    // Linked to phase-A sessions from phase B: history that lives across the crash.
    expect(referenceExperience.channelSwitches.some((row) => Number(row.gap_ms) > 1_000_000)).toBe(true);
    // The detractor fan-out adds support_case and crm_update (the generated responses have no comment: no rnd_ticket).
    expect(new Set(reference.signals.map((row) => row.action))).toEqual(new Set(['support_callback', 'support_case', 'crm_update', 'live_chat_offer', 'proactive_help', 'cart_reminder']));
  });

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop('SIGKILL')));
    for (const runtime of runtimes) await runtime.close();
  });

  it('(a) one worker and three workers in one group give the reference rows', async () => {
    for (const count of [1, 3]) {
      const { settings, runtime } = await prepare(`w${count}`);
      await publish(runtime, `w${count}`, [...phaseA, ...phaseB]);
      const group: Worker[] = [];
      for (let index = 0; index < count; index++) {
        group.push(startWorker(settings, `w${count}-${index}`));
        // Staggered joins: each one rebalances the group while the others are processing.
        if (index < count - 1) await new Promise((resolve) => setTimeout(resolve, 1500));
      }
      workers.push(...group);
      await untilComplete(runtime, settings.database);
      expect(await Promise.all(group.map((worker) => worker.stop()))).toEqual(group.map(() => 0));
      expect(await outputRows(runtime.clickhouse, settings.database)).toEqual(reference);
      expect(await experienceRows(runtime.clickhouse, settings.database)).toEqual(referenceExperience);
    }
  });

  it('(b) a worker killed with SIGKILL mid-stream and restarted: every row once, identical, no duplicate on the sessions topic', async () => {
    const { settings, runtime } = await prepare('kill');
    const before = await runtime.log.endOffsets(TOPICS.sessions);
    await publish(runtime, 'kill-a', phaseA);
    const first = startWorker(settings, 'kill-0');
    workers.push(first);
    // Phase A is being processed and checkpointed; then phase B arrives and the worker dies in the middle of it.
    await waitFor(async () => ((await countOf(runtime.clickhouse, settings.database, 'sessions')) > 100 ? true : undefined), 60_000, 'first sessions');
    const third = Math.ceil(phaseB.length / 3);
    await publish(runtime, 'kill-b1', phaseB.slice(0, third));
    // Kill only once a checkpoint holds part of phase B (the committed watermark changelog says so): the restarted
    // worker then continues from there with restored state — history of both phases, waiting responses, contacts
    // and signals — instead of re-reading everything.
    await waitFor(async () => ((await checkpointedEventTime(runtime, settings.groupId)) >= START + 3_600_000 + 5_000 ? true : undefined), 60_000, 'a checkpoint inside phase B');
    expect(await first.stop('SIGKILL')).toBeNull();
    await publish(runtime, 'kill-b2', phaseB.slice(third));
    const second = startWorker(settings, 'kill-0'); // the same worker id: fences the dead one's open transaction
    workers.push(second);
    await untilComplete(runtime, settings.database);
    expect(await second.stop()).toBe(0);
    expect(await outputRows(runtime.clickhouse, settings.database)).toEqual(reference);
    expect(await experienceRows(runtime.clickhouse, settings.database)).toEqual(referenceExperience);

    // A read_committed reader of touchstream.sessions sees each of this run's sessions exactly once.
    const records = (await runtime.log.readPartitions(TOPICS.sessions, before.map((p) => p.partition))).filter((record) => record.offset >= offsetOf(before, record.partition));
    const decoded = await runtime.codecs.session.decodeBatch(records.map((record) => record.value));
    const ids = decoded.flatMap((result) => (result.ok ? [String(result.value.session_id)] : []));
    expect(ids).toHaveLength(reference.sessions.length);
    expect(new Set(ids).size).toBe(reference.sessions.length);
  });
});

/** The largest event time any input partition had reached in the last committed checkpoint (its watermark changelog). */
async function checkpointedEventTime(runtime: Runtime, groupId: string): Promise<number> {
  const records = await runtime.log.readPartitions(changelogTopicOf(groupId), [...Array(PARTITIONS).keys()]);
  let latest = Number.NEGATIVE_INFINITY;
  for (const record of records) {
    if (record.value.length === 0 || !record.key?.toString().startsWith(`${WATERMARK_STORE}|`)) continue;
    const state = JSON.parse(record.value.toString()) as PartitionTimeState;
    if (state.maxEventTime !== null) latest = Math.max(latest, state.maxEventTime);
  }
  return latest;
}

function offsetOf(offsets: readonly PartitionOffset[], partition: number): number {
  return offsets.find((offset) => offset.partition === partition)?.offset ?? 0;
}

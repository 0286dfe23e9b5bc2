// A fault-injection run on the real broker: its own topic, group and database, input published from the test, and the bounded reference run it is compared with.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import type { Runtime } from '../../app/runtime.ts';
import { ingest, openRuntime, runPipeline } from '../../app/runtime.ts';
import { TOPICS } from '../../schemas/outputs.ts';
import { ndjsonReplay } from '../../sources/replay/ndjson-replay.ts';
import { requireEnvironment, runId, waitFor } from './environment.ts';
import type { WorkerSettings } from './workers.ts';
import { compressedJourneys, countOf, outputRows } from './workers.ts';

export const PARTITIONS = 6;
export const TIMING = { gapMs: 2000, outOfOrdernessMs: 500, idleTimeoutMs: 1500 };
const START = Date.parse('2026-01-05T10:00:00.000Z');

export type Rows = Awaited<ReturnType<typeof outputRows>>;

export interface PreparedRun {
  settings: WorkerSettings;
  runtime: Runtime;
}

/** Two input phases an hour apart in event time, a data directory, and the runs (runtimes) to close at the end. */
export class FaultRuns {
  readonly run = runId();
  readonly dataDir = mkdtempSync(join(tmpdir(), 'touchstream-fault-'));
  readonly phaseA: Record<string, unknown>[];
  readonly phaseB: Record<string, unknown>[];
  readonly brokers = requireEnvironment('TOUCHSTREAM_TEST_KAFKA_BROKERS');
  readonly clickhouseUrl = requireEnvironment('TOUCHSTREAM_TEST_CLICKHOUSE_URL');
  readonly #runtimes: Runtime[] = [];
  reference!: Rows;
  /** Sessions of phase A in the reference (they start before phase B does). */
  #referencePhaseASessions = 0;

  constructor(readonly name: string, size: { customers: number; sessionsPerCustomer: number; experience?: boolean } = { customers: 120, sessionsPerCustomer: 3 }) {
    const prefix = `${name}${this.run}`;
    this.phaseA = compressedJourneys({ prefix, eventPrefix: `${prefix}a`, ...size, startMs: START, seed: 11 });
    this.phaseB = compressedJourneys({ prefix, eventPrefix: `${prefix}b`, ...size, startMs: START + 3_600_000, seed: 12 });
  }

  /** A run of its own: input topic, group and database; `clickhouseUrl` lets the workers reach ClickHouse another way (a proxy). */
  async prepare(label: string, clickhouseUrl = this.clickhouseUrl): Promise<PreparedRun> {
    const settings: WorkerSettings = {
      brokers: this.brokers, clickhouseUrl, database: `ts_${this.name}_${this.run}_${label}`, inputTopic: `${this.name}-${this.run}-${label}`,
      groupId: `${this.name}-${this.run}-${label}`, partitions: PARTITIONS, dataDir: this.dataDir, ...TIMING,
    };
    const config = loadConfig({
      dataDir: this.dataDir, transport: 'rdkafka',
      kafka: { brokers: this.brokers, inputTopic: settings.inputTopic, groupId: settings.groupId, partitions: PARTITIONS },
      clickhouse: { url: this.clickhouseUrl, dialect: 'legacy', database: settings.database },
      session: TIMING,
    }, {});
    const runtime = await openRuntime(config);
    this.#runtimes.push(runtime);
    return { settings, runtime };
  }

  /** The reference: one bounded in-process run over both phases (the watermark goes to infinity at the end). */
  async runReference(): Promise<Rows> {
    const { settings, runtime } = await this.prepare('reference');
    const input = [...this.phaseA, ...this.phaseB];
    await this.publish(runtime, 'reference', input);
    // The bounded run reads up to these ends: they must hold every record published (one clean-clone CI run saw a
    // reference of 0 sessions in 1.6 s, as if the ends had been read as zeros).
    const ends = await waitFor(async () => {
      const offsets = await runtime.log.endOffsets(settings.inputTopic);
      return offsets.reduce((sum, { offset }) => sum + offset, 0) >= input.length ? offsets : undefined;
    }, 30_000, `the ${input.length} records of the reference on ${settings.inputTopic}`);
    const result = await runPipeline(runtime, { boundedBy: ends });
    expect(result.records).toBe(input.length);
    this.reference = await outputRows(runtime.clickhouse, settings.database);
    this.#referencePhaseASessions = await phaseASessions(runtime, settings.database);
    return this.reference;
  }

  async publish(runtime: Runtime, label: string, events: readonly Record<string, unknown>[]): Promise<void> {
    const file = join(this.dataDir, `${label}.ndjson`);
    writeFileSync(file, events.map((event) => JSON.stringify(event)).join('\n') + '\n');
    const result = await ingest(runtime, ndjsonReplay({ path: file }));
    expect(result.rejected).toBe(0);
  }

  /** Waits until the run's tables hold as many sessions and events as the reference. */
  async untilComplete(runtime: Runtime, database: string, timeoutMs = 45_000): Promise<void> {
    await waitFor(async () => {
      const sessions = await countOf(runtime.clickhouse, database, 'sessions');
      const events = await countOf(runtime.clickhouse, database, 'events');
      return sessions === this.reference.sessions.length && events === this.reference.events.length ? true : undefined;
    }, timeoutMs, `${database} to hold ${this.reference.sessions.length} sessions and ${this.reference.events.length} events`);
  }

  /**
   * Waits until the run holds every phase-A session of the reference. The last ones close only once every input
   * partition has gone idle (the watermark then moves with the wall clock), so phase B's first event wakes all
   * partitions and each delivers its part of the burst in time. Starting phase B while some partitions are still
   * active and others already idle is a race under the contract's idle rule (a partition idle when the burst begins
   * is judged against the watermark the first partition to deliver moved): a few of its first events come out late,
   * the rows differ from the reference and the run never "completes" — what issue 4 took for a recovery hang.
   */
  async untilPhaseAComplete(runtime: Runtime, database: string, timeoutMs = 45_000): Promise<void> {
    await waitFor(
      async () => ((await phaseASessions(runtime, database)) === this.#referencePhaseASessions ? true : undefined),
      timeoutMs,
      `${database} to hold the ${this.#referencePhaseASessions} sessions of phase A`,
    );
  }

  /**
   * How often each of this file's sessions is on touchstream.sessions for a read_committed reader, over all its runs
   * (the reference's and the faulty one's: both write the same ids). Counting from the topic's start needs no
   * "offsets before the run": those are the last stable offsets, which lag while a committed transaction's markers
   * are still being written, and would count some of the reference's values as the faulty run's.
   */
  async sessionCopiesOnTopic(runtime: Runtime): Promise<Map<string, number>> {
    const partitions = (await runtime.log.endOffsets(TOPICS.sessions)).map((p) => p.partition);
    const records = await runtime.log.readPartitions(TOPICS.sessions, partitions);
    const decoded = await runtime.codecs.session.decodeBatch(records.map((record) => record.value));
    const customers = `${this.name}${this.run}-`;
    const copies = new Map<string, number>();
    for (const result of decoded) {
      if (!result.ok || !String(result.value.customer_id).startsWith(customers)) continue;
      const id = String(result.value.session_id);
      copies.set(id, (copies.get(id) ?? 0) + 1);
    }
    return copies;
  }

  async close(): Promise<void> {
    for (const runtime of this.#runtimes) await runtime.close().catch(() => {});
  }
}

/** Sessions that started before phase B (event time START + 1 h). */
async function phaseASessions(runtime: Runtime, database: string): Promise<number> {
  const [row] = await runtime.clickhouse.rows<{ n: string | number }>(
    `SELECT count() AS n FROM ${database}.sessions FINAL WHERE started_at < toDateTime(${(START + 3_600_000) / 1000})`,
  );
  return Number(row?.n ?? 0);
}

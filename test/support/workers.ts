// Worker processes for fault-tolerance tests: `touchstream run` as a child process with env config, a deterministic compressed-time input, row snapshots.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import type { ClickHouseWriter } from '../../sinks/clickhouse/writer.ts';
import { seededRandom } from '../../sources/generator/synthetic-day.ts';

const ROOT = join(import.meta.dirname, '..', '..');

export interface WorkerSettings {
  brokers: string;
  clickhouseUrl: string;
  database: string;
  inputTopic: string;
  groupId: string;
  partitions: number;
  dataDir: string;
  /** Session gap, out-of-orderness and idle timeout, short so live runs close sessions within seconds. */
  gapMs: number;
  outOfOrdernessMs: number;
  idleTimeoutMs: number;
  extraEnv?: Record<string, string>;
}

export interface Worker {
  readonly id: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function workerEnv(settings: WorkerSettings, id: string): Record<string, string> {
  return {
    TOUCHSTREAM_TRANSPORT: 'rdkafka',
    TOUCHSTREAM_KAFKA_BROKERS: settings.brokers,
    TOUCHSTREAM_INPUT_TOPIC: settings.inputTopic,
    TOUCHSTREAM_KAFKA_GROUP_ID: settings.groupId,
    TOUCHSTREAM_KAFKA_PARTITIONS: String(settings.partitions),
    TOUCHSTREAM_CLICKHOUSE_URL: settings.clickhouseUrl,
    TOUCHSTREAM_CLICKHOUSE_DIALECT: 'legacy',
    TOUCHSTREAM_CLICKHOUSE_DATABASE: settings.database,
    TOUCHSTREAM_DATA_DIR: settings.dataDir,
    TOUCHSTREAM_SESSION_GAP_MS: String(settings.gapMs),
    TOUCHSTREAM_OUT_OF_ORDERNESS_MS: String(settings.outOfOrdernessMs),
    TOUCHSTREAM_IDLE_TIMEOUT_MS: String(settings.idleTimeoutMs),
    TOUCHSTREAM_METRICS_PORT: '0',
    TOUCHSTREAM_WORKER_ID: id,
    TOUCHSTREAM_FLUSH_INTERVAL_MS: '200',
    TOUCHSTREAM_LOG_LEVEL: 'info',
    ...settings.extraEnv,
  };
}

/** Starts `node bin/touchstream.mjs run`; its output goes to `<dataDir>/<id>.log`. */
export function startWorker(settings: WorkerSettings, id: string): Worker {
  const output = createWriteStream(join(settings.dataDir, `${id}.log`), { flags: 'a' });
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'touchstream.mjs'), 'run'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...workerEnv(settings, id) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(output);
  child.stderr!.pipe(output);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    id,
    child,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * Journeys in compressed time: events 100–1,500 ms apart within a session (gap 2 s), sessions 3–5 s apart, some
 * carts, purchases, help views and duplicate sends. `startMs` shifts the whole phase. In event-time order.
 * With `experience`, some sessions are followed (within the gap) by a call and/or an NPS response, for the X+O
 * link, channel switches and the support_callback rule.
 */
export function compressedJourneys(options: {
  prefix: string; eventPrefix: string; customers: number; sessionsPerCustomer: number; startMs: number; seed: number; experience?: boolean;
}): Record<string, unknown>[] {
  const next = seededRandom(options.seed);
  const pick = <T>(values: readonly T[]) => values[Math.floor(next() * values.length)]!;
  const events: Array<Record<string, unknown> & { time: number }> = [];
  let sequence = 0;
  for (let customer = 0; customer < options.customers; customer++) {
    const customerId = `${options.prefix}-c${customer}`;
    const channel = pick(['web', 'app'] as const);
    let time = options.startMs + Math.floor(next() * 20_000);
    for (let session = 0; session < options.sessionsPerCustomer; session++) {
      const count = 1 + Math.floor(next() * 6);
      for (let index = 0; index < count; index++) {
        const id = `${options.eventPrefix}-e${++sequence}`;
        const roll = next();
        const base = { event_id: id, occurred_at: new Date(time).toISOString(), channel, customer_id: customerId };
        let event: Record<string, unknown>;
        if (index === 0 || roll < 0.35) event = { ...base, type: 'page_view', properties: { page: `/p/${Math.floor(next() * 9)}`, page_type: pick(['home', 'product', 'help', 'category'] as const) } };
        else if (roll < 0.55) event = { ...base, type: 'click', properties: { element: 'button' } };
        else if (roll < 0.8) event = { ...base, type: 'add_to_cart', properties: { product_id: 'sku', price: 5 + Math.floor(next() * 40), quantity: 1 } };
        else if (roll < 0.9) event = { ...base, type: 'checkout_error', properties: { code: 'E1' } };
        else event = { ...base, type: 'purchase', properties: { order_id: `o-${id}`, revenue: 30, currency: 'EUR' } };
        events.push({ ...event, time });
        if (next() < 0.05) events.push({ ...event, time }); // a duplicate send: processed once
        time += 100 + Math.floor(next() * 1400);
      }
      if (options.experience) {
        const last = time - 100;
        if (next() < 0.35) {
          const at = last + 200 + Math.floor(next() * 1500);
          events.push({ event_id: `${options.eventPrefix}-k${++sequence}`, occurred_at: new Date(at).toISOString(), customer_id: customerId, type: 'contact', channel: 'call_center', properties: { kind: 'call', reason: 'order' }, time: at });
        }
        if (next() < 0.35) {
          const at = last + 200 + Math.floor(next() * 1500);
          const properties = { survey_id: 'sv-nps', metric: 'nps', score: Math.floor(next() * 11), comment: null, language: null };
          events.push({ event_id: `${options.eventPrefix}-r${++sequence}`, occurred_at: new Date(at).toISOString(), customer_id: customerId, type: 'survey_response', channel: 'survey', properties, time: at });
        }
      }
      time += 3000 + Math.floor(next() * 2000);
    }
  }
  events.sort((a, b) => a.time - b.time);
  return events.map(({ time: _time, ...event }) => event);
}

/** What must be identical between runs: every column of `sessions`, `events` (id and late flag), `signals` but its wall-clock stamp. */
export async function outputRows(clickhouse: ClickHouseWriter, database: string) {
  const sessions = await clickhouse.rows(`SELECT * FROM ${database}.sessions FINAL ORDER BY session_id`);
  const events = await clickhouse.rows(`SELECT event_id, late FROM ${database}.events FINAL ORDER BY event_id`);
  const signals = await clickhouse.rows(`SELECT signal_id, customer_id, session_id, action, status, triggered_at FROM ${database}.signals FINAL ORDER BY signal_id`);
  return { sessions, events, signals };
}

/** The experience outputs that must be identical between runs: every column of `feedback` and `channel_switches`. */
export async function experienceRows(clickhouse: ClickHouseWriter, database: string) {
  const feedback = await clickhouse.rows(`SELECT * FROM ${database}.feedback FINAL ORDER BY response_event_id`);
  const channelSwitches = await clickhouse.rows(`SELECT * FROM ${database}.channel_switches FINAL ORDER BY contact_event_id`);
  return { feedback, channelSwitches };
}

/** Rows stored without FINAL per id: more than one means a duplicate insert that only FINAL hides. */
export async function countOf(clickhouse: ClickHouseWriter, database: string, table: string): Promise<number> {
  const [row] = await clickhouse.rows<{ n: string | number }>(`SELECT count() AS n FROM ${database}.${table} FINAL`);
  return Number(row?.n ?? 0);
}

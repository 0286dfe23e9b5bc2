// Erasure end to end (CONTRACT §6, docs/privacy.md): a request is published on touchstream.erasure and routed onto the input topic in the customer's partition; the pipeline forgets the customer there, in log order; the loader deletes them from the tables after everything committed before.
import { randomUUID } from 'node:crypto';
import type { LogRecord, PartitionOffset } from '../log/log.ts';
import { supervise } from '../engine/index.ts';
import { schemaIdOf } from '../schemas/avro.ts';
import type { ErasureApplied, ErasureRecord, ErasureSource } from '../schemas/erasure.ts';
import { TouchstreamError } from '../schemas/errors.ts';
import { eraseCustomer } from '../sinks/clickhouse/erasure.ts';
import type { ErasureResult } from '../sinks/clickhouse/erasure.ts';
import { ERASURE_LOG_TABLE } from '../sinks/clickhouse/tables.ts';
import type { ClickHouseWriter } from '../sinks/clickhouse/writer.ts';
import type { Runtime } from './runtime.ts';
import { eraseFromTables } from './privacy.ts';

/**
 * Splits input-topic records into erasure requests (their writer schema is the erasure record) and the rest. Which
 * schema ids are erasures is learned once per id, so an event costs one map lookup, never a decode attempt.
 */
export function erasureSplitter(runtime: Runtime) {
  const codec = runtime.codecs.erasure;
  /** Per writer schema id: whether it is an erasure record. */
  const isErasure = new Map<number, boolean>();
  return async function split(records: readonly LogRecord[]): Promise<{ events: LogRecord[]; erasures: Array<{ record: LogRecord; value: ErasureApplied }> }> {
    const events: LogRecord[] = [];
    const candidates: LogRecord[] = [];
    for (const record of records) {
      const id = schemaIdOf(record.value);
      if (id < 0 || isErasure.get(id) === false) events.push(record);
      else candidates.push(record);
    }
    if (candidates.length === 0) return { events, erasures: [] };
    const decoded = await codec.decodeBatch(candidates.map((record) => record.value));
    const erasures: Array<{ record: LogRecord; value: ErasureApplied }> = [];
    for (let index = 0; index < candidates.length; index++) {
      const record = candidates[index]!;
      const result = decoded[index]!;
      const id = schemaIdOf(record.value);
      if (!result.ok) {
        // Another schema (an event): remembered; a corrupt erasure record goes on as an event and is dead-lettered there.
        if (result.code === 'unknown_schema_id') isErasure.set(id, false);
        events.push(record);
        continue;
      }
      isErasure.set(id, true);
      // Pseudonymised again (idempotent), as events are: a raw id put on the topic past the requesters is covered.
      const { stored, logged } = runtime.privacy.erasureIds(result.value.customer_id);
      erasures.push({ record, value: { ...result.value, customer_id: stored, logged_id: logged } });
    }
    // The events in the order they were read.
    if (erasures.length === 0 && events.length === records.length) {
      const order = new Map(records.map((record, index) => [record, index]));
      events.sort((a, b) => order.get(a)! - order.get(b)!);
    }
    return { events, erasures };
  };
}

/**
 * The erasures of the input batch being processed, by customer key: the engine's `forget` carries the key only, and
 * the journey names the requests it makes for a customer's linked anonymous ids after the request it is applying.
 * Set when a batch is decoded; its forgets run before the next batch is decoded, so nothing outlives the batch.
 */
export class ErasuresInBatch {
  #byKey = new Map<string, ErasureApplied[]>();

  /** A new batch's erasures, in log order. */
  set(erasures: readonly ErasureApplied[]): void {
    if (erasures.length === 0 && this.#byKey.size === 0) return; // most batches: nothing to drop, nothing to hold
    this.#byKey = new Map();
    for (const erasure of erasures) this.#byKey.set(erasure.customer_id, [...(this.#byKey.get(erasure.customer_id) ?? []), erasure]);
  }

  /** The request being applied to `key` (each is taken once, in log order). */
  take(key: string): ErasureApplied | undefined {
    return this.#byKey.get(key)?.shift();
  }
}

export interface ErasureRequestResult {
  requestId: string;
  /** The id erasure_log records (never the raw id). */
  loggedId: string;
  requestedAt: number;
}

/**
 * Requests the erasure of one customer by raw id (or pseudonym): writes the `requested` row of erasure_log, then
 * publishes the request on touchstream.erasure and onto the input topic, both keyed by the pseudonym (the input
 * topic's record lands in the customer's partition, after their events so far). The pipeline applies it there.
 */
export async function requestErasure(runtime: Runtime, id: string, options: { source: ErasureSource; requestId?: string; wallClock?: () => number }): Promise<ErasureRequestResult> {
  const { stored, logged } = runtime.privacy.erasureIds(id);
  const requestId = options.requestId ?? `erasure-${randomUUID()}`;
  const requestedAt = (options.wallClock ?? Date.now)();
  await runtime.clickhouse.insert(ERASURE_LOG_TABLE, [{ request_id: requestId, customer_id: logged, status: 'requested', requested_at: requestedAt, completed_at: null, tables: [] }]);
  const record: ErasureRecord = { request_id: requestId, customer_id: stored, requested_at: requestedAt, source: options.source };
  const value = runtime.codecs.erasure.encode(record);
  await runtime.producer.send(runtime.config.kafka.inputTopic, [{ key: stored, value }]);
  await runtime.producer.send(runtime.config.kafka.erasureTopic, [{ key: stored, value }]);
  runtime.metrics.count('touchstream_erasure_requests_total', 1, { source: options.source });
  return { requestId, loggedId: logged, requestedAt };
}

/** The ClickHouse half of an applied erasure (the loader's barrier table): every table, then `completed` in erasure_log. */
export async function completeErasure(writer: ClickHouseWriter, applied: ErasureApplied): Promise<ErasureResult> {
  return eraseCustomer(writer, { requestId: applied.request_id, customerId: applied.customer_id, loggedId: applied.logged_id, requestedAt: applied.requested_at });
}

/** Waits until erasure_log has the request's completion; answers the tables it deleted from. */
export async function awaitErasure(writer: ClickHouseWriter, requestId: string, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const query = (id: string) => `SELECT tables FROM \`${writer.database}\`.\`${ERASURE_LOG_TABLE.name}\` WHERE request_id = ${id} AND status = 'completed' LIMIT 1`;
    // The legacy server has no query parameters: request ids are ours (letters, digits, - and _ only).
    const [row] = writer.dialect.name === 'legacy'
      ? await writer.rows<{ tables: string[] }>(query(`'${requestId.replace(/[^A-Za-z0-9_-]/g, '')}'`))
      : await writer.rowsWith<{ tables: string[] }>(query('{id:String}'), { id: requestId });
    if (row) return row.tables;
    if (Date.now() > deadline) {
      throw new TouchstreamError('erasure_pending', `erasure ${requestId} is requested but not completed within ${Math.round(timeoutMs / 1000)} s: a running worker applies it when it reads it`, true);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export interface EraseCommandResult {
  request_id: string;
  /** The pseudonymous id erasure_log records. */
  customer_id: string;
  status: 'completed' | 'requested';
  /** The tables the customer was deleted from (when completed). */
  tables: string[];
}

/**
 * `touchstream erase`: on Kafka, requests the erasure (the running workers apply it in log order and the loader
 * completes it) and waits up to `waitMs` for erasure_log's completion. On the embedded default no log or state
 * outlives the process that ran the pipeline, so the tables are all there is: they are erased here and now.
 */
export async function eraseCustomerCommand(runtime: Runtime, id: string, options: { waitMs: number }): Promise<EraseCommandResult> {
  if (runtime.config.transport === 'memory') {
    const { logged } = runtime.privacy.erasureIds(id);
    const result = await eraseFromTables(runtime.clickhouse, runtime.privacy, id);
    const tables = new Set([result, ...result.linked].flatMap((each) => Object.keys(each.deleted)));
    return { request_id: result.requestId, customer_id: logged, status: 'completed', tables: [...tables] };
  }
  const request = await requestErasure(runtime, id, { source: 'cli' });
  if (options.waitMs <= 0) return { request_id: request.requestId, customer_id: request.loggedId, status: 'requested', tables: [] };
  const tables = await awaitErasure(runtime.clickhouse, request.requestId, options.waitMs);
  return { request_id: request.requestId, customer_id: request.loggedId, status: 'completed', tables };
}

/**
 * Routes erasure requests other systems publish on touchstream.erasure (source `topic`) onto the input topic, in the
 * customer's partition, where the pipeline applies them; requests of the CLI and the collector are on the input
 * topic already. Pseudonymises the id (a raw id is accepted there), records `requested` in erasure_log, commits
 * after the input topic has the request. Runs beside the pipeline until `signal`.
 */
export async function routeErasureRequests(runtime: Runtime, options: { signal: AbortSignal; onRestart?(error: unknown, delayMs: number): void }): Promise<number> {
  const { config } = runtime;
  return supervise(async () => {
    const consumer = await runtime.log.consumer({ groupId: `${config.kafka.groupId}-erasure-router`, topics: [config.kafka.erasureTopic], start: 'earliest' });
    let routed = 0;
    try {
      while (!options.signal.aborted) {
        const records = await consumer.poll(100, 200);
        if (records.length === 0) continue;
        const decoded = await runtime.codecs.erasure.decodeBatch(records.map((record) => record.value));
        const forward: Array<{ key: string; value: Buffer }> = [];
        const logged: Array<Record<string, unknown>> = [];
        decoded.forEach((result) => {
          if (!result.ok) {
            // No dead letter: the bytes may hold a raw id. Counted, never logged.
            runtime.metrics.count('touchstream_erasure_requests_refused_total', 1, { reason: result.code });
            return;
          }
          if (result.value.source === 'cli' || result.value.source === 'http') return;
          const { stored, logged: loggedId } = runtime.privacy.erasureIds(result.value.customer_id);
          forward.push({ key: stored, value: runtime.codecs.erasure.encode({ ...result.value, customer_id: stored, source: 'topic' }) });
          logged.push({ request_id: result.value.request_id, customer_id: loggedId, status: 'requested', requested_at: result.value.requested_at, completed_at: null, tables: [] });
        });
        if (logged.length > 0) await runtime.clickhouse.insert(ERASURE_LOG_TABLE, logged);
        if (forward.length > 0) await runtime.producer.send(config.kafka.inputTopic, forward);
        routed += forward.length;
        runtime.metrics.count('touchstream_erasure_requests_total', forward.length, { source: 'topic' });
        const next = new Map<string, PartitionOffset>();
        for (const record of records) next.set(`${record.topic}/${record.partition}`, { topic: record.topic, partition: record.partition, offset: record.offset + 1 });
        await consumer.commit([...next.values()]);
      }
      return routed;
    } finally {
      await consumer.close().catch(() => {});
    }
  }, { name: 'erasure-router', metrics: runtime.metrics, signal: options.signal, ...(options.onRestart ? { onRestart: options.onRestart } : {}) });
}

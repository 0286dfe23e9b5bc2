// The ClickHouse half of erasure (Art. 17): deletes one customer, by the id the tables hold, from every table, and records request and completion in erasure_log.
import { TouchstreamError } from '../../schemas/errors.ts';
import type { TableSpec } from './tables.ts';
import { ERASURE_LOG_TABLE, TABLES } from './tables.ts';
import type { ClickHouseWriter } from './writer.ts';

export interface ErasureRequest {
  /** Idempotency key of the request: re-running one request writes the same erasure_log rows. */
  requestId: string;
  /** The id as the tables hold it (the pseudonym when a key is configured). */
  customerId: string;
  /** The id erasure_log records: never a raw id (the pseudonym, or a digest of the id). */
  loggedId: string;
  /** Wall clock (tests pin it). */
  wallClock?: () => number;
  /** When the request was made (default: now): the `requested` row is then the same as the requester's. */
  requestedAt?: number;
  /** Legacy servers run deletes as asynchronous mutations: how long to wait for them (default 5 minutes). */
  timeoutMs?: number;
}

export interface ErasureResult {
  requestId: string;
  /** Tables that held rows of the customer, with how many. */
  deleted: Record<string, number>;
  requestedAt: number;
  completedAt: number;
}

/** Columns that identify a customer, per table: `customer_id` (the session key), and `anonymous_id` where kept. */
function keyColumnsOf(table: TableSpec): string[] {
  return table.columns.filter((column) => column.name === 'customer_id' || column.name === 'anonymous_id').map((column) => column.name);
}

/** The tables an erasure deletes from: every one keyed by a customer (kpi_minute has none; erasure_log is the record). */
export function erasableTables(tables: readonly TableSpec[] = TABLES): TableSpec[] {
  return tables.filter((table) => table !== ERASURE_LOG_TABLE && keyColumnsOf(table).length > 0);
}

/** Tables keyed by a signal, not a customer (deliveries, outcomes): erased by the customer's signal ids. */
export function signalKeyedTables(tables: readonly TableSpec[] = TABLES): TableSpec[] {
  return tables.filter((table) => keyColumnsOf(table).length === 0 && table.columns.some((column) => column.name === 'signal_id'));
}

/**
 * The anonymous ids the tables link to a customer: those on the customer's own events (the login, what identity
 * stitching copied or routed to them). For an erasure with no live state to ask (the embedded default's command).
 */
export async function linkedAnonymousIds(writer: ClickHouseWriter, customerId: string, limit = 1000): Promise<string[]> {
  const query = (id: string) => `SELECT DISTINCT anonymous_id AS id FROM \`${writer.database}\`.\`events\` WHERE customer_id = ${id} AND anonymous_id IS NOT NULL AND anonymous_id != '' AND anonymous_id != customer_id ORDER BY id LIMIT ${limit}`;
  const rows = writer.dialect.name === 'legacy'
    ? await writer.rows<{ id: string }>(query(literal(customerId)))
    : await writer.rowsWith<{ id: string }>(query('{id:String}'), { id: customerId });
  return rows.map((row) => row.id);
}

const literal = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * Deletes the customer from every table: a lightweight `DELETE FROM` (bound parameter) on modern servers, an
 * `ALTER TABLE … DELETE` mutation on the legacy dialect (18.16 has neither, nor query parameters: the id is a quoted
 * literal there), waited for until done. Writes a `requested` row first and a `completed` row once no table holds the
 * customer any more; a failure before that leaves the request without completion, and re-running it is safe.
 */
export async function eraseCustomer(writer: ClickHouseWriter, request: ErasureRequest, tables: readonly TableSpec[] = TABLES): Promise<ErasureResult> {
  const wallClock = request.wallClock ?? Date.now;
  const database = `\`${writer.database}\``;
  const legacy = writer.dialect.name === 'legacy';
  const requestedAt = request.requestedAt ?? wallClock();
  const logRow = (status: 'requested' | 'completed', completedAt: number | null, deletedFrom: string[]) => ({
    request_id: request.requestId, customer_id: request.loggedId, status, requested_at: requestedAt, completed_at: completedAt, tables: deletedFrom,
  });
  await writer.insert(ERASURE_LOG_TABLE, [logRow('requested', null, [])]);

  const targets = erasableTables(tables);
  const where = (table: TableSpec) => keyColumnsOf(table).map((column) => `${column} = ${legacy ? literal(request.customerId) : '{id:String}'}`).join(' OR ');
  const count = async (table: TableSpec) => {
    const query = `SELECT count() AS rows FROM ${database}.\`${table.name}\` WHERE ${where(table)}`;
    const [row] = legacy ? await writer.rows<{ rows: string }>(query) : await writer.rowsWith<{ rows: string }>(query, { id: request.customerId });
    return Number(row?.rows ?? 0);
  };

  const deleted: Record<string, number> = {};
  // The customer's signals' deliveries and outcomes go too (by signal id, read before the signals are deleted).
  const signalsTable = targets.find((table) => table.name === 'signals');
  const signalIds = signalsTable
    ? (await writer.rows<{ signal_id: string }>(`SELECT DISTINCT signal_id FROM ${database}.\`${signalsTable.name}\` WHERE ${keyColumnsOf(signalsTable).map((column) => `${column} = ${literal(request.customerId)}`).join(' OR ')}`)).map((row) => row.signal_id)
    : [];
  const bySignal = signalKeyedTables(tables);
  for (let from = 0; from < signalIds.length; from += 1000) {
    const list = signalIds.slice(from, from + 1000).map(literal).join(', ');
    for (const table of bySignal) {
      const [row] = await writer.rows<{ rows: string }>(`SELECT count() AS rows FROM ${database}.\`${table.name}\` WHERE signal_id IN (${list})`);
      const rows = Number(row?.rows ?? 0);
      if (rows === 0) continue;
      deleted[table.name] = (deleted[table.name] ?? 0) + rows;
      if (legacy) await writer.command(`ALTER TABLE ${database}.\`${table.name}\` DELETE WHERE signal_id IN (${list})`);
      else await writer.command(`DELETE FROM ${database}.\`${table.name}\` WHERE signal_id IN (${list})`);
    }
  }
  for (const table of targets) {
    const rows = await count(table);
    if (rows === 0) continue;
    deleted[table.name] = rows;
    if (legacy) await writer.command(`ALTER TABLE ${database}.\`${table.name}\` DELETE WHERE ${where(table)}`);
    else await writer.command(`DELETE FROM ${database}.\`${table.name}\` WHERE ${where(table)}`, { id: request.customerId });
  }

  // Mutations run in the background on the legacy server: the erasure is complete when no table holds the customer.
  const deadline = Date.now() + (request.timeoutMs ?? 300_000);
  for (;;) {
    let remaining = 0;
    for (const name of Object.keys(deleted)) {
      const table = targets.find((candidate) => candidate.name === name);
      if (table) remaining += await count(table);
      else if (signalIds.length > 0) {
        const [row] = await writer.rows<{ rows: string }>(`SELECT count() AS rows FROM ${database}.\`${name}\` WHERE signal_id IN (${signalIds.slice(0, 1000).map(literal).join(', ')})`);
        remaining += Number(row?.rows ?? 0);
      }
    }
    if (remaining === 0) break;
    if (Date.now() > deadline) {
      throw new TouchstreamError('erasure_incomplete', `erasure ${request.requestId}: ${remaining} rows still present after ${request.timeoutMs ?? 300_000} ms; run it again`, true);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const completedAt = wallClock();
  await writer.insert(ERASURE_LOG_TABLE, [logRow('completed', completedAt, Object.keys(deleted))]);
  return { requestId: request.requestId, deleted, requestedAt, completedAt };
}

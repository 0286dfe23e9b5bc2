// Retention of every table (CONTRACT §6): TTL in the modern DDL, and the scheduled delete that stands in for TTL on the legacy (18.16) dialect.
import { TouchstreamError } from '../../schemas/errors.ts';
import type { TableSpec } from './tables.ts';
import { ERASURE_LOG_TABLE, REJECTED_EVENTS_TABLE, TABLES } from './tables.ts';

export interface RetentionPolicy {
  /** Days a row is kept, measured from its table's `ttlColumn` (event time, or wall clock for dead letters). */
  defaultDays: number;
  /** Per-table overrides of `defaultDays`. */
  tables?: Readonly<Record<string, number>>;
  /** Days a dead letter's original bytes are kept (emptied afterwards; the row stays for its table's retention). */
  deadLetterBytesDays: number;
}

/**
 * Defaults apart from the policy's: dead letters are kept a quarter of a year (their bytes a month); the erasure log,
 * the proof that requests were carried out, three years (the usual limitation period for claims).
 */
export const DEFAULT_TABLE_RETENTION_DAYS: Readonly<Record<string, number>> = { [REJECTED_EVENTS_TABLE.name]: 90, [ERASURE_LOG_TABLE.name]: 1095 };
export const DEFAULT_DEAD_LETTER_BYTES_DAYS = 30;

/** The policy every table gets unless configured: 395 days (13 months: a year and its comparison month). */
export const DEFAULT_RETENTION: RetentionPolicy = { defaultDays: 395, deadLetterBytesDays: DEFAULT_DEAD_LETTER_BYTES_DAYS };

/** A table's row retention in days. */
export function tableRetentionDays(policy: RetentionPolicy, table: TableSpec): number {
  return policy.tables?.[table.name] ?? DEFAULT_TABLE_RETENTION_DAYS[table.name] ?? policy.defaultDays;
}

/** Columns emptied before their rows expire: a dead letter's original bytes, never longer than the row itself. */
export function columnRetentionDays(policy: RetentionPolicy, table: TableSpec): Record<string, number> {
  if (table.name !== REJECTED_EVENTS_TABLE.name) return {};
  return { original: Math.min(policy.deadLetterBytesDays, tableRetentionDays(policy, table)) };
}

/** Refuses a policy that names a table touchstream does not have (a typo would silently keep data forever). */
export function checkRetentionPolicy(policy: RetentionPolicy, tables: readonly TableSpec[] = TABLES): void {
  const known = new Set(tables.map((table) => table.name));
  const unknown = Object.keys(policy.tables ?? {}).filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new TouchstreamError('invalid_config', `invalid configuration: clickhouse.retention: unknown table(s) ${unknown.join(', ')}; tables are ${[...known].join(', ')}`);
  }
}

/** One retention step on one table: what is expired, and the mutation that removes it. */
export interface RetentionStep {
  table: string;
  kind: 'delete_rows' | 'empty_dead_letter_bytes';
  days: number;
  /** Counts the rows the mutation would touch (it is issued only when there are some). */
  countQuery: string;
  mutation: string;
}

/**
 * The statements of a retention pass for a server without TTL: `ALTER TABLE … DELETE WHERE` per table, and
 * `ALTER TABLE rejected_events UPDATE original = ''` for dead letters' bytes. Names are identifiers and days integers
 * from the validated config: nothing here comes from data.
 */
export function retentionSteps(database: string, policy: RetentionPolicy, tables: readonly TableSpec[] = TABLES): RetentionStep[] {
  const steps: RetentionStep[] = [];
  for (const table of tables) {
    const target = `\`${database}\`.\`${table.name}\``;
    const days = tableRetentionDays(policy, table);
    const expired = `${table.ttlColumn} < now() - INTERVAL ${days} DAY`;
    steps.push({ table: table.name, kind: 'delete_rows', days, countQuery: `SELECT count() AS rows FROM ${target} WHERE ${expired}`, mutation: `ALTER TABLE ${target} DELETE WHERE ${expired}` });
    for (const [column, columnDays] of Object.entries(columnRetentionDays(policy, table))) {
      // Rows past the table's own retention are left to its DELETE: counting them here would race that mutation.
      const stale = `${table.ttlColumn} < now() - INTERVAL ${columnDays} DAY AND ${table.ttlColumn} >= now() - INTERVAL ${days} DAY AND ${column} != ''`;
      steps.push({ table: table.name, kind: 'empty_dead_letter_bytes', days: columnDays, countQuery: `SELECT count() AS rows FROM ${target} WHERE ${stale}`, mutation: `ALTER TABLE ${target} UPDATE ${column} = '' WHERE ${stale}` });
    }
  }
  return steps;
}

/** What a pass did per step: rows found expired, and whether a mutation was issued (none while one is pending). */
export interface RetentionStepResult {
  table: string;
  kind: RetentionStep['kind'];
  expiredRows: number;
  mutated: boolean;
}

/** The queries a retention pass needs (the ClickHouse writer satisfies it). */
export interface RetentionTarget {
  readonly database: string;
  rows<T = Record<string, unknown>>(query: string): Promise<T[]>;
  command(query: string): Promise<void>;
}

/**
 * One retention pass (legacy dialect; harmless on modern servers, whose TTL leaves nothing expired): counts what is
 * expired, and issues the mutation where something is and no mutation of that table is still running. Mutations run
 * asynchronously on the server; the next pass finds what is left.
 */
export async function enforceRetention(target: RetentionTarget, policy: RetentionPolicy, tables: readonly TableSpec[] = TABLES): Promise<RetentionStepResult[]> {
  const results: RetentionStepResult[] = [];
  const database = target.database.replace(/'/g, '');
  for (const step of retentionSteps(target.database, policy, tables)) {
    const [counted] = await target.rows<{ rows: string | number }>(step.countQuery);
    const expiredRows = Number(counted?.rows ?? 0);
    let mutated = false;
    if (expiredRows > 0) {
      const [pending] = await target.rows<{ pending: string | number }>(
        `SELECT count() AS pending FROM system.mutations WHERE database = '${database}' AND table = '${step.table}' AND is_done = 0`,
      );
      if (Number(pending?.pending ?? 0) === 0) {
        await target.command(step.mutation);
        mutated = true;
      }
    }
    results.push({ table: step.table, kind: step.kind, expiredRows, mutated });
  }
  return results;
}

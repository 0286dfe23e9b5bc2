// Access (Art. 15, CONTRACT §6): everything touchstream holds about one customer, as one JSON document: the rows of every table, their signals' deliveries and outcomes, their live state from the changelogs, their erasure_log rows.
import { changelogTopicOf, latestByStore } from '../engine/index.ts';
import { partitionOf } from '../log/partitioner.ts';
import { erasableTables } from '../sinks/clickhouse/erasure.ts';
import { ACTION_DELIVERIES_TABLE, ACTION_OUTCOMES_TABLE, ERASURE_LOG_TABLE } from '../sinks/clickhouse/tables.ts';
import type { TableSpec } from '../sinks/clickhouse/tables.ts';
import type { ClickHouseWriter } from '../sinks/clickhouse/writer.ts';
import type { Runtime } from './runtime.ts';

export interface CustomerExport {
  /** The id the data is held under (the pseudonym with a key): the raw id is never written. */
  customer_id: string;
  exported_at: string;
  /** Per table, every row of the customer (signals' deliveries and outcomes by their signal ids). */
  tables: Record<string, Array<Record<string, unknown>>>;
  /** Live state from the changelogs, per state store: the customer's entries (keyed by the store's key). */
  state: Record<string, Record<string, unknown>>;
  /** What the export could not cover, and why. */
  notes: string[];
}

const literal = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** Rows of one table where any of `columns` is one of `ids`. */
async function rowsOf(writer: ClickHouseWriter, table: TableSpec, columns: readonly string[], ids: readonly string[]): Promise<Array<Record<string, unknown>>> {
  if (ids.length === 0) return [];
  const list = ids.map(literal).join(', ');
  const where = columns.map((column) => `${column} IN (${list})`).join(' OR ');
  // Replacing tables keep one row per key for analysts only with FINAL (a replay may have inserted a row twice).
  const final = (table.engine?.kind ?? 'replacing') === 'replacing' ? ' FINAL' : '';
  return writer.rows(`SELECT * FROM \`${writer.database}\`.\`${table.name}\`${final} WHERE ${where}`);
}

/** Whether a changelog entry belongs to the customer: its key is the customer, or names them as one of its parts. */
function belongsTo(key: string, value: unknown, id: string): boolean {
  if (key === id) return true;
  if (key.split(/[\u001f\u0000|]/).includes(id)) return true;
  return typeof value === 'object' && value !== null && JSON.stringify(value).includes(JSON.stringify(id));
}

/** The export of one customer by raw id (pseudonymised with the configured key) or pseudonym. */
export async function exportCustomer(runtime: Runtime, id: string, wallClock: () => number = Date.now): Promise<CustomerExport> {
  const { stored, logged } = runtime.privacy.erasureIds(id);
  const writer = runtime.clickhouse;
  const notes: string[] = [];
  const tables: CustomerExport['tables'] = {};
  for (const table of erasableTables()) {
    const columns = table.columns.filter((column) => column.name === 'customer_id' || column.name === 'anonymous_id').map((column) => column.name);
    tables[table.name] = await rowsOf(writer, table, columns, [stored]);
  }
  const signalIds = (tables.signals ?? []).map((row) => String(row.signal_id));
  for (const table of [ACTION_DELIVERIES_TABLE, ACTION_OUTCOMES_TABLE]) tables[table.name] = await rowsOf(writer, table, ['signal_id'], [...new Set(signalIds)]);
  tables[ERASURE_LOG_TABLE.name] = await rowsOf(writer, ERASURE_LOG_TABLE, ['customer_id'], [logged]);

  const state: CustomerExport['state'] = {};
  if (runtime.config.transport === 'memory') {
    notes.push('embedded default: live state lives in the process that runs the pipeline (its in-process log holds the changelog) and is not kept after it ends; the tables hold everything else');
  }
  const topic = changelogTopicOf(runtime.config.kafka.groupId);
  // No changelog yet (no pipeline has run with this group): no live state.
  const partitions = (await runtime.log.endOffsets(topic).catch(() => [])).length;
  if (partitions > 0) {
    // Keyed state lives in the customer's input partition (the changelog is partitioned like the input).
    const partition = partitionOf(stored, partitions);
    for (const [store, byPartition] of latestByStore(await runtime.log.readPartitions(topic, [partition]))) {
      for (const entries of byPartition.values()) {
        for (const [key, value] of entries) {
          if (!belongsTo(key, value, stored)) continue;
          (state[store] ??= {})[key] = value;
        }
      }
    }
  }
  return { customer_id: stored, exported_at: new Date(wallClock()).toISOString(), tables, state, notes };
}

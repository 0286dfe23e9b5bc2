// What the tables still hold of one id after an erasure: the rows per table an erasure deletes from.
import { erasableTables } from '../../sinks/clickhouse/erasure.ts';
import type { ClickHouseWriter } from '../../sinks/clickhouse/writer.ts';

/** Rows per erasable table whose `customer_id` (or `anonymous_id`, where kept) is `id`; tables with none are left out. */
export async function rowsHeldFor(clickhouse: Pick<ClickHouseWriter, 'rows'>, database: string, id: string): Promise<Record<string, number>> {
  const found: Record<string, number> = {};
  for (const table of erasableTables()) {
    const columns = table.columns.filter((column) => column.name === 'customer_id' || column.name === 'anonymous_id').map((column) => `${column.name} = '${id}'`);
    const [counted] = await clickhouse.rows<{ n: string | number }>(`SELECT count() AS n FROM ${database}.${table.name} WHERE ${columns.join(' OR ')}`);
    const n = Number(counted?.n ?? 0);
    if (n > 0) found[table.name] = n;
  }
  return found;
}

// The tables action management fills (`action_deliveries`, `action_outcomes`) and their row topics: loaded by the same loader as the pipeline's tables.
import type { LoadedTable } from '../loader/table-loader.ts';
import { decodeRowChunk, plainRows } from '../sinks/rows/row-chunks.ts';
import { actionDeliveriesTableSink, actionOutcomesTableSink } from '../sinks/clickhouse/table-sinks.ts';
import type { TableSink } from '../sinks/clickhouse/table-sinks.ts';
import type { ClickHouseWriter } from '../sinks/clickhouse/writer.ts';

type Row = Record<string, unknown>;

/** Each table and the sink that inserts its rows; the row topic is `<group>-rows-<table>` like every table's. */
export const ACTION_TABLES: readonly { table: string; sink(writer: ClickHouseWriter): TableSink<Row> }[] = [
  { table: 'action_deliveries', sink: actionDeliveriesTableSink },
  { table: 'action_outcomes', sink: actionOutcomesTableSink },
];

/** The loader's view of the action tables (rows are plain JSON, as action delivery writes them). */
export function actionLoadedTables(groupId: string, writer: ClickHouseWriter, rowTopicOf: (groupId: string, table: string) => string): LoadedTable[] {
  return ACTION_TABLES.map(({ table, sink }) => {
    const tableSink = sink(writer);
    return {
      table,
      topic: rowTopicOf(groupId, table),
      async load(chunks, pace) {
        const rows: Row[] = [];
        for (const chunk of chunks) for (const row of decodeRowChunk(chunk, plainRows<Row>())) rows.push(row);
        await tableSink.write(rows, pace);
        return rows.length;
      },
    };
  });
}

// Which pipeline output lands in which ClickHouse table, by way of which row topic: the one list the pipeline's sinks and the loader both read.
import type { LoadedTable } from '../loader/table-loader.ts';
import { actionLoadedTables } from './action-tables.ts';
import type { CxOutputs } from '../pipelines/cx/journey-operator.ts';
import type { RowCodec } from '../sinks/rows/row-chunks.ts';
import { deadLetterRows, decodeRowChunk, plainRows } from '../sinks/rows/row-chunks.ts';
import type { TableSink } from '../sinks/clickhouse/table-sinks.ts';
import {
  alertsTableSink, campaignKpisTableSink, driverAnalysisTableSink, pageViewsTableSink, videoEngagementTableSink,
  channelSwitchesTableSink, eventsTableSink, feedbackTableSink, kpiMinuteTableSink, purchaseAttributionTableSink, rejectedEventsTableSink,
  sessionsTableSink, signalsTableSink, socialMentionsTableSink,
} from '../sinks/clickhouse/table-sinks.ts';
import type { ClickHouseWriter } from '../sinks/clickhouse/writer.ts';
import type { ErasureApplied } from '../schemas/erasure.ts';
import { completeErasure } from './erasure.ts';

export interface TableOutput<K extends keyof CxOutputs> {
  output: K;
  table: string;
  codec: RowCodec<CxOutputs[K]>;
  sink(writer: ClickHouseWriter): TableSink<CxOutputs[K]>;
}

const tableOutput = <K extends keyof CxOutputs>(output: K, table: string, sink: (writer: ClickHouseWriter) => TableSink<CxOutputs[K]>, codec: RowCodec<CxOutputs[K]> = plainRows()): TableOutput<K> =>
  ({ output, table, codec, sink });

/** Every table the CX pipeline fills, with the output it comes from (one table per output). */
export const TABLE_OUTPUTS = [
  tableOutput('events', 'events', eventsTableSink),
  tableOutput('sessions', 'sessions', sessionsTableSink),
  tableOutput('signals', 'signals', signalsTableSink),
  tableOutput('alerts', 'alerts', alertsTableSink),
  tableOutput('rejected', 'rejected_events', rejectedEventsTableSink, deadLetterRows),
  tableOutput('feedback', 'feedback', feedbackTableSink),
  tableOutput('social_mentions', 'social_mentions', socialMentionsTableSink),
  tableOutput('channel_switches', 'channel_switches', channelSwitchesTableSink),
  tableOutput('purchase_attribution', 'purchase_attribution', purchaseAttributionTableSink),
  tableOutput('kpi_minute', 'kpi_minute', kpiMinuteTableSink),
  tableOutput('page_views', 'page_views', pageViewsTableSink),
  tableOutput('video_engagement', 'video_engagement', videoEngagementTableSink),
  tableOutput('campaign_kpis', 'campaign_kpis', campaignKpisTableSink),
  tableOutput('driver_analysis', 'driver_analysis', driverAnalysisTableSink),
] as const;

/** The erasures the pipeline applied, in its checkpoint transactions: the loader's barrier (app/erasure.ts). */
export const erasuresAppliedTopicOf = (groupId: string): string => `${groupId}-erasures-applied`;

/** The row topic of a table: internal to one pipeline (its consumer group), like its changelogs. */
export const rowTopicOf = (groupId: string, table: string): string => `${groupId}-rows-${table}`;

/** The loader's view of the tables: each one's row topic and how its chunks become an insert (action management's tables too). */
export function loadedTables(groupId: string, writer: ClickHouseWriter): LoadedTable[] {
  return [...pipelineLoadedTables(groupId, writer), ...actionLoadedTables(groupId, writer, rowTopicOf), erasureBarrier(groupId, writer)];
}

/** Applied erasures: each deletes its customer from every table once the loader has loaded what came before it. */
function erasureBarrier(groupId: string, writer: ClickHouseWriter): LoadedTable {
  return {
    table: 'erasures',
    topic: erasuresAppliedTopicOf(groupId),
    barrier: true,
    async load(chunks) {
      let applied = 0;
      for (const chunk of chunks) {
        for (const erasure of decodeRowChunk(chunk, plainRows<ErasureApplied>())) {
          await completeErasure(writer, erasure);
          applied++;
        }
      }
      return applied;
    },
  };
}

function pipelineLoadedTables(groupId: string, writer: ClickHouseWriter): LoadedTable[] {
  return TABLE_OUTPUTS.map((entry) => {
    const { table, codec } = entry as TableOutput<keyof CxOutputs>;
    const sink = (entry as TableOutput<keyof CxOutputs>).sink(writer);
    return {
      table,
      topic: rowTopicOf(groupId, table),
      async load(chunks, pace) {
        const rows: CxOutputs[keyof CxOutputs][] = [];
        for (const chunk of chunks) for (const row of decodeRowChunk(chunk, codec)) rows.push(row);
        await sink.write(rows, pace);
        return rows.length;
      },
    };
  });
}

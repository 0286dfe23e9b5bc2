// Measures one ClickHouse target's insert rate through touchstream's events table sink (the table with a row per event), in its own process.
import { connectClickHouse } from '../../sinks/clickhouse/connection.ts';
import { eventsTableSink } from '../../sinks/clickhouse/table-sinks.ts';
import { EVENTS_TABLE } from '../../sinks/clickhouse/tables.ts';
import { ClickHouseWriter } from '../../sinks/clickhouse/writer.ts';
import { generateDay } from '../../sources/generator/index.ts';
import type { EventRow } from '../../schemas/outputs.ts';

interface SinkArguments {
  target: { kind: 'http'; url: string; dialect: 'legacy' | 'modern' } | { kind: 'embedded'; path: string };
  database: string;
  rows: number;
  batchRows: number;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '') as SinkArguments;
  const events: EventRow[] = [];
  // ~19 events per customer; a few more customers than needed, cut to the exact count.
  for (const event of generateDay({ customers: Math.ceil(args.rows / 15), seed: 99 })) {
    if (events.length === args.rows) break;
    events.push({ event, late: false });
  }
  const writer = new ClickHouseWriter(connectClickHouse(args.target), { database: args.database });
  try {
    await writer.migrate([EVENTS_TABLE], []);
    const sink = eventsTableSink(writer);
    await sink.write(events.slice(0, Math.min(1000, events.length))); // warm-up: connection, first part
    const started = performance.now();
    for (let start = 0; start < events.length; start += args.batchRows) await sink.write(events.slice(start, start + args.batchRows));
    const seconds = (performance.now() - started) / 1000;
    const [row] = await writer.rows<{ rows: string | number }>(`SELECT count() AS rows FROM \`${args.database}\`.events FINAL`);
    process.stdout.write(`${JSON.stringify({ event: 'result', rows: events.length, seconds, stored: Number(row?.rows ?? 0) })}\n`);
  } finally {
    await writer.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`sink-worker: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});

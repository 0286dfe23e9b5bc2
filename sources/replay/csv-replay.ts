// Replays a CSV file of contract events (a header row, one event per row; docs/sources.md lists the columns) as a bounded source.
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import { z } from 'zod';
import { parseEvent } from '../../schemas/events.ts';
import type { CxEvent } from '../../schemas/events.ts';
import type { DeadLetter, RejectReason } from '../../schemas/outputs.ts';
import { deadLetterFor } from '../kafka/event-decoder.ts';
import type { Source, SourceBatch } from '../source.ts';

export const csvReplayConfigSchema = z.object({
  path: z.string().min(1),
  batchSize: z.number().int().min(1).default(5000),
  delimiter: z.string().length(1).default(','),
  /** Rows longer than this many bytes are refused as oversized. */
  maxRowBytes: z.number().int().min(1).default(1_000_000),
});
export type CsvReplayConfig = z.input<typeof csvReplayConfigSchema>;

const ENVELOPE = ['event_id', 'type', 'occurred_at', 'customer_id', 'anonymous_id', 'channel', 'touchpoint'] as const;
const NUMBER = /^-?\d+(\.\d+)?$/;

/**
 * One CSV row → the contract's JSON shape. Empty cells are absent. `properties` holds a JSON object; a column
 * `properties.<key>` sets one property (digits become numbers); `experiment_id` + `experiment_variant` form `experiment`.
 */
export function csvRowToJson(row: Record<string, string>): { ok: true; json: Record<string, unknown> } | { ok: false; message: string } {
  const json: Record<string, unknown> = {};
  for (const column of ENVELOPE) if (row[column]) json[column] = row[column];
  if (row.experiment_id && row.experiment_variant) json.experiment = { id: row.experiment_id, variant: row.experiment_variant };
  let properties: Record<string, unknown> = {};
  if (row.properties) {
    try {
      const parsed: unknown = JSON.parse(row.properties);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { ok: false, message: 'properties: must be a JSON object' };
      properties = parsed as Record<string, unknown>;
    } catch (error) {
      return { ok: false, message: `properties: not JSON: ${(error as Error).message}` };
    }
  }
  for (const [column, value] of Object.entries(row)) {
    if (!column.startsWith('properties.') || value === '') continue;
    properties[column.slice('properties.'.length)] = NUMBER.test(value) ? Number(value) : value;
  }
  json.properties = properties;
  return { ok: true, json };
}

export function csvReplay(config: CsvReplayConfig, wallClock: () => number = Date.now): Source {
  const options = csvReplayConfigSchema.parse(config);
  return {
    name: `replay:${options.path}`,
    async *batches(signal?: AbortSignal): AsyncIterable<SourceBatch> {
      let events: CxEvent[] = [];
      let rejected: DeadLetter[] = [];
      const reject = (line: number, original: Buffer, code: RejectReason, message: string, eventId: string | null = null) =>
        rejected.push({ ...deadLetterFor('replay', null, original, code, `line ${line}: ${message}`, wallClock(), eventId), topic: options.path, offset: String(line) });
      const parser = createReadStream(options.path).pipe(
        parse({ columns: true, delimiter: options.delimiter, skip_empty_lines: true, info: true, raw: true, skip_records_with_error: true, bom: true }),
      );
      // A row the CSV parser cannot read (unclosed quote, wrong column count) is skipped by it and dead-lettered here.
      parser.on('skip', (error: { message: string; lines?: number; raw?: string }) => reject(error.lines ?? 0, Buffer.from(error.raw ?? ''), 'invalid_json', `not a CSV row: ${error.message}`));
      for await (const item of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number }; raw: string }>) {
        if (signal?.aborted) break;
        const { record, info, raw } = item;
        const original = Buffer.from(raw.replace(/\r?\n$/, ''));
        if (original.length > options.maxRowBytes) reject(info.lines, original, 'oversized_payload', `row exceeds ${options.maxRowBytes} bytes`);
        else {
          const row = csvRowToJson(record);
          if (!row.ok) reject(info.lines, original, 'invalid_json', row.message, record.event_id || null);
          else {
            const parsed = parseEvent(row.json, wallClock());
            if (parsed.ok) events.push(parsed.event);
            else reject(info.lines, original, parsed.failure.code, parsed.failure.message, record.event_id || null);
          }
        }
        if (events.length + rejected.length >= options.batchSize) {
          yield { events, rejected };
          events = [];
          rejected = [];
        }
      }
      if (events.length + rejected.length > 0) yield { events, rejected };
    },
  };
}

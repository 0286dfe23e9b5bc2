// Replays an NDJSON file of contract events (one JSON object per line) as a bounded source.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { parseEvent } from '../../schemas/events.ts';
import type { CxEvent } from '../../schemas/events.ts';
import type { DeadLetter } from '../../schemas/outputs.ts';
import { deadLetterFor } from '../kafka/event-decoder.ts';
import type { Source, SourceBatch } from '../source.ts';

export const ndjsonReplayConfigSchema = z.object({
  path: z.string().min(1),
  batchSize: z.number().int().min(1).default(5000),
  /** Lines longer than this many bytes are refused as oversized. */
  maxLineBytes: z.number().int().min(1).default(1_000_000),
});
export type NdjsonReplayConfig = z.input<typeof ndjsonReplayConfigSchema>;

export function ndjsonReplay(config: NdjsonReplayConfig, wallClock: () => number = Date.now): Source {
  const options = ndjsonReplayConfigSchema.parse(config);
  const name = `replay:${options.path}`;
  return {
    name,
    async *batches(signal?: AbortSignal): AsyncIterable<SourceBatch> {
      const lines = createInterface({ input: createReadStream(options.path), crlfDelay: Infinity });
      let events: CxEvent[] = [];
      let rejected: DeadLetter[] = [];
      let lineNumber = 0;
      for await (const line of lines) {
        lineNumber++;
        if (signal?.aborted) break;
        if (line.trim() === '') continue;
        const reject = (code: DeadLetter['reason_code'], message: string, eventId: string | null = null) =>
          rejected.push({ ...deadLetterFor('replay', null, Buffer.from(line), code, `line ${lineNumber}: ${message}`, wallClock(), eventId), topic: options.path, offset: String(lineNumber) });
        if (Buffer.byteLength(line) > options.maxLineBytes) reject('oversized_payload', `line exceeds ${options.maxLineBytes} bytes`);
        else {
          let json: unknown;
          try {
            json = JSON.parse(line);
          } catch (error) {
            reject('invalid_json', (error as Error).message);
            json = undefined;
          }
          if (json !== undefined) {
            const parsed = parseEvent(json, wallClock());
            if (parsed.ok) events.push(parsed.event);
            else reject(parsed.failure.code, parsed.failure.message, typeof (json as { event_id?: unknown })?.event_id === 'string' ? (json as { event_id: string }).event_id : null);
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

// Table rows on a Kafka topic: a batch of output values as JSON chunks (one record holds many rows), and back; the loader turns them into ClickHouse inserts.
import type { DeadLetter } from '../../schemas/outputs.ts';

/** How one output's values travel as JSON: most are plain JSON already; a few carry bytes. */
export interface RowCodec<T> {
  /** The value as JSON-ready data (no Buffers, no class instances). */
  toJson(value: T): unknown;
  fromJson(json: unknown): T;
}

/** Values that are plain JSON data (numbers, strings, booleans, null, arrays, objects). */
export function plainRows<T>(): RowCodec<T> {
  return { toJson: (value) => value, fromJson: (json) => json as T };
}

/** Dead letters: their original bytes travel as base64. */
export const deadLetterRows: RowCodec<DeadLetter> = {
  toJson: (letter) => ({ ...letter, original: letter.original.toString('base64') }),
  fromJson: (json) => {
    const letter = json as Omit<DeadLetter, 'original'> & { original: string };
    return { ...letter, original: Buffer.from(letter.original, 'base64') };
  },
};

/** A chunk stays below this many bytes of JSON (Kafka's default record limit is 1 MB); one larger row is a chunk of its own. */
export const CHUNK_BYTES = 256 * 1024;
/** Rows serialised between two `pace` calls (a few ms of work). */
const SLICE_ROWS = 2000;

/**
 * Encodes values as chunks: each a JSON array of rows under CHUNK_BYTES. With `pace`, it is awaited every
 * SLICE_ROWS rows, so a large batch never holds the event loop for long.
 */
export async function encodeRowChunks<T>(values: readonly T[], codec: RowCodec<T>, pace?: () => Promise<void>): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  let parts: string[] = [];
  let bytes = 2;
  for (let index = 0; index < values.length; index++) {
    if (pace && index > 0 && index % SLICE_ROWS === 0) await pace();
    const text = JSON.stringify(codec.toJson(values[index]!));
    // UTF-16 length bounds UTF-8 bytes from below; times three bounds it from above (well under the record limit).
    if (parts.length > 0 && bytes + text.length * 3 > CHUNK_BYTES) {
      chunks.push(Buffer.from(`[${parts.join(',')}]`));
      parts = [];
      bytes = 2;
    }
    parts.push(text);
    bytes += text.length * 3 + 1;
  }
  if (parts.length > 0) chunks.push(Buffer.from(`[${parts.join(',')}]`));
  return chunks;
}

/** The values of one chunk; a chunk that is not a JSON array of rows throws (it was not written by touchstream). */
export function decodeRowChunk<T>(chunk: Buffer, codec: RowCodec<T>): T[] {
  const rows: unknown = JSON.parse(chunk.toString('utf8'));
  if (!Array.isArray(rows)) throw new TypeError('a row chunk must be a JSON array');
  return rows.map((row) => codec.fromJson(row));
}

// Table rows on a Kafka topic: a batch of output values as JSON chunks (one record holds many rows), and back; the loader turns them into ClickHouse inserts.
import type { DeadLetter } from '../../schemas/outputs.ts';

/** How one output's values travel as JSON: most are plain JSON already; a few carry bytes. */
export interface RowCodec<T> {
  /** The value as JSON-ready data (no Buffers, no class instances). */
  toJson(value: T): unknown;
  fromJson(json: unknown): T;
}

const PLAIN: RowCodec<unknown> = { toJson: (value) => value, fromJson: (json) => json };

/** Values that are plain JSON data (numbers, strings, booleans, null, arrays, objects): serialised as they are. */
export function plainRows<T>(): RowCodec<T> {
  return PLAIN as RowCodec<T>;
}

/** Dead letters: their original bytes travel as base64. */
export const deadLetterRows: RowCodec<DeadLetter> = {
  toJson: (letter) => ({ ...letter, original: letter.original.toString('base64') }),
  fromJson: (json) => {
    const letter = json as Omit<DeadLetter, 'original'> & { original: string };
    return { ...letter, original: Buffer.from(letter.original, 'base64') };
  },
};

/** Rows per chunk: one `JSON.stringify` call each (no string per row), about 100–200 KiB of typical rows. */
export const CHUNK_ROWS = 500;
/** A chunk stays below this many bytes (Kafka's default record limit is 1 MB): a larger one is split in two. */
export const MAX_CHUNK_BYTES = 900 * 1024;

/**
 * Encodes values as chunks: each a JSON array of up to CHUNK_ROWS rows under MAX_CHUNK_BYTES (one row larger than
 * that is a chunk of its own). With `pace`, it is awaited between chunks, so a large batch never holds the event
 * loop for long.
 */
export async function encodeRowChunks<T>(values: readonly T[], codec: RowCodec<T>, pace?: () => Promise<void>): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  const plain = codec.toJson === PLAIN.toJson;
  for (let from = 0; from < values.length; from += CHUNK_ROWS) {
    if (pace && from > 0) await pace();
    const slice = values.slice(from, from + CHUNK_ROWS);
    pushChunks(plain ? slice : slice.map((value) => codec.toJson(value)), chunks);
  }
  return chunks;
}

function pushChunks(rows: readonly unknown[], chunks: Buffer[]): void {
  const chunk = Buffer.from(JSON.stringify(rows));
  if (chunk.length <= MAX_CHUNK_BYTES || rows.length === 1) {
    chunks.push(chunk);
    return;
  }
  const half = rows.length >> 1;
  pushChunks(rows.slice(0, half), chunks);
  pushChunks(rows.slice(half), chunks);
}

/** The values of one chunk; a chunk that is not a JSON array of rows throws (it was not written by touchstream). */
export function decodeRowChunk<T>(chunk: Buffer, codec: RowCodec<T>): T[] {
  const rows: unknown = JSON.parse(chunk.toString('utf8'));
  if (!Array.isArray(rows)) throw new TypeError('a row chunk must be a JSON array');
  return rows.map((row) => codec.fromJson(row));
}

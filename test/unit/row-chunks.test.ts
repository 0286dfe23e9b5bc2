// Pins the row chunks the pipeline writes to a table's row topic: JSON arrays of up to CHUNK_ROWS rows under the record limit, read back as the same values.
import { describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../schemas/outputs.ts';
import { CHUNK_ROWS, MAX_CHUNK_BYTES, deadLetterRows, decodeRowChunk, encodeRowChunks, plainRows } from '../../sinks/rows/row-chunks.ts';

describe('row chunks', () => {
  it('groups rows CHUNK_ROWS at a time and reads them back unchanged, in order', async () => {
    const rows = Array.from({ length: CHUNK_ROWS * 2 + 7 }, (_, index) => ({ id: `r${index}`, n: index, nested: { ok: index % 2 === 0 }, text: 'Grüße 👋' }));
    const chunks = await encodeRowChunks(rows, plainRows());
    expect(chunks.map((chunk) => decodeRowChunk(chunk, plainRows()).length)).toEqual([CHUNK_ROWS, CHUNK_ROWS, 7]);
    expect(chunks.flatMap((chunk) => decodeRowChunk(chunk, plainRows()))).toEqual(rows);
  });

  it('splits a chunk over the record limit in halves, and keeps one oversized row as a chunk of its own', async () => {
    const big = 'x'.repeat(300 * 1024);
    const rows = [{ id: 'a', big }, { id: 'b', big }, { id: 'c', big }, { id: 'd', text: 'y'.repeat(MAX_CHUNK_BYTES + 10) }];
    const chunks = await encodeRowChunks(rows, plainRows());
    expect(chunks.map((chunk) => decodeRowChunk<{ id: string }>(chunk, plainRows()).map((row) => row.id))).toEqual([['a', 'b'], ['c'], ['d']]);
    expect(chunks.slice(0, 2).every((chunk) => chunk.length <= MAX_CHUNK_BYTES)).toBe(true);
  });

  it('carries a dead letter\'s original bytes as base64 and gives them back as bytes', async () => {
    const letter: DeadLetter = {
      reason_code: 'invalid_json', message: 'not JSON', source: 'collector', topic: null, partition: null, offset: null, event_id: null,
      received_at: 1_700_000_000_000, original: Buffer.from([0, 255, 10, 13, 34]),
    };
    const [chunk] = await encodeRowChunks([letter], deadLetterRows);
    expect(JSON.parse(chunk!.toString())[0].original).toBe(Buffer.from([0, 255, 10, 13, 34]).toString('base64'));
    expect(decodeRowChunk(chunk!, deadLetterRows)).toEqual([letter]);
  });

  it('refuses a chunk that is not a JSON array of rows', () => {
    expect(() => decodeRowChunk(Buffer.from('{"id":1}'), plainRows())).toThrow('a row chunk must be a JSON array');
  });
});

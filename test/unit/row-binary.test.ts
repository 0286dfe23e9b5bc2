// Pins the RowBinary bytes the ClickHouse writer sends over HTTP, byte by byte, and when it falls back to JSONEachRow.
import { describe, expect, it } from 'vitest';
import { rowBinary, rowBinarySliced, supportsRowBinary, UnencodableRow } from '../../sinks/clickhouse/row-binary.ts';
import type { Column } from '../../sinks/clickhouse/tables.ts';

const COLUMNS: Column[] = [
  { name: 'id', type: 'string' },
  { name: 'maybe', type: 'nullable_string' },
  { name: 'flag', type: 'bool' },
  { name: 'count', type: 'uint32' },
  { name: 'big', type: 'uint64' },
  { name: 'amount', type: 'float64' },
  { name: 'at', type: 'timestamp' },
  { name: 'ids', type: 'string_array' },
  { name: 'properties', type: 'json' },
];

const ROW = { id: 'ä', maybe: null, flag: true, count: 258, big: 2 ** 32 + 1, amount: 1.5, at: 1_000_001_234, ids: ['a', 'bc'], properties: { k: 1 } };

describe('RowBinary rows', () => {
  it('encodes every column type as ClickHouse reads it (legacy: DateTime seconds)', () => {
    const bytes = [...rowBinary(COLUMNS, 'legacy', [ROW])];
    expect(bytes).toEqual([
      0x02, 0xc3, 0xa4, // String 'ä': length 2, UTF-8
      0x01, // Nullable: null
      0x01, // UInt8 true
      0x02, 0x01, 0x00, 0x00, // UInt32 258
      0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // UInt64 2^32 + 1
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f, // Float64 1.5
      0x41, 0x42, 0x0f, 0x00, // DateTime 1 000 001 s (the milliseconds dropped)
      0x02, 0x01, 0x61, 0x02, 0x62, 0x63, // Array(String) ['a', 'bc']
      0x07, ...Buffer.from('{"k":1}'), // String: the JSON text
    ]);
  });

  it('writes DateTime64(3) as Int64 milliseconds in the modern dialect, and long strings with a multi-byte length', () => {
    const text = 'x'.repeat(200);
    const bytes = rowBinary([{ name: 'at', type: 'timestamp' }, { name: 'text', type: 'nullable_string' }], 'modern', [{ at: 1_000_001_234, text }]);
    expect([...bytes.subarray(0, 12)]).toEqual([0xd2, 0xce, 0x9a, 0x3b, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc8, 0x01, 0x78]);
    expect(bytes.length).toBe(8 + 1 + 2 + 200);
  });

  it('writes ASCII and non-ASCII strings of every length class with their UTF-8 byte length', () => {
    const texts = ['', 'plain', 'abcdé', 'x'.repeat(100), `${'x'.repeat(99)}€`, `€${'x'.repeat(60)}`, 'y'.repeat(127)];
    const columns: Column[] = [{ name: 'text', type: 'string' }];
    for (const text of texts) {
      const utf8 = Buffer.from(text, 'utf8');
      const length = utf8.length < 0x80 ? [utf8.length] : [(utf8.length & 0x7f) | 0x80, utf8.length >> 7];
      expect([...rowBinary(columns, 'legacy', [{ text }])]).toEqual([...length, ...utf8]);
    }
  });

  it('refuses values it would have to interpret, so the writer falls back to JSONEachRow', () => {
    expect(() => rowBinary(COLUMNS, 'legacy', [{ ...ROW, count: '258' }])).toThrow(UnencodableRow);
    expect(() => rowBinary(COLUMNS, 'legacy', [{ ...ROW, id: null }])).toThrow(UnencodableRow);
    expect(() => rowBinary(COLUMNS, 'legacy', [{ ...ROW, amount: Number.NaN }])).toThrow(UnencodableRow);
    expect(supportsRowBinary([{ name: 'x', type: 'no_such_type' as never }], 'legacy')).toBe(false);
  });

  it('builds the same body in slices, a pause between slices (large inserts leave the event loop its turns)', async () => {
    const rows = Array.from({ length: 2500 }, (_, index) => ({ ...ROW, id: `row-${index}`, count: index, ids: index % 2 ? [] : ['x'] }));
    let pauses = 0;
    const sliced = await rowBinarySliced(COLUMNS, 'modern', rows, 1000, async () => void pauses++);
    expect(pauses).toBe(2);
    expect(sliced.equals(rowBinary(COLUMNS, 'modern', rows))).toBe(true);
  });
});

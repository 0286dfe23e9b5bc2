// Encodes rows in ClickHouse's RowBinary format straight into one Buffer: the cheapest insert body to build here and to parse on the server.
import type { DialectName } from './dialect.ts';
import type { Column } from './tables.ts';

/** A value RowBinary cannot carry the way JSONEachRow would (wrong JS type, out of range): the caller falls back. */
export class UnencodableRow extends Error {}

const unencodable = (column: Column, value: unknown): never => {
  throw new UnencodableRow(`column ${column.name} (${column.type}) cannot take ${typeof value} in RowBinary`);
};

const TWO_32 = 2 ** 32;

class Output {
  buffer: Buffer;
  offset = 0;

  constructor(bytes: number) {
    this.buffer = Buffer.allocUnsafe(bytes);
  }

  reserve(bytes: number): void {
    if (this.offset + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.offset + bytes));
    this.buffer.copy(grown, 0, 0, this.offset);
    this.buffer = grown;
  }

  byte(value: number): void {
    this.reserve(1);
    this.buffer[this.offset++] = value;
  }

  uint32(value: number): void {
    this.reserve(4);
    this.buffer.writeUInt32LE(value, this.offset);
    this.offset += 4;
  }

  /** A non-negative safe integer as UInt64/Int64 little-endian, without BigInt. */
  uint64(value: number): void {
    this.reserve(8);
    this.buffer.writeUInt32LE(value % TWO_32, this.offset);
    this.buffer.writeUInt32LE(Math.floor(value / TWO_32), this.offset + 4);
    this.offset += 8;
  }

  float64(value: number): void {
    this.reserve(8);
    this.buffer.writeDoubleLE(value, this.offset);
    this.offset += 8;
  }

  varint(value: number): void {
    this.reserve(10);
    while (value >= 0x80) {
      this.buffer[this.offset++] = (value & 0x7f) | 0x80;
      value = Math.floor(value / 128);
    }
    this.buffer[this.offset++] = value;
  }

  /** A String: LEB128 byte length, then UTF-8 bytes. */
  string(value: string): void {
    const length = value.length;
    if (length < 0x80) {
      // Short ASCII (ids, types, channels, small JSON): copied by hand, cheaper than a Buffer#write call; its byte
      // length is its length, one LEB128 byte. The first other character hands the string to Buffer#write below.
      this.reserve(1 + length);
      const buffer = this.buffer;
      const start = this.offset + 1;
      let index = 0;
      for (; index < length; index++) {
        const code = value.charCodeAt(index);
        if (code >= 0x80) break;
        buffer[start + index] = code;
      }
      if (index === length) {
        buffer[this.offset] = length;
        this.offset = start + length;
        return;
      }
    }
    // Up to 42 UTF-16 units take at most 126 UTF-8 bytes: a one-byte length, written after the bytes are.
    if (length <= 42) {
      this.reserve(1 + value.length * 3);
      const written = this.buffer.write(value, this.offset + 1, 'utf8');
      this.buffer[this.offset] = written;
      this.offset += 1 + written;
      return;
    }
    const bytes = Buffer.byteLength(value, 'utf8');
    this.varint(bytes);
    this.reserve(bytes);
    this.offset += this.buffer.write(value, this.offset, bytes, 'utf8');
  }
}

type Encode = (out: Output, value: unknown) => void;

const isUint32 = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < TWO_32;
const isUint64 = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

function baseEncoder(column: Column, dialect: DialectName): Encode | null {
  switch (column.type) {
    case 'string':
    case 'low_cardinality':
    case 'nullable_string':
    case 'nullable_low_cardinality':
      return (out, value) => (typeof value === 'string' ? out.string(value) : unencodable(column, value));
    case 'json':
      return (out, value) => out.string(typeof value === 'string' ? value : (JSON.stringify(value) ?? unencodable(column, value)));
    case 'bool':
    case 'nullable_bool':
      return (out, value) => out.byte(value ? 1 : 0);
    case 'uint32':
    case 'nullable_uint32':
      return (out, value) => (isUint32(value) ? out.uint32(value) : unencodable(column, value));
    case 'uint64':
      return (out, value) => (isUint64(value) ? out.uint64(value) : unencodable(column, value));
    case 'float64':
    case 'nullable_float64':
      return (out, value) => (typeof value === 'number' && Number.isFinite(value) ? out.float64(value) : unencodable(column, value));
    case 'timestamp':
    case 'nullable_timestamp':
      // legacy: DateTime, UInt32 seconds (JSONEachRow's text drops the milliseconds too); modern: DateTime64(3), Int64 ms.
      return dialect === 'legacy'
        ? (out, value) => (isUint64(value) && isUint32(Math.floor(value / 1000)) ? out.uint32(Math.floor(value / 1000)) : unencodable(column, value))
        : (out, value) => (isUint64(value) ? out.uint64(value) : unencodable(column, value));
    case 'string_array':
      return (out, value) => {
        if (!Array.isArray(value)) return unencodable(column, value);
        out.varint(value.length);
        for (const item of value) (typeof item === 'string' ? out.string(item) : unencodable(column, item));
      };
    default:
      return null;
  }
}

function encoderOf(column: Column, dialect: DialectName): Encode | null {
  const base = baseEncoder(column, dialect);
  if (base === null) return null;
  if (!column.type.startsWith('nullable_')) return base;
  return (out, value) => {
    if (value === null || value === undefined) return out.byte(1);
    out.byte(0);
    base(out, value);
  };
}

const cache = new Map<string, WeakMap<readonly Column[], Encode[] | null>>();

/** Per-column encoders of a table for a dialect, or null when some column type has no RowBinary form here. */
function encodersOf(columns: readonly Column[], dialect: DialectName): Encode[] | null {
  let byColumns = cache.get(dialect);
  if (!byColumns) cache.set(dialect, (byColumns = new WeakMap()));
  let encoders = byColumns.get(columns);
  if (encoders === undefined) {
    const built = columns.map((column) => encoderOf(column, dialect));
    encoders = built.every((encoder) => encoder !== null) ? (built as Encode[]) : null;
    byColumns.set(columns, encoders);
  }
  return encoders;
}

/** Whether every column of the table has a RowBinary form. */
export function supportsRowBinary(columns: readonly Column[], dialect: DialectName): boolean {
  return encodersOf(columns, dialect) !== null;
}

/**
 * The rows as a RowBinary body, columns in table order (name them in the INSERT). Values are what the table sinks
 * hand the writer (numbers, strings, booleans, ms timestamps). Throws UnencodableRow for a value the JSONEachRow path
 * would have to interpret (the writer then uses that path for the batch).
 */
export function rowBinary(columns: readonly Column[], dialect: DialectName, rows: readonly Record<string, unknown>[]): Buffer {
  const encoder = new RowBinaryEncoder(columns, dialect, rows.length);
  encoder.add(rows, 0, rows.length);
  return encoder.body();
}

/**
 * The same body built `sliceRows` rows at a time, awaiting `pause` between slices: a large batch then never holds
 * the event loop for longer than one slice (the rows must not change meanwhile; emitted values never do).
 */
export async function rowBinarySliced(
  columns: readonly Column[], dialect: DialectName, rows: readonly Record<string, unknown>[], sliceRows: number, pause: () => Promise<void>,
): Promise<Buffer> {
  const encoder = new RowBinaryEncoder(columns, dialect, rows.length);
  for (let from = 0; from < rows.length; from += sliceRows) {
    if (from > 0) await pause();
    encoder.add(rows, from, Math.min(rows.length, from + sliceRows));
  }
  return encoder.body();
}

class RowBinaryEncoder {
  readonly #encoders: Encode[];
  readonly #names: string[];
  readonly #out: Output;

  constructor(columns: readonly Column[], dialect: DialectName, rows: number) {
    const encoders = encodersOf(columns, dialect);
    if (encoders === null) throw new UnencodableRow('a column type has no RowBinary form');
    this.#encoders = encoders;
    this.#names = columns.map((column) => column.name);
    this.#out = new Output(Math.max(4096, rows * columns.length * 24));
  }

  add(rows: readonly Record<string, unknown>[], from: number, to: number): void {
    const encoders = this.#encoders;
    const names = this.#names;
    const out = this.#out;
    const count = names.length;
    for (let index = from; index < to; index++) {
      const row = rows[index]!;
      for (let column = 0; column < count; column++) encoders[column]!(out, row[names[column]!] ?? null);
    }
  }

  body(): Buffer {
    return this.#out.buffer.subarray(0, this.#out.offset);
  }
}

// Renders table specs and row values for a ClickHouse generation: `modern` (chDB / current servers) or `legacy` (the 18.16 server).
import type { Column, ColumnType, TableSpec, ViewSpec } from './tables.ts';

export type DialectName = 'modern' | 'legacy';

export interface Dialect {
  readonly name: DialectName;
  /** `columnTtlDays`: columns emptied sooner than their rows expire (modern dialect; legacy has no TTL). */
  createTable(database: string, table: TableSpec, retentionDays: number, columnTtlDays?: Readonly<Record<string, number>>): string;
  /** ALTER TABLE … ADD COLUMN for a column a table created by an earlier version lacks (added last). */
  addColumn(database: string, table: TableSpec, column: Column): string;
  /** CREATE VIEW for the modern dialect; null where the generation cannot run it (legacy). */
  createView(database: string, view: ViewSpec): string | null;
  /** Converts a value to what JSONEachRow expects for the column. */
  encode(type: ColumnType, value: unknown): unknown;
}

const MODERN_TYPES: Record<ColumnType, string> = {
  string: 'String',
  low_cardinality: 'LowCardinality(String)',
  nullable_string: 'Nullable(String)',
  bool: 'UInt8',
  uint32: 'UInt32',
  uint64: 'UInt64',
  float64: 'Float64',
  timestamp: "DateTime64(3, 'UTC')",
  string_array: 'Array(String)',
  json: 'String',
  nullable_low_cardinality: 'LowCardinality(Nullable(String))',
  nullable_bool: 'Nullable(UInt8)',
  nullable_uint32: 'Nullable(UInt32)',
  nullable_float64: 'Nullable(Float64)',
  nullable_timestamp: "Nullable(DateTime64(3, 'UTC'))",
};

// 18.16 has no DateTime64, TTL, or (without a flag) LowCardinality: seconds and plain strings there.
const LEGACY_TYPES: Record<ColumnType, string> = {
  ...MODERN_TYPES,
  low_cardinality: 'String',
  timestamp: 'DateTime',
  nullable_low_cardinality: 'Nullable(String)',
  nullable_timestamp: 'Nullable(DateTime)',
};

/** Column codecs (after the comment, as ClickHouse's grammar wants): JSON text compresses well with ZSTD. */
const MODERN_CODECS: Partial<Record<ColumnType, string>> = { json: 'ZSTD(3)' };

/** The last second rendered: rows of a batch mostly share their second, so its text is built once. */
let cachedSecond = Number.NaN;
let cachedSecondText = '';
const MILLIS = Array.from({ length: 1000 }, (_, millis) => `.${String(millis).padStart(3, '0')}`);

/** 'YYYY-MM-DD hh:mm:ss.mmm' in UTC, what DateTime64(3) parses in JSONEachRow. */
function timestampText(ms: number, withMillis: boolean): string {
  if (!Number.isSafeInteger(ms) || ms < 0) {
    const iso = new Date(ms).toISOString();
    return withMillis ? `${iso.slice(0, 10)} ${iso.slice(11, 23)}` : `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
  }
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    const iso = new Date(second * 1000).toISOString();
    cachedSecondText = `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
    cachedSecond = second;
  }
  return withMillis ? cachedSecondText + MILLIS[ms - second * 1000]! : cachedSecondText;
}

function dialect(name: DialectName): Dialect {
  const types = name === 'modern' ? MODERN_TYPES : LEGACY_TYPES;
  const quote = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const columnDdl = (column: Column, ttl?: string) =>
    `\`${column.name}\` ${types[column.type]}${column.comment ? ` COMMENT ${quote(column.comment)}` : ''}` +
    (name === 'modern' && (column.codec ?? MODERN_CODECS[column.type]) ? ` CODEC(${column.codec ?? MODERN_CODECS[column.type]})` : '') +
    (name === 'modern' && ttl ? ` TTL ${ttl}` : '');
  return {
    name,
    createTable(database, table, retentionDays, columnTtlDays = {}) {
      const columnTtl = (column: Column) => {
        const days = columnTtlDays[column.name];
        return days === undefined ? undefined : `toDateTime(${table.ttlColumn}) + INTERVAL ${days} DAY`;
      };
      const ttl = name === 'modern' ? `\nTTL toDateTime(${table.ttlColumn}) + INTERVAL ${retentionDays} DAY` : '';
      const comment = name === 'modern' ? `\nCOMMENT ${quote(table.comment)}` : '';
      return (
        `CREATE TABLE IF NOT EXISTS \`${database}\`.\`${table.name}\` (\n  ${table.columns.map((column) => columnDdl(column, columnTtl(column))).join(',\n  ')}\n)` +
        `\nENGINE = ${table.engine?.kind === 'summing' ? `SummingMergeTree((${table.engine.columns.join(', ')}))` : 'ReplacingMergeTree'}\nPARTITION BY ${table.partitionBy}\nORDER BY (${table.orderBy.join(', ')})${ttl}${comment}`
      );
    },
    addColumn(database, table, column) {
      return `ALTER TABLE \`${database}\`.\`${table.name}\` ADD COLUMN ${columnDdl(column)}`;
    },
    createView(database, view) {
      if (name !== 'modern') return null;
      return `CREATE VIEW IF NOT EXISTS \`${database}\`.\`${view.name}\` AS\n${view.select(database)}\nCOMMENT ${quote(view.comment)}`;
    },
    encode(type, value) {
      switch (type) {
        case 'timestamp':
          return timestampText(value as number, name === 'modern');
        case 'nullable_timestamp':
          return value === null ? null : timestampText(value as number, name === 'modern');
        case 'nullable_bool':
          return value === null ? null : value ? 1 : 0;
        case 'bool':
          return value ? 1 : 0;
        case 'json':
          return typeof value === 'string' ? value : JSON.stringify(value);
        default:
          return value;
      }
    },
  };
}

export const DIALECTS: Record<DialectName, Dialect> = { modern: dialect('modern'), legacy: dialect('legacy') };

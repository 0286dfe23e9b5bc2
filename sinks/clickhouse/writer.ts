// Creates the touchstream tables and inserts rows, over whichever ClickHouse connection it is given.
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import { TouchstreamError } from '../../schemas/errors.ts';
import type { ClickHouseConnection } from './connection.ts';
import { asDataDirError } from './connection.ts';
import type { Dialect } from './dialect.ts';
import { DIALECTS } from './dialect.ts';
import type { RetentionPolicy } from './retention.ts';
import { checkRetentionPolicy, columnRetentionDays, DEFAULT_DEAD_LETTER_BYTES_DAYS, tableRetentionDays } from './retention.ts';
import { rowBinary, rowBinarySliced, supportsRowBinary, UnencodableRow } from './row-binary.ts';
import type { TableSpec, ViewSpec } from './tables.ts';
import { TABLES, VIEWS } from './tables.ts';
import { redactServerMessage } from './server-message.ts';

/** What the writer reports per insert (the engine's metrics surface satisfies it). */
export interface InsertMetrics {
  count(name: string, value: number, labels?: Record<string, string>): void;
  observe(name: string, value: number, labels?: Record<string, string>): void;
}

export interface ClickHouseWriterOptions {
  database: string;
  /** Retention TTL of every table, in days (modern dialect). */
  retentionDays?: number;
  /** Retention per table and of dead letters' bytes (over `retentionDays`); see retention.ts. */
  retention?: RetentionPolicy;
  metrics?: InsertMetrics;
}

/** Server error codes worth retrying: overload, timeouts, network, too many parts. */
const RETRIABLE_SERVER_CODES = new Set(['159', '164', '202', '209', '210', '241', '242', '252', '285', '319', '425', '999', '1000']);

/** Rows encoded between two `pace` calls (a few ms of work): a large insert must not stall a live job's processing. */
const SLICE_ROWS = 1000;

/** Awaited between slices of a large insert's encoding (the engine's pacing: a turn of its event loop, or nothing). */
export type Pace = () => Promise<void>;

export class ClickHouseWriter {
  readonly client: ClickHouseClient;
  readonly dialect: Dialect;
  readonly database: string;
  readonly retention: RetentionPolicy;
  readonly #metrics: InsertMetrics | undefined;

  constructor(
    readonly connection: ClickHouseConnection,
    options: ClickHouseWriterOptions,
  ) {
    this.client = connection.client;
    this.dialect = DIALECTS[connection.dialect];
    this.database = options.database;
    this.retention = options.retention ?? { defaultDays: options.retentionDays ?? 395, deadLetterBytesDays: DEFAULT_DEAD_LETTER_BYTES_DAYS };
    checkRetentionPolicy(this.retention);
    this.#metrics = options.metrics;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(this.database)) {
      throw new TouchstreamError('invalid_config', `clickhouse database name "${this.database}" must be an identifier`);
    }
  }

  /** Creates the database and every table and view that does not exist yet (idempotent). */
  async migrate(tables: readonly TableSpec[] = TABLES, views: readonly ViewSpec[] = VIEWS): Promise<void> {
    await this.#run(() => this.client.command({ query: `CREATE DATABASE IF NOT EXISTS \`${this.database}\`` }));
    for (const table of tables) {
      const query = this.dialect.createTable(this.database, table, tableRetentionDays(this.retention, table), columnRetentionDays(this.retention, table));
      await this.#run(() => this.client.command({ query }));
      await this.#addMissingColumns(table);
    }
    for (const view of views) {
      const query = this.dialect.createView(this.database, view);
      if (query) await this.#run(() => this.client.command({ query }));
    }
  }

  /**
   * Inserts rows whose keys are the table's column names; values are converted for the dialect here. Over HTTP the
   * body is RowBinary built straight into one Buffer (cheapest to build and for the server to parse); embedded chDB
   * takes JSONCompactEachRow (modern) text; JSONEachRow objects are the fallback for values RowBinary cannot carry.
   * With `pace`, a RowBinary body is built 1,000 rows at a time, awaiting it between slices.
   */
  async insert(table: TableSpec, rows: readonly Record<string, unknown>[], pace?: Pace): Promise<void> {
    if (rows.length === 0) return;
    const started = performance.now();
    const labels = { table: table.name };
    try {
      await this.#insert(table, rows, pace);
    } catch (error) {
      this.#metrics?.count('touchstream_clickhouse_insert_errors_total', 1, { ...labels, retriable: String((error as TouchstreamError).retriable === true) });
      throw error;
    }
    this.#metrics?.count('touchstream_clickhouse_insert_rows_total', rows.length, labels);
    this.#metrics?.observe('touchstream_clickhouse_insert_seconds', (performance.now() - started) / 1000, labels);
  }

  async #insert(table: TableSpec, rows: readonly Record<string, unknown>[], pace: Pace | undefined): Promise<void> {
    const target = `\`${this.database}\`.\`${table.name}\``;
    if (this.connection.path === undefined && supportsRowBinary(table.columns, this.dialect.name)) {
      let body: Buffer | null = null;
      try {
        body = pace ? await rowBinarySliced(table.columns, this.dialect.name, rows, SLICE_ROWS, pace) : rowBinary(table.columns, this.dialect.name, rows);
      } catch (error) {
        if (!(error instanceof UnencodableRow)) throw error;
      }
      if (body !== null) {
        const columns = table.columns.map((column) => `\`${column.name}\``).join(', ');
        const payload = body;
        await this.#run(async () => {
          const result = await this.client.exec({ query: `INSERT INTO ${target} (${columns}) FORMAT RowBinary`, values: Readable.from([payload]) });
          result.stream.resume();
          await finished(result.stream);
        });
        return;
      }
    }
    const columns = table.columns;
    const compact = this.dialect.name === 'modern';
    const values = new Array<unknown>(rows.length);
    for (let index = 0; index < rows.length; index++) {
      const row = rows[index]!;
      if (compact) {
        const encoded = new Array<unknown>(columns.length);
        for (let column = 0; column < columns.length; column++) encoded[column] = this.dialect.encode(columns[column]!.type, row[columns[column]!.name] ?? null);
        values[index] = encoded;
      } else {
        const encoded: Record<string, unknown> = {};
        for (const column of columns) encoded[column.name] = this.dialect.encode(column.type, row[column.name] ?? null);
        values[index] = encoded;
      }
    }
    await this.#run(() =>
      compact
        ? this.client.insert({ table: target, columns: columns.map((column) => column.name) as [string, ...string[]], values, format: 'JSONCompactEachRow' })
        : this.client.insert({ table: target, values, format: 'JSONEachRow' }),
    );
  }

  /** A table created by an earlier version gets the columns added since (schema evolution adds columns only). */
  async #addMissingColumns(table: TableSpec): Promise<void> {
    const quoted = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
    const existing = await this.rows<{ name: string }>(
      `SELECT name FROM system.columns WHERE database = ${quoted(this.database)} AND table = ${quoted(table.name)}`,
    );
    const names = new Set(existing.map((column) => column.name));
    for (const column of table.columns) {
      if (!names.has(column.name)) await this.#run(() => this.client.command({ query: this.dialect.addColumn(this.database, table, column) }));
    }
  }

  /** Runs a query and answers the rows as objects. */
  async rows<T = Record<string, unknown>>(query: string): Promise<T[]> {
    return this.#run(async () => {
      const result = await this.client.query({ query, format: 'JSONEachRow' });
      return (await result.json()) as T[];
    });
  }

  /** Runs a statement that answers no rows (DDL, mutations); `params` bind `{name:Type}` placeholders (modern servers). */
  async command(query: string, params?: Record<string, unknown>): Promise<void> {
    await this.#run(() => this.client.command({ query, ...(params ? { query_params: params } : {}) }));
  }

  /** Runs a query with bound `{name:Type}` parameters (modern servers) and answers the rows as objects. */
  async rowsWith<T = Record<string, unknown>>(query: string, params: Record<string, unknown>): Promise<T[]> {
    return this.#run(async () => {
      const result = await this.client.query({ query, format: 'JSONEachRow', query_params: params });
      return (await result.json()) as T[];
    });
  }

  /** Runs a query and answers the text in any ClickHouse output format (PrettyCompact, CSV, JSONEachRow…). */
  async text(query: string, format: string): Promise<string> {
    if (!/^[A-Za-z]+$/.test(format)) throw new TouchstreamError('invalid_format', `"${format}" is not a ClickHouse format name`);
    return this.#run(async () => {
      const result = await this.client.exec({ query: `${query.trim().replace(/;$/, '')}\nFORMAT ${format}`, clickhouse_settings: { output_format_pretty_color: 0 } as never });
      const chunks: Buffer[] = [];
      for await (const chunk of result.stream) chunks.push(Buffer.from(chunk as Buffer));
      return Buffer.concat(chunks).toString('utf8');
    });
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  async #run<T>(action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      const located = this.connection.path ? asDataDirError(error, this.connection.path) : error;
      throw classify(located, this.connection.describe);
    }
  }
}

/** Turns client and server failures into typed errors the runner's retry policy reads. */
function classify(error: unknown, where: string): TouchstreamError {
  if (error instanceof TouchstreamError) return error;
  const failure = error as { code?: string; message?: string; type?: string };
  const code = String(failure.code ?? '');
  // The server's text may quote the rows it refused: only a redacted copy goes on (a logged error prints its cause too).
  const message = redactServerMessage(String(failure.message ?? ''));
  const cause = Object.assign(new Error(message), code ? { code } : {});
  const network = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|socket hang up|Timeout error/i.test(`${code} ${failure.message}`);
  if (network || RETRIABLE_SERVER_CODES.has(code)) {
    return new TouchstreamError('clickhouse_unavailable', `${where}: ${message}`, true, { cause });
  }
  return new TouchstreamError('clickhouse_error', `${where}: ${message}${code ? ` (code ${code})` : ''}`, false, { cause });
}

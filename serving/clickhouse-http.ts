// A read-only ClickHouse-compatible HTTP endpoint (GET /?query=…, POST /, /ping) over an SQL executor the composition root passes in.
import { randomUUID } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { readOnlyViolation } from './read-only.ts';
export { ClickHouseHttpError } from './clickhouse-error.ts';

/** One query as the ClickHouse HTTP interface describes it. */
export interface SqlRequest {
  query: string;
  /** The output format when the query has no FORMAT clause (`default_format`, else TabSeparated). */
  format: string;
  /** `database`: the default database for unqualified table names. */
  database?: string;
  /** Settings from the URL (`max_result_rows=…`), without the HTTP interface's own parameters. */
  settings: Record<string, string>;
  /** Query parameters (`param_x=…` for `{x:Type}`), by name without the prefix. */
  params: Record<string, string>;
}

/**
 * Runs one read-only query and answers the formatted bytes; fails with an error whose message is ClickHouse's
 * (`Code: N. DB::Exception: … (NAME)`), which the endpoint answers with ClickHouse's HTTP status.
 */
export type SqlExecutor = (request: SqlRequest) => Promise<Buffer>;

export interface ClickHouseHttpOptions {
  execute: SqlExecutor;
  /** Where a browser that opens `/` without a query is sent (the live page); others get ClickHouse's "Ok.". */
  browserHome?: string;
}

/** URL parameters of the HTTP interface itself, never settings (ClickHouse docs, "HTTP interface"). */
const HTTP_PARAMETERS = new Set([
  'query', 'database', 'default_format', 'user', 'password', 'query_id', 'session_id', 'session_timeout', 'session_check',
  'compress', 'decompress', 'quota_key', 'buffer_size', 'wait_end_of_query', 'enable_http_compression', 'http_zlib_compression_level',
  'send_progress_in_http_headers', 'http_headers_progress_interval_ms', 'http_response_buffer_size', 'role', 'default_role',
  'cancel_http_readonly_queries_on_client_close', 'http_wait_end_of_query', 'http_write_exception_in_output_format',
  'output_format_pretty_color_default', 'client_protocol_version',
]);

/** ClickHouse's exceptionCodeToHTTPStatus for the codes a read-only query meets; anything else is 500, as there. */
const STATUS_OF_CODE: Record<number, number> = {
  36: 400, 6: 400, 27: 400, 38: 400, 41: 400, 44: 400, 53: 400, 62: 400, 117: 400, 167: 400, 168: 400, 8: 400, 69: 400,
  46: 404, 47: 404, 50: 404, 56: 404, 60: 404, 63: 404, 73: 404, 79: 404, 81: 404, 115: 404,
  48: 501, 159: 408, 209: 503, 202: 503,
};

/** Content types ClickHouse answers for the common formats. */
function contentTypeOf(format: string): string {
  const name = format.toLowerCase();
  if (name.startsWith('json')) return name.includes('eachrow') || name.includes('lines') ? 'application/x-ndjson; charset=UTF-8' : 'application/json; charset=UTF-8';
  if (name.startsWith('csv')) return 'text/csv; charset=UTF-8; header=' + (name.includes('names') ? 'present' : 'absent');
  if (name.startsWith('tabseparated') || name.startsWith('tsv')) return 'text/tab-separated-values; charset=UTF-8';
  if (['rowbinary', 'native', 'parquet', 'arrow', 'arrowstream', 'orc', 'avro', 'protobuf', 'msgpack'].some((binary) => name.startsWith(binary))) return 'application/octet-stream';
  return 'text/plain; charset=UTF-8';
}

/** The format a query asks for with a trailing FORMAT clause, if any. */
function formatClauseOf(query: string): string | undefined {
  return /\bFORMAT\s+([A-Za-z][A-Za-z0-9]*)\s*;?\s*$/i.exec(query)?.[1];
}

function parseFailure(error: unknown): { code: number; text: string } {
  const message = error instanceof Error ? error.message : String(error);
  const code = Number(/Code:\s*(\d+)/.exec(message)?.[1] ?? (error as { code?: unknown })?.code ?? 1002);
  const text = /Code:\s*\d+/.test(message) ? message : `Code: ${Number.isFinite(code) ? code : 1002}. DB::Exception: ${message}. (UNKNOWN_EXCEPTION)`;
  return { code: Number.isFinite(code) ? code : 1002, text: text.endsWith('\n') ? text : `${text}\n` };
}

function bodyText(request: FastifyRequest): string {
  const raw = request.body;
  if (!Buffer.isBuffer(raw) || raw.length === 0) return '';
  const encoding = String(request.headers['content-encoding'] ?? '').toLowerCase();
  return (encoding === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
}

/** Registers GET/POST / and GET /ping. Errors are answered, never thrown to fastify (clients parse ClickHouse's text). */
export const clickHouseHttp: FastifyPluginAsync<ClickHouseHttpOptions> = async (app, options) => {
  // The body is the query (or its tail) in whatever content type a client sends: curl's form type, text, octet-stream.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 16 * 1024 * 1024 }, (_request, body, done) => done(null, body));

  app.get('/ping', async (_request, reply) => reply.type('text/plain; charset=UTF-8').send('Ok.\n'));

  const handle = async (request: FastifyRequest, reply: FastifyReply) => {
    const url = request.query as Record<string, string | string[] | undefined>;
    const one = (name: string) => {
      const value = url[name];
      return Array.isArray(value) ? value.at(-1) : value;
    };
    const queryId = one('query_id') ?? randomUUID();
    const head = one('query') ?? '';
    const tail = request.method === 'POST' ? bodyText(request) : '';
    const query = head && tail ? `${head}\n${tail}` : head || tail;
    if (!query.trim()) {
      if (request.method === 'GET' && options.browserHome && String(request.headers.accept ?? '').includes('text/html')) return reply.redirect(options.browserHome);
      return reply.type('text/plain; charset=UTF-8').send('Ok.\n');
    }
    const settings: Record<string, string> = {};
    const params: Record<string, string> = {};
    for (const [name, value] of Object.entries(url)) {
      const text = Array.isArray(value) ? value.at(-1) : value;
      if (text === undefined) continue;
      if (name.startsWith('param_')) params[name.slice('param_'.length)] = text;
      else if (!HTTP_PARAMETERS.has(name)) settings[name] = text;
    }
    const format = one('default_format') ?? 'TabSeparated';
    const compress = one('enable_http_compression') === '1' && /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
    const answerFormat = formatClauseOf(query) ?? format;
    reply.header('X-ClickHouse-Query-Id', queryId).header('X-ClickHouse-Timezone', 'UTC').header('X-ClickHouse-Server-Display-Name', 'touchstream');
    try {
      const violation = readOnlyViolation(query, settings);
      if (violation) throw violation;
      const database = one('database');
      const body = await options.execute({ query, format, settings, params, ...(database ? { database } : {}) });
      reply.header('X-ClickHouse-Format', answerFormat).header('X-ClickHouse-Summary', JSON.stringify({ read_rows: '0', read_bytes: '0', written_rows: '0', written_bytes: '0', total_rows_to_read: '0', result_rows: '0', result_bytes: String(body.length) }));
      reply.type(contentTypeOf(answerFormat));
      if (compress) return reply.header('content-encoding', 'gzip').send(gzipSync(body));
      return reply.send(body);
    } catch (error) {
      const { code, text } = parseFailure(error);
      return reply
        .code(STATUS_OF_CODE[code] ?? 500)
        .header('X-ClickHouse-Exception-Code', String(code))
        .type('text/plain; charset=UTF-8')
        .send(text);
    }
  };
  app.get('/', handle);
  app.post('/', handle);
};

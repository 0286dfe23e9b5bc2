// Live SQL in embedded mode: runs the endpoint's read-only queries on chDB inside the process that holds the data directory, and tells other processes where to find it.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Session } from 'chdb';
import type { SqlExecutor } from '../serving/clickhouse-http.ts';

/** Settings of ClickHouse's HTTP layer with no meaning inside chDB (it rejects them as unknown). */
const HTTP_ONLY_SETTINGS = new Set(['wait_end_of_query', 'send_progress_in_http_headers', 'http_response_buffer_size', 'http_headers_progress_interval_ms', 'http_send_progress_interval_ms', 'http_zlib_compression_level', 'http_response_compression_method', 'http_native_compression_disable_checksumming_on_decompress', 'readonly']);

const quote = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * Each query gets a chDB session of its own on the data directory the pipeline holds (chDB lets sessions of one
 * process share it): its settings and `USE` cannot leak into the pipeline's session or the next query, and the
 * session is switched to readonly=1 before the query runs, so the engine itself refuses writes, DDL and the file and
 * URL table functions. At most `concurrency` queries run at once beside the pipeline.
 */
export function embeddedSqlExecutor(path: string, concurrency = 4): SqlExecutor {
  let running = 0;
  const waiting: Array<() => void> = [];
  const acquire = async () => {
    if (running >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
  };
  const release = () => {
    running--;
    waiting.shift()?.();
  };
  return async (request) => {
    await acquire();
    const session = new Session(path);
    try {
      const setup: string[] = [];
      for (const [name, value] of Object.entries(request.settings)) {
        if (HTTP_ONLY_SETTINGS.has(name)) continue;
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`Code: 115. DB::Exception: Unknown setting '${name}'. (UNKNOWN_SETTING)`);
        setup.push(`SET ${name} = ${/^-?\d+(\.\d+)?$/.test(value) ? value : quote(value)}`);
      }
      if (request.database) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(request.database)) throw new Error(`Code: 81. DB::Exception: Database ${request.database} does not exist. (UNKNOWN_DATABASE)`);
        setup.push(`USE \`${request.database}\``);
      }
      setup.push('SET readonly = 1');
      await session.queryAsync(setup.join('; '));
      const options = { format: request.format };
      const result = Object.keys(request.params).length > 0
        ? await session.queryBindAsync(request.query, request.params, options)
        : await session.queryAsync(request.query, options);
      return Buffer.from(result.bytes());
    } finally {
      session.close();
      release();
    }
  };
}

/** The file in a data directory that says where the process holding it serves live SQL. */
export const liveEndpointFile = (dataDir: string) => join(dataDir, 'serving.json');

export interface LiveEndpoint {
  url: string;
  pid: number;
  startedAt: string;
}

/** Written once the server listens; removed at exit (and on process exit, should close never run). */
export function announceLiveEndpoint(dataDir: string, url: string): () => void {
  const file = liveEndpointFile(dataDir);
  const endpoint: LiveEndpoint = { url, pid: process.pid, startedAt: new Date().toISOString() };
  writeFileSync(file, `${JSON.stringify(endpoint)}\n`);
  const remove = () => {
    try {
      if ((JSON.parse(readFileSync(file, 'utf8')) as LiveEndpoint).pid === process.pid) rmSync(file, { force: true });
    } catch {
      // gone already, or another process took the directory over
    }
  };
  process.once('exit', remove);
  return () => {
    process.off('exit', remove);
    remove();
  };
}

/**
 * The live endpoint of the process holding `dataDir`, or undefined. A stale file (its process gone, or not
 * answering /ping) is removed when its process is gone and ignored otherwise.
 */
export async function findLiveEndpoint(dataDir: string): Promise<string | undefined> {
  const file = liveEndpointFile(dataDir);
  let endpoint: LiveEndpoint;
  try {
    endpoint = JSON.parse(readFileSync(file, 'utf8')) as LiveEndpoint;
  } catch {
    return undefined;
  }
  try {
    process.kill(endpoint.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') rmSync(file, { force: true });
    return undefined;
  }
  try {
    const answer = await fetch(`${endpoint.url}/ping`, { signal: AbortSignal.timeout(2000) });
    return answer.ok && (await answer.text()).startsWith('Ok.') ? endpoint.url : undefined;
  } catch {
    return undefined;
  }
}

/** Runs one query on a live endpoint (what `touchstream query` does while a pipeline holds the directory). */
export async function queryLiveEndpoint(url: string, sql: string, format: string): Promise<string> {
  const target = new URL(url);
  target.searchParams.set('default_format', format);
  target.searchParams.set('output_format_pretty_color', '0');
  const answer = await fetch(target, { method: 'POST', body: sql, headers: { 'content-type': 'text/plain; charset=UTF-8' } });
  const text = await answer.text();
  if (!answer.ok) throw Object.assign(new Error(`${url}: ${text.trim()}`), { code: 'clickhouse_error' });
  return text;
}

// The two ways to reach ClickHouse with one @clickhouse/client code path: HTTP to a server, or chDB embedded in this process.
import { createClient } from '@clickhouse/client';
import type { ClickHouseClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import { TouchstreamError } from '../../schemas/errors.ts';
import type { DialectName } from './dialect.ts';

export type ClickHouseTarget =
  | { kind: 'http'; url: string; username?: string; password?: string; dialect?: DialectName; /** gzip bodies (default true). */ compression?: boolean }
  | { kind: 'embedded'; path: string };

export interface ClickHouseConnection {
  client: ClickHouseClient;
  dialect: DialectName;
  describe: string;
  /** The embedded data directory, when embedded. */
  path?: string;
}

export function connectClickHouse(target: ClickHouseTarget): ClickHouseConnection {
  if (target.kind === 'http') {
    const client = createClient({
      url: target.url,
      username: target.username ?? 'default',
      password: target.password ?? '',
      compression: { request: target.compression ?? true, response: target.compression ?? true },
      request_timeout: 30_000,
    });
    return { client, dialect: target.dialect ?? 'modern', describe: `ClickHouse at ${target.url}` };
  }
  try {
    const client = createClient({ connection: createChdbConnection({ path: target.path }) } as never);
    return { client, dialect: 'modern', describe: `embedded ClickHouse (chDB) in ${target.path}`, path: target.path };
  } catch (error) {
    throw asDataDirError(error, target.path);
  }
}

/** chDB allows one process per data directory: say so plainly instead of the engine's lock message. */
export function asDataDirError(error: unknown, path: string): unknown {
  if (error instanceof TouchstreamError) return error;
  const message = `${(error as Error)?.message ?? ''} ${(error as { code?: string })?.code ?? ''}`;
  // chDB prints the lock failure (Code 76) to stderr and then fails to create the connection.
  if (/Cannot lock file|Code: 76|already running|CHDB_CONNECTION|Failed to create connection/i.test(message)) {
    return new TouchstreamError(
      'data_dir_locked',
      `The embedded ClickHouse data directory ${path} is in use by another touchstream process (chDB allows one process per data directory). ` +
        'Stop that process or query through it, or use another --data-dir.',
      false,
      { cause: error },
    );
  }
  return error;
}

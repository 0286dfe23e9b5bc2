// What integration tests need from the infrastructure the project starts (ops/test.sh); missing means fail, never skip.
import { randomBytes } from 'node:crypto';

export function requireEnvironment(
  name: 'TOUCHSTREAM_TEST_KAFKA_BROKERS' | 'TOUCHSTREAM_TEST_CLICKHOUSE_URL' | 'TOUCHSTREAM_TEST_SCHEMA_REGISTRY_URL' | 'TOUCHSTREAM_TEST_INFRA',
): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: integration tests run against the real servers that \`npm test\` (ops/test.sh) starts`);
  }
  return value;
}

/** A short random suffix so each test run has its own topics, groups and database. */
export function runId(): string {
  return randomBytes(4).toString('hex');
}

/** Polls until `check` answers a value, or fails after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

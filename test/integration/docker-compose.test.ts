// Checks that docker-compose.yml is a valid Compose file declaring the kafka, clickhouse and touchstream services.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';

const composeFile = fileURLToPath(new URL('../../docker-compose.yml', import.meta.url));

// Runs `docker-compose -f docker-compose.yml ARGS` and returns its exit status and output (no Docker engine needed).
function compose(...args: string[]): { status: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync('docker-compose', ['-f', composeFile, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    return { status: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status?: number | null; stdout?: string; stderr?: string; message: string };
    return { status: e.status ?? -1, stdout: e.stdout ?? '', stderr: e.stderr || e.message };
  }
}

describe('docker-compose.yml', () => {
  it('is valid according to `docker-compose config -q`', () => {
    const result = compose('config', '-q');
    expect(result.status, result.stderr).toBe(0);
  });

  it('declares the kafka, clickhouse and touchstream services', () => {
    const result = compose('config', '--services');
    expect(result.status, result.stderr).toBe(0);
    const services = result.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
    expect(services).toEqual(expect.arrayContaining(['kafka', 'clickhouse', 'touchstream']));
  });
});

// Checks that docker-compose.yml is a valid Compose file declaring the kafka, clickhouse, touchstream, prometheus and grafana services.
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

  it('declares the kafka, clickhouse, touchstream, prometheus and grafana services', () => {
    const result = compose('config', '--services');
    expect(result.status, result.stderr).toBe(0);
    const services = result.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
    expect(services).toEqual(expect.arrayContaining(['kafka', 'clickhouse', 'touchstream', 'prometheus', 'grafana']));
  });
});

describe('the Grafana dashboard', () => {
  it('is valid JSON whose every panel queries a touchstream metric', async () => {
    const { readFileSync } = await import('node:fs');
    const dashboard = JSON.parse(readFileSync(new URL('../../ops/grafana/provisioning/dashboards/touchstream.json', import.meta.url), 'utf8')) as {
      panels: Array<{ title: string; type?: string; targets: Array<{ expr: string }> }>;
    };
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(10);
    // Rows group panels and query nothing; every other panel must chart a touchstream metric.
    for (const panel of dashboard.panels.filter((candidate) => candidate.type !== 'row')) {
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets) expect(target.expr, panel.title).toMatch(/touchstream_/);
    }
  });
});

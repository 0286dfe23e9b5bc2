// Checks that docker-compose.yml is a valid Compose file declaring the kafka, clickhouse, registry, touchstream, prometheus and grafana services.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { parse } from 'yaml';

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

  it('declares the kafka, clickhouse, registry, touchstream, prometheus and grafana services', () => {
    const result = compose('config', '--services');
    expect(result.status, result.stderr).toBe(0);
    const services = result.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
    expect(services).toEqual(expect.arrayContaining(['kafka', 'clickhouse', 'registry', 'touchstream', 'prometheus', 'grafana']));
  });

  it('runs the Apicurio registry on Kafka and points touchstream at its Confluent-compatible API', () => {
    const result = compose('config');
    expect(result.status, result.stderr).toBe(0);
    const { services } = parse(result.stdout) as {
      services: Record<string, { image?: string; command?: string[]; environment?: Record<string, string>; ports?: unknown[]; depends_on?: Record<string, { condition: string }> }>;
    };
    expect(services.registry!.image).toMatch(/^apicurio\/apicurio-registry:3\./);
    expect(services.registry!.environment).toMatchObject({ APICURIO_STORAGE_KIND: 'kafkasql', APICURIO_KAFKASQL_BOOTSTRAP_SERVERS: 'kafka:9092' });
    expect(JSON.stringify(services.registry!.ports)).toContain('8081');
    expect(services.touchstream!.environment!.TOUCHSTREAM_SCHEMA_REGISTRY_URL).toBe('http://registry:8080/apis/ccompat/v7');
    expect(services.touchstream!.depends_on!.registry).toEqual({ condition: 'service_healthy' });
  });

  it('starts touchstream with node itself, so SIGTERM reaches it and it drains (npx would swallow it)', async () => {
    const result = compose('config');
    expect(result.status, result.stderr).toBe(0);
    const { services } = parse(result.stdout) as { services: Record<string, { command?: string[] }> };
    expect(services.touchstream!.command).toEqual(['node', 'bin/touchstream.mjs', 'run']);
    const { readFileSync } = await import('node:fs');
    const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
    expect(dockerfile).toMatch(/^CMD \["node", "bin\/touchstream\.mjs", "run"\]$/m);
    expect(dockerfile.split('\n').filter((line) => !line.startsWith('#')).join('\n')).not.toMatch(/npx/);
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

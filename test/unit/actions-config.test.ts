// Pins the destinations file: the documented shape parses as written, mistakes fail naming the field path and the rule, secrets come from the environment and are never printed.
import { inspect } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadDestinationsFile, parseDestinations } from '../../actions/destinations.ts';
import { Secret } from '../../actions/secret.ts';
import { actionRoutingOf, loadConfig } from '../../app/config.ts';

const DOCUMENTED = `
destinations:
  ops-webhook: { type: webhook, url: "http://127.0.0.1:9999/actions", timeoutMs: 2000, maxAttempts: 8 }
actions:
  support_case: ops-webhook
  rnd_ticket: ops-webhook
  crm_update: ops-webhook
`;

const failure = (document: unknown, env: Record<string, string> = {}) => {
  try {
    parseDestinations(document, env);
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected a failure');
};

describe('destinations file', () => {
  it('parses the documented shape as written, with the defaults filled in', () => {
    const dir = mkdtempSync(join(tmpdir(), 'touchstream-destinations-'));
    writeFileSync(join(dir, 'destinations.yaml'), DOCUMENTED);
    const routing = loadDestinationsFile(join(dir, 'destinations.yaml'), {});
    expect([...routing.actions]).toEqual([['support_case', 'ops-webhook'], ['rnd_ticket', 'ops-webhook'], ['crm_update', 'ops-webhook']]);
    const destination = routing.destinations.get('ops-webhook')!;
    expect(destination.config).toMatchObject({ type: 'webhook', url: 'http://127.0.0.1:9999/actions', timeoutMs: 2000, maxAttempts: 8 });
    expect(destination.backoff).toEqual({ initialMs: 500, maxMs: 60_000, multiplier: 2 });
    expect(destination.rateLimit).toEqual({ perSecond: 20, burst: 20 });
    expect(destination.circuitBreaker).toEqual({ failureThreshold: 5, resetMs: 30_000 });
    // JSON is YAML: the same file as JSON works too.
    writeFileSync(join(dir, 'destinations.json'), JSON.stringify(parseYaml(DOCUMENTED)));
    expect(loadDestinationsFile(join(dir, 'destinations.json'), {}).destinations.get('ops-webhook')!.config).toEqual(destination.config);
  });

  it('names the field path and the rule of each mistake', () => {
    const base = parseYaml(DOCUMENTED) as { destinations: Record<string, Record<string, unknown>>; actions: Record<string, string> };
    const unknownDestination = failure({ ...base, actions: { support_case: 'zendesk' } });
    expect(unknownDestination.code).toBe('invalid_destinations');
    expect(unknownDestination.message).toContain('actions.support_case: unknown destination "zendesk" (declared: ops-webhook)');
    expect(failure({ destinations: { 'ops-webhook': { ...base.destinations['ops-webhook'], url: 'not a url' } } }).message).toMatch(/destinations\.ops-webhook\.url: /);
    expect(failure({ destinations: { 'ops-webhook': { ...base.destinations['ops-webhook'], maxAttempts: 0 } } }).message).toMatch(/destinations\.ops-webhook\.maxAttempts: .*>=\s*1/);
    expect(failure({ destinations: { 'ops-webhook': { ...base.destinations['ops-webhook'], timeoutMS: 5 } } }).message).toMatch(/destinations\.ops-webhook: Unrecognized key.*timeoutMS/);
    expect(failure({ destinations: { x: { type: 'fax', url: 'http://a' } } }).message).toMatch(/destinations\.x\.type: /);
    expect(failure({ destinations: { x: { type: 'github_issues', repo: 'r' } } }).message).toMatch(/destinations\.x\.owner: /);
    expect(failure({ destinations: { 'has space': { type: 'webhook', url: 'http://a' } } }).message).toMatch(/destinations\.has space: .*letters, digits/);
    expect(failure({ destinations: { x: { type: 'webhook', url: 'http://a', backoff: { initialMs: 500, maxMs: 100 } } } }).message).toContain('destinations.x.backoff.maxMs: must be ≥ backoff.initialMs');
  });

  it('takes secrets from the environment and never prints them', () => {
    const document = { destinations: { desk: { type: 'zendesk_tickets', url: 'https://acme.zendesk.com', headers: { Authorization: { env: 'ZENDESK_TOKEN' }, 'X-Team': 'cx' } } } };
    const missing = failure(document);
    expect(missing.message).toContain('destinations.desk.headers.Authorization: environment variable ZENDESK_TOKEN is not set');
    const routing = parseDestinations(document, { ZENDESK_TOKEN: 'Basic c2VjcmV0LXZhbHVl' });
    const headers = routing.destinations.get('desk')!.headers;
    expect(headers['X-Team']).toBe('cx');
    const secret = headers.Authorization as Secret;
    expect(secret.reveal()).toBe('Basic c2VjcmV0LXZhbHVl');
    for (const printed of [JSON.stringify(routing.destinations.get('desk')), inspect(routing, { depth: 10 }), String(secret), `${secret}`]) {
      expect(printed).not.toContain('c2VjcmV0LXZhbHVl');
    }
  });

  it('is part of the configuration: --destinations / TOUCHSTREAM_DESTINATIONS, validated by actionRoutingOf', () => {
    const dir = mkdtempSync(join(tmpdir(), 'touchstream-destinations-'));
    const file = join(dir, 'd.yaml');
    writeFileSync(file, DOCUMENTED);
    expect(loadConfig({}, { TOUCHSTREAM_DESTINATIONS: file }).destinations).toBe(file);
    expect(actionRoutingOf(loadConfig({ destinations: file }, {}))!.actions.get('crm_update')).toBe('ops-webhook');
    expect(actionRoutingOf(loadConfig({}, {}))).toBeNull();
    writeFileSync(file, 'destinations: {}\nactions: { support_case: nowhere }\n');
    expect(() => actionRoutingOf(loadConfig({ destinations: file }, {}))).toThrow(/actions\.support_case: unknown destination "nowhere"/);
  });
});

// Pins the privacy and retention configuration: key file from env or flag, never a default; retention per table in the DDL and the legacy statements.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import { privacyEdgeOf, retentionPolicyOf } from '../../app/privacy.ts';
import { DIALECTS } from '../../sinks/clickhouse/dialect.ts';
import { checkRetentionPolicy, columnRetentionDays, retentionSteps, tableRetentionDays } from '../../sinks/clickhouse/retention.ts';
import { EVENTS_TABLE, REJECTED_EVENTS_TABLE } from '../../sinks/clickhouse/tables.ts';

describe('privacy configuration', () => {
  it('has no key by default (ids pass unchanged) and scrubs by default', () => {
    const config = loadConfig({}, {});
    expect(config.privacy).toEqual({ scrub: true, marketingOptIn: false });
    expect(privacyEdgeOf(config).keyId).toBeNull();
  });

  it('reads the key file, key id and scrubbing from the environment; a flag wins', () => {
    const env = { TOUCHSTREAM_PSEUDONYMISATION_KEY_FILE: '/env/key', TOUCHSTREAM_PSEUDONYMISATION_KEY_ID: 'k2026', TOUCHSTREAM_SCRUB_FREE_TEXT: 'false' };
    expect(loadConfig({}, env).privacy).toEqual({ keyFile: '/env/key', keyId: 'k2026', scrub: false, marketingOptIn: false });
    expect(loadConfig({ privacy: { keyFile: '/flag/key' } }, env).privacy.keyFile).toBe('/flag/key');
  });

  it('fails with a code when the configured key file is missing', () => {
    expect(() => privacyEdgeOf(loadConfig({ privacy: { keyFile: '/nonexistent/touchstream.key' } }, {}))).toThrow(expect.objectContaining({ code: 'pseudonymisation_key_missing' }));
    expect(() => loadConfig({}, { TOUCHSTREAM_PSEUDONYMISATION_KEY_ID: 'not:valid' })).toThrow(/privacy\.keyId/);
  });
});

describe('retention configuration', () => {
  it('defaults: 395 days, dead letters 90, their bytes 30', () => {
    const policy = retentionPolicyOf(loadConfig({}, {}));
    expect(tableRetentionDays(policy, EVENTS_TABLE)).toBe(395);
    expect(tableRetentionDays(policy, REJECTED_EVENTS_TABLE)).toBe(90);
    expect(columnRetentionDays(policy, REJECTED_EVENTS_TABLE)).toEqual({ original: 30 });
    expect(columnRetentionDays(policy, EVENTS_TABLE)).toEqual({});
  });

  it('takes per-table days from the environment as table=days', () => {
    const config = loadConfig({}, { TOUCHSTREAM_CLICKHOUSE_RETENTION: 'events=400, rejected_events=14', TOUCHSTREAM_DEAD_LETTER_BYTES_RETENTION_DAYS: '60' });
    const policy = retentionPolicyOf(config);
    expect(tableRetentionDays(policy, EVENTS_TABLE)).toBe(400);
    expect(tableRetentionDays(policy, REJECTED_EVENTS_TABLE)).toBe(14);
    // The bytes never outlive their row.
    expect(columnRetentionDays(policy, REJECTED_EVENTS_TABLE)).toEqual({ original: 14 });
    expect(() => loadConfig({}, { TOUCHSTREAM_CLICKHOUSE_RETENTION: 'events=forever' })).toThrow(/clickhouse\.retention/);
    expect(() => checkRetentionPolicy({ ...policy, tables: { evnets: 10 } })).toThrow(expect.objectContaining({ code: 'invalid_config' }));
  });

  it('renders TTL in the modern DDL (the dead letters\' bytes as a column TTL) and none in the legacy DDL', () => {
    const modern = DIALECTS.modern.createTable('ts', REJECTED_EVENTS_TABLE, 90, { original: 30 });
    expect(modern).toContain("`original` String COMMENT 'the original bytes, base64' TTL toDateTime(received_at) + INTERVAL 30 DAY");
    expect(modern).toContain('\nTTL toDateTime(received_at) + INTERVAL 90 DAY');
    const legacy = DIALECTS.legacy.createTable('ts', REJECTED_EVENTS_TABLE, 90, { original: 30 });
    expect(legacy).not.toContain('TTL');
  });

  it('builds the legacy pass: a DELETE per table and an UPDATE of old dead-letter bytes', () => {
    const steps = retentionSteps('ts', { defaultDays: 395, deadLetterBytesDays: 30 }, [EVENTS_TABLE, REJECTED_EVENTS_TABLE]);
    expect(steps.map((step) => step.mutation)).toEqual([
      'ALTER TABLE `ts`.`events` DELETE WHERE occurred_at < now() - INTERVAL 395 DAY',
      'ALTER TABLE `ts`.`rejected_events` DELETE WHERE received_at < now() - INTERVAL 90 DAY',
      "ALTER TABLE `ts`.`rejected_events` UPDATE original = '' WHERE received_at < now() - INTERVAL 30 DAY AND received_at >= now() - INTERVAL 90 DAY AND original != ''",
    ]);
  });
});

describe('the Kafka retention bound', () => {
  it('gives every append-only topic retention.ms and compacted changelogs a compaction lag within the bound (a spec\'s own config wins)', async () => {
    const { withKafkaRetention } = await import('../../app/privacy.ts');
    const config = loadConfig({ kafka: { retentionDays: 3 } }, {});
    expect(withKafkaRetention(config, [
      { topic: 'in', partitions: 2 },
      { topic: 'dlq', partitions: 1, config: { 'retention.ms': '1000' } },
      { topic: 'changelog', partitions: 2, config: { 'cleanup.policy': 'compact' } },
    ])).toEqual([
      { topic: 'in', partitions: 2, config: { 'retention.ms': String(3 * 86_400_000) } },
      { topic: 'dlq', partitions: 1, config: { 'retention.ms': '1000' } },
      { topic: 'changelog', partitions: 2, config: { 'cleanup.policy': 'compact', 'max.compaction.lag.ms': String(3 * 86_400_000), 'segment.ms': String(86_400_000), 'delete.retention.ms': String(86_400_000) } },
    ]);
    expect(loadConfig({}, { TOUCHSTREAM_KAFKA_RETENTION_DAYS: '14' }).kafka.retentionDays).toBe(14);
  });
});

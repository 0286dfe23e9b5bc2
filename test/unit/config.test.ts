// The one configuration schema: defaults, environment strings, and a clear error for a bad value.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';

describe('loadConfig', () => {
  it('compresses ClickHouse HTTP bodies by default and reads the flag from the environment', () => {
    expect(loadConfig({}, {}).clickhouse.compression).toBe(true);
    expect(loadConfig({}, { TOUCHSTREAM_CLICKHOUSE_COMPRESSION: 'false' }).clickhouse.compression).toBe(false);
    expect(loadConfig({}, { TOUCHSTREAM_CLICKHOUSE_COMPRESSION: '0' }).clickhouse.compression).toBe(false);
    expect(loadConfig({}, { TOUCHSTREAM_CLICKHOUSE_COMPRESSION: 'yes' }).clickhouse.compression).toBe(true);
    expect(loadConfig({ clickhouse: { compression: false } }, {}).clickhouse.compression).toBe(false);
  });

  it('refuses a value that is not a boolean, naming the setting', () => {
    expect(() => loadConfig({}, { TOUCHSTREAM_CLICKHOUSE_COMPRESSION: 'maybe' })).toThrow(/clickhouse\.compression/);
  });
});

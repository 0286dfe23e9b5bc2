// The serving API's configuration: API keys and the advertised URL from the environment, defaults without them.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';

describe('serving config', () => {
  it('has no API keys by default (loopback only), a 1 s Retry-After, a 5 s heartbeat and last sessions kept 24 h', () => {
    const config = loadConfig({}, {});
    expect(config.serving).toEqual({ apiKeys: [], forwardTimeoutMs: 2000, retryAfterSeconds: 1, heartbeatMs: 5000, lastSessionMs: 86_400_000 });
  });

  it('reads the heartbeat and how long last sessions are kept from the environment', () => {
    const config = loadConfig({}, { TOUCHSTREAM_SERVING_HEARTBEAT_MS: '1000', TOUCHSTREAM_SERVING_LAST_SESSION_MS: '3600000' });
    expect(config.serving).toMatchObject({ heartbeatMs: 1000, lastSessionMs: 3_600_000 });
  });

  it('reads comma-separated keys from TOUCHSTREAM_API_KEYS and the advertised URL', () => {
    const config = loadConfig({}, { TOUCHSTREAM_API_KEYS: ' key-1, key-2,,key-3 ', TOUCHSTREAM_ADVERTISED_URL: 'http://10.0.0.5:9464' });
    expect(config.serving.apiKeys).toEqual(['key-1', 'key-2', 'key-3']);
    expect(config.serving.advertisedUrl).toBe('http://10.0.0.5:9464');
  });

  it('refuses an advertised URL that is not a URL, naming the field', () => {
    expect(() => loadConfig({}, { TOUCHSTREAM_ADVERTISED_URL: 'worker-1:9464/x y' })).toThrow(/serving\.advertisedUrl/);
  });
});

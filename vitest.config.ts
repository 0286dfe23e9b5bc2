// Two test projects: fast unit tests on hand-built inputs, and integration tests against the real broker and ClickHouse engines.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        // Some unit tests process a generated day (key drivers' bootstrap): seconds of CPU, more while the integration
        // project runs beside them on two cores. A time limit here only catches hangs, never speed.
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], pool: 'forks', testTimeout: 60_000 },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // One process per file: chDB allows one data directory per process.
          pool: 'forks',
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});

// The benchmark's one validated set of options: scale, seeds, which measurements to run, and where the servers are.
import { z } from 'zod';

export const SECTIONS = [
  'decode',
  'kcat',
  'kafkajs-peer',
  'kafka-streams',
  'touchstream-rdkafka',
  'touchstream-kafkajs',
  'touchstream-two-workers',
  'latency',
  'latency-outage',
  'memory',
  'sinks',
] as const;
export type Section = (typeof SECTIONS)[number];

const sectionList = z
  .string()
  .transform((text) => text.split(',').map((part) => part.trim()).filter(Boolean))
  .pipe(z.array(z.enum(SECTIONS)).min(1));

export const benchOptionsSchema = z.object({
  /** Kafka bootstrap server of the broker ops/infra.sh started (benchmarks/bench.sh passes it). */
  brokers: z.string().min(1),
  /** HTTP URL of the ClickHouse 18.16 server ops/infra.sh started. */
  clickhouseUrl: z.url(),
  /** Customers of the synthetic day: ~19 events each, so 80,000 give ~1.5 M events. */
  customers: z.coerce.number().int().min(10).default(80_000),
  seed: z.coerce.number().int().default(42),
  partitions: z.coerce.number().int().min(1).default(4),
  sections: sectionList.default([...SECTIONS]),
  /** Seconds the latency run feeds events at a fixed rate. */
  latencySeconds: z.coerce.number().min(5).default(30),
  /** The latency run's rate as a share of the best single-worker touchstream rate measured before it. */
  latencyRateShare: z.coerce.number().gt(0).max(1).default(0.5),
  /** A fixed rate for the latency run (events/s) instead of the share: to study latency without throughput runs. */
  latencyRate: z.coerce.number().int().min(100).optional(),
  /** How long ClickHouse is unreachable in the middle of the outage latency run (seconds). */
  outageSeconds: z.coerce.number().min(1).default(30),
  /** Live sessions the memory measurement holds, comma-separated. */
  memorySessions: z
    .string()
    .transform((text) => text.split(',').map(Number))
    .pipe(z.array(z.number().int().min(1000)))
    .default([100_000, 1_000_000]),
  /** Rows per ClickHouse sink measurement. */
  sinkRows: z.coerce.number().int().min(1000).default(200_000),
  /** A throughput run that takes longer than this fails (its row says so) instead of hanging the bench. */
  runTimeoutSeconds: z.coerce.number().int().min(10).default(600),
  /** When set, touchstream workers run with `node --cpu-prof` and write their profiles here. */
  profileDir: z.string().optional(),
  /** Where results go: `<dir>/<timestamp>.json` and `<dir>/latest.json`. */
  resultsDir: z.string().default('benchmarks/results'),
  /** Scratch space (chDB data, schema registry file, the Kafka Streams build), ignored by git. */
  workDir: z.string().default('benchmarks/.work'),
});

export type BenchOptions = z.output<typeof benchOptionsSchema>;

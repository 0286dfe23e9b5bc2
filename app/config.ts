// The one validated configuration of touchstream: defaults, environment variables and CLI flags, parsed once at start.
import { resolve } from 'node:path';
import { z } from 'zod';
import { TouchstreamError } from '../schemas/errors.ts';
import type { ActionRouting } from '../actions/index.ts';
import { loadDestinationsFile } from '../actions/index.ts';
import { collectorConfigSchema } from '../sources/collector/config.ts';
import { identityConfigSchema } from '../sources/identity/index.ts';
import { anomalyConfigSchema } from '../pipelines/cx/anomaly-detector.ts';
import { driverAnalysisConfigSchema } from '../pipelines/cx/driver-analysis.ts';
import { KEY_ID_PATTERN } from '../privacy/key.ts';
import { servingConfigSchema } from '../serving/config.ts';

const MINUTE = 60_000;

const list = z.union([z.array(z.string()), z.string().transform((text) => text.split(',').map((part) => part.trim()).filter(Boolean))]);
const number = z.coerce.number();
/** A boolean, also from an environment string: true/false, 1/0, yes/no. */
const flag = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((text) => ['true', '1', 'yes'].includes(text))]);

/** `{ table: days }`, also from an environment string `table=days,table=days`. */
const tableDays = z.union([
  z.record(z.string(), number.pipe(z.number().int().min(1))),
  z.string().transform((text, context) => {
    const days: Record<string, number> = {};
    for (const part of text.split(',').map((item) => item.trim()).filter(Boolean)) {
      const match = /^([A-Za-z_][A-Za-z0-9_]*)=(\d+)$/.exec(part);
      if (!match || Number(match[2]) < 1) {
        context.addIssue({ code: 'custom', message: `"${part}" is not table=days (days ≥ 1)` });
        return z.NEVER;
      }
      days[match[1]!] = Number(match[2]);
    }
    return days;
  }),
]);

export const configSchema = z.object({
  /** Where the embedded engine keeps its data (chDB tables, the local schema registry). */
  dataDir: z.string().min(1).default('.touchstream'),
  /** The log: the in-process one (no servers), or Kafka through node-rdkafka (fast path) or kafkajs (pure JS). */
  transport: z.enum(['memory', 'rdkafka', 'kafkajs']).optional(),
  kafka: z
    .object({
      brokers: list.default([]),
      clientId: z.string().default('touchstream'),
      groupId: z.string().default('touchstream'),
      inputTopic: z.string().default('touchstream.events'),
      /** Erasure requests (CONTRACT §6; docs/privacy.md). */
      erasureTopic: z.string().default('touchstream.erasure'),
      /**
       * The bound on how long erased data can stay on Kafka (docs/privacy.md): `retention.ms` of the topics touchstream
       * creates, and how soon a compacted changelog drops an erased value (`max.compaction.lag.ms`).
       */
      retentionDays: number.pipe(z.number().positive()).default(7),
      partitions: number.pipe(z.number().int().min(1)).default(4),
    })
    .prefault({}),
  clickhouse: z
    .object({
      /** HTTP URL of a ClickHouse server; without one, embedded chDB in the data directory. */
      url: z.url().optional(),
      username: z.string().default('default'),
      password: z.string().default(''),
      database: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an identifier').default('touchstream'),
      /** `legacy` for servers older than 20.x (no DateTime64, TTL, LowCardinality), e.g. 18.16. */
      dialect: z.enum(['modern', 'legacy']).default('modern'),
      /** gzip request and response bodies over HTTP: saves network, costs CPU on both ends (off for a server on the same host). */
      compression: flag.default(true),
      retentionDays: number.pipe(z.number().int().min(1)).default(395),
      /** Retention per table in days, over `retentionDays` (docs/privacy.md); also `events=395,rejected_events=90` from the environment. */
      retention: tableDays.default({}),
      /** A dead letter's original bytes are emptied after this many days (the shortest retention, CONTRACT §6). */
      deadLetterBytesDays: number.pipe(z.number().int().min(1)).default(30),
      /** Legacy dialect (no TTL): how often the scheduled retention delete runs. */
      retentionIntervalMs: number.pipe(z.number().int().min(1000)).default(60 * MINUTE),
    })
    .prefault({}),
  session: z
    .object({
      gapMs: number.pipe(z.number().int().min(1)).default(30 * MINUTE),
      outOfOrdernessMs: number.pipe(z.number().int().min(0)).default(5000),
      idleTimeoutMs: number.pipe(z.number().int().min(1)).default(30_000),
    })
    .prefault({}),
  /** The stream engine's fault tolerance and pacing (docs/engine.md). */
  engine: z
    .object({
      /** Stable id of this worker: a restarted worker with the same id fences its predecessor's open transaction at once. Default: random per process. */
      workerId: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, . _ -').optional(),
      /** The broker aborts a checkpoint transaction a crashed worker left open after this long. */
      transactionTimeoutMs: number.pipe(z.number().int().min(1000)).default(10_000),
      /** Outputs are flushed and a checkpoint committed at least this often. */
      flushIntervalMs: number.pipe(z.number().int().min(1)).default(1000),
      /** While a signal waits to be committed on a live stream, its checkpoint starts within this long (CONTRACT §4: 100 ms to the topic). */
      signalFlushMs: number.pipe(z.number().int().min(1).max(1000)).default(50),
      maxPollRecords: number.pipe(z.number().int().min(1)).default(10_000),
      /** Outputs buffered while a flush is in flight; at this many the job waits for it (backpressure, bounded memory). */
      maxBufferedValues: number.pipe(z.number().int().min(1)).default(50_000),
      /** Watchdog: a poll, sink write, transaction call or restore pending this long fails the job (restarted from its last checkpoint). */
      stallTimeoutMs: number.pipe(z.number().int().min(1000)).default(60_000),
    })
    .prefault({}),
  /** The ClickHouse loader: reads the committed row topics into the tables (docs/engine.md). */
  loader: z
    .object({
      /** `touchstream run` also runs the loader in its process; off when loaders run on their own (`touchstream load`). */
      inProcess: flag.default(true),
      /** On Kafka, that loader runs in a worker thread of its own (the second core), not on the pipeline's event loop. */
      thread: flag.default(true),
      /** Row chunks per poll (one insert per table per poll). */
      maxPollChunks: number.pipe(z.number().int().min(1)).default(200),
    })
    .prefault({}),
  /** How long event ids are remembered for dedup, in event time. */
  dedupHorizonMs: number.pipe(z.number().int().min(0)).default(60 * MINUTE),
  maxPayloadBytes: number.pipe(z.number().int().min(1)).default(1_000_000),
  /** Port of /metrics, /healthz and /readyz while `touchstream run` runs (0: any free port). */
  metricsPort: number.pipe(z.number().int().min(0).max(65535)).default(9464),
  /** Interface /metrics binds to: loopback unless a container or scraper needs more. */
  metricsHost: z.string().default('127.0.0.1'),
  /** /readyz answers 200 only while the consumer lag is at most this many records (and has been measured). */
  readyMaxLag: number.pipe(z.number().int().min(0)).default(10_000),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** A rules file (YAML or JSON, docs/rules.md); without one, the default rule set of CONTRACT §4. */
  rules: z.string().min(1).optional(),
  /** A destinations file (YAML or JSON, docs/actions.md): with one, `run` and `replay` deliver the signals' actions. */
  destinations: z.string().min(1).optional(),
  /** The KPI anomaly detector (docs/analytics.md). */
  anomaly: anomalyConfigSchema,
  /** Key-driver analysis of survey scores over journey KPIs (docs/analytics.md). */
  keyDrivers: driverAnalysisConfigSchema,
  /** The live-serving API on the worker's HTTP server (docs/serving-api.md). */
  serving: servingConfigSchema.prefault({}),
  /** The HTTP collector of `touchstream collect` (events, survey and social webhooks). */
  collector: collectorConfigSchema.prefault({}),
  /** Identity stitching at the source edge (docs/analytics.md): a login hands the anonymous visitor's open session over to the customer. */
  identity: identityConfigSchema.extend({ enabled: flag.default(true) }).prefault({}),
  /** Privacy at the source edge (docs/privacy.md): keyed pseudonyms of customer ids, free-text scrubbing. */
  privacy: z
    .object({
      /** A file holding the pseudonymisation secret (≥ 32 bytes); never defaulted: without it ids pass unchanged. */
      keyFile: z.string().min(1).optional(),
      /** The key id recorded in pseudonyms; default: derived from the secret. */
      keyId: z.string().regex(KEY_ID_PATTERN, '1–16 letters or digits').optional(),
      /** Scrub e-mail addresses, phone numbers, IBANs and card numbers out of free text. */
      scrub: flag.default(true),
      /** Marketing signals need a stated `consent.marketing: true` (opt-in); default: only a stated `false` suppresses them. */
      marketingOptIn: flag.default(false),
    })
    .prefault({}),
  schemaRegistry: z
    .object({
      /** Confluent-compatible schema registry (Confluent, Apicurio `/apis/ccompat/v7`, Redpanda); without one, the local file registry. */
      url: z.url().optional(),
    })
    .prefault({}),
});

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

/** Environment variables and the config path each one sets. */
const ENVIRONMENT: Record<string, string> = {
  TOUCHSTREAM_DATA_DIR: 'dataDir',
  TOUCHSTREAM_TRANSPORT: 'transport',
  TOUCHSTREAM_KAFKA_BROKERS: 'kafka.brokers',
  TOUCHSTREAM_KAFKA_GROUP_ID: 'kafka.groupId',
  TOUCHSTREAM_INPUT_TOPIC: 'kafka.inputTopic',
  TOUCHSTREAM_ERASURE_TOPIC: 'kafka.erasureTopic',
  TOUCHSTREAM_KAFKA_RETENTION_DAYS: 'kafka.retentionDays',
  TOUCHSTREAM_KAFKA_PARTITIONS: 'kafka.partitions',
  TOUCHSTREAM_CLICKHOUSE_URL: 'clickhouse.url',
  TOUCHSTREAM_CLICKHOUSE_USER: 'clickhouse.username',
  TOUCHSTREAM_CLICKHOUSE_PASSWORD: 'clickhouse.password',
  TOUCHSTREAM_CLICKHOUSE_DATABASE: 'clickhouse.database',
  TOUCHSTREAM_CLICKHOUSE_DIALECT: 'clickhouse.dialect',
  TOUCHSTREAM_CLICKHOUSE_COMPRESSION: 'clickhouse.compression',
  TOUCHSTREAM_SESSION_GAP_MS: 'session.gapMs',
  TOUCHSTREAM_OUT_OF_ORDERNESS_MS: 'session.outOfOrdernessMs',
  TOUCHSTREAM_IDLE_TIMEOUT_MS: 'session.idleTimeoutMs',
  TOUCHSTREAM_LOG_LEVEL: 'logLevel',
  TOUCHSTREAM_WORKER_ID: 'engine.workerId',
  TOUCHSTREAM_TRANSACTION_TIMEOUT_MS: 'engine.transactionTimeoutMs',
  TOUCHSTREAM_FLUSH_INTERVAL_MS: 'engine.flushIntervalMs',
  TOUCHSTREAM_SIGNAL_FLUSH_MS: 'engine.signalFlushMs',
  TOUCHSTREAM_LOADER_IN_PROCESS: 'loader.inProcess',
  TOUCHSTREAM_LOADER_THREAD: 'loader.thread',
  TOUCHSTREAM_LOADER_MAX_POLL_CHUNKS: 'loader.maxPollChunks',
  TOUCHSTREAM_MAX_POLL_RECORDS: 'engine.maxPollRecords',
  TOUCHSTREAM_MAX_BUFFERED_VALUES: 'engine.maxBufferedValues',
  TOUCHSTREAM_STALL_TIMEOUT_MS: 'engine.stallTimeoutMs',
  TOUCHSTREAM_DEDUP_HORIZON_MS: 'dedupHorizonMs',
  TOUCHSTREAM_METRICS_PORT: 'metricsPort',
  TOUCHSTREAM_COLLECTOR_HOST: 'collector.host',
  TOUCHSTREAM_COLLECTOR_PORT: 'collector.port',
  TOUCHSTREAM_COLLECTOR_WRITE_KEYS: 'collector.writeKeys',
  TOUCHSTREAM_SCHEMA_REGISTRY_URL: 'schemaRegistry.url',
  TOUCHSTREAM_METRICS_HOST: 'metricsHost',
  TOUCHSTREAM_READY_MAX_LAG: 'readyMaxLag',
  TOUCHSTREAM_RULES: 'rules',
  TOUCHSTREAM_DESTINATIONS: 'destinations',
  TOUCHSTREAM_ANOMALY_THRESHOLD: 'anomaly.threshold',
  TOUCHSTREAM_ANOMALY_MIN_VOLUME: 'anomaly.minVolume',
  TOUCHSTREAM_ANOMALY_BUCKET_MS: 'anomaly.bucketMs',
  TOUCHSTREAM_PSEUDONYMISATION_KEY_FILE: 'privacy.keyFile',
  TOUCHSTREAM_PSEUDONYMISATION_KEY_ID: 'privacy.keyId',
  TOUCHSTREAM_SCRUB_FREE_TEXT: 'privacy.scrub',
  TOUCHSTREAM_IDENTITY_STITCHING: 'identity.enabled',
  TOUCHSTREAM_MARKETING_OPT_IN: 'privacy.marketingOptIn',
  TOUCHSTREAM_CLICKHOUSE_RETENTION_DAYS: 'clickhouse.retentionDays',
  TOUCHSTREAM_CLICKHOUSE_RETENTION: 'clickhouse.retention',
  TOUCHSTREAM_DEAD_LETTER_BYTES_RETENTION_DAYS: 'clickhouse.deadLetterBytesDays',
  TOUCHSTREAM_RETENTION_INTERVAL_MS: 'clickhouse.retentionIntervalMs',
  TOUCHSTREAM_API_KEYS: 'serving.apiKeys',
  TOUCHSTREAM_ADVERTISED_URL: 'serving.advertisedUrl',
  TOUCHSTREAM_SERVING_HEARTBEAT_MS: 'serving.heartbeatMs',
  TOUCHSTREAM_SERVING_LAST_SESSION_MS: 'serving.lastSessionMs',
};

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
  node[parts.at(-1)!] = value;
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const current = out[key];
    out[key] =
      value && typeof value === 'object' && !Array.isArray(value) && current && typeof current === 'object'
        ? merge(current as Record<string, unknown>, value as Record<string, unknown>)
        : value;
  }
  return out;
}

/** Parses the configuration: explicit values (flags) win over environment variables, which win over defaults. */
export function loadConfig(overrides: ConfigInput = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const fromEnv: Record<string, unknown> = {};
  for (const [variable, path] of Object.entries(ENVIRONMENT)) if (env[variable]) setPath(fromEnv, path, env[variable]);
  const parsed = configSchema.safeParse(merge(fromEnv, overrides as Record<string, unknown>));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new TouchstreamError('invalid_config', `invalid configuration: ${problems}`);
  }
  const config = parsed.data;
  config.dataDir = resolve(config.dataDir);
  config.transport ??= config.kafka.brokers.length > 0 ? 'rdkafka' : 'memory';
  if (config.transport !== 'memory' && config.kafka.brokers.length === 0) {
    throw new TouchstreamError('invalid_config', `invalid configuration: kafka.brokers: transport ${config.transport} needs brokers (TOUCHSTREAM_KAFKA_BROKERS)`);
  }
  return config;
}

/**
 * The destinations file of action delivery, validated, with its secrets (`{ env: NAME }` headers) read from the
 * environment here, the one module that reads it; null without a file. A wrong file throws `invalid_destinations`.
 */
export function actionRoutingOf(config: Config, env: NodeJS.ProcessEnv = process.env): ActionRouting | null {
  return config.destinations ? loadDestinationsFile(resolve(config.destinations), env) : null;
}

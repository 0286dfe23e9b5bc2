// The `touchstream` command line: generate, replay, run, query, and demo (the README's first command).
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import pino from 'pino';
import { checkReleasedSchemas } from '../schemas/compatibility.ts';
import { toContractJson } from '../schemas/events.ts';
import { collectorConfigSchema } from '../sources/collector/config.ts';
import { kafkaTopicSource } from '../sources/kafka/topic-source.ts';
import { generateDay } from '../sources/generator/synthetic-day.ts';
import { ndjsonReplay } from '../sources/replay/ndjson-replay.ts';
import type { Config, ConfigInput } from './config.ts';
import { actionRoutingOf, loadConfig } from './config.ts';
import { outcomeEndpoint } from './actions.ts';
import type { ActionRunResult } from './actions.ts';
import type { FileSourceFlags } from './file-source.ts';
import { fileSource, withFileSourceFlags } from './file-source.ts';
import { ConsumerLag } from './consumer-lag.ts';
import { PrometheusMetrics, outcomesPlugin, startOpsServer } from './prometheus.ts';
import { ingest, loadTables, openClickHouse, openRuntime, replay, replayLive, runPipeline } from './runtime.ts';
import { runRetentionSchedule } from './privacy.ts';
import { eraseCustomerCommand } from './erasure.ts';
import { exportCustomer } from './customer-export.ts';
import { enforceRetention } from '../sinks/clickhouse/retention.ts';
import { findLiveEndpoint, queryLiveEndpoint } from './live-sql.ts';
import type { Serving } from './serve.ts';
import { startServing } from './serve.ts';
import type { CustomerServing } from './customer-serving.ts';
import { customerServing } from './customer-serving.ts';

/** Where the process serves (stderr, so stdout stays the command's result). */
function announce(serving: Serving, customers?: CustomerServing): void {
  const api = customers ? `, customer API ${serving.url}/v1/customers/{id}/session|signals|journey (${serving.url}/openapi.json)` : '';
  console.error(`serving ${serving.url}: live KPI page ${serving.url}/live, /metrics${serving.liveSql ? `, read-only live SQL ${serving.liveSql}/?query=…` : ''}${api}`);
}

interface CommonFlags {
  dataDir?: string;
  transport?: Config['transport'];
  brokers?: string;
  clickhouseUrl?: string;
  clickhouseDialect?: 'modern' | 'legacy';
  database?: string;
  rules?: string;
  pseudonymisationKeyFile?: string;
  destinations?: string;
}

function configFrom(flags: CommonFlags): Config {
  const overrides: ConfigInput = {};
  if (flags.dataDir) overrides.dataDir = flags.dataDir;
  if (flags.rules) overrides.rules = flags.rules;
  if (flags.pseudonymisationKeyFile) overrides.privacy = { keyFile: flags.pseudonymisationKeyFile };
  if (flags.destinations) overrides.destinations = flags.destinations;
  if (flags.transport) overrides.transport = flags.transport;
  if (flags.brokers) overrides.kafka = { brokers: flags.brokers };
  if (flags.clickhouseUrl || flags.clickhouseDialect || flags.database) {
    overrides.clickhouse = {
      ...(flags.clickhouseUrl ? { url: flags.clickhouseUrl } : {}),
      ...(flags.clickhouseDialect ? { dialect: flags.clickhouseDialect } : {}),
      ...(flags.database ? { database: flags.database } : {}),
    };
  }
  return loadConfig(overrides);
}

function withCommonFlags(command: Command): Command {
  return command
    .option('--data-dir <dir>', 'embedded data directory (default $TOUCHSTREAM_DATA_DIR or .touchstream)')
    .addOption(new Option('--transport <name>', 'log transport').choices(['memory', 'rdkafka', 'kafkajs']))
    .option('--brokers <list>', 'Kafka bootstrap servers (default $TOUCHSTREAM_KAFKA_BROKERS)')
    .option('--clickhouse-url <url>', 'ClickHouse HTTP URL (default: embedded chDB)')
    .addOption(new Option('--clickhouse-dialect <dialect>', 'modern, or legacy for 18.x servers').choices(['modern', 'legacy']))
    .option('--database <name>', 'ClickHouse database (default touchstream)')
    .option('--rules <file>', 'next-best-action rules file, YAML or JSON (default $TOUCHSTREAM_RULES or the default set; docs/rules.md)');
}

/** The commands that ingest or process events take the pseudonymisation key (docs/privacy.md). */
function withPrivacyFlags(command: Command): Command {
  return command.option('--pseudonymisation-key-file <file>', 'file holding the secret for keyed pseudonyms of customer ids (default $TOUCHSTREAM_PSEUDONYMISATION_KEY_FILE; none: ids pass unchanged; docs/privacy.md)');
}

/** On a server without TTL (legacy dialect) the loader's process runs the scheduled retention delete (docs/privacy.md). */
function scheduleRetention(runtime: { config: Config; clickhouse: Parameters<typeof runRetentionSchedule>[0] }, signal: AbortSignal, logger: pino.Logger): void {
  if (runtime.config.clickhouse.dialect !== 'legacy' || !runtime.config.clickhouse.url) return;
  void runRetentionSchedule(runtime.clickhouse, {
    intervalMs: runtime.config.clickhouse.retentionIntervalMs,
    signal,
    onPass: (results) => {
      const mutated = results.filter((result) => result.mutated);
      if (mutated.length > 0) logger.info({ retention: mutated.map(({ table, kind, expiredRows }) => ({ table, kind, expiredRows })) }, 'retention: expired rows scheduled for deletion');
    },
    onError: (error) => logger.warn({ err: error }, 'retention pass failed; retried at the next interval'),
  });
}

async function writeDay(path: string, seed: number, customers: number, loginShare = 0): Promise<number> {
  mkdirSync(dirname(path), { recursive: true });
  const events = generateDay({ seed, customers, loginShare });
  const out = createWriteStream(path);
  for (const event of events) {
    if (!out.write(`${JSON.stringify(toContractJson(event))}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return events.length;
}

const SUMMARY_SQL = (database: string) => `
SELECT
  count() AS sessions,
  sum(converted) AS conversions,
  round(100 * avg(converted), 1) AS conversion_pct,
  sum(cart_abandoned) AS carts_abandoned,
  round(sum(revenue), 2) AS revenue,
  round(avg(duration_ms) / 1000) AS avg_duration_s,
  sum(bounced) AS bounces
FROM ${database}.sessions FINAL`;

const DESTINATIONS_FLAG = '--destinations <file>';
const DESTINATIONS_HELP = 'action destinations file, YAML or JSON: deliver the signals\' actions (default $TOUCHSTREAM_DESTINATIONS; docs/actions.md)';

const program = new Command('touchstream')
  .description('Real-time CX analytics: journeys, KPIs and next-best-action signals in event time.')
  .showHelpAfterError();

program
  .command('generate')
  .description('write a deterministic synthetic day of traffic as NDJSON')
  .argument('[file]', 'output file', 'day.ndjson')
  .option('--seed <n>', 'random seed', (value) => Number.parseInt(value, 10), 42)
  .option('--customers <n>', 'customers in the day', (value) => Number.parseInt(value, 10), 2000)
  .option('--login-share <share>', 'share of customers with a device who browse anonymously before logging in (0–1; identity stitching)', Number.parseFloat, 0)
  .action(async (file: string, flags: { seed: number; customers: number; loginShare: number }) => {
    const count = await writeDay(file, flags.seed, flags.customers, flags.loginShare);
    console.log(`wrote ${count} events for ${flags.customers} customers (seed ${flags.seed}) to ${file}`);
  });

withPrivacyFlags(withFileSourceFlags(withCommonFlags(program.command('replay'))))
  .description('run the bounded pipeline over an NDJSON or CSV file; exits when every session is written')
  .argument('<file>', 'NDJSON or CSV file of contract events')
  .option(DESTINATIONS_FLAG, DESTINATIONS_HELP)
  .action(async (file: string, flags: CommonFlags & FileSourceFlags) => {
    const config = configFrom(flags);
    actionRoutingOf(config); // a wrong destinations file fails before anything runs
    const metrics = new PrometheusMetrics();
    const runtime = await openRuntime(config, { metrics });
    let running = true;
    // A replay serves like `run` while it lasts: metrics, the live page, the customer API and (embedded) live SQL on its data directory.
    const customers = await customerServing(runtime);
    const serving = await startServing(runtime, { metrics, ready: () => running, anyPortIfTaken: true, plugins: [customers.plugin] }).catch(async (error: unknown) => {
      await runtime.close();
      throw error;
    });
    customers.start(serving.url);
    announce(serving, customers);
    const stop = new AbortController();
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
    try {
      const started = performance.now();
      const source = await fileSource(file, flags);
      let result;
      if (flags.rate === undefined) {
        result = await replay(runtime, source, { liveState: customers.state });
      } else {
        const lag = new ConsumerLag(runtime.log, config.kafka.inputTopic, metrics);
        lag.every(1000, stop.signal);
        result = await replayLive(runtime, source, { signal: stop.signal, liveState: customers.state, onCommit: (offsets) => lag.committed(offsets) });
        await lag.sample().catch(() => {});
      }
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `replayed ${result.events} events (${result.rejected} rejected at the source) in ${seconds.toFixed(1)} s: ` +
          Object.entries(result.emitted)
            .map(([output, count]) => `${count} ${output}`)
            .join(', '),
      );
      const delivery = (result as { actions?: ActionRunResult }).actions?.delivery;
      if (delivery) console.log(`actions: ${delivery.delivered} delivered, ${delivery.deadLettered} dead-lettered, ${delivery.unmapped} not mapped to a destination`);
    } finally {
      running = false;
      stop.abort();
      await customers.close();
      await serving.close();
      await runtime.close();
    }
  });

withPrivacyFlags(withCommonFlags(program.command('run')))
  .description('run the pipeline live on the input topic until SIGTERM/SIGINT')
  .option(DESTINATIONS_FLAG, DESTINATIONS_HELP)
  .action(async (flags: CommonFlags) => {
    const config = configFrom(flags);
    const routing = actionRoutingOf(config); // a wrong destinations file fails before anything runs
    const logger = pino({ level: config.logLevel });
    const metrics = new PrometheusMetrics();
    let running = false;
    const runtime = await openRuntime(config, { metrics });
    const lag = new ConsumerLag(runtime.log, config.kafka.inputTopic, metrics);
    // Ready: running, and the measured lag is within the configured bound.
    const ready = () => running && lag.total !== null && lag.total <= config.readyMaxLag;
    const customers = await customerServing(runtime, (error) => logger.warn({ err: error }, 'serving: partition directory failed; retrying'));
    const ops = await startServing(runtime, { metrics, ready, plugins: [outcomesPlugin(outcomeEndpoint(runtime)), customers.plugin] });
    customers.start(ops.url);
    const stop = new AbortController();
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        logger.info({ signal }, 'stopping: draining, flushing and committing');
        stop.abort();
      });
    }
    lag.every(5000, stop.signal);
    if (config.loader.inProcess) scheduleRetention(runtime, stop.signal, logger);
    // Destination names only: their URLs and headers may carry secrets.
    const destinations = routing ? [...routing.destinations.keys()] : [];
    logger.info({ transport: config.transport, clickhouse: runtime.clickhouse.connection.describe, metrics: `${ops.url}/metrics`, destinations }, 'touchstream running');
    announce(ops, customers);
    try {
      running = true;
      const result = await runPipeline(runtime, {
        signal: stop.signal,
        liveState: customers.state,
        onCommit: (offsets) => lag.committed(offsets),
        onRestart: (error, delayMs) => logger.warn({ err: error, delayMs }, 'pipeline restarting after a retriable failure'),
      });
      logger.info({ records: result.records, emitted: result.emitted, loaded: result.loaded?.rows }, 'touchstream stopped: flushed and committed');
    } finally {
      running = false;
      await customers.close();
      await runtime.close();
      await ops.close();
      // A librdkafka handle left to finish an unanswered transaction call (log/rdkafka.ts) must not keep a stopped
      // worker alive: exit shortly unless the process ends by itself first (the timer does not hold it).
      setTimeout(() => process.exit(), 2000).unref();
    }
  });

withCommonFlags(program.command('load'))
  .description('load the ClickHouse tables from the pipeline\'s committed row topics until SIGTERM/SIGINT (what `run` also does in its process)')
  .option('--until-caught-up', 'stop once everything the topics hold now is loaded')
  .action(async (flags: CommonFlags & { untilCaughtUp?: boolean }) => {
    const config = configFrom(flags);
    const logger = pino({ level: config.logLevel });
    const metrics = new PrometheusMetrics();
    const runtime = await openRuntime(config, { metrics });
    const ops = await startOpsServer({ metrics, ready: () => true, port: config.metricsPort, host: config.metricsHost });
    const stop = new AbortController();
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
    logger.info({ clickhouse: runtime.clickhouse.connection.describe, metrics: `${ops.url}/metrics` }, 'touchstream loader running');
    scheduleRetention(runtime, stop.signal, logger);
    try {
      const result = await loadTables(runtime, {
        bounded: flags.untilCaughtUp === true,
        signal: stop.signal,
        onRestart: (error, delayMs) => logger.warn({ err: error, delayMs }, 'loader restarting after a retriable failure'),
      });
      logger.info({ rows: result.rows }, 'touchstream loader stopped');
    } finally {
      await runtime.close();
      await ops.close();
      setTimeout(() => process.exit(), 2000).unref();
    }
  });

withPrivacyFlags(withFileSourceFlags(withCommonFlags(program.command('ingest'))))
  .description('publish an NDJSON or CSV file to the input topic (no processing)')
  .argument('<file>')
  .action(async (file: string, flags: CommonFlags & FileSourceFlags) => {
    const runtime = await openRuntime(configFrom(flags));
    try {
      const result = await ingest(runtime, await fileSource(file, flags));
      console.log(`published ${result.events} events, rejected ${result.rejected}`);
    } finally {
      await runtime.close();
    }
  });

withPrivacyFlags(withCommonFlags(program.command('ingest-topic')))
  .description('read contract events from an existing Kafka topic (JSON or Avro) into the input topic; bad records become dead letters')
  .argument('<topic>', 'the topic to read')
  .addOption(new Option('--format <format>', 'value format of the topic').choices(['json', 'avro']).default('json'))
  .option('--follow', 'keep following the topic until SIGTERM/SIGINT (default: stop at its end)')
  .action(async (topic: string, flags: CommonFlags & { format: 'json' | 'avro'; follow?: boolean }) => {
    const runtime = await openRuntime(configFrom(flags));
    const stop = new AbortController();
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
    try {
      const source = kafkaTopicSource({ topic, format: flags.format, bounded: !flags.follow }, { log: runtime.log, codec: runtime.codecs.event });
      const result = await ingest(runtime, source, stop.signal);
      console.log(`published ${result.events} events from ${topic}, rejected ${result.rejected}`);
    } finally {
      await runtime.close();
    }
  });

withPrivacyFlags(withCommonFlags(program.command('collect')))
  .description('serve the HTTP collector (events, survey and social webhooks) into the input topic until SIGTERM/SIGINT')
  .option('--port <n>', 'listen port (default $TOUCHSTREAM_COLLECTOR_PORT or 8088)')
  .option('--host <host>', 'listen address (default 127.0.0.1)')
  .action(async (flags: CommonFlags & { port?: string; host?: string }) => {
    const config = configFrom(flags);
    if (flags.port) config.collector.port = collectorConfigSchema.shape.port.parse(flags.port);
    if (flags.host) config.collector.host = flags.host;
    const logger = pino({ level: config.logLevel });
    const metrics = new PrometheusMetrics();
    const runtime = await openRuntime(config, { metrics });
    const { startCollector } = await import('./collect.ts');
    const collector = await startCollector(runtime);
    const serving = await startServing(runtime, { metrics, ready: () => true, anyPortIfTaken: true });
    announce(serving);
    logger.info({ url: collector.url, topic: config.kafka.inputTopic, transport: config.transport }, 'touchstream collector listening');
    const stop = new AbortController();
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
    await new Promise((resolve) => stop.signal.addEventListener('abort', resolve, { once: true }));
    await collector.close();
    await serving.close();
    await runtime.close();
    logger.info('touchstream collector stopped');
  });

withCommonFlags(program.command('retention'))
  .description('run one retention pass now: delete expired rows and empty old dead-letter bytes (what `run` and `load` schedule on a legacy server; TTL does it on current ones)')
  .action(async (flags: CommonFlags) => {
    const clickhouse = await openClickHouse(configFrom(flags));
    try {
      for (const result of await enforceRetention(clickhouse, clickhouse.retention)) {
        console.log(`${result.table.padEnd(22)} ${result.kind.padEnd(24)} expired ${String(result.expiredRows).padStart(8)}  ${result.mutated ? 'mutation issued' : result.expiredRows > 0 ? 'a mutation is still running' : 'nothing to do'}`);
      }
    } finally {
      await clickhouse.close();
    }
  });

withPrivacyFlags(withCommonFlags(program.command('erase')))
  .description('erase one customer (GDPR Art. 17): live state and its changelogs, every table, future output; by raw id, pseudonymised with the configured key (docs/privacy.md)')
  .argument('<customer-id>', 'the customer\'s raw id (or their pseudonym)')
  .option('--wait <seconds>', 'how long to wait for a running worker to complete it (Kafka); 0: only request it', (value) => Number.parseInt(value, 10), 120)
  .action(async (id: string, flags: CommonFlags & { wait: number }) => {
    const runtime = await openRuntime(configFrom(flags));
    try {
      const result = await eraseCustomerCommand(runtime, id, { waitMs: flags.wait * 1000 });
      console.log(JSON.stringify(result));
    } finally {
      await runtime.close();
    }
  });

withPrivacyFlags(withCommonFlags(program.command('export')))
  .description('write everything held about one customer (GDPR Art. 15) as one JSON document on stdout: every table, their signals\' deliveries, live state from the changelogs')
  .argument('<customer-id>', 'the customer\'s raw id (or their pseudonym)')
  .action(async (id: string, flags: CommonFlags) => {
    const runtime = await openRuntime(configFrom(flags));
    try {
      process.stdout.write(`${JSON.stringify(await exportCustomer(runtime, id), null, 2)}\n`);
    } finally {
      await runtime.close();
    }
  });

const schemasCommand = program.command('schemas').description('Avro schema tools');
schemasCommand
  .command('check')
  .description('fail when a schema in schemas/avro breaks BACKWARD compatibility with its last released version (schemas/released)')
  .option('--current <dir>', 'directory of the current .avsc files', fileURLToPath(new URL('../schemas/avro/', import.meta.url)))
  .option('--released <dir>', 'directory of released <name>.v<N>.avsc files', fileURLToPath(new URL('../schemas/released/', import.meta.url)))
  .action((flags: { current: string; released: string }) => {
    const checks = checkReleasedSchemas(flags.current, flags.released);
    for (const check of checks) {
      console.log(check.result.ok ? `ok       ${check.name}: reads data written with v${check.releasedVersion}` : `BREAKING ${check.name}: cannot read data written with v${check.releasedVersion}: ${check.result.reason}`);
    }
    const broken = checks.filter((check) => !check.result.ok).length;
    if (checks.length === 0) console.log(`no released schemas in ${flags.released}`);
    if (broken > 0) {
      console.error(`touchstream: ${broken} schema(s) break BACKWARD compatibility; add a default, or release a new subject [schema_incompatible]`);
      process.exitCode = 1;
    }
  });

withCommonFlags(program.command('query'))
  .description('query touchstream’s ClickHouse (embedded by default) and print the result')
  .argument('<sql>', 'SQL, e.g. "SELECT count() FROM touchstream.sessions FINAL"')
  .option('-f, --format <format>', 'any ClickHouse output format', 'PrettyCompact')
  .action(async (sql: string, flags: CommonFlags & { format: string }) => {
    const config = configFrom(flags);
    // Embedded: a process holding the data directory (run, replay, collect, demo) answers through its live SQL endpoint.
    const live = config.clickhouse.url ? undefined : await findLiveEndpoint(config.dataDir);
    if (live) {
      process.stdout.write(await queryLiveEndpoint(live, sql, flags.format));
      return;
    }
    const clickhouse = await openClickHouse(config);
    try {
      process.stdout.write(await clickhouse.text(sql, flags.format));
    } finally {
      await clickhouse.close();
    }
  });

withPrivacyFlags(withCommonFlags(program.command('demo')))
  .description('generate a day of traffic, process it on the embedded defaults and print a KPI summary')
  .option('--customers <n>', 'customers in the day', (value) => Number.parseInt(value, 10), 2000)
  .action(async (flags: CommonFlags & { customers: number }) => {
    const config = configFrom(flags);
    const file = join(config.dataDir, 'day.ndjson');
    const count = await writeDay(file, 42, flags.customers);
    console.log(`1. generated ${count} events of a synthetic day → ${file}`);
    const metrics = new PrometheusMetrics();
    const runtime = await openRuntime(config, { metrics });
    const customers = await customerServing(runtime);
    const serving = await startServing(runtime, { metrics, ready: () => true, anyPortIfTaken: true, plugins: [customers.plugin] });
    customers.start(serving.url);
    announce(serving, customers);
    try {
      const started = performance.now();
      const result = await replay(runtime, ndjsonReplay({ path: file }), { liveState: customers.state });
      const seconds = (performance.now() - started) / 1000;
      console.log(`2. processed them in ${seconds.toFixed(1)} s (${Math.round(result.events / seconds)} events/s) on ${runtime.clickhouse.connection.describe}`);
      const database = config.clickhouse.database;
      console.log('3. session KPIs:');
      process.stdout.write(await runtime.clickhouse.text(SUMMARY_SQL(database), 'PrettyCompact'));
      console.log('   signals:');
      process.stdout.write(await runtime.clickhouse.text(`SELECT action, status, count() AS signals FROM ${database}.signals FINAL GROUP BY action, status ORDER BY action, status`, 'PrettyCompact'));
    } finally {
      await customers.close();
      await serving.close();
      await runtime.close();
    }
    const dirFlag = flags.dataDir ? ` --data-dir ${flags.dataDir}` : '';
    console.log(`\nQuery it yourself:\n  npx touchstream query${dirFlag} "SELECT channel, count() AS sessions, round(avg(converted) * 100, 1) AS conversion_pct FROM ${config.clickhouse.database}.sessions FINAL GROUP BY channel"`);
  });

program.parseAsync().catch((error: unknown) => {
  const failure = error as { code?: string; message?: string };
  console.error(`touchstream: ${failure.message ?? String(error)}${failure.code ? ` [${failure.code}]` : ''}`);
  process.exitCode = 1;
});

// The `touchstream` command line: generate, replay, run, query, and demo (the README's first command).
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { once } from 'node:events';
import { Command, Option } from 'commander';
import pino from 'pino';
import { toContractJson } from '../schemas/events.ts';
import { generateDay } from '../sources/generator/synthetic-day.ts';
import { ndjsonReplay } from '../sources/replay/ndjson-replay.ts';
import type { Config, ConfigInput } from './config.ts';
import { loadConfig } from './config.ts';
import { PrometheusMetrics, startOpsServer } from './prometheus.ts';
import { ingest, openClickHouse, openRuntime, replay, runPipeline } from './runtime.ts';

interface CommonFlags {
  dataDir?: string;
  transport?: Config['transport'];
  brokers?: string;
  clickhouseUrl?: string;
  clickhouseDialect?: 'modern' | 'legacy';
  database?: string;
}

function configFrom(flags: CommonFlags): Config {
  const overrides: ConfigInput = {};
  if (flags.dataDir) overrides.dataDir = flags.dataDir;
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
    .option('--database <name>', 'ClickHouse database (default touchstream)');
}

async function writeDay(path: string, seed: number, customers: number): Promise<number> {
  mkdirSync(dirname(path), { recursive: true });
  const events = generateDay({ seed, customers });
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

const program = new Command('touchstream')
  .description('Real-time CX analytics: journeys, KPIs and next-best-action signals in event time.')
  .showHelpAfterError();

program
  .command('generate')
  .description('write a deterministic synthetic day of traffic as NDJSON')
  .argument('[file]', 'output file', 'day.ndjson')
  .option('--seed <n>', 'random seed', (value) => Number.parseInt(value, 10), 42)
  .option('--customers <n>', 'customers in the day', (value) => Number.parseInt(value, 10), 2000)
  .action(async (file: string, flags: { seed: number; customers: number }) => {
    const count = await writeDay(file, flags.seed, flags.customers);
    console.log(`wrote ${count} events for ${flags.customers} customers (seed ${flags.seed}) to ${file}`);
  });

withCommonFlags(program.command('replay'))
  .description('run the bounded pipeline over an NDJSON file; exits when every session is written')
  .argument('<file>', 'NDJSON file of contract events')
  .action(async (file: string, flags: CommonFlags) => {
    const config = configFrom(flags);
    const runtime = await openRuntime(config);
    try {
      const started = performance.now();
      const result = await replay(runtime, ndjsonReplay({ path: file }));
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `replayed ${result.events} events (${result.rejected} rejected at the source) in ${seconds.toFixed(1)} s: ` +
          Object.entries(result.emitted)
            .map(([output, count]) => `${count} ${output}`)
            .join(', '),
      );
    } finally {
      await runtime.close();
    }
  });

withCommonFlags(program.command('run'))
  .description('run the pipeline live on the input topic until SIGTERM/SIGINT')
  .action(async (flags: CommonFlags) => {
    const config = configFrom(flags);
    const logger = pino({ level: config.logLevel });
    const metrics = new PrometheusMetrics();
    let running = false;
    const ops = await startOpsServer({ metrics, ready: () => running, port: config.metricsPort, host: config.metricsHost });
    const runtime = await openRuntime(config, { metrics });
    const stop = new AbortController();
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
    logger.info({ transport: config.transport, clickhouse: runtime.clickhouse.connection.describe, metrics: `${ops.url}/metrics` }, 'touchstream running');
    try {
      running = true;
      const result = await runPipeline(runtime, { signal: stop.signal });
      logger.info({ records: result.records, emitted: result.emitted }, 'touchstream stopped: flushed and committed');
    } finally {
      running = false;
      await runtime.close();
      await ops.close();
    }
  });

withCommonFlags(program.command('ingest'))
  .description('publish an NDJSON file to the input topic (no processing)')
  .argument('<file>')
  .action(async (file: string, flags: CommonFlags) => {
    const runtime = await openRuntime(configFrom(flags));
    try {
      const result = await ingest(runtime, ndjsonReplay({ path: file }));
      console.log(`published ${result.events} events, rejected ${result.rejected}`);
    } finally {
      await runtime.close();
    }
  });

withCommonFlags(program.command('query'))
  .description('query touchstream’s ClickHouse (embedded by default) and print the result')
  .argument('<sql>', 'SQL, e.g. "SELECT count() FROM touchstream.sessions FINAL"')
  .option('-f, --format <format>', 'any ClickHouse output format', 'PrettyCompact')
  .action(async (sql: string, flags: CommonFlags & { format: string }) => {
    const clickhouse = await openClickHouse(configFrom(flags));
    try {
      process.stdout.write(await clickhouse.text(sql, flags.format));
    } finally {
      await clickhouse.close();
    }
  });

withCommonFlags(program.command('demo'))
  .description('generate a day of traffic, process it on the embedded defaults and print a KPI summary')
  .option('--customers <n>', 'customers in the day', (value) => Number.parseInt(value, 10), 2000)
  .action(async (flags: CommonFlags & { customers: number }) => {
    const config = configFrom(flags);
    const file = join(config.dataDir, 'day.ndjson');
    const count = await writeDay(file, 42, flags.customers);
    console.log(`1. generated ${count} events of a synthetic day → ${file}`);
    const runtime = await openRuntime(config);
    try {
      const started = performance.now();
      const result = await replay(runtime, ndjsonReplay({ path: file }));
      const seconds = (performance.now() - started) / 1000;
      console.log(`2. processed them in ${seconds.toFixed(1)} s (${Math.round(result.events / seconds)} events/s) on ${runtime.clickhouse.connection.describe}`);
      const database = config.clickhouse.database;
      console.log('3. session KPIs:');
      process.stdout.write(await runtime.clickhouse.text(SUMMARY_SQL(database), 'PrettyCompact'));
      console.log('   signals:');
      process.stdout.write(await runtime.clickhouse.text(`SELECT action, status, count() AS signals FROM ${database}.signals FINAL GROUP BY action, status ORDER BY action, status`, 'PrettyCompact'));
    } finally {
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

// One touchstream worker process for the benchmark: the real pipeline (`touchstream run`'s wiring) on Kafka, reporting progress as JSON lines on stdout.
import { PrometheusMetrics } from '../../app/prometheus.ts';
import { loadConfig } from '../../app/config.ts';
import type { ConfigInput } from '../../app/config.ts';
import { openRuntime, runPipeline } from '../../app/runtime.ts';
import { KafkajsLog, RdkafkaLog } from '../../log/index.ts';
import { watchFirstRecord } from './watched-log.ts';

export interface WorkerArguments {
  config: ConfigInput;
  /** Report every checkpoint's committed input offsets (`{event: 'committed', at, offsets}`): the harness's "on the topics" end. */
  reportCommits?: boolean;
  /** Report the loader's summed table lag (`touchstream_table_lag_records`) and loaded rows every this many ms while it changes. */
  reportTablesEveryMs?: number;
}

const say = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '') as WorkerArguments;
  const config = loadConfig(args.config, {});
  const transport =
    config.transport === 'kafkajs'
      ? new KafkajsLog({ brokers: config.kafka.brokers, clientId: config.kafka.clientId })
      : new RdkafkaLog({ brokers: config.kafka.brokers, clientId: config.kafka.clientId });
  const log = watchFirstRecord(
    transport,
    (at) => say({ event: 'first_record', at }),
    (at) => say({ event: 'assigned', at }),
  );
  const metrics = new PrometheusMetrics();
  const runtime = await openRuntime(config, { log, metrics });
  const stop = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
  say({ event: 'started', at: Date.now(), loader: config.loader.inProcess });
  // The loader's progress, sampled from its metrics (the lag gauge is measured by the loader once a second).
  let lastTables = '';
  const tablesTimer = args.reportTablesEveryMs
    ? setInterval(() => {
        void Promise.all([metricTotal(metrics, 'touchstream_table_lag_records'), metricTotal(metrics, 'touchstream_table_loaded_rows_total')]).then(([lag, loaded]) => {
          const text = `${lag}/${loaded}`;
          if (text === lastTables) return;
          lastTables = text;
          say({ event: 'tables', at: Date.now(), lag, loaded });
        });
      }, args.reportTablesEveryMs)
    : undefined;
  const cpuBefore = process.cpuUsage();
  try {
    const result = await runPipeline(runtime, {
      signal: stop.signal,
      ...(args.reportCommits ? { onCommit: (offsets) => say({ event: 'committed', at: Date.now(), offsets: offsets.map(({ partition, offset }) => [partition, offset]) }) } : {}),
    });
    const cpu = process.cpuUsage(cpuBefore);
    say({
      event: 'result',
      records: result.records,
      emitted: result.emitted,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      // Where the loop waited for a checkpoint (backpressure) and how many it made: the harness reports them.
      flushWaitSeconds: await metricTotal(metrics, 'touchstream_flush_wait_seconds_total'),
      checkpoints: await metricTotal(metrics, 'touchstream_checkpoints_total'),
      // The in-process loader (absent when it is off): rows it inserted per table.
      ...(result.loaded ? { loadedRows: result.loaded.rows } : {}),
    });
  } finally {
    if (tablesTimer) clearInterval(tablesTimer);
    await runtime.close();
    await log.close();
  }
}

/** The sum of a metric's values over its labels (0 when it was never recorded). */
async function metricTotal(metrics: PrometheusMetrics, name: string): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.reduce((sum, { value }) => sum + value, 0);
}

main().catch((error: unknown) => {
  process.stderr.write(`touchstream-worker: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});

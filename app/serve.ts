// The HTTP face of a running process (run, replay, collect, demo): metrics and health, the live KPI page, and in embedded mode the read-only live SQL endpoint.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { clickHouseHttp } from '../serving/clickhouse-http.ts';
import type { LiveKpis } from '../serving/live-page.ts';
import { livePage } from '../serving/live-page.ts';
import { announceLiveEndpoint, embeddedSqlExecutor } from './live-sql.ts';
import type { OpsPlugin, OpsServer, PrometheusMetrics } from './prometheus.ts';
import { startOpsServer } from './prometheus.ts';
import type { Runtime } from './runtime.ts';

export interface ServingOptions {
  metrics: PrometheusMetrics;
  ready: () => boolean;
  /** When the configured port is taken, listen on any free one instead of failing (the live file says where). */
  anyPortIfTaken?: boolean;
  /** Further route plugins (the customer API, outcomes…), after the built-in ones. */
  plugins?: readonly OpsPlugin[];
}

export interface Serving extends OpsServer {
  /** The live SQL endpoint's URL, in embedded mode. */
  liveSql?: string;
}

/** Chart.js's self-contained browser bundle, from node_modules (undefined if the package is missing: the page says so, the rest serves). */
function chartJsFile(): string | undefined {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js');
  } catch {
    return undefined;
  }
}

/** Starts the ops server with the page and, embedded, the live SQL endpoint announced in the data directory. */
export async function startServing(runtime: Runtime, options: ServingOptions): Promise<Serving> {
  const { config } = runtime;
  const embeddedPath = runtime.clickhouse.connection.path;
  const plugins: OpsPlugin[] = [
    { plugin: livePage, options: { kpis: () => liveKpis(runtime, options.metrics), chartJsFile: chartJsFile(), home: embeddedPath === undefined } },
  ];
  if (embeddedPath !== undefined) plugins.push({ plugin: clickHouseHttp, options: { execute: embeddedSqlExecutor(embeddedPath), browserHome: '/live' } });
  plugins.push(...(options.plugins ?? []));
  const start = (port: number) => startOpsServer({ metrics: options.metrics, ready: options.ready, port, host: config.metricsHost, plugins });
  let ops: OpsServer;
  try {
    ops = await start(config.metricsPort);
  } catch (error) {
    if (!options.anyPortIfTaken || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    ops = await start(0);
  }
  if (embeddedPath === undefined) return ops;
  const withdraw = announceLiveEndpoint(config.dataDir, ops.url);
  return {
    ...ops,
    liveSql: ops.url,
    async close() {
      withdraw();
      await ops.close();
    },
  };
}

const sumOf = (metric: MetricObjectWithValues<MetricValue<string>> | undefined, suffix = '') =>
  (metric?.values ?? []).filter((value) => (value as { metricName?: string }).metricName === undefined || (value as { metricName?: string }).metricName === `${metric!.name}${suffix}`).reduce((sum, value) => sum + value.value, 0);

/** A quantile of a prom-client histogram (summed over its label sets), interpolated inside its bucket as Prometheus' histogram_quantile does. */
function histogramQuantile(metric: MetricObjectWithValues<MetricValue<string>> | undefined, quantile: number): { value: number | null; count: number } {
  if (!metric) return { value: null, count: 0 };
  const buckets = new Map<number, number>();
  for (const value of metric.values as Array<MetricValue<string> & { metricName?: string }>) {
    if (value.metricName !== `${metric.name}_bucket`) continue;
    const le = value.labels.le === '+Inf' ? Infinity : Number(value.labels.le);
    buckets.set(le, (buckets.get(le) ?? 0) + value.value);
  }
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const count = bounds.length > 0 ? buckets.get(bounds.at(-1)!)! : 0;
  if (count === 0) return { value: null, count };
  const rank = quantile * count;
  let lower = 0;
  let below = 0;
  for (const bound of bounds) {
    const cumulative = buckets.get(bound)!;
    if (cumulative >= rank) {
      // Above the largest finite bucket nothing finer is known: answer that bound, as Prometheus does.
      if (!Number.isFinite(bound)) return { value: lower, count };
      const share = cumulative > below ? (rank - below) / (cumulative - below) : 1;
      return { value: lower + (bound - lower) * share, count };
    }
    lower = bound;
    below = cumulative;
  }
  return { value: lower, count };
}

/** The page's snapshot: throughput, live sessions, latency and lag from this process's metrics; business KPIs from the tables. */
export async function liveKpis(runtime: Runtime, metrics: PrometheusMetrics): Promise<LiveKpis> {
  const registry = await metrics.registry.getMetricsAsJSON();
  const byName = new Map(registry.map((metric) => [metric.name, metric as MetricObjectWithValues<MetricValue<string>>]));
  const latency50 = histogramQuantile(byName.get('touchstream_event_to_output_seconds'), 0.5);
  const latency99 = histogramQuantile(byName.get('touchstream_event_to_output_seconds'), 0.99);
  const lag = byName.get('touchstream_consumer_lag');
  const database = `\`${runtime.clickhouse.database}\``;
  const first = async <T>(sql: string): Promise<T | undefined> => (await runtime.clickhouse.rows<T>(sql).catch(() => []))[0];
  const [sessions, feedback, signals] = await Promise.all([
    first<{ sessions: string; converted: string; abandoned: string; revenue: string }>(
      `SELECT count() AS sessions, sum(converted) AS converted, sum(cart_abandoned) AS abandoned, sum(revenue) AS revenue FROM ${database}.sessions FINAL`),
    first<{ responses: string; promoters: string; detractors: string }>(
      `SELECT count() AS responses, countIf(score >= 9) AS promoters, countIf(score <= 6) AS detractors FROM ${database}.feedback FINAL WHERE metric = 'nps'`),
    runtime.clickhouse.rows<{ action: string; status: string; count: string }>(
      `SELECT action, status, count() AS count FROM ${database}.signals FINAL GROUP BY action, status ORDER BY action, status`).catch(() => []),
  ]);
  const sessionCount = Number(sessions?.sessions ?? 0);
  const responses = Number(feedback?.responses ?? 0);
  const pct = (part: number, whole: number) => (whole > 0 ? Math.round((1000 * part) / whole) / 10 : null);
  return {
    at: new Date().toISOString(),
    sessions: sessionCount,
    conversionPct: pct(Number(sessions?.converted ?? 0), sessionCount),
    cartAbandonmentPct: pct(Number(sessions?.abandoned ?? 0), sessionCount),
    revenue: Math.round(Number(sessions?.revenue ?? 0) * 100) / 100,
    nps: responses > 0 ? Math.round((1000 * (Number(feedback!.promoters) - Number(feedback!.detractors))) / responses) / 10 : null,
    npsResponses: responses,
    liveSessions: sumOf(byName.get('touchstream_live_sessions')),
    eventsProcessed: sumOf(byName.get('touchstream_input_records_total')),
    signals: signals.map((row) => ({ action: row.action, status: row.status, count: Number(row.count) })),
    latency: { p50: latency50.value, p99: latency99.value, count: latency50.count },
    consumerLag: lag && lag.values.length > 0 ? sumOf(lag) : null,
  };
}

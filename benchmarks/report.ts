// Turns the benchmark's measurements into the targets table, prints it, and writes the JSON results (timestamped and latest.json).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Machine } from './machine.ts';
import type { DecodeResult } from './measure/decode.ts';
import type { LatencyClock, LatencyResult } from './measure/latency.ts';
import type { SinkResult } from './measure/sinks.ts';
import type { StateMemoryResult } from './measure/state-memory.ts';
import type { ThroughputResult } from './measure/touchstream.ts';

export interface TargetResult {
  target: string;
  /** The measured ratio or value, in the target's unit. */
  measured: number | null;
  required: string;
  met: boolean | null;
  /** How far off (or how far ahead), in words. */
  note: string;
}

export interface BenchResults {
  runId: string;
  startedAt: string;
  finishedAt?: string;
  wallSeconds?: number;
  machine: Machine;
  options: Record<string, unknown>;
  input: Record<string, unknown>;
  throughput: Record<string, ThroughputResult>;
  decode?: DecodeResult;
  /** The synthetic day replayed fast: the engine's own latency. */
  latency?: LatencyResult;
  /** Live traffic (event time = send time): what a consumer of touchstream.signals sees (the contract's 100 ms). */
  latencyLive?: LatencyResult;
  /** Live traffic with ClickHouse unreachable mid-run (`outage`): the signals' latency meanwhile and the tables' catch-up. */
  latencyOutage?: LatencyResult;
  memory?: StateMemoryResult[];
  sinks?: SinkResult[];
  targets: TargetResult[];
}

const rate = (results: BenchResults, label: string): number | null => {
  const result = results.throughput[label];
  return result?.ok ? result.eventsPerSecond : null;
};

const best = (...values: Array<number | null>): number | null => {
  const present = values.filter((value): value is number => value !== null);
  return present.length > 0 ? Math.max(...present) : null;
};

function ratioTarget(target: string, numerator: number | null, denominator: number | null, required: number): TargetResult {
  if (numerator === null || denominator === null) return { target, measured: null, required: `≥ ${required}×`, met: null, note: 'not measured in this run' };
  const ratio = numerator / denominator;
  const met = ratio >= required;
  const note = met ? `met (${ratio.toFixed(2)}×)` : `short: ${ratio.toFixed(2)}× of the required ${required}× (needs ${((required / ratio - 1) * 100).toFixed(0)}% more)`;
  return { target, measured: ratio, required: `≥ ${required}×`, met, note };
}

/** How the report names each latency clock. */
const CLOCK_NAMES: Record<LatencyClock, string> = { day: 'a replayed day', live: 'live traffic' };

/** The contract's latency limit (CONTRACT §4): a signal on touchstream.signals, read_committed, within 100 ms at p99. */
const LATENCY_LIMIT_MS = 100;

function latencyTarget(target: string, p99: number | null, fixedRate: unknown): TargetResult {
  const required = `≤ ${LATENCY_LIMIT_MS} ms`;
  if (p99 === null || Number.isNaN(p99)) return { target, measured: null, required, met: null, note: 'not measured in this run' };
  if (fixedRate !== undefined) return { target, measured: p99, required, met: null, note: `not judged: fed at a fixed ${String(fixedRate)} events/s (--latency-rate)` };
  const met = p99 <= LATENCY_LIMIT_MS;
  return { target, measured: p99, required, met, note: met ? `met (${p99.toFixed(1)} ms)` : `short: ${p99.toFixed(1)} ms is ${(p99 / LATENCY_LIMIT_MS).toFixed(1)}× the limit` };
}

export function targetsOf(results: BenchResults): TargetResult[] {
  // Per worker, as deployed: one worker with the loader in its process, to the tables.
  const perWorker = best(rate(results, 'touchstream-rdkafka-tables'), rate(results, 'touchstream-kafkajs-tables'));
  const toTables = best(perWorker, rate(results, 'touchstream-rdkafka-2-workers-tables'));
  const kafkaStreams = rate(results, 'kafka-streams');
  const eachBatch = ratioTarget('throughput to the tables, one worker, vs the kafkajs peer (eachBatch; aim 1×)', perWorker, rate(results, 'kafkajs-peer-eachBatch'), 0.5);
  const targets = [
    eachBatch,
    ratioTarget('throughput to the tables (best of one and two workers) vs Kafka Streams', toTables, kafkaStreams, 4),
    ratioTarget('per-worker throughput (to the tables) vs Kafka Streams', perWorker, kafkaStreams, 1),
    ratioTarget('per-worker throughput (to the tables) vs the kcat ceiling (same Avro topic)', perWorker, rate(results, 'kcat-avro'), 0.5),
  ];
  const fixedRate = results.options.latencyRate;
  const live = results.latencyLive;
  targets.push(latencyTarget('p99 event-to-signal on touchstream.signals (read_committed) at half the max rate, live traffic', live?.ok ? live.onTopic.p99 : null, fixedRate));
  const outage = results.latencyOutage;
  targets.push(
    latencyTarget(
      'p99 event-to-signal on touchstream.signals, live traffic, signals triggered while ClickHouse is down',
      outage?.ok && outage.outage && outage.outage.signals > 0 ? outage.outage.onTopic.p99 : null,
      fixedRate,
    ),
  );
  for (const memory of results.memory ?? []) {
    const bytes = memory.bytesPerSession;
    targets.push({
      target: `state per live session at ${memory.liveSessions.toLocaleString('en')} live sessions`,
      measured: bytes,
      required: '≤ 1024 B',
      met: bytes <= 1024,
      note: bytes <= 1024 ? `met (${Math.round(bytes)} B)` : `short: ${Math.round(bytes)} B is ${(bytes / 1024).toFixed(2)}× the limit`,
    });
  }
  return targets;
}

const pad = (text: string, width: number) => (text.length >= width ? text : text + ' '.repeat(width - text.length));
const padLeft = (text: string, width: number) => (text.length >= width ? text : ' '.repeat(width - text.length) + text);
const integer = (value: number) => Math.round(value).toLocaleString('en');

function table(rows: string[][], rightAligned: ReadonlySet<number>): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row, index) => {
      const line = row.map((cell, column) => (rightAligned.has(column) ? padLeft(cell, widths[column]!) : pad(cell, widths[column]!))).join('  ');
      return index === 0 ? `${line}\n${widths.map((width) => '-'.repeat(width)).join('  ')}` : line;
    })
    .join('\n');
}

/** The report as Markdown-ish text (what bench prints and benchmarks/README.md quotes). */
export function formatReport(results: BenchResults): string {
  const lines: string[] = [];
  const { machine } = results;
  lines.push(`touchstream benchmark ${results.runId}: ${machine.nproc} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, load at start ${machine.loadAverageAtStart.join(' / ')}`);
  lines.push(`input: ${integer(Number(results.input.events ?? 0))} events (${integer(Number(results.input.expectedSessions ?? 0))} sessions), ${results.input.partitions} partitions, seed ${results.input.seed}`);
  lines.push('');
  const kcat = rate(results, 'kcat-avro');
  const rows = [['run', 'events/s', 'seconds', 'vs kcat', 'CPU s', 'max RSS MiB', 'rows loaded', 'tables behind s', 'sessions ok']];
  for (const result of Object.values(results.throughput)) {
    rows.push([
      result.label,
      result.ok ? integer(result.eventsPerSecond) : 'FAILED',
      result.ok ? result.seconds.toFixed(2) : '-',
      result.ok && kcat ? `${((result.eventsPerSecond / kcat) * 100).toFixed(1)}%` : '-',
      result.cpuSeconds !== undefined ? result.cpuSeconds.toFixed(1) : '-',
      result.maxRssBytes !== undefined ? integer(result.maxRssBytes / 2 ** 20) : '-',
      result.loadedRows !== undefined ? integer(result.loadedRows) : '-',
      result.loaderSeconds !== undefined ? result.loaderSeconds.toFixed(2) : '-',
      result.sessions !== undefined ? (result.sessions === result.expectedSessions ? 'yes' : `NO (${result.sessions})`) : result.ok ? 'n/a' : (result.error ?? ''),
    ]);
  }
  lines.push(table(rows, new Set([1, 2, 3, 4, 5, 6, 7])));
  lines.push('touchstream-*-topics: input → every output topic committed (loader off); -tables: input → every table loaded (loader in the worker); tables behind: loaded − committed on the topics.');
  if (results.decode) {
    lines.push('');
    lines.push(`Avro decode (one core): ${integer(results.decode.decoderPerSecond)} events/s through the event decoder, ${integer(results.decode.avroOnlyPerSecond)} events/s avsc alone (${results.decode.meanBytes.toFixed(0)} B/event)`);
  }
  const latencies = [results.latency, results.latencyLive, results.latencyOutage].filter((latency) => latency !== undefined);
  if (latencies.length > 0) lines.push('');
  for (const latency of latencies) {
    const clock = `${CLOCK_NAMES[latency.clock]}${latency === results.latencyOutage ? ', ClickHouse down mid-run' : ''}`;
    lines.push(
      latency.ok
        ? `event-to-signal, ${clock}, at ${integer(latency.rate)} events/s (achieved ${integer(latency.achievedRate)}), ${latency.signals} signals: ` +
            `emitted_at p50 ${latency.emittedAt.p50.toFixed(1)} ms, p99 ${latency.emittedAt.p99.toFixed(1)} ms, max ${latency.emittedAt.max.toFixed(1)} ms; ` +
            `on the signals topic p50 ${latency.onTopic.p50.toFixed(1)} ms, p99 ${latency.onTopic.p99.toFixed(1)} ms`
        : `event-to-signal, ${clock}: FAILED: ${latency.error}`,
    );
    const outage = latency.outage;
    if (latency.ok && outage) {
      lines.push(
        `  ClickHouse unreachable ${outage.seconds.toFixed(1)} s (from ${outage.startedAfterSeconds.toFixed(1)} s into the feed): ${outage.signals} signals triggered meanwhile, ` +
          `emitted_at p50 ${outage.emittedAt.p50.toFixed(1)} ms, p99 ${outage.emittedAt.p99.toFixed(1)} ms; on the topic p50 ${outage.onTopic.p50.toFixed(1)} ms, p99 ${outage.onTopic.p99.toFixed(1)} ms; ` +
          `tables ${outage.catchUpSeconds === null ? 'did NOT catch up within the wait' : `caught up ${outage.catchUpSeconds.toFixed(1)} s after ClickHouse came back`} ` +
          `(largest table lag ${integer(outage.maxTableLag)} records, ${integer(outage.loadedRows)} rows loaded)`,
      );
    }
  }
  if (results.memory?.length) {
    lines.push('');
    for (const memory of results.memory) {
      lines.push(`state at ${integer(memory.liveSessions)} live sessions (${memory.eventsPerSession} events each): ${integer(memory.bytesPerSession)} B per session (sessions + dedup ids), ${integer(memory.windowBytesPerSession)} B in the session windows alone`);
    }
  }
  if (results.sinks?.length) {
    lines.push('');
    for (const sink of results.sinks) lines.push(`ClickHouse ${sink.target}, table ${sink.table}: ${sink.ok ? `${integer(sink.rowsPerSecond)} rows/s (${integer(sink.rows)} rows in batches of ${integer(sink.batchRows)})` : `FAILED: ${sink.error}`}`);
  }
  lines.push('');
  lines.push(table([['target', 'required', 'result'], ...results.targets.map((target) => [target.target, target.required, target.note])], new Set()));
  return lines.join('\n');
}

export function printReport(results: BenchResults): void {
  process.stdout.write(`\n${formatReport(results)}\n`);
}

export function writeResults(results: BenchResults, directory: string): string[] {
  mkdirSync(directory, { recursive: true });
  const text = `${JSON.stringify(results, null, 2)}\n`;
  const stamped = join(directory, `${results.runId}.json`);
  const latest = join(directory, 'latest.json');
  writeFileSync(stamped, text);
  writeFileSync(latest, text);
  return [stamped, latest];
}

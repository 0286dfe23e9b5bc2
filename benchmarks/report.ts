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
  /** Live traffic (event time = send time): adds the out-of-orderness bound the contact policy waits for. */
  latencyLive?: LatencyResult;
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

export function targetsOf(results: BenchResults): TargetResult[] {
  const touchstream = best(rate(results, 'touchstream-rdkafka'), rate(results, 'touchstream-kafkajs'));
  const kafkajsPeer = best(rate(results, 'kafkajs-peer-eachMessage'), rate(results, 'kafkajs-peer-eachBatch'));
  const targets = [
    ratioTarget('per-worker throughput vs the plain kafkajs peer (its faster mode)', touchstream, kafkajsPeer, 3),
    ratioTarget('per-worker throughput vs Kafka Streams', touchstream, rate(results, 'kafka-streams'), 1),
    ratioTarget('per-worker throughput vs the kcat ceiling (same Avro topic)', touchstream, rate(results, 'kcat-avro'), 0.5),
  ];
  for (const [latency, clock] of [[results.latency, 'day'], [results.latencyLive, 'live']] as const) {
    const target = `p99 event-to-signal (emitted_at) at half the max rate, ${CLOCK_NAMES[clock]}`;
    const p99 = latency?.ok ? latency.emittedAt.p99 : null;
    const fixedRate = results.options.latencyRate;
    targets.push(
      p99 === null
        ? { target, measured: null, required: '≤ 50 ms', met: null, note: 'not measured in this run' }
        : fixedRate !== undefined
          ? { target, measured: p99, required: '≤ 50 ms', met: null, note: `not judged: fed at a fixed ${fixedRate} events/s (--latency-rate)` }
          : { target, measured: p99, required: '≤ 50 ms', met: p99 <= 50, note: p99 <= 50 ? `met (${p99.toFixed(1)} ms)` : `short: ${p99.toFixed(1)} ms is ${(p99 / 50).toFixed(1)}× the limit` },
    );
  }
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
  const rows = [['run', 'events/s', 'seconds', 'vs kcat', 'CPU s', 'max RSS MiB', 'sessions ok']];
  for (const result of Object.values(results.throughput)) {
    rows.push([
      result.label,
      result.ok ? integer(result.eventsPerSecond) : 'FAILED',
      result.ok ? result.seconds.toFixed(2) : '-',
      result.ok && kcat ? `${((result.eventsPerSecond / kcat) * 100).toFixed(1)}%` : '-',
      result.cpuSeconds !== undefined ? result.cpuSeconds.toFixed(1) : '-',
      result.maxRssBytes !== undefined ? integer(result.maxRssBytes / 2 ** 20) : '-',
      result.sessions !== undefined ? (result.sessions === result.expectedSessions ? 'yes' : `NO (${result.sessions})`) : result.ok ? 'n/a' : (result.error ?? ''),
    ]);
  }
  lines.push(table(rows, new Set([1, 2, 3, 4, 5])));
  if (results.decode) {
    lines.push('');
    lines.push(`Avro decode (one core): ${integer(results.decode.decoderPerSecond)} events/s through the event decoder, ${integer(results.decode.avroOnlyPerSecond)} events/s avsc alone (${results.decode.meanBytes.toFixed(0)} B/event)`);
  }
  const latencies = [results.latency, results.latencyLive].filter((latency) => latency !== undefined);
  if (latencies.length > 0) lines.push('');
  for (const latency of latencies) {
    const clock = CLOCK_NAMES[latency.clock];
    lines.push(
      latency.ok
        ? `event-to-signal, ${clock}, at ${integer(latency.rate)} events/s (achieved ${integer(latency.achievedRate)}), ${latency.signals} signals: ` +
            `emitted_at p50 ${latency.emittedAt.p50.toFixed(1)} ms, p99 ${latency.emittedAt.p99.toFixed(1)} ms, max ${latency.emittedAt.max.toFixed(1)} ms; ` +
            `on the signals topic p50 ${latency.onTopic.p50.toFixed(1)} ms, p99 ${latency.onTopic.p99.toFixed(1)} ms`
        : `event-to-signal, ${clock}: FAILED: ${latency.error}`,
    );
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

// The Kafka Streams peer: built with Maven from benchmarks/peers/kafka-streams (cached by content), run on the machine's JDK, measured to the same end condition.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSecondsOf, spawnReporting, stop, until } from '../child-process.ts';
import { MARKER_PREFIX } from '../dataset.ts';
import type { ThroughputResult } from './touchstream.ts';

const SOURCE = fileURLToPath(new URL('../peers/kafka-streams/', import.meta.url));
const FILES = ['pom.xml', 'src/main/java/dev/touchstream/bench/SessionsPeer.java'];

/** Builds the peer once per content of its pom and Java file; answers the Java class path. */
async function build(workDir: string, log: (message: string) => void): Promise<string> {
  const hash = createHash('sha256');
  for (const file of FILES) hash.update(readFileSync(join(SOURCE, file)));
  const dir = join(workDir, `kafka-streams-${hash.digest('hex').slice(0, 12)}`);
  const classPath = `${join(dir, 'target', 'classes')}:${join(dir, 'libs', '*')}`;
  if (existsSync(join(dir, '.complete'))) return classPath;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const file of FILES) cpSync(join(SOURCE, file), join(dir, file), { recursive: true });
  log(`  building the Kafka Streams peer with Maven in ${dir}`);
  const maven = spawnReporting('mvn', ['-B', '-q', '-Dstyle.color=never', 'compile', 'dependency:copy-dependencies', `-DoutputDirectory=${join(dir, 'libs')}`], () => {}, { cwd: dir });
  const code = await maven.exited;
  if (code !== 0) throw new Error(`mvn failed (${code}): ${maven.stderrTail()}`);
  writeFileSync(join(dir, '.complete'), '');
  return classPath;
}

export async function measureKafkaStreams(options: {
  brokers: string;
  topic: string;
  records: number;
  expectedSessions: number;
  workDir: string;
  runId: string;
  timeoutMs: number;
  log(message: string): void;
}): Promise<ThroughputResult> {
  const label = 'kafka-streams';
  const base = { label, events: options.records, expectedSessions: options.expectedSessions };
  let classPath: string;
  try {
    classPath = await build(options.workDir, options.log);
  } catch (error) {
    return { ...base, ok: false, error: (error as Error).message, seconds: Number.NaN, eventsPerSecond: Number.NaN };
  }
  const stateDir = join(options.workDir, options.runId, 'kafka-streams-state');
  mkdirSync(stateDir, { recursive: true });
  let done: { event: string; firstRecordAt: number; at: number; sessions: number } | undefined;
  let cpuSeconds: number | undefined;
  const peer = spawnReporting(
    'java',
    [
      '-Xmx2g',
      `-Dbench.timeoutSeconds=${Math.ceil(options.timeoutMs / 1000)}`,
      '-cp',
      classPath,
      'dev.touchstream.bench.SessionsPeer',
      options.brokers,
      options.topic,
      `bench.${options.runId}.kafka-streams.sessions`,
      String(options.expectedSessions),
      `bench-${options.runId}-kafka-streams`,
      stateDir,
      MARKER_PREFIX,
    ],
    (report) => {
      if (report.event === 'done' || report.event === 'timeout') {
        cpuSeconds = cpuSecondsOf(peer.child.pid);
        done = report as never;
      }
    },
  );
  try {
    await until(() => done !== undefined, options.timeoutMs + 30_000, `${label}: every session closed`, () =>
      peer.child.exitCode !== null && done === undefined ? `${label} exited early (${peer.child.exitCode}): ${peer.stderrTail()}` : null,
    );
  } catch (error) {
    await stop(peer);
    return { ...base, ok: false, error: (error as Error).message, seconds: Number.NaN, eventsPerSecond: Number.NaN };
  }
  await stop(peer, 30_000);
  if (done!.event !== 'done') return { ...base, ok: false, error: `timed out with ${done!.sessions} sessions closed`, seconds: Number.NaN, eventsPerSecond: Number.NaN };
  const seconds = (done!.at - done!.firstRecordAt) / 1000;
  return { ...base, ok: true, seconds, eventsPerSecond: options.records / seconds, sessions: done!.sessions, ...(cpuSeconds !== undefined ? { cpuSeconds } : {}) };
}

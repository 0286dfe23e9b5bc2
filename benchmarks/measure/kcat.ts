// The physical ceiling: Debian's kcat (librdkafka, C) reading the same topic to /dev/null.
import { spawnReporting } from '../child-process.ts';
import type { ThroughputResult } from './touchstream.ts';

export async function measureKcat(options: { brokers: string; topic: string; records: number; label: string }): Promise<ThroughputResult> {
  const base = { label: options.label, events: options.records };
  const started = performance.now();
  // -C consume, -e exit at the end of every partition, -q quiet; no consumer group (plain assignment).
  const run = spawnReporting('kcat', ['-C', '-b', options.brokers, '-t', options.topic, '-o', 'beginning', '-e', '-q', '-f', '%s\n'], () => {}, {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const code = await run.exited;
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) return { ...base, ok: false, error: `kcat exited ${code}: ${run.stderrTail()}`, seconds: Number.NaN, eventsPerSecond: Number.NaN };
  return { ...base, ok: true, seconds, eventsPerSecond: options.records / seconds };
}

// The plain kafkajs peer measured to the same end condition as touchstream: every session of the input closed.
import { spawnTypescript, stop, until } from '../child-process.ts';
import { MARKER_PREFIX, OUT_OF_ORDERNESS_MS, SESSION_GAP_MS } from '../dataset.ts';
import type { ThroughputResult } from './touchstream.ts';

export async function measureKafkajsPeer(options: {
  brokers: string;
  topic: string;
  records: number;
  mode: 'eachMessage' | 'eachBatch';
  expectedSessions: number;
  partitions: number;
  runId: string;
  timeoutMs: number;
}): Promise<ThroughputResult> {
  const label = `kafkajs-peer-${options.mode}`;
  const args = {
    brokers: options.brokers,
    topic: options.topic,
    groupId: `bench-${options.runId}-${label}`,
    mode: options.mode,
    partitions: options.partitions,
    expectedSessions: options.expectedSessions,
    gapMs: SESSION_GAP_MS,
    outOfOrdernessMs: OUT_OF_ORDERNESS_MS,
    markerPrefix: MARKER_PREFIX,
  };
  let done: { at: number; firstRecordAt: number; sessions: number } | undefined;
  let result: { cpuSeconds: number; maxRssBytes: number } | undefined;
  const peer = spawnTypescript('./peers/kafkajs-sessions.ts', [JSON.stringify(args)], (report) => {
    if (report.event === 'done') done = report as never;
    if (report.event === 'result') result = report as never;
  });
  const base = { label, events: options.records, expectedSessions: options.expectedSessions };
  try {
    await until(() => done !== undefined, options.timeoutMs, `${label}: every session closed`, () =>
      peer.child.exitCode !== null ? `${label} exited early (${peer.child.exitCode}): ${peer.stderrTail()}` : null,
    );
  } catch (error) {
    await stop(peer);
    return { ...base, ok: false, error: (error as Error).message, seconds: Number.NaN, eventsPerSecond: Number.NaN };
  }
  await stop(peer);
  const seconds = (done!.at - done!.firstRecordAt) / 1000;
  const ok = done!.sessions === options.expectedSessions;
  return {
    ...base,
    ok,
    ...(ok ? {} : { error: `closed ${done!.sessions} sessions, expected ${options.expectedSessions}` }),
    seconds,
    eventsPerSecond: options.records / seconds,
    sessions: done!.sessions,
    ...(result ? { cpuSeconds: result.cpuSeconds, maxRssBytes: result.maxRssBytes } : {}),
  };
}

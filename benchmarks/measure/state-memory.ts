// Memory per live session: the heap the session state holds at 100k and 1M live sessions, each measured in a fresh process.
import { spawnTypescript } from '../child-process.ts';

export interface StateMemoryResult {
  liveSessions: number;
  eventsPerSession: number;
  /** Session windows (with KPI accumulators) plus the dedup ids of the sessions' events, per session. */
  bytesPerSession: number;
  /** The session windows alone, per session. */
  windowBytesPerSession: number;
}

export async function measureStateMemory(sessionCounts: readonly number[], log: (message: string) => void): Promise<StateMemoryResult[]> {
  const results: StateMemoryResult[] = [];
  for (const sessions of sessionCounts) {
    let report: { totalBytes: number; dedupBytes: number; eventsPerSession: number } | undefined;
    const worker = spawnTypescript('./workers/state-memory-worker.ts', [String(sessions)], (line) => {
      if (line.event === 'result') report = line as never;
    }, ['--expose-gc', '--max-old-space-size=8192']);
    const code = await worker.exited;
    if (code !== 0 || !report) throw new Error(`state memory at ${sessions} sessions: exit ${code}: ${worker.stderrTail()}`);
    const result = {
      liveSessions: sessions,
      eventsPerSession: report.eventsPerSession,
      bytesPerSession: report.totalBytes / sessions,
      windowBytesPerSession: (report.totalBytes - report.dedupBytes) / sessions,
    };
    log(`  ${sessions} live sessions: ${Math.round(result.bytesPerSession)} B per session (${Math.round(result.windowBytesPerSession)} B without dedup ids)`);
    results.push(result);
  }
  return results;
}

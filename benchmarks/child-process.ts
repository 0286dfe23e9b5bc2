// Runs the benchmark's child processes (workers, peers, kcat) and reads their JSON-lines reports.
import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface Running {
  child: ChildProcess;
  /** Resolves with the exit code (or the signal's name) once the process ended. */
  exited: Promise<number | string>;
  /** The last lines it wrote to stderr, for failure messages. */
  stderrTail(): string;
}

/** Spawns a process; every stdout line that parses as a JSON object goes to `onReport`. */
export function spawnReporting(command: string, args: readonly string[], onReport: (report: Record<string, unknown>) => void, options: SpawnOptions = {}): Running {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const tail: string[] = [];
  if (child.stdout) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      try {
        onReport(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // Not a report line.
      }
    });
  }
  if (child.stderr) {
    createInterface({ input: child.stderr }).on('line', (line) => {
      tail.push(line);
      if (tail.length > 30) tail.shift();
    });
  }
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.once('error', (error) => {
      tail.push(String(error));
      resolve('spawn-error');
    });
  });
  return { child, exited, stderrTail: () => tail.join('\n') };
}

/** A TypeScript module of this repository run as its own Node process (through tsx, as the CLI runs). */
export function spawnTypescript(module: string, args: readonly string[], onReport: (report: Record<string, unknown>) => void, nodeFlags: readonly string[] = []): Running {
  const path = fileURLToPath(new URL(module, import.meta.url));
  return spawnReporting(process.execPath, [...nodeFlags, '--import', 'tsx', path, ...args], onReport);
}

/** Resolves when `condition` holds (checked on every report and every 50 ms), rejects after `timeoutMs`. */
export function until(condition: () => boolean, timeoutMs: number, what: string, failed: () => string | null = () => null): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const check = () => {
      const failure = failed();
      if (failure) {
        clearInterval(timer);
        reject(new Error(failure));
      } else if (condition()) {
        clearInterval(timer);
        resolve();
      } else if (Date.now() > deadline) {
        clearInterval(timer);
        reject(new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`));
      }
    };
    const timer = setInterval(check, 20);
    check();
  });
}

/** Ends a child: SIGTERM, then SIGKILL if it is still there after `graceMs`. */
export async function stop(running: Running, graceMs = 20_000): Promise<number | string> {
  if (running.child.exitCode !== null || running.child.signalCode !== null) return running.exited;
  running.child.kill('SIGTERM');
  const timer = setTimeout(() => running.child.kill('SIGKILL'), graceMs);
  const code = await running.exited;
  clearTimeout(timer);
  return code;
}

/** CPU seconds (user + system) a live process has used so far, from /proc (Linux); undefined when unreadable. */
export function cpuSecondsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields overall.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK). */
const CLOCK_TICKS_PER_SECOND = 100;

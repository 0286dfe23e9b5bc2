// A progress bar (cli-progress) for bounded sources on a terminal: counts events and dead letters as the source yields them.
import { createReadStream } from 'node:fs';
import cliProgress from 'cli-progress';
import type { Source, SourceBatch } from '../sources/source.ts';

/** Lines in a file (one event per line in NDJSON; CSV has one header line more), counted without holding the file. */
export async function countLines(path: string): Promise<number> {
  let lines = 0;
  let last = 10;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    for (let index = chunk.indexOf(10); index !== -1; index = chunk.indexOf(10, index + 1)) lines++;
    last = chunk[chunk.length - 1] ?? last;
  }
  return last === 10 ? lines : lines + 1;
}

/** Wraps a source with a bar on stderr; `total` is the expected number of items (events + dead letters). */
export function withProgress(source: Source, total: number, stream: NodeJS.WriteStream = process.stderr): Source {
  return {
    name: source.name,
    async *batches(signal?: AbortSignal): AsyncIterable<SourceBatch> {
      const bar = new cliProgress.SingleBar(
        { format: '{bar} {percentage}% | {value}/{total} | {rate} events/s | {rejected} rejected | eta {eta_formatted}', stream, hideCursor: true, etaBuffer: 50, noTTYOutput: true, notTTYSchedule: 1000 },
        cliProgress.Presets.shades_classic,
      );
      const started = performance.now();
      let done = 0;
      let rejected = 0;
      bar.start(Math.max(total, 1), 0, { rate: 0, rejected: 0 });
      try {
        for await (const batch of source.batches(signal)) {
          done += batch.events.length + batch.rejected.length;
          rejected += batch.rejected.length;
          bar.update(Math.min(done, Math.max(total, done)), { rate: Math.round(done / Math.max((performance.now() - started) / 1000, 0.001)), rejected });
          if (done > total) bar.setTotal(done);
          yield batch;
        }
      } finally {
        bar.stop();
      }
    },
  };
}

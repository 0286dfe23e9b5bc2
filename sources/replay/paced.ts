// Paces any source to a rate in events per second (replay at "real" speed, live generation): batches are split and delayed, never dropped.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Source, SourceBatch } from '../source.ts';

/** Wraps `source` so it yields at most `eventsPerSecond` events per second of wall clock (dead letters are not paced). */
export function paced(source: Source, eventsPerSecond: number, clock: () => number = performance.now.bind(performance)): Source {
  if (!(eventsPerSecond > 0)) throw new RangeError(`rate must be > 0 events/s, got ${eventsPerSecond}`);
  // Chunks of about 100 ms of traffic keep the pace smooth without a promise per event.
  const chunk = Math.max(1, Math.round(eventsPerSecond / 10));
  return {
    name: source.name,
    async *batches(signal?: AbortSignal): AsyncIterable<SourceBatch> {
      const started = clock();
      let sent = 0;
      for await (const batch of source.batches(signal)) {
        let rejected = batch.rejected;
        for (let index = 0; index < batch.events.length || rejected.length > 0; index += chunk) {
          const events = batch.events.slice(index, index + chunk);
          const due = started + ((sent + events.length) / eventsPerSecond) * 1000;
          const wait = due - clock();
          if (wait > 0) await sleep(wait, undefined, signal ? { signal } : undefined).catch(() => undefined);
          if (signal?.aborted) return;
          sent += events.length;
          yield { events, rejected };
          rejected = [];
        }
      }
    },
  };
}

// What every source connector yields: batches of valid contract events, with the input it refused as dead letters.
import type { CxEvent } from '../schemas/events.ts';
import type { DeadLetter } from '../schemas/outputs.ts';

export interface SourceBatch {
  events: CxEvent[];
  rejected: DeadLetter[];
  /** Called once the batch's events and dead letters are durable downstream: a source may then commit its own position. */
  ack?(): Promise<void>;
}

export interface Source {
  readonly name: string;
  /** Bounded sources end; live ones run until their signal aborts. */
  batches(signal?: AbortSignal): AsyncIterable<SourceBatch>;
}

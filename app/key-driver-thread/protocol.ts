// The messages between the pipeline and its key-driver thread: a computation in, its result or failure out.
import type { KeyDriverJob, KeyDriverResult } from '../../pipelines/cx/key-drivers.ts';

export interface KeyDriverRequest {
  id: number;
  job: KeyDriverJob;
}

export type KeyDriverReply = { id: number; result: KeyDriverResult } | { id: number; error: string };

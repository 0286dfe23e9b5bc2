// The key-driver thread: runs each computation it is sent (a pure function of its input), one at a time, in order.
import { parentPort } from 'node:worker_threads';
import { keyDrivers } from '../../pipelines/cx/key-drivers.ts';
import type { KeyDriverReply, KeyDriverRequest } from './protocol.ts';

const port = parentPort!;
port.on('message', ({ id, job }: KeyDriverRequest) => {
  let reply: KeyDriverReply;
  try {
    reply = { id, result: keyDrivers(job.scores, job.rows, job.names, job.options) };
  } catch (error) {
    reply = { id, error: (error as Error).message };
  }
  port.postMessage(reply);
});

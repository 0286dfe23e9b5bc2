// A real HTTP receiver for action delivery tests: dedups by Idempotency-Key like a well-behaved destination, and fails, stalls or refuses on demand.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedAttempt {
  key: string;
  body: { action: string; signal: { signal_id: string }; context: unknown };
  /** What the receiver answered: an HTTP status, or 'stalled' (no answer before the client's timeout). */
  answer: number | 'stalled';
  /** A repeat of a key already accepted (answered 200, not processed again). */
  duplicate?: boolean;
}

export interface ReceiverBehaviour {
  /** Decides the answer to the n-th (1-based) attempt under a key; 'stall' holds the response for `stallMs`. */
  answer(key: string, attempt: number, body: ReceivedAttempt['body']): number | 'stall';
  stallMs?: number;
  /** Delay before every answer (a slow receiver). */
  delayMs?: number;
}

export interface ActionReceiver {
  url: string;
  attempts: ReceivedAttempt[];
  /** Keys accepted (a 2xx answered) at least once, and how often each was accepted. */
  accepted: Map<string, number>;
  /** Repeats of accepted keys (deduplicated by the receiver). */
  duplicates: Map<string, number>;
  /** Attempts per key. */
  attemptsOf(key: string): ReceivedAttempt[];
  close(): Promise<void>;
}

export async function startActionReceiver(behaviour: ReceiverBehaviour): Promise<ActionReceiver> {
  const attempts: ReceivedAttempt[] = [];
  const accepted = new Map<string, number>();
  const duplicates = new Map<string, number>();
  const perKey = new Map<string, number>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const key = String(request.headers['idempotency-key'] ?? '');
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ReceivedAttempt['body'];
      const attempt = (perKey.get(key) ?? 0) + 1;
      perKey.set(key, attempt);
      // Dedup by key: a key already accepted is answered 200 again and not processed twice.
      if (accepted.has(key)) {
        attempts.push({ key, body, answer: 200, duplicate: true });
        duplicates.set(key, (duplicates.get(key) ?? 0) + 1);
        return void response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      }
      const decided = behaviour.answer(key, attempt, body);
      const send = () => {
        if (decided === 'stall') {
          attempts.push({ key, body, answer: 'stalled' });
          setTimeout(() => response.writeHead(200).end(), behaviour.stallMs ?? 5000).unref();
          return;
        }
        attempts.push({ key, body, answer: decided });
        if (decided >= 200 && decided < 300) accepted.set(key, (accepted.get(key) ?? 0) + 1);
        response.writeHead(decided, { 'content-type': 'application/json' }).end('{}');
      };
      if (behaviour.delayMs) setTimeout(send, behaviour.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/actions`,
    attempts,
    accepted,
    duplicates,
    attemptsOf: (key) => attempts.filter((attempt) => attempt.key === key),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// A real HTTP receiver for action delivery tests: dedups by Idempotency-Key like a well-behaved destination, and fails, stalls, drops the connection or refuses on demand.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { seededRandom } from '../../sources/generator/synthetic-day.ts';

export interface ReceivedAttempt {
  key: string;
  body: { action: string; signal: { signal_id: string }; context: unknown };
  /** What the receiver answered: an HTTP status, 'stalled' (no answer before the client's timeout) or 'closed' (the connection dropped, no answer). */
  answer: number | 'stalled' | 'closed';
  /** A repeat of a key already accepted (answered 200, not processed again). */
  duplicate?: boolean;
}

export interface ReceiverBehaviour {
  /**
   * Decides the answer to the n-th (1-based) attempt under a key; 'stall' holds the response for `stallMs`, 'close'
   * destroys the connection without answering. Asked for repeats of accepted keys too: a failure fails the repeat as
   * well (network trouble comes before the receiver's dedup); a 2xx answers the repeat as a duplicate.
   */
  answer(key: string, attempt: number, body: ReceivedAttempt['body']): number | 'stall' | 'close';
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
      const decided = behaviour.answer(key, attempt, body);
      const send = () => {
        if (decided === 'stall') {
          attempts.push({ key, body, answer: 'stalled' });
          setTimeout(() => response.writeHead(200).end(), behaviour.stallMs ?? 5000).unref();
          return;
        }
        if (decided === 'close') {
          attempts.push({ key, body, answer: 'closed' });
          request.socket.destroy();
          return;
        }
        // Dedup by key: a key already accepted is answered 200 again and not processed twice.
        if (decided >= 200 && decided < 300 && accepted.has(key)) {
          attempts.push({ key, body, answer: 200, duplicate: true });
          duplicates.set(key, (duplicates.get(key) ?? 0) + 1);
          return void response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
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

/**
 * A flaky receiver: a seeded random `failureShare` of all requests (repeats included) fails, each failure equally
 * often a 500, a stall past the client's timeout or a dropped connection; the rest are accepted (201).
 */
export function chaosBehaviour(options: { seed: number; failureShare: number; stallMs: number }): ReceiverBehaviour {
  const next = seededRandom(options.seed);
  const failures = [500, 'stall', 'close'] as const;
  return {
    stallMs: options.stallMs,
    answer: () => (next() < options.failureShare ? failures[Math.floor(next() * failures.length)]! : 201),
  };
}

// One HTTP attempt of a delivery: sends the request with a time limit and classifies the answer (delivered, retriable, refused for good).
import type { ActionRequest } from './payloads.ts';
import type { Secret } from './secret.ts';

/** What one attempt came to. `code` is stable for machines (error_code column, dead letters). */
export type AttemptResult =
  | { kind: 'delivered'; httpStatus: number }
  | { kind: 'retriable'; code: string; httpStatus: number | null; retryAfter: string | null }
  | { kind: 'refused'; code: string; httpStatus: number }
  | { kind: 'halted' };

/** The HTTP client (global fetch by default; tests may pass their own). */
export type Fetch = typeof fetch;

/** HTTP answers worth another try: timeouts, conflicts of a request still in flight under the key, rate limits, server errors. */
const RETRIABLE_STATUS = new Set([408, 409, 425, 429]);

export async function attemptRequest(
  fetchImpl: Fetch,
  request: ActionRequest,
  headers: Record<string, string | Secret>,
  idempotencyKey: string,
  timeoutMs: number,
  halt: AbortSignal,
): Promise<AttemptResult> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = AbortSignal.any([timeout, halt]);
  const sent: Record<string, string> = { 'content-type': 'application/json', ...request.headers };
  for (const [name, value] of Object.entries(headers)) sent[name] = typeof value === 'string' ? value : value.reveal();
  sent['idempotency-key'] = idempotencyKey;
  try {
    const response = await fetchImpl(request.url, { method: request.method, headers: sent, body: JSON.stringify(request.body), signal, redirect: 'manual' });
    // The body is not needed; reading it frees the connection (bounded by the same time limit).
    await response.arrayBuffer().catch(() => undefined);
    const status = response.status;
    if (status >= 200 && status < 300) return { kind: 'delivered', httpStatus: status };
    if (status >= 500 || RETRIABLE_STATUS.has(status)) return { kind: 'retriable', code: `http_${status}`, httpStatus: status, retryAfter: response.headers.get('retry-after') };
    return { kind: 'refused', code: `http_${status}`, httpStatus: status };
  } catch (error) {
    if (halt.aborted) return { kind: 'halted' };
    if (timeout.aborted) return { kind: 'retriable', code: 'timeout', httpStatus: null, retryAfter: null };
    return { kind: 'retriable', code: networkCode(error), httpStatus: null, retryAfter: null };
  }
}

/** A stable code for a failure below HTTP (undici puts the system error in `cause`). */
function networkCode(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } }).cause;
  const code = typeof cause?.code === 'string' ? cause.code : null;
  if (code === 'ECONNREFUSED') return 'connection_refused';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'connection_reset';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'dns_failed';
  return 'connection_failed';
}

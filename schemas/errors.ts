// Typed errors shared by every part: a stable `code` for machines and a `retriable` flag the retry policy reads.

export class TouchstreamError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retriable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TouchstreamError';
  }
}

/** Any error that carries `retriable: true` (ours, the log's, a client's) is worth another try. */
export function isRetriable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { retriable?: unknown }).retriable === true;
}

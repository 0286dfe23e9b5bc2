// The typed error every `Log` transport throws: a stable `code`, a `retriable` flag for the one retry policy, and the client's own error as `cause`.

export type LogErrorCode =
  /** The client could not reach or talk to the broker. */
  | 'connection'
  /** The broker refused a produce or did not acknowledge it. */
  | 'produce'
  /** A fetch, a group join or the consumer runner failed. */
  | 'consume'
  /** An offset commit failed (often a rebalance: retry after the next poll). */
  | 'commit'
  /** Topic creation or an admin query failed. */
  | 'admin'
  /** The producer, consumer or log was used after `close()`. */
  | 'closed';

export class LogError extends Error {
  override readonly name = 'LogError';

  constructor(
    readonly code: LogErrorCode,
    message: string,
    readonly retriable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Wraps a client error, keeping a `LogError` as it is. */
  static wrap(code: LogErrorCode, error: unknown, retriable: boolean): LogError {
    if (error instanceof LogError) return error;
    const detail = error instanceof Error ? error.message : String(error);
    return new LogError(code, `${code}: ${detail}`, retriable, { cause: error });
  }
}

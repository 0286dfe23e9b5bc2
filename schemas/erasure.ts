// An erasure request as it travels (topic touchstream.erasure, and routed onto the input topic): who is to be forgotten, and the request's id for erasure_log.

export type ErasureSource = 'cli' | 'http' | 'topic';

export interface ErasureRecord {
  request_id: string;
  /** The pipeline's customer key: the pseudonym when a key is configured. */
  customer_id: string;
  /** Wall clock ms. */
  requested_at: number;
  source: ErasureSource | string;
}

/** An erasure the pipeline applied to its live state, for the ClickHouse half (and erasure_log, by `logged_id`). */
export interface ErasureApplied extends ErasureRecord {
  /** What erasure_log records: the pseudonym, or a digest of the id without a key (never a raw id). */
  logged_id: string;
}

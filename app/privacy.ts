// Composition of privacy: the edge transform from the config (key file read here, once), the retention policy, and the legacy retention schedule.
import { randomUUID } from 'node:crypto';
import { eraseCustomer, linkedAnonymousIds } from '../sinks/clickhouse/erasure.ts';
import type { ErasureResult } from '../sinks/clickhouse/erasure.ts';
import type { RetentionPolicy, RetentionStepResult } from '../sinks/clickhouse/retention.ts';
import { enforceRetention } from '../sinks/clickhouse/retention.ts';
import type { ClickHouseWriter } from '../sinks/clickhouse/writer.ts';
import { loadKeyFile, PrivacyEdge } from '../privacy/index.ts';
import type { ScrubCounter } from '../privacy/index.ts';
import type { Config } from './config.ts';
import type { TopicSpec } from '../log/log.ts';

/** The one privacy transform of the source edge; throws a typed error when a configured key file is missing or too short. */
export function privacyEdgeOf(config: Config, metrics?: ScrubCounter): PrivacyEdge {
  const { keyFile, keyId, scrub } = config.privacy;
  return new PrivacyEdge({ key: keyFile ? loadKeyFile(keyFile, keyId) : undefined, scrub, ...(metrics ? { metrics } : {}) });
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The retention bound of the Kafka topics (docs/privacy.md): append-only topics keep records at most
 * `kafka.retentionDays`; compacted ones (changelogs) drop an erased key's older values within that bound
 * (`max.compaction.lag.ms`, with segments rolled daily so compaction can reach them) and its tombstone a day later.
 */
export function kafkaRetentionConfig(config: Config, compacted = false): Record<string, string> {
  const bound = String(Math.round(config.kafka.retentionDays * DAY_MS));
  if (!compacted) return { 'retention.ms': bound };
  return { 'max.compaction.lag.ms': bound, 'segment.ms': String(Math.min(DAY_MS, Math.round(config.kafka.retentionDays * DAY_MS))), 'delete.retention.ms': String(DAY_MS) };
}

/** The topic specs with the retention bound added (a spec's own config wins). */
export function withKafkaRetention(config: Config, specs: readonly TopicSpec[]): TopicSpec[] {
  return specs.map((spec) => ({ ...spec, config: { ...kafkaRetentionConfig(config, spec.config?.['cleanup.policy'] === 'compact'), ...spec.config } }));
}

export function retentionPolicyOf(config: Config): RetentionPolicy {
  return { defaultDays: config.clickhouse.retentionDays, tables: config.clickhouse.retention, deadLetterBytesDays: config.clickhouse.deadLetterBytesDays };
}

export interface RetentionScheduleOptions {
  intervalMs: number;
  signal: AbortSignal;
  /** Told each pass's results, or its failure (a failed pass is retried at the next interval, never thrown). */
  onPass?(results: readonly RetentionStepResult[]): void;
  onError?(error: unknown): void;
}

/**
 * Runs the retention pass now and every `intervalMs` until `signal`: the legacy dialect's stand-in for TTL. Resolves
 * when stopped. The timer does not keep the process alive.
 */
export async function runRetentionSchedule(writer: ClickHouseWriter, options: RetentionScheduleOptions): Promise<void> {
  while (!options.signal.aborted) {
    try {
      options.onPass?.(await enforceRetention(writer, writer.retention));
    } catch (error) {
      options.onError?.(error);
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, options.intervalMs);
      timer.unref();
      function done() {
        clearTimeout(timer);
        options.signal.removeEventListener('abort', done);
        resolve();
      }
      options.signal.addEventListener('abort', done, { once: true });
    });
  }
}

/**
 * The ClickHouse half of erasure for one customer, by raw id or pseudonym, for where no live state is left to ask
 * (the embedded default's `erase`): deletes from every table and records the request and its completion in
 * erasure_log by pseudonymous id (docs/privacy.md); then the anonymous ids the customer's events link to them
 * (identity stitching), each its own request `<request>-linked-<n>`, as the pipeline asks for them from live state.
 */
export async function eraseFromTables(writer: ClickHouseWriter, edge: PrivacyEdge, id: string, requestId: string = `erasure-${randomUUID()}`) {
  const { stored, logged } = edge.erasureIds(id);
  // Read before the customer's events, which hold the links, are deleted.
  const anonymous = await linkedAnonymousIds(writer, stored);
  const result = await eraseCustomer(writer, { requestId, customerId: stored, loggedId: logged });
  const linked: ErasureResult[] = [];
  for (const [index, each] of anonymous.entries()) {
    linked.push(await eraseCustomer(writer, { requestId: `${requestId}-linked-${index + 1}`, customerId: each, loggedId: edge.erasureIds(each).logged }));
  }
  return { ...result, linked };
}

// Takes outcomes from the outcomes topic (written by the HTTP endpoint or by destinations directly) into `action_outcomes` rows: its own consumer group, offsets committed after the rows are written.
import type { Log, PartitionOffset } from '../log/log.ts';
import { readCommitted } from './committed-offsets.ts';
import type { ActionMetrics } from './metrics.ts';
import { noActionMetrics } from './metrics.ts';
import type { OutcomeRow } from './outcomes.ts';
import { parseOutcome } from './outcomes.ts';

export interface OutcomeRelayOptions {
  log: Log;
  groupId: string;
  /** A stable member id for the group (Kafka static membership): a restarted worker takes its partitions back at once. */
  instanceId?: string;
  topic: string;
  /** Decodes a poll's values to plain objects; null for one that does not decode (counted, skipped). */
  decode(values: readonly Buffer[]): Promise<(unknown | null)[]>;
  /** Writes the rows durably (the `action_outcomes` row topic); awaited before offsets are committed. */
  writeRows(rows: readonly OutcomeRow[]): Promise<void>;
  bounded?: boolean;
  signal?: AbortSignal;
  metrics?: ActionMetrics;
  clock?: () => number;
  poll?: { maxRecords?: number; timeoutMs?: number };
}

const keyOf = (topic: string, partition: number) => `${topic}/${partition}`;

/** Runs until `signal` (or, bounded, until the topic's end at the start); answers the outcomes taken in. */
export async function runOutcomeRelay(options: OutcomeRelayOptions): Promise<{ outcomes: number; invalid: number }> {
  const metrics = options.metrics ?? noActionMetrics;
  const clock = options.clock ?? Date.now;
  const counts = { outcomes: 0, invalid: 0 };
  const ends = new Map<string, number>();
  if (options.bounded) for (const { partition, offset } of await options.log.endOffsets(options.topic)) if (offset > 0) ends.set(keyOf(options.topic, partition), offset);
  const consumer = await options.log.consumer({ groupId: options.groupId, topics: [options.topic], start: 'earliest', ...(options.instanceId ? { instanceId: options.instanceId } : {}) });
  const position = new Map<string, number>();
  /** Committed offsets of partitions not read yet (see the delivery worker): a bounded run with nothing new there is done. */
  const committed = new Map<string, number>();
  let generation = consumer.generation();
  const done = () => [...ends].every(([key, end]) => (position.get(key) ?? committed.get(key) ?? 0) >= end);
  try {
    while (!(options.signal?.aborted ?? false) && !(options.bounded && done())) {
      const records = await consumer.poll(options.poll?.maxRecords ?? 500, options.poll?.timeoutMs ?? 200);
      if (consumer.generation() !== generation) {
        generation = consumer.generation();
        position.clear();
        committed.clear();
      }
      let offsets: PartitionOffset[];
      if (records.length > 0) {
        const rows: OutcomeRow[] = [];
        for (const value of await options.decode(records.map((record) => record.value))) {
          const parsed = value === null ? null : parseOutcome(value);
          if (!parsed?.ok) {
            counts.invalid += 1;
            metrics.count('touchstream_action_outcomes_invalid_total', 1);
            continue;
          }
          rows.push({ ...parsed.outcome, received_at: clock() });
          metrics.count('touchstream_action_outcomes_total', 1, { status: parsed.outcome.status });
        }
        await options.writeRows(rows);
        counts.outcomes += rows.length;
        const next = new Map<string, PartitionOffset>();
        for (const record of records) next.set(keyOf(record.topic, record.partition), { topic: record.topic, partition: record.partition, offset: record.offset + 1 });
        offsets = [...next.values()];
      } else {
        offsets = (consumer.positions?.() ?? []).filter(({ topic, partition, offset }) => offset > (position.get(keyOf(topic, partition)) ?? -1));
        if (options.bounded) await readCommitted(consumer, position, committed);
        if (offsets.length === 0) continue;
      }
      try {
        await consumer.commit(offsets);
        for (const { topic, partition, offset } of offsets) position.set(keyOf(topic, partition), offset);
      } catch {
        metrics.count('touchstream_action_outcomes_commit_failures_total', 1);
      }
    }
    return counts;
  } finally {
    await consumer.close().catch(() => {});
  }
}

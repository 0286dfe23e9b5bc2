// Delivers the actions of the committed signals: its own consumer group on the signals topic, offsets committed only once every action of a poll is delivered or dead-lettered and its rows are written.
import { setMaxListeners } from 'node:events';
import type { Log, LogRecord, PartitionOffset } from '../log/log.ts';
import { readCommitted } from './committed-offsets.ts';
import type { DeliveryContext, DestinationChannel } from './delivery.ts';
import { channelsOf, deliverAction } from './delivery.ts';
import type { ActionRouting } from './destinations.ts';
import type { Fetch } from './http-attempt.ts';
import type { ActionMetrics } from './metrics.ts';
import { noActionMetrics } from './metrics.ts';
import type { ActionDeadLetter, ActionDeliveryRow, DeliverableSignal } from './records.ts';

export interface ActionDeliveryOptions {
  log: Log;
  /** Delivery's own consumer group (not the pipeline's): it resumes from its own committed offsets. */
  groupId: string;
  /** A stable member id for the group (Kafka static membership): a restarted worker takes its partitions back at once. */
  instanceId?: string;
  /** The signals topic (only `emitted` signals are on it; others are skipped all the same). */
  topic: string;
  /** Decodes a poll's values; null for a value that does not decode (counted and skipped: it has no action to deliver). */
  decode(values: readonly Buffer[]): Promise<(DeliverableSignal | null)[]>;
  routing: ActionRouting;
  /** Writes attempt rows durably (the `action_deliveries` row topic); awaited before offsets are committed. */
  writeAttempts(rows: readonly ActionDeliveryRow[]): Promise<void>;
  /** Writes dead letters durably (the actions DLQ topic); awaited before offsets are committed. */
  writeDeadLetters(letters: readonly ActionDeadLetter[]): Promise<void>;
  /** Stop once every action on the topic when delivery started is delivered or dead-lettered (a bounded replay); else run until `signal`. */
  bounded?: boolean;
  signal?: AbortSignal;
  poll?: { maxRecords?: number; timeoutMs?: number };
  /** Deliveries in flight at once (across destinations; each destination's rate limit still applies). */
  concurrency?: number;
  metrics?: ActionMetrics;
  fetch?: Fetch;
  clock?: () => number;
  random?: () => number;
}

export interface ActionDeliveryResult {
  /** Signals read (emitted ones with a mapped action are delivered). */
  signals: number;
  delivered: number;
  deadLettered: number;
  /** Signals whose action has no destination in the `actions:` section. */
  unmapped: number;
}

const keyOf = (topic: string, partition: number) => `${topic}/${partition}`;

/**
 * Runs delivery: poll signals → deliver each mapped action (retrying as its destination says) → write the attempt
 * rows and dead letters → commit the offsets. Stopped mid-way, nothing of the unfinished poll is committed: the next
 * worker delivers it again under the same Idempotency-Keys, so a receiver that dedups by key sees each action once.
 */
export async function runActionDelivery(options: ActionDeliveryOptions): Promise<ActionDeliveryResult> {
  const metrics = options.metrics ?? noActionMetrics;
  const clock = options.clock ?? Date.now;
  const maxRecords = options.poll?.maxRecords ?? 100;
  const pollTimeoutMs = options.poll?.timeoutMs ?? 200;
  const concurrency = options.concurrency ?? 32;
  const halt = new AbortController();
  // Every attempt in flight listens on it (its time limit combined with the stop).
  setMaxListeners(0, halt.signal);
  const onAbort = () => halt.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) halt.abort();
  const channels = channelsOf(options.routing.destinations.values(), clock, metrics);
  const result: ActionDeliveryResult = { signals: 0, delivered: 0, deadLettered: 0, unmapped: 0 };
  const ends = new Map<string, number>();
  if (options.bounded) for (const { partition, offset } of await options.log.endOffsets(options.topic)) if (offset > 0) ends.set(keyOf(options.topic, partition), offset);
  const consumer = await options.log.consumer({ groupId: options.groupId, topics: [options.topic], start: 'earliest', ...(options.instanceId ? { instanceId: options.instanceId } : {}) });
  const position = new Map<string, number>();
  /** The group's committed offsets of partitions not read yet in this generation (a bounded run that finds nothing new there is done with them). */
  const committed = new Map<string, number>();
  let generation = consumer.generation();
  try {
    for (;;) {
      if (halt.signal.aborted) break;
      if (options.bounded && caughtUp(ends, position, committed)) break;
      const records = await consumer.poll(maxRecords, pollTimeoutMs);
      if (consumer.generation() !== generation) {
        generation = consumer.generation();
        position.clear();
        committed.clear();
      }
      if (records.length > 0) {
        if (!(await deliver(records))) break;
        continue;
      }
      // Nothing came: past transaction markers only. Committing that position tells a bounded run it is done.
      const skipped = (consumer.positions?.() ?? []).filter(({ topic, partition, offset }) => offset > (position.get(keyOf(topic, partition)) ?? -1));
      if (skipped.length > 0 && (await commit(skipped))) for (const { topic, partition, offset } of skipped) position.set(keyOf(topic, partition), offset);
      // A partition with nothing new since the group's last commit yields no record and (on kafkajs) no position: a
      // bounded run takes its committed offset instead, or it would wait for ever.
      if (options.bounded) await readCommitted(consumer, position, committed);
    }
    return result;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    halt.abort();
    await consumer.close().catch(() => {});
  }

  /** Delivers a poll's actions; answers false when stopped before all ended (nothing of it is committed then). */
  async function deliver(records: readonly LogRecord[]): Promise<boolean> {
    const signals = await options.decode(records.map((record) => record.value));
    const rows: ActionDeliveryRow[] = [];
    const letters: ActionDeadLetter[] = [];
    const context: DeliveryContext = {
      fetch: options.fetch ?? fetch,
      clock,
      random: options.random ?? Math.random,
      metrics,
      halt: halt.signal,
      record: (row) => rows.push(row),
    };
    const jobs: { signal: DeliverableSignal; channel: DestinationChannel }[] = [];
    for (const signal of signals) {
      result.signals += 1;
      if (!signal) {
        metrics.count('touchstream_actions_undecodable_total', 1);
        continue;
      }
      if (signal.status !== 'emitted') continue;
      const name = options.routing.actions.get(signal.action);
      const channel = name === undefined ? undefined : channels.get(name);
      if (!channel) {
        result.unmapped += 1;
        metrics.count('touchstream_actions_unmapped_total', 1, { action: signal.action });
        continue;
      }
      metrics.count('touchstream_actions_received_total', 1, { destination: channel.destination.name });
      jobs.push({ signal, channel });
    }
    let halted = false;
    let next = 0;
    const worker = async () => {
      while (next < jobs.length && !halted) {
        const { signal, channel } = jobs[next++]!;
        const outcome = await deliverAction(signal, signal.action, channel, context);
        if (outcome.kind === 'halted') halted = true;
        else if (outcome.kind === 'delivered') result.delivered += 1;
        else {
          result.deadLettered += 1;
          letters.push(outcome.letter);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
    // The attempts made are facts: their rows are written even when stopped mid-way (a redelivery adds its own).
    await options.writeAttempts(rows);
    if (halted || halt.signal.aborted) return false;
    await options.writeDeadLetters(letters);
    const next_ = new Map<string, PartitionOffset>();
    for (const record of records) next_.set(keyOf(record.topic, record.partition), { topic: record.topic, partition: record.partition, offset: record.offset + 1 });
    const offsets = [...next_.values()];
    if (await commit(offsets)) for (const { topic, partition, offset } of offsets) position.set(keyOf(topic, partition), offset);
    return true;
  }

  /**
   * Commits delivery's offsets; answers whether it did. A refused commit (a rebalance meanwhile) loses nothing: the
   * new owner delivers those signals again under the same keys.
   */
  async function commit(offsets: readonly PartitionOffset[]): Promise<boolean> {
    try {
      await consumer.commit(offsets);
      return true;
    } catch {
      metrics.count('touchstream_actions_commit_failures_total', 1);
      return false;
    }
  }
}

function caughtUp(ends: ReadonlyMap<string, number>, position: ReadonlyMap<string, number>, committed: ReadonlyMap<string, number> = new Map()): boolean {
  for (const [key, end] of ends) if ((position.get(key) ?? committed.get(key) ?? 0) < end) return false;
  return true;
}

// Where a bounded reader (action delivery, the outcome relay) stands on partitions it has read nothing from yet: the group's committed offsets.
import type { LogConsumer } from '../log/log.ts';

const keyOf = (topic: string, partition: number) => `${topic}/${partition}`;

/** Fills `committed` with the group's offsets of assigned partitions neither read nor looked up yet in this generation. */
export async function readCommitted(consumer: LogConsumer, position: ReadonlyMap<string, number>, committed: Map<string, number>): Promise<void> {
  if (!consumer.committed) return;
  if (!consumer.assignment().some(({ topic, partition }) => !position.has(keyOf(topic, partition)) && !committed.has(keyOf(topic, partition)))) return;
  try {
    for (const { topic, partition, offset } of await consumer.committed()) if (offset >= 0) committed.set(keyOf(topic, partition), offset);
  } catch {
    // Asked again after the next empty poll.
  }
}

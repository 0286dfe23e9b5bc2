// What a restore reads back from a compacted changelog, for tests: the last value per key and partition, tombstones drop keys, values through JSON.
import type { StateChange } from '../../engine/state.ts';

export function compactedChangelog(changes: readonly StateChange[]): Map<number, Map<string, unknown>> {
  const partitions = new Map<number, Map<string, unknown>>();
  for (const change of changes) {
    let entries = partitions.get(change.partition);
    if (!entries) partitions.set(change.partition, (entries = new Map()));
    if (change.value === null) entries.delete(change.key);
    else entries.set(change.key, JSON.parse(JSON.stringify(change.value)));
  }
  return partitions;
}

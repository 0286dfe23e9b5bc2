// Wires the customer API (serving/) into a running pipeline: its live state, the partition directory of the transport, API keys and the edge's pseudonyms.
import { partitionOf } from '../log/partitioner.ts';
import { customerApi } from '../serving/customer-api.ts';
import type { PartitionDirectory } from '../serving/partition-directory.ts';
import { LogPartitionDirectory, soleWorkerDirectory } from '../serving/partition-directory.ts';
import { PipelineLiveState } from './live-state.ts';
import type { OpsPlugin } from './prometheus.ts';
import type { Runtime } from './runtime.ts';

export interface CustomerServing {
  /** What the pipeline run reports to (`runPipeline`'s `liveState`). */
  state: PipelineLiveState;
  /** The API's routes, for `startServing`'s plugins. */
  plugin: OpsPlugin;
  /** Announces this worker at its HTTP server's URL (`serving.advertisedUrl` when set) and starts reading the other workers' announcements. */
  start(url: string): void;
  /** Withdraws the announcement (a tombstone); before the log is closed. */
  close(): Promise<void>;
}

/** The members topic of a group: which worker serves which input partition (one partition, compacted). */
export const membersTopicOf = (groupId: string) => `${groupId}-serving-members`;

/**
 * The customer API of this process. On Kafka every worker of the group announces its partitions on the members
 * topic and forwards to the owner of a customer's partition; on the in-process log the process owns every partition.
 */
export async function customerServing(runtime: Runtime, onError: (error: unknown) => void = () => {}): Promise<CustomerServing> {
  const { config } = runtime;
  const state = new PipelineLiveState();
  // The input topic's real partition count (the one records are partitioned over), not the configured default.
  const partitions = (await runtime.log.endOffsets(config.kafka.inputTopic)).length;
  const memberId = config.engine.workerId;
  const logDirectory =
    config.transport === 'memory'
      ? null
      : new LogPartitionDirectory({
          log: runtime.log,
          topic: membersTopicOf(config.kafka.groupId),
          ...(memberId ? { memberId } : {}),
          ownership: () => state.ownedPartitions(),
          heartbeatMs: config.serving.heartbeatMs,
          onError,
        });
  const directory: PartitionDirectory = logDirectory ?? soleWorkerDirectory(memberId ?? 'embedded');
  const plugin = customerApi({
    state,
    partitionOf: (key) => partitionOf(key, partitions),
    directory,
    apiKeys: config.serving.apiKeys,
    pseudonymise: (id) => runtime.privacy.storedIdOf(id),
    retryAfterSeconds: config.serving.retryAfterSeconds,
    forwardTimeoutMs: config.serving.forwardTimeoutMs,
    metrics: runtime.metrics,
  });
  let started: Promise<void> = Promise.resolve();
  return {
    state,
    plugin,
    start(url) {
      // In the background: the pipeline does not wait for the directory (other workers' partitions answer 503 meanwhile).
      if (logDirectory) started = logDirectory.start(config.serving.advertisedUrl ?? url).catch(onError);
    },
    async close() {
      // A start still reading the directory's backlog is not waited for long: the tombstone matters, not the backlog.
      await Promise.race([started, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
      await logDirectory?.close().catch(onError);
    },
  };
}

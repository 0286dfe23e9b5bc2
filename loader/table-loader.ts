// Loads ClickHouse tables from their row topics (what the pipeline's transactions committed): its own consumer group, offsets committed only after ClickHouse acknowledged.
import type { Log, LogRecord, PartitionOffset } from '../log/log.ts';
import type { Metrics, RetryOptions } from '../engine/index.ts';
import { noMetrics, StallError, StallWatchdog, writeWithRetry, yieldToLoop } from '../engine/index.ts';

/** One table and the topic its rows arrive on. */
export interface LoadedTable {
  /** The table's name (the metric label). */
  table: string;
  topic: string;
  /**
   * Inserts the rows of these chunks (sinks/rows) and resolves once ClickHouse has them; answers how many rows.
   * Inserts are idempotent (deterministic ids, deduplicating tables), so a chunk loaded twice after a crash between
   * the insert and the offset commit leaves no duplicate.
   */
  load(chunks: readonly Buffer[], pace?: () => Promise<void>): Promise<number>;
  /**
   * A barrier (erasures): each of its records is applied only once this loader has loaded every other table up to
   * where their topics ended when the record was read, so what was committed before it is in the tables first (a
   * delete then finds every earlier row). Its offsets are committed as records are applied.
   */
  barrier?: boolean;
}

export interface TableLoaderOptions {
  /** Names the loader in metrics, errors and its consumer group's purpose. */
  name?: string;
  log: Log;
  /** The loader's own consumer group (not the pipeline's): it resumes from its own committed offsets. */
  groupId: string;
  /** A stable member id for the group (Kafka static membership): a restarted worker takes its partitions back at once. */
  instanceId?: string;
  tables: readonly LoadedTable[];
  /** Stop once everything the topics held when the loader started is loaded (a bounded replay); else run until `signal`. */
  bounded?: boolean;
  signal?: AbortSignal;
  /** Records (chunks) per poll: one insert per table per poll. */
  poll?: { maxRecords?: number; timeoutMs?: number };
  retry?: RetryOptions;
  stallTimeoutMs?: number;
  metrics?: Metrics;
}

export interface TableLoadResult {
  /** Rows loaded per table. */
  rows: Record<string, number>;
}

const keyOf = (topic: string, partition: number) => `${topic}/${partition}`;

/** How often each table's lag is measured. */
const LAG_INTERVAL_MS = 1000;

/**
 * Runs the loader: poll chunks → insert per table (in parallel, retried while ClickHouse is down: nothing more is
 * read meanwhile, so the backlog waits in Kafka, not in memory) → commit the offsets. Each table's lag behind its
 * topic is the gauge `touchstream_table_lag_records{table}`.
 */
export async function runTableLoader(options: TableLoaderOptions): Promise<TableLoadResult> {
  const name = options.name ?? 'table-loader';
  const metrics = options.metrics ?? noMetrics;
  const maxRecords = options.poll?.maxRecords ?? 200;
  const pollTimeoutMs = options.poll?.timeoutMs ?? 200;
  const stall = new StallWatchdog({ job: name, timeoutMs: options.stallTimeoutMs ?? 60_000, metrics });
  // Aborting stops a retried insert too (ClickHouse may stay down): the loader then returns without committing it.
  const halt = new AbortController();
  const stopped = () => options.signal?.aborted ?? false;
  const onAbort = () => halt.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (stopped()) halt.abort();
  const tableOf = new Map(options.tables.map((table) => [table.topic, table]));
  /** Barrier records read and not applied yet, in order, each with the ends the other tables must reach first. */
  const barriers: Array<{ record: LogRecord; table: LoadedTable; ends: PartitionOffset[] }> = [];
  const topics = options.tables.map((table) => table.topic);
  const rows: Record<string, number> = Object.fromEntries(options.tables.map((table) => [table.table, 0]));
  // Bounded: the end of every partition now (the pipeline that wrote them has finished: no transaction is open).
  const ends = new Map<string, number>();
  if (options.bounded) {
    for (const topic of topics) for (const { partition, offset } of await options.log.endOffsets(topic)) if (offset > 0) ends.set(keyOf(topic, partition), offset);
  }
  const consumer = await options.log.consumer({ groupId: options.groupId, topics, start: 'earliest', ...(options.instanceId ? { instanceId: options.instanceId } : {}) });
  /**
   * The next offset per partition past what is loaded (or, past control records, skipped): from the group's committed
   * offsets at the start of each generation (`seedPositions`), then moved on by what this loader loads and skips.
   */
  const position = new Map<string, number>();
  /** The group's committed offsets as last read (for the lag of partitions not read yet). */
  const committed = new Map<string, number>();
  let generation = consumer.generation();
  /** The generation whose committed offsets `position` holds; null until they are read. */
  let seeded: number | null = null;
  // Lag is measured on a timer of its own: while ClickHouse is down the loop sits in a retried insert.
  let measuring: Promise<void> | null = null;
  const lagTimer = setInterval(() => {
    measuring ??= reportLag().finally(() => (measuring = null));
  }, LAG_INTERVAL_MS);
  try {
    for (;;) {
      if (options.bounded ? caughtUp(ends, position) : stopped()) break;
      if (options.bounded && stopped()) break;
      const records = await stall.bound('poll', consumer.poll(maxRecords, pollTimeoutMs), stall.timeoutMs + pollTimeoutMs);
      if (consumer.generation() !== generation) {
        // A rebalance: every partition is read again from its committed offset.
        generation = consumer.generation();
        position.clear();
        committed.clear();
        barriers.length = 0;
      }
      if (seeded !== generation) await seedPositions();
      if (records.length > 0) await load(records);
      else {
        // Nothing came: where the consumer moved past what was loaded, it skipped transaction markers (or aborted
        // records); committing that position keeps the group's lag at zero and tells a bounded load it is done.
        const pending = new Set(barriers.map(({ record }) => record.topic));
        const skipped = (consumer.positions?.() ?? []).filter(({ topic, partition, offset }) => !pending.has(topic) && offset > (position.get(keyOf(topic, partition)) ?? -1));
        if (skipped.length > 0 && (await commit(skipped))) {
          for (const { topic, partition, offset } of skipped) position.set(keyOf(topic, partition), offset);
        }
      }
      await applyBarriers();
    }
    await (measuring ?? reportLag());
    return { rows };
  } finally {
    clearInterval(lagTimer);
    options.signal?.removeEventListener('abort', onAbort);
    halt.abort();
    await consumer.close().catch(() => {});
  }

  async function load(records: readonly LogRecord[]): Promise<void> {
    const byTopic = new Map<string, Buffer[]>();
    const next = new Map<string, PartitionOffset>();
    let unloaded = false;
    for (const record of records) {
      const barrier = tableOf.get(record.topic);
      if (barrier?.barrier) {
        if (record.value.length > 0) barriers.push({ record, table: barrier, ends: await otherEnds(barrier) });
        else if (barriers.length === 0) next.set(keyOf(record.topic, record.partition), { topic: record.topic, partition: record.partition, offset: record.offset + 1 });
        continue;
      }
      let chunks = byTopic.get(record.topic);
      if (!chunks) byTopic.set(record.topic, (chunks = []));
      if (record.value.length > 0) chunks.push(record.value);
      next.set(keyOf(record.topic, record.partition), { topic: record.topic, partition: record.partition, offset: record.offset + 1 });
    }
    await Promise.all(
      [...byTopic].map(async ([topic, chunks]) => {
        const table = tableOf.get(topic);
        if (!table || chunks.length === 0) return;
        let loaded = 0;
        const sink = { name: `clickhouse:${table.table}`, write: async (_values: readonly Buffer[], pace?: () => Promise<void>) => void (loaded = await table.load(chunks, pace)) };
        const written = await writeWithRetry(sink, chunks, { pace: yieldToLoop, ...(options.retry ? { retry: options.retry } : {}), metrics, stall, halted: halt.signal });
        if (!written) {
          unloaded = true; // stopped while retrying
          return;
        }
        rows[table.table] = (rows[table.table] ?? 0) + loaded;
        metrics.count('touchstream_table_loaded_rows_total', loaded, { table: table.table });
      }),
    );
    // Stopped while an insert was retried: nothing of this poll is committed (the next loader reads it again).
    if (unloaded) return;
    const offsets = [...next.values()];
    if (await commit(offsets)) for (const { topic, partition, offset } of offsets) position.set(keyOf(topic, partition), offset);
  }

  /** Where the other tables' topics end now, for the partitions this loader reads. */
  async function otherEnds(barrier: LoadedTable): Promise<PartitionOffset[]> {
    const assigned = new Set(consumer.assignment().map(({ topic, partition }) => keyOf(topic, partition)));
    const ends: PartitionOffset[] = [];
    for (const table of options.tables) {
      if (table === barrier || table.barrier) continue;
      for (const end of await options.log.endOffsets(table.topic)) if (end.offset > 0 && assigned.has(keyOf(end.topic, end.partition))) ends.push(end);
    }
    return ends;
  }

  /** Applies the barrier records whose tables are loaded far enough, in order; commits each one's offset. */
  async function applyBarriers(): Promise<void> {
    if (barriers.length === 0 || stopped()) return;
    // Until the group's committed offsets are read, a partition this generation read nothing in counts as not loaded.
    if (seeded !== generation) return;
    // What the client moved past: everything it handed out is loaded by now (each poll is loaded before this runs),
    // and transaction markers after a topic's last rows count as reached without waiting for an empty poll.
    const handedOut = new Map((consumer.positions?.() ?? []).map(({ topic, partition, offset }) => [keyOf(topic, partition), offset]));
    const reached = (topic: string, partition: number, end: number) => Math.max(position.get(keyOf(topic, partition)) ?? 0, handedOut.get(keyOf(topic, partition)) ?? 0) >= end;
    while (barriers.length > 0) {
      const { record, table, ends } = barriers[0]!;
      if (ends.some(({ topic, partition, offset }) => !reached(topic, partition, offset))) return;
      const sink = { name: `clickhouse:${table.table}`, write: async () => void (await table.load([record.value])) };
      const written = await writeWithRetry(sink, [record.value], { pace: yieldToLoop, ...(options.retry ? { retry: options.retry } : {}), metrics, stall, halted: halt.signal });
      if (!written) return;
      barriers.shift();
      rows[table.table] = (rows[table.table] ?? 0) + 1;
      const offset = { topic: record.topic, partition: record.partition, offset: record.offset + 1 };
      if (await commit([offset])) position.set(keyOf(record.topic, record.partition), offset.offset);
    }
  }

  /**
   * Starts this generation's positions at the group's committed offsets: everything before them is loaded (offsets are
   * committed only after ClickHouse has the rows, or past markers and aborted records that hold none). A restarted
   * loader's client knows no position in a partition it fetches nothing new from (kafkajs reports none there): without
   * these offsets a barrier would wait for ever on a row topic that ends in a transaction marker the previous loader
   * had moved past. Unanswered (the broker away): tried again after the next poll; barriers wait meanwhile.
   */
  async function seedPositions(): Promise<void> {
    const of = generation;
    if (!consumer.committed) {
      seeded = of;
      return;
    }
    let offsets: PartitionOffset[];
    try {
      offsets = await stall.bound('committed offsets', consumer.committed());
    } catch (error) {
      if (error instanceof StallError) throw error;
      return;
    }
    for (const { topic, partition, offset } of offsets) {
      const key = keyOf(topic, partition);
      if (offset >= 0 && offset > (position.get(key) ?? -1)) position.set(key, offset);
    }
    seeded = of;
  }

  /**
   * Commits the loader's offsets; answers whether it did. A refused commit (a rebalance of the loaders' group
   * meanwhile: "generation id is not valid", or the broker away) loses nothing: what was loaded is committed with a
   * later commit, or read and loaded again by whoever owns the partition next (the inserts are idempotent).
   */
  async function commit(offsets: readonly PartitionOffset[]): Promise<boolean> {
    try {
      await stall.bound('offset commit', consumer.commit(offsets));
      return true;
    } catch (error) {
      if (error instanceof StallError) throw error;
      metrics.count('touchstream_loader_commit_failures_total', 1, { loader: name });
      return false;
    }
  }

  /**
   * Each table's records not loaded yet: its topic's end offsets (from the broker) minus the loaded position, per
   * partition this loader reads. Transaction markers count until the loader moves past them (at most one per
   * partition at rest, while no poll came back empty since).
   */
  async function reportLag(): Promise<void> {
    try {
      // Partitions not read yet in this generation count from the group's committed offsets.
      if (consumer.committed && consumer.assignment().some(({ topic, partition }) => !position.has(keyOf(topic, partition)) && !committed.has(keyOf(topic, partition)))) {
        for (const { topic, partition, offset } of await consumer.committed()) if (offset >= 0) committed.set(keyOf(topic, partition), offset);
      }
      for (const table of options.tables) {
        let lag = 0;
        for (const { partition, offset } of await options.log.endOffsets(table.topic)) {
          const key = keyOf(table.topic, partition);
          const loaded = position.get(key) ?? committed.get(key);
          if (loaded !== undefined) lag += Math.max(0, offset - loaded);
        }
        metrics.gauge('touchstream_table_lag_records', lag, { table: table.table });
      }
    } catch {
      // The broker is unreachable now: the next measurement tells.
    }
  }
}

/** Whether every partition reached the end it had when a bounded load started. */
function caughtUp(ends: ReadonlyMap<string, number>, position: ReadonlyMap<string, number>): boolean {
  for (const [key, end] of ends) if ((position.get(key) ?? 0) < end) return false;
  return true;
}

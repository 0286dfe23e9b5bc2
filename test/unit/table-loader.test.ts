// Pins the table loader's delivery semantics on the in-process log: only committed rows, offsets committed after the load, retries, bounded and live runs.
import { describe, expect, it } from 'vitest';
import { MetricsRecorder } from '../../engine/index.ts';
import { MemoryLog } from '../../log/memory.ts';
import type { Log, LogConsumer } from '../../log/log.ts';
import type { LoadedTable } from '../../loader/table-loader.ts';
import { runTableLoader } from '../../loader/table-loader.ts';
import { TouchstreamError } from '../../schemas/errors.ts';
import { decodeRowChunk, encodeRowChunks, plainRows } from '../../sinks/rows/row-chunks.ts';

/** A row carries the partition it was written to, so the order per partition can be checked after the load. */
interface Row {
  id: string;
  partition: number;
}
type Send = [topic: string, partition: number, ids: string[]];

const retry = { initialDelayMs: 1, maxDelayMs: 5 };

/** A log with two row topics of two partitions, and a pipeline producer that writes rows in transactions. */
async function rowTopics() {
  const log = new MemoryLog();
  await log.createTopics([{ topic: 'rows.a', partitions: 2 }, { topic: 'rows.b', partitions: 2 }]);
  const producer = await log.transactionalProducer({ transactionalId: 'pipeline-0' });
  const pipeline = await log.consumer({ groupId: 'pipeline', topics: [] });
  /** One transaction: each send is one chunk (record) of rows on one partition. */
  const transaction = async (sends: Send[], outcome: 'commit' | 'abort' = 'commit') => {
    await producer.begin();
    for (const [topic, partition, ids] of sends) {
      const chunks = await encodeRowChunks<Row>(ids.map((id) => ({ id, partition })), plainRows());
      await producer.send(topic, chunks.map((value) => ({ key: null, value, partition })));
    }
    await (outcome === 'commit' ? producer.commit(pipeline, []) : producer.abort());
  };
  return { log, transaction };
}

/** A table in memory: `failures` are thrown by the first load calls; `reached(n)` resolves once it holds n rows. */
function memoryTable(table: string, topic: string, failures: Error[] = []) {
  const rows: Row[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  let calls = 0;
  const loaded: LoadedTable & { rows: Row[]; calls: () => number; ids: (partition: number) => string[]; reached: (count: number) => Promise<void> } = {
    table,
    topic,
    rows,
    calls: () => calls,
    ids: (partition) => rows.filter((row) => row.partition === partition).map((row) => row.id),
    async load(chunks) {
      const failure = failures[calls++];
      if (failure) throw failure;
      const batch = chunks.flatMap((chunk) => decodeRowChunk<Row>(chunk, plainRows()));
      rows.push(...batch);
      for (const waiter of waiters) if (rows.length >= waiter.count) waiter.resolve();
      return batch.length;
    },
    reached: (count) =>
      new Promise<void>((resolve, reject) => {
        if (rows.length >= count) return resolve();
        const timer = setTimeout(() => reject(new Error(`${table}: ${rows.length} rows after 2 s, expected ${count}`)), 2000);
        waiters.push({ count, resolve: () => (clearTimeout(timer), resolve()) });
      }),
  };
  return loaded;
}

/**
 * The in-process log as Kafka and kafkajs show it: every record is its own transaction, so a commit marker follows it
 * (record i at offset 2i, its marker at 2i + 1), and the consumer reports a position past a marker only in a partition
 * where it read something, as kafkajs does (a client that fetched nothing new in a partition knows no position there).
 */
function withMarkers(memory: MemoryLog): Log {
  const toKafka = (offset: number) => offset * 2;
  const toMemory = (offset: number) => Math.ceil(offset / 2);
  return {
    createTopics: (specs) => memory.createTopics(specs),
    endOffsets: async (topic) => (await memory.endOffsets(topic)).map((end) => ({ ...end, offset: toKafka(end.offset) })),
    producer: () => memory.producer(),
    transactionalProducer: (options) => memory.transactionalProducer(options),
    readPartitions: (topic, partitions) => memory.readPartitions(topic, partitions),
    close: () => memory.close(),
    async consumer(options): Promise<LogConsumer> {
      const consumer = await memory.consumer(options);
      /** Per partition read in this consumer: past the last record handed out and its marker. */
      const read = new Map<string, number>();
      return {
        async poll(maxRecords, timeoutMs) {
          const records = (await consumer.poll(maxRecords, timeoutMs)).map((record) => ({ ...record, offset: toKafka(record.offset) }));
          for (const { topic, partition, offset } of records) read.set(`${topic}/${partition}`, offset + 2);
          return records;
        },
        commit: (offsets) => consumer.commit(offsets.map((offset) => ({ ...offset, offset: toMemory(offset.offset) }))),
        assignment: () => consumer.assignment(),
        generation: () => consumer.generation(),
        positions: () => consumer.assignment().map(({ topic, partition }) => ({ topic, partition, offset: read.get(`${topic}/${partition}`) ?? -1 })),
        committed: async () => (await consumer.committed!()).map((offset) => ({ ...offset, offset: offset.offset < 0 ? -1 : toKafka(offset.offset) })),
        close: () => consumer.close(),
      };
    },
  };
}

describe('runTableLoader', () => {
  it('bounded: loads exactly the committed rows, in order per partition, and stops by itself', async () => {
    const { log, transaction } = await rowTopics();
    await transaction([['rows.a', 0, ['a1', 'a2']], ['rows.a', 1, ['a3']], ['rows.b', 0, ['b1']]]);
    await transaction([['rows.a', 0, ['x1']], ['rows.b', 1, ['x2']]], 'abort');
    await transaction([['rows.a', 0, ['a4']], ['rows.b', 1, ['b2', 'b3']]]);
    const a = memoryTable('A', 'rows.a');
    const b = memoryTable('B', 'rows.b');
    const metrics = new MetricsRecorder();
    // One chunk per poll: the order must hold across polls, not just inside one insert.
    const result = await runTableLoader({ log, groupId: 'loader', tables: [a, b], bounded: true, poll: { maxRecords: 1, timeoutMs: 10 }, retry, metrics });
    expect(result.rows).toEqual({ A: 4, B: 3 });
    expect([a.ids(0), a.ids(1)]).toEqual([['a1', 'a2', 'a4'], ['a3']]);
    expect([b.ids(0), b.ids(1)]).toEqual([['b1'], ['b2', 'b3']]);
    expect(metrics.counters.get('touchstream_table_loaded_rows_total{table="A"}')).toBe(4);
    expect(metrics.counters.get('touchstream_table_loaded_rows_total{table="B"}')).toBe(3);
    expect(metrics.gauges.get('touchstream_table_lag_records{table="A"}')).toBe(0);
    expect(metrics.gauges.get('touchstream_table_lag_records{table="B"}')).toBe(0);
  });

  it('offsets: the same group resumes past what it loaded; another group loads everything again', async () => {
    const { log, transaction } = await rowTopics();
    await transaction([['rows.a', 0, ['a1', 'a2']], ['rows.a', 1, ['a3']]]);
    const a = memoryTable('A', 'rows.a');
    const first = await runTableLoader({ log, groupId: 'loader', tables: [a], bounded: true, poll: { timeoutMs: 10 }, retry });
    expect(first.rows).toEqual({ A: 3 });
    // New rows on both partitions: a partition with nothing new past the group's offset never counts as caught up on
    // MemoryLog (it has no `positions()`, which the loader's skip path needs), so that bounded run would not end.
    await transaction([['rows.a', 0, ['a4']], ['rows.a', 1, ['a5', 'a6']]]);
    const second = await runTableLoader({ log, groupId: 'loader', tables: [a], bounded: true, poll: { timeoutMs: 10 }, retry });
    expect(second.rows).toEqual({ A: 3 });
    expect([a.ids(0), a.ids(1)]).toEqual([['a1', 'a2', 'a4'], ['a3', 'a5', 'a6']]);
    const other = memoryTable('A', 'rows.a');
    const again = await runTableLoader({ log, groupId: 'loader-2', tables: [other], bounded: true, poll: { timeoutMs: 10 }, retry });
    expect(again.rows).toEqual({ A: 6 });
    expect([other.ids(0), other.ids(1)]).toEqual([['a1', 'a2', 'a4'], ['a3', 'a5', 'a6']]);
  });

  it('retry: retriable failures are retried, and nothing is committed before the load succeeds', async () => {
    const { log, transaction } = await rowTopics();
    await transaction([['rows.a', 0, ['a1', 'a2']], ['rows.a', 1, ['a3']]]);
    const down = () => new TouchstreamError('clickhouse_unavailable', 'ClickHouse is down', true);
    /** Records the loader's group would be handed now: all of them while nothing is committed. */
    const uncommitted = async () => {
      const probe = await log.consumer({ groupId: 'loader', topics: ['rows.a'] });
      const records = await probe.poll(100, 0);
      await probe.close();
      return records.length;
    };
    const seenWhileFailing: number[] = [];
    const a = memoryTable('A', 'rows.a', [down(), down()]);
    const load = a.load.bind(a);
    a.load = async (chunks) => {
      if (a.calls() < 2) seenWhileFailing.push(await uncommitted());
      return load(chunks);
    };
    const metrics = new MetricsRecorder();
    const result = await runTableLoader({ log, groupId: 'loader', tables: [a], bounded: true, poll: { timeoutMs: 10 }, retry, metrics });
    expect(seenWhileFailing).toEqual([2, 2]);
    expect(a.calls()).toBe(3);
    expect(result.rows).toEqual({ A: 3 });
    expect(a.rows.map((row) => row.id)).toEqual(['a1', 'a2', 'a3']);
    expect(metrics.counters.get('touchstream_sink_errors_total{retriable="true",sink="clickhouse:A"}')).toBe(2);
    expect(await uncommitted()).toBe(0);
  });

  it('a non-retriable failure rejects the run and commits nothing', async () => {
    const { log, transaction } = await rowTopics();
    await transaction([['rows.a', 0, ['a1']], ['rows.b', 0, ['b1']]]);
    const a = memoryTable('A', 'rows.a', [new TouchstreamError('bad_row', 'ClickHouse rejected a row', false)]);
    const b = memoryTable('B', 'rows.b');
    const run = runTableLoader({ log, groupId: 'loader', tables: [a, b], bounded: true, poll: { timeoutMs: 10 }, retry });
    await expect(run).rejects.toMatchObject({ code: 'bad_row', retriable: false });
    expect(a.calls()).toBe(1);
    const probe = await log.consumer({ groupId: 'loader', topics: ['rows.a', 'rows.b'] });
    expect((await probe.poll(100, 0)).map((record) => `${record.topic}/${record.offset}`)).toEqual(['rows.a/0', 'rows.b/0']);
  });

  it('live: loads rows committed while it runs, until the signal aborts', async () => {
    const { log, transaction } = await rowTopics();
    const a = memoryTable('A', 'rows.a');
    const metrics = new MetricsRecorder();
    const stop = new AbortController();
    const run = runTableLoader({ log, groupId: 'loader', tables: [a], signal: stop.signal, poll: { timeoutMs: 10 }, retry, metrics });
    await transaction([['rows.a', 0, ['a1', 'a2']], ['rows.a', 1, ['a3']]]);
    await a.reached(3);
    await transaction([['rows.a', 1, ['x1']]], 'abort');
    await transaction([['rows.a', 1, ['a4']]]);
    await a.reached(4);
    stop.abort();
    expect(await run).toEqual({ rows: { A: 4 } });
    expect([a.ids(0), a.ids(1)]).toEqual([['a1', 'a2'], ['a3', 'a4']]);
    expect(metrics.counters.get('touchstream_table_loaded_rows_total{table="A"}')).toBe(4);
    expect(metrics.gauges.get('touchstream_table_lag_records{table="A"}')).toBe(0);
  });

  it('a bounded run with nothing new stops at once; the lag counts a backlog not read yet from the committed offsets', async () => {
    const { log, transaction } = await rowTopics();
    await transaction([['rows.a', 0, ['a1']]]);
    const a = memoryTable('A', 'rows.a');
    expect((await runTableLoader({ log, groupId: 'loader', tables: [a], bounded: true, poll: { timeoutMs: 10 }, retry })).rows).toEqual({ A: 1 });
    expect((await runTableLoader({ log, groupId: 'loader', tables: [a], bounded: true, poll: { timeoutMs: 10 }, retry })).rows).toEqual({ A: 0 });
    // Down from the start: the three rows behind count as lag although nothing of them was loaded yet.
    await transaction([['rows.a', 0, ['a2']], ['rows.a', 1, ['a3', 'a4']]]);
    const down = Array.from({ length: 1000 }, () => new TouchstreamError('clickhouse_unavailable', 'ClickHouse is down', true));
    const failing = memoryTable('A', 'rows.a', down);
    const metrics = new MetricsRecorder();
    const stop = new AbortController();
    const run = runTableLoader({ log, groupId: 'loader', tables: [failing], signal: stop.signal, poll: { timeoutMs: 10 }, retry, metrics });
    const deadline = Date.now() + 3000;
    while (metrics.gauges.get('touchstream_table_lag_records{table="A"}') !== 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(metrics.gauges.get('touchstream_table_lag_records{table="A"}')).toBe(2); // two chunks (records): a2's and a3+a4's
    // Aborting ends it while the insert is still being retried: nothing loaded, nothing committed.
    stop.abort();
    expect(await run).toEqual({ rows: { A: 0 } });
    const probe = await log.consumer({ groupId: 'loader', topics: ['rows.a'] });
    expect((await probe.poll(100, 0)).length).toBe(2);
  });
});

describe('runTableLoader: a barrier table (erasures)', () => {
  it('applies a barrier record only after every other table holds the rows committed before it, one record per poll', async () => {
    const { log, transaction } = await rowTopics();
    await log.createTopics([{ topic: 'rows.erasures', partitions: 1 }]);
    await transaction([['rows.a', 0, ['a1']], ['rows.a', 1, ['a2']], ['rows.b', 1, ['b1']]]);
    await transaction([['rows.erasures', 0, ['e1']], ['rows.a', 0, ['a3']]]);
    await transaction([['rows.b', 0, ['b2']]]);
    const a = memoryTable('A', 'rows.a');
    const b = memoryTable('B', 'rows.b');
    /** What the other tables held when each barrier record was applied. */
    const seen: Array<[string, string[], string[]]> = [];
    const erasures: LoadedTable = {
      table: 'erasures',
      topic: 'rows.erasures',
      barrier: true,
      async load(chunks) {
        for (const row of chunks.flatMap((chunk) => decodeRowChunk<Row>(chunk, plainRows()))) seen.push([row.id, a.rows.map((r) => r.id).sort(), b.rows.map((r) => r.id).sort()]);
        return chunks.length;
      },
    };
    // The barrier topic first, one record per poll: it is read before the tables' rows are.
    const result = await runTableLoader({ log, groupId: 'loader', tables: [erasures, a, b], bounded: true, poll: { maxRecords: 1, timeoutMs: 10 }, retry });
    expect(result.rows).toEqual({ erasures: 1, A: 3, B: 2 });
    // Everything committed before the erasure (and in its own transaction) was loaded first.
    const [[id, atA, atB]] = seen as [[string, string[], string[]]];
    expect(id).toBe('e1');
    expect(atA).toEqual(expect.arrayContaining(['a1', 'a2', 'a3']));
    expect(atB).toEqual(expect.arrayContaining(['b1']));
  });

  it('a restarted loader applies a barrier although the other topics end in markers it read nothing past (loaded before the restart)', async () => {
    const memory = new MemoryLog();
    const log = withMarkers(memory);
    await log.createTopics([{ topic: 'rows.a', partitions: 1 }, { topic: 'rows.b', partitions: 1 }, { topic: 'rows.erasures', partitions: 1 }]);
    const producer = await log.producer();
    const send = async (topic: string, ids: string[]) => {
      const chunks = await encodeRowChunks<Row>(ids.map((id) => ({ id, partition: 0 })), plainRows());
      await producer.send(topic, chunks.map((value) => ({ key: null, value, partition: 0 })));
    };
    const seen: Array<[string, string[]]> = [];
    const a = memoryTable('A', 'rows.a');
    const b = memoryTable('B', 'rows.b');
    const erasures: LoadedTable = {
      table: 'erasures',
      topic: 'rows.erasures',
      barrier: true,
      async load(chunks) {
        for (const row of chunks.flatMap((chunk) => decodeRowChunk<Row>(chunk, plainRows()))) seen.push([row.id, [...a.rows, ...b.rows].map((r) => r.id).sort()]);
        return chunks.length;
      },
    };
    const tables = [erasures, a, b];
    await send('rows.a', ['a1']);
    await send('rows.b', ['b1']);
    // The first loader loads both and moves past their markers (its group's offsets: 2, the topics' ends).
    expect((await runTableLoader({ log, groupId: 'loader', tables, bounded: true, poll: { timeoutMs: 10 }, retry })).rows).toEqual({ erasures: 0, A: 1, B: 1 });
    // Meanwhile: one more row of B, then the erasure.
    await send('rows.b', ['b2']);
    await send('rows.erasures', ['e1']);
    // The restarted loader reads the erasure and b2; in rows.a it reads nothing, so its client knows no position there.
    const stop = new AbortController();
    const run = runTableLoader({ log, groupId: 'loader', tables, signal: stop.signal, poll: { timeoutMs: 10 }, retry });
    const deadline = Date.now() + 3000;
    while (seen.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    stop.abort();
    await run;
    // Applied, and after b2 (written before it): every earlier row was in the tables first.
    expect(seen).toEqual([['e1', ['a1', 'b1', 'b2']]]);
  });
});

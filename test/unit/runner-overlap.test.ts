// The runner overlaps a checkpoint with processing: the next batch is processed while the previous checkpoint commits, each checkpoint holds the state, offsets and outputs as of its own batch, and a live job processes between the slices of a flush.
import { describe, expect, it } from 'vitest';
import { runStreamJob } from '../../engine/runner.ts';
import type { Operator } from '../../engine/operator.ts';
import { KeyedStateStore } from '../../engine/state.ts';
import { MemoryLog } from '../../log/memory.ts';
import type { PartitionOffset, TransactionalProducer } from '../../log/log.ts';

type Outputs = { counts: number };

describe('runStreamJob with a checkpoint in flight', () => {
  it('processes the next batch before the previous checkpoint commits, and each checkpoint holds its own batch end', async () => {
    const log = new MemoryLog({ defaultPartitions: 1 });
    await log.createTopics([{ topic: 'input', partitions: 1 }]);
    log.append('input', ['a', 'b', 'c', 'd'].map((value) => ({ key: 'k', value: Buffer.from(value) })));

    // One value mutated in place and put again: a checkpoint that serialised it late would see the next batch's count.
    const store = new KeyedStateStore<{ n: number; seen: string[] }>('counts');
    let processedRecords = 0;
    let fourthProcessed!: () => void;
    const fourth = new Promise<void>((resolve) => (fourthProcessed = resolve));
    const counter: Operator<string, Outputs> = {
      name: 'counter',
      stateStores: ['counts'],
      process(batch, out) {
        const value = store.get('k') ?? { n: 0, seen: [] };
        for (const record of batch) {
          value.n++;
          value.seen.push(record.value);
        }
        store.put(0, 'k', value);
        out.emit('counts', value.n);
        processedRecords += batch.length;
        if (processedRecords >= 4) fourthProcessed();
      },
      onWatermark() {},
      snapshot: () => store.changes(),
      restore: (_name, partition, entries) => store.restore(partition, entries),
      reset: () => store.clear(),
    };

    const inner = await log.transactionalProducer({ transactionalId: 't' });
    const commits: PartitionOffset[][] = [];
    let begun = 0;
    const transactions: TransactionalProducer = {
      ...inner,
      async begin() {
        // The first checkpoint starts its transaction only once the second batch is processed (and has mutated the
        // stored value): without overlap this never happens, and a late serialisation would checkpoint n = 4.
        if (++begun === 1) await fourth;
        await inner.begin();
      },
      async commit(consumer, offsets) {
        commits.push([...offsets]);
        await inner.commit(consumer, offsets);
      },
    };
    const written: number[][] = [];
    const result = await runStreamJob<string, Outputs>({
      name: 'overlap',
      consumer: await log.consumer({ groupId: 'grp', topics: ['input'] }),
      inputTopic: 'input',
      decode: async (records) => records.map((record) => ({ record, value: record.value.toString() })),
      keyOf: () => 'k',
      eventTimeOf: () => 1000,
      operators: [counter],
      sinks: { counts: { name: 'counts', write: async (batch) => void written.push([...batch]) } },
      watermarks: { outOfOrdernessMs: 0, idleTimeoutMs: 60_000 },
      boundedBy: [{ topic: 'input', partition: 0, offset: 4 }],
      poll: { maxRecords: 2, timeoutMs: 10 },
      flush: { maxBufferedValues: 1, intervalMs: 60_000 },
      state: { log, transactions, changelogPrefix: 'grp' },
    });

    expect(result.records).toBe(4);
    expect(commits).toEqual([
      [{ topic: 'input', partition: 0, offset: 2 }],
      [{ topic: 'input', partition: 0, offset: 4 }],
    ]);
    // The first checkpoint's state is as of record 2, although records 3 and 4 were processed before it committed.
    expect(log.read('grp-state-changelog').filter((record) => record.key?.toString().startsWith('counts|')).map((record) => record.value.toString())).toEqual([
      '{"n":2,"seen":["a","b"]}',
      '{"n":4,"seen":["a","b","c","d"]}',
    ]);
    expect(written).toEqual([[2], [4]]);
    expect(result.emitted).toEqual({ counts: 2 });
  });

  it('keeps processing while a slow flush is in flight until the buffered outputs are full, then waits for it', async () => {
    const log = new MemoryLog({ defaultPartitions: 1 });
    await log.createTopics([{ topic: 'input', partitions: 1 }]);
    log.append('input', Array.from({ length: 10 }, (_, index) => ({ key: 'k', value: Buffer.from(String(index)) })));

    let processed = 0;
    const passThrough: Operator<string, Outputs> = {
      name: 'pass',
      process(batch, out) {
        for (const record of batch) out.emit('counts', Number(record.value));
        processed += batch.length;
      },
      onWatermark() {},
    };
    // The first write hangs until released; meanwhile every flush is due (interval 0).
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const processedWhileFirstWrite: number[] = [];
    const written: number[][] = [];
    const sink = {
      name: 'counts',
      async write(batch: number[]) {
        if (written.length === 0) {
          written.push([...batch]);
          // Give the loop time to go on: it must process further batches, up to the buffer bound, and no more.
          for (let tick = 0; tick < 50; tick++) await new Promise((resolve) => setImmediate(resolve));
          processedWhileFirstWrite.push(processed);
          release();
          return;
        }
        await released;
        written.push([...batch]);
      },
    };
    const result = await runStreamJob<string, Outputs>({
      name: 'slow-sink',
      consumer: await log.consumer({ groupId: 'grp', topics: ['input'] }),
      inputTopic: 'input',
      decode: async (records) => records.map((record) => ({ record, value: record.value.toString() })),
      keyOf: () => 'k',
      eventTimeOf: () => 1000,
      operators: [passThrough],
      sinks: { counts: sink },
      watermarks: { outOfOrdernessMs: 0, idleTimeoutMs: 60_000 },
      boundedBy: [{ topic: 'input', partition: 0, offset: 10 }],
      poll: { maxRecords: 1, timeoutMs: 10 },
      flush: { maxBufferedValues: 3, intervalMs: 0 },
    });

    expect(result.records).toBe(10);
    // The first flush took record 0; while it hung the loop processed records 1, 2 and 3 (3 buffered: full) and waited.
    expect(processedWhileFirstWrite).toEqual([4]);
    expect(written[0]).toEqual([0]);
    expect(written[1]).toEqual([1, 2, 3]);
    expect(written.flat()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe('runStreamJob pacing a flush', () => {
  /**
   * One job whose first flush has a long encoding in slices (the sink awaits `pace` between them): a record arrives
   * once the flush began. Answers whether the job processed that record before the encoding finished.
   */
  async function processedDuringEncoding(initialRecords: number): Promise<boolean> {
    const log = new MemoryLog({ defaultPartitions: 1 });
    await log.createTopics([{ topic: 'input', partitions: 1 }]);
    log.append('input', Array.from({ length: initialRecords }, (_, index) => ({ key: 'k', value: Buffer.from(`early-${index}`) })));
    let lateProcessed = false;
    const operator: Operator<string, Outputs> = {
      name: 'pass',
      process(batch, out) {
        for (const record of batch) {
          if (record.value === 'late') lateProcessed = true;
          out.emit('counts', 1);
        }
      },
      onWatermark() {},
    };
    let duringEncoding: boolean | undefined;
    const sink = {
      name: 'slices',
      async write(_batch: readonly number[], pace?: () => Promise<void>) {
        if (duringEncoding !== undefined) return;
        // The late record comes from outside the flush (a turn of the event loop away), as from the broker.
        setImmediate(() => log.append('input', [{ key: 'k', value: Buffer.from('late') }]));
        const started = Date.now();
        while (!lateProcessed && Date.now() - started < 1000) await pace!();
        duringEncoding = lateProcessed;
      },
    };
    await runStreamJob<string, Outputs>({
      name: 'pacing',
      consumer: await log.consumer({ groupId: 'grp', topics: ['input'] }),
      inputTopic: 'input',
      decode: async (records) => records.map((record) => ({ record, value: record.value.toString() })),
      keyOf: () => 'k',
      eventTimeOf: () => 1000,
      operators: [operator],
      sinks: { counts: sink },
      watermarks: { outOfOrdernessMs: 0, idleTimeoutMs: 60_000 },
      boundedBy: [{ topic: 'input', partition: 0, offset: initialRecords + 1 }],
      poll: { maxRecords: 2, timeoutMs: 50 },
      flush: { maxBufferedValues: 1, intervalMs: 60_000 },
    });
    expect(lateProcessed).toBe(true);
    return duringEncoding!;
  }

  it('live (polls not full), the loop processes new records between the slices of a flush', async () => {
    expect(await processedDuringEncoding(1)).toBe(true);
  });

  it('catching up (a full poll), the slices run back to back: the flush reaches its sinks as early as it can', async () => {
    expect(await processedDuringEncoding(2)).toBe(false);
  });
});

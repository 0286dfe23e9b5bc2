// The runner moves each input partition's own time (a quiet partition holds back only the global watermark), and on a live stream commits a buffered signal within its short interval, not at the checkpoint interval.
import { describe, expect, it } from 'vitest';
import { runStreamJob } from '../../engine/runner.ts';
import type { Operator } from '../../engine/operator.ts';
import { MemoryLog } from '../../log/memory.ts';

type Outputs = { signals: string; other: string };
/** Input values: "<event time in seconds>" or "<event time>!" (an event that fires a signal). */
const timeOf = (value: string) => Number.parseInt(value, 10) * 1000;

describe('runStreamJob: partition time and urgent outputs', () => {
  it('tells operators each partition watermark as it advances, while a quiet partition holds the global one back', async () => {
    const log = new MemoryLog({ defaultPartitions: 2 });
    await log.createTopics([{ topic: 'input', partitions: 2 }]);
    log.append('input', [{ key: null, value: Buffer.from('10'), partition: 1 }]);
    log.append('input', ['10', '20', '30', '40'].map((value) => ({ key: null, value: Buffer.from(value), partition: 0 })));
    const partitionTimes: Array<[number, number]> = [];
    const globalTimes: number[] = [];
    const recorder: Operator<string, Outputs> = {
      name: 'recorder',
      process() {},
      onPartitionWatermark: (partition, watermark) => void partitionTimes.push([partition, watermark]),
      onWatermark: (watermark) => void globalTimes.push(watermark),
    };
    const stop = new AbortController();
    const job = runStreamJob<string, Outputs>({
      name: 'partition-time',
      consumer: await log.consumer({ groupId: 'grp', topics: ['input'] }),
      inputTopic: 'input',
      decode: async (records) => records.map((record) => ({ record, value: record.value.toString() })),
      keyOf: () => 'k',
      eventTimeOf: timeOf,
      operators: [recorder],
      sinks: { signals: { name: 'signals', write: async () => {} }, other: { name: 'other', write: async () => {} } },
      // Partition 1 never goes idle within the test: its 10 s holds the global watermark.
      watermarks: { outOfOrdernessMs: 1000, idleTimeoutMs: 600_000 },
      poll: { maxRecords: 1, timeoutMs: 5 },
      signal: stop.signal,
    });
    const deadline = Date.now() + 5000;
    while (!partitionTimes.some(([partition, time]) => partition === 0 && time === 39_000) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    stop.abort();
    await job;
    // Partition 0's time moves record by record (one per poll), to 40 s − 1 s; partition 1's stays at 10 s − 1 s.
    expect(partitionTimes.filter(([partition]) => partition === 0).map(([, time]) => time)).toEqual([9000, 19_000, 29_000, 39_000]);
    expect(partitionTimes.filter(([partition]) => partition === 1).map(([, time]) => time)).toEqual([9000]);
    // The global watermark is the minimum over the two: it never passes partition 1's 9 s.
    expect(Math.max(...globalTimes)).toBe(9000);
  });

  it('live, commits a buffered signal within the urgent interval although the checkpoint interval is a minute', async () => {
    const log = new MemoryLog({ defaultPartitions: 1 });
    await log.createTopics([{ topic: 'input', partitions: 1 }]);
    const firing: Operator<string, Outputs> = {
      name: 'firing',
      process(batch, out) {
        for (const record of batch) out.emit(record.value.endsWith('!') ? 'signals' : 'other', record.value);
      },
      onWatermark() {},
    };
    const written: Array<{ sink: string; values: string[]; at: number }> = [];
    const sink = (name: string) => ({ name, write: async (batch: readonly string[]) => void written.push({ sink: name, values: [...batch], at: Date.now() }) });
    const stop = new AbortController();
    const job = runStreamJob<string, Outputs>({
      name: 'urgent',
      consumer: await log.consumer({ groupId: 'grp', topics: ['input'] }),
      inputTopic: 'input',
      decode: async (records) => records.map((record) => ({ record, value: record.value.toString() })),
      keyOf: () => 'k',
      eventTimeOf: timeOf,
      operators: [firing],
      sinks: { signals: sink('signals'), other: sink('other') },
      watermarks: { outOfOrdernessMs: 0, idleTimeoutMs: 600_000 },
      poll: { maxRecords: 100, timeoutMs: 200 },
      flush: { intervalMs: 60_000, urgent: ['signals'], urgentIntervalMs: 20 },
      signal: stop.signal,
    });
    log.append('input', [{ key: null, value: Buffer.from('1') }]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(written).toEqual([]); // no signal buffered: nothing is flushed before the minute is up
    const sentAt = Date.now();
    log.append('input', [{ key: null, value: Buffer.from('2!') }]);
    const deadline = Date.now() + 2000;
    while (!written.some((write) => write.sink === 'signals') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2));
    stop.abort();
    await job;
    const signals = written.find((write) => write.sink === 'signals');
    expect(signals?.values).toEqual(['2!']);
    // The earlier non-urgent value goes with it, in the same flush; well within the 60 s interval.
    expect(written.find((write) => write.sink === 'other')?.values).toEqual(['1']);
    expect(signals!.at - sentAt).toBeLessThan(250);
  });

  it('does not count the wait for an operator\'s drain (work off the loop) as idleness: a partition behind stays on time', async () => {
    const log = new MemoryLog({ defaultPartitions: 2 });
    await log.createTopics([{ topic: 'input', partitions: 2 }]);
    // Partition 0 is far ahead of partition 1; both are read before the first checkpoint.
    log.append('input', [{ key: null, value: Buffer.from('100'), partition: 0 }, { key: null, value: Buffer.from('10'), partition: 1 }]);
    let clockOffset = 0;
    const seen: Array<[string, number]> = [];
    let drained = false;
    const operator: Operator<string, Outputs> = {
      name: 'slow-drain',
      process(batch) {
        for (const record of batch) {
          seen.push([record.value, record.partitionWatermark]);
          // Partition 0 moves on first, then partition 1's next event arrives (10 s behind it, on time for partition 1).
          if (record.value === '101') log.append('input', [{ key: null, value: Buffer.from('11'), partition: 1 }]);
        }
      },
      onWatermark() {},
      async drain() {
        if (drained || seen.length < 2) return;
        drained = true;
        // Work in another thread holds the loop for 5 s of wall time, far beyond the idle timeout.
        clockOffset += 5000;
        log.append('input', [{ key: null, value: Buffer.from('101'), partition: 0 }]);
      },
    };
    const stop = new AbortController();
    const job = runStreamJob<string, Outputs>({
      name: 'drain-pause',
      consumer: await log.consumer({ groupId: 'grp', topics: ['input'] }),
      inputTopic: 'input',
      decode: async (records) => records.map((record) => ({ record, value: record.value.toString() })),
      keyOf: () => 'k',
      eventTimeOf: timeOf,
      operators: [operator],
      sinks: { signals: { name: 'signals', write: async () => {} }, other: { name: 'other', write: async () => {} } },
      watermarks: { outOfOrdernessMs: 1000, idleTimeoutMs: 1000 },
      // Polls are never full: a full one would mark every partition as not idle anyway (catching up).
      poll: { maxRecords: 10, timeoutMs: 5 },
      flush: { intervalMs: 10, urgent: [], urgentIntervalMs: 10 },
      wallClock: () => Date.now() + clockOffset,
      signal: stop.signal,
    });
    const deadline = Date.now() + 5000;
    while (!seen.some(([value]) => value === '11') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    stop.abort();
    await job;
    expect(drained).toBe(true);
    // Partition 1 did not go idle during the drain, so partition 0's 100 s never became its floor: its event at 11 s
    // sees its own time (10 s − 1 s), not 100 s (it would be late).
    expect(seen.find(([value]) => value === '11')).toEqual(['11', 9000]);
  });
});

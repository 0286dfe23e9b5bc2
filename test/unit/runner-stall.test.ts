// The runner's watchdog: a step that never answers (a checkpoint commit, a sink write, a poll) fails the job with a retriable `engine_stalled` error instead of hanging, the supervisor restarts it from the last checkpoint, and a failed job leaves no retries running behind it.
import { describe, expect, it } from 'vitest';
import { MetricsRecorder } from '../../engine/metrics.ts';
import type { Operator, Sink } from '../../engine/operator.ts';
import { runStreamJob } from '../../engine/runner.ts';
import type { StreamJobOptions } from '../../engine/runner.ts';
import { StallError } from '../../engine/stall-watchdog.ts';
import { KeyedStateStore } from '../../engine/state.ts';
import { supervise } from '../../engine/supervisor.ts';
import type { LogConsumer, TransactionalProducer } from '../../log/log.ts';
import { MemoryLog } from '../../log/memory.ts';
import { TouchstreamError } from '../../schemas/errors.ts';

type Outputs = { counts: number };

const never = new Promise<never>(() => {});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A count per key, checkpointed in store `counts` and emitted after each batch. */
function counterOperator(): Operator<string, Outputs> {
  const store = new KeyedStateStore<{ n: number }>('counts');
  return {
    name: 'counter',
    stateStores: ['counts'],
    process(batch, out) {
      const value = store.get('k') ?? { n: 0 };
      value.n += batch.length;
      store.put(0, 'k', value);
      out.emit('counts', value.n);
    },
    onWatermark() {},
    snapshot: () => store.changes(),
    restore: (_name, partition, entries) => store.restore(partition, entries),
    reset: () => store.clear(),
  };
}

async function fourRecords(): Promise<MemoryLog> {
  const log = new MemoryLog({ defaultPartitions: 1 });
  await log.createTopics([{ topic: 'input', partitions: 1 }]);
  log.append('input', ['a', 'b', 'c', 'd'].map((value) => ({ key: 'k', value: Buffer.from(value) })));
  return log;
}

function job(
  log: MemoryLog, consumer: LogConsumer, sink: Sink<unknown>, metrics: MetricsRecorder, extra: Partial<StreamJobOptions<string, Outputs>> = {},
): StreamJobOptions<string, Outputs> {
  return {
    name: 'stall',
    consumer,
    inputTopic: 'input',
    decode: async (records) => records.map((record) => ({ record, value: record.value.toString() })),
    keyOf: () => 'k',
    eventTimeOf: () => 1000,
    operators: [counterOperator()],
    sinks: { counts: sink },
    watermarks: { outOfOrdernessMs: 0, idleTimeoutMs: 60_000 },
    boundedBy: [{ topic: 'input', partition: 0, offset: 4 }],
    poll: { maxRecords: 2, timeoutMs: 10 },
    flush: { maxBufferedValues: 1, intervalMs: 60_000 },
    retry: { initialDelayMs: 20, maxDelayMs: 40 },
    stallTimeoutMs: 150,
    metrics,
    ...extra,
  };
}

describe('the runner watchdog', () => {
  it('a checkpoint commit that never answers fails the job (engine_stalled, retriable); the restart restores the last checkpoint and finishes once', async () => {
    const log = await fourRecords();
    const metrics = new MetricsRecorder();
    const written: number[][] = [];
    const sink: Sink<unknown> = { name: 'table', write: async (batch) => void written.push([...(batch as number[])]) };
    const restarts: unknown[] = [];
    let attempts = 0;
    const result = await supervise(
      async () => {
        attempts++;
        const consumer = await log.consumer({ groupId: 'grp', topics: ['input'] });
        const inner = await log.transactionalProducer({ transactionalId: 't' });
        // The first attempt's first commit never answers: a broker call with no answer, the hang of issue 4.
        const hangs = attempts === 1;
        const transactions: TransactionalProducer = { ...inner, commit: (c, offsets) => (hangs ? never : inner.commit(c, offsets)) };
        return runStreamJob(job(log, consumer, sink, metrics, { state: { log, transactions, changelogPrefix: 'grp' } }));
      },
      { name: 'stall', metrics, initialDelayMs: 1, onRestart: (error) => restarts.push(error) },
    );

    expect(restarts).toHaveLength(1);
    const stalled = restarts[0] as StallError;
    expect(stalled).toBeInstanceOf(StallError);
    expect(stalled.code).toBe('engine_stalled');
    expect(stalled.retriable).toBe(true);
    expect(stalled.stage).toBe('transaction commit');
    expect(metrics.total('touchstream_stalls_total')).toBe(1);
    expect(metrics.total('touchstream_job_restarts_total')).toBe(1);
    // Attempt 1 wrote count 2 to the table before its commit hung; attempt 2 redid everything from offset 0.
    expect(written).toEqual([[2], [2], [4]]);
    expect(result.records).toBe(4);
    // The log holds the redone checkpoints only (the hung transaction never committed): each state once.
    expect(log.read('grp-state-changelog').filter((record) => record.key?.toString().startsWith('counts|')).map((record) => record.value.toString())).toEqual(['{"n":2}', '{"n":4}']);
    const after = await log.consumer({ groupId: 'grp', topics: ['input'] });
    expect(await after.poll(10, 0)).toEqual([]); // offsets committed up to the end
  });

  it('a sink that answers with retriable errors for longer than the stall timeout is retried, not restarted', async () => {
    const log = await fourRecords();
    const metrics = new MetricsRecorder();
    const written: number[][] = [];
    let failures = 6; // 6 failed attempts with 20–40 ms backoff: about 200 ms, longer than the 150 ms stall timeout
    const sink: Sink<unknown> = {
      name: 'table',
      write: async (batch) => {
        if (failures-- > 0) throw new TouchstreamError('clickhouse_unavailable', 'connect ECONNREFUSED', true);
        written.push([...(batch as number[])]);
      },
    };
    const result = await runStreamJob(job(log, await log.consumer({ groupId: 'grp', topics: ['input'] }), sink, metrics));
    expect(result.records).toBe(4);
    expect(written).toEqual([[2], [4]]);
    expect(metrics.total('touchstream_sink_errors_total')).toBe(6);
    expect(metrics.total('touchstream_stalls_total')).toBe(0);
  });

  it('a sink write that never answers fails the job; the other sinks of that flush stop retrying once the job is over', async () => {
    const log = await fourRecords();
    const metrics = new MetricsRecorder();
    let downAttempts = 0;
    const hung: Sink<unknown> = { name: 'hung', write: () => never };
    const down: Sink<unknown> = {
      name: 'down',
      write: async () => {
        downAttempts++;
        throw new TouchstreamError('clickhouse_unavailable', 'connect ECONNREFUSED', true);
      },
    };
    const failure = await runStreamJob({
      ...job(log, await log.consumer({ groupId: 'grp', topics: ['input'] }), hung, metrics),
      sinks: { counts: [hung, down] },
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(StallError);
    expect((failure as StallError).stage).toBe('write hung');
    const attemptsAtFailure = downAttempts;
    expect(attemptsAtFailure).toBeGreaterThan(1); // it was retrying while the other write hung
    await sleep(200); // several backoff periods (≤ 40 ms): a retry loop left running would have tried again
    expect(downAttempts).toBe(attemptsAtFailure);
  });

  it('a poll that never answers fails the job within the stall timeout (plus the poll timeout)', async () => {
    const log = await fourRecords();
    const metrics = new MetricsRecorder();
    const inner = await log.consumer({ groupId: 'grp', topics: ['input'] });
    let polls = 0;
    const consumer: LogConsumer = { ...inner, poll: (max, timeout) => (++polls === 2 ? never : inner.poll(max, timeout)) };
    const sink: Sink<unknown> = { name: 'table', write: async () => {} };
    const started = Date.now();
    const failure = await runStreamJob(job(log, consumer, sink, metrics)).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(StallError);
    expect((failure as StallError).stage).toBe('poll');
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

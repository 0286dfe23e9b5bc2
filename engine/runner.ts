// Runs a topology over a log consumer: poll → decode → operators → watermark → sinks, committing only what is durable.
import type { LogConsumer, LogRecord, PartitionOffset } from '../log/log.ts';
import { isRetriable } from '../schemas/errors.ts';
import type { Operator, OperatorContext, OutputMap, Outputs, Sink, SinkMap, StreamRecord } from './operator.ts';
import type { Metrics } from './metrics.ts';
import { noMetrics } from './metrics.ts';
import { WatermarkTracker } from './watermarks.ts';
import type { WatermarkOptions } from './watermarks.ts';

export interface Decoded<E> {
  record: LogRecord;
  value: E;
}

export interface StreamJobOptions<E, O extends OutputMap> {
  /** Names the job in metrics and logs. */
  name: string;
  consumer: LogConsumer;
  /** The topic this job reads; other assigned topics are ignored by the watermark. */
  inputTopic: string;
  /** Turns raw records into values; bad records become values on an output (e.g. dead letters), never exceptions. */
  decode(records: readonly LogRecord[], out: Outputs<O>): Promise<Decoded<E>[]>;
  keyOf(value: E): string;
  eventTimeOf(value: E): number;
  operators: readonly Operator<E, O>[];
  sinks: SinkMap<O>;
  watermarks: Omit<WatermarkOptions, 'wallClock'>;
  /** Bounded input: stop once every partition reached these offsets; the watermark then goes to infinity. */
  boundedBy?: readonly PartitionOffset[];
  poll?: { maxRecords?: number; timeoutMs?: number };
  /** Outputs are flushed to sinks (and offsets committed) at this many buffered values or this interval. */
  flush?: { maxBufferedValues?: number; intervalMs?: number };
  /** Backoff for retriable sink errors; the batch stays buffered and input is not polled meanwhile. */
  retry?: { initialDelayMs?: number; maxDelayMs?: number };
  wallClock?: () => number;
  metrics?: Metrics;
  /** Abort to stop a live job: it flushes, commits and resolves. */
  signal?: AbortSignal;
}

export interface StreamJobResult {
  records: number;
  watermark: number;
  emitted: Record<string, number>;
}

export async function runStreamJob<E, O extends OutputMap>(options: StreamJobOptions<E, O>): Promise<StreamJobResult> {
  const wallClock = options.wallClock ?? Date.now;
  const metrics = options.metrics ?? noMetrics;
  const maxRecords = options.poll?.maxRecords ?? 10_000;
  const pollTimeoutMs = options.poll?.timeoutMs ?? 200;
  const maxBuffered = options.flush?.maxBufferedValues ?? 50_000;
  const flushIntervalMs = options.flush?.intervalMs ?? 1000;
  const watermarks = new WatermarkTracker({ ...options.watermarks, wallClock });
  const context: OperatorContext = { wallClock, metrics };
  const buffers = new Map<keyof O, unknown[]>();
  const emitted: Record<string, number> = {};
  let buffered = 0;
  const out: Outputs<O> = {
    emit(output, value) {
      let buffer = buffers.get(output);
      if (!buffer) buffers.set(output, (buffer = []));
      buffer.push(value);
      buffered++;
    },
  };
  /** Next offset to read per partition of the input topic, for what has been processed. */
  const processed = new Map<number, number>();
  const committed = new Map<number, number>();
  const end = options.boundedBy ? new Map(options.boundedBy.filter((p) => p.offset > 0).map((p) => [p.partition, p.offset])) : null;
  let assignmentKey = '';
  let lastWatermark = Number.NEGATIVE_INFINITY;
  let lastFlush = wallClock();
  let total = 0;

  const syncAssignment = () => {
    const partitions = options.consumer
      .assignment()
      .filter((tp) => tp.topic === options.inputTopic)
      .map((tp) => tp.partition)
      .sort((a, b) => a - b);
    const key = partitions.join(',');
    if (key !== assignmentKey) {
      assignmentKey = key;
      watermarks.assign(partitions);
      for (const partition of [...processed.keys()]) if (!partitions.includes(partition)) processed.delete(partition);
    }
  };

  const reachedEnd = () => {
    if (!end) return false;
    for (const [partition, offset] of end) if ((processed.get(partition) ?? 0) < offset) return false;
    return true;
  };

  const flush = async () => {
    const writes: Promise<void>[] = [];
    for (const [output, values] of buffers) {
      if (values.length === 0) continue;
      const target = options.sinks[output];
      for (const sink of (Array.isArray(target) ? target : [target]) as Sink<unknown>[]) {
        writes.push(writeWithRetry(sink, values, options.retry, metrics));
      }
      emitted[output as string] = (emitted[output as string] ?? 0) + values.length;
      metrics.count('touchstream_output_values_total', values.length, { job: options.name, output: String(output) });
    }
    await Promise.all(writes);
    buffers.clear();
    buffered = 0;
    lastFlush = wallClock();
    await commit();
  };

  const commit = async () => {
    const retained = new Map<number, number>();
    for (const operator of options.operators) {
      for (const [partition, offset] of operator.retainedOffsets?.() ?? []) {
        retained.set(partition, Math.min(offset, retained.get(partition) ?? offset));
      }
    }
    const offsets: PartitionOffset[] = [];
    for (const [partition, next] of processed) {
      const offset = Math.min(next, retained.get(partition) ?? next);
      if (committed.get(partition) !== offset) offsets.push({ topic: options.inputTopic, partition, offset });
    }
    if (offsets.length === 0) return;
    await options.consumer.commit(offsets);
    for (const { partition, offset } of offsets) committed.set(partition, offset);
  };

  while (true) {
    syncAssignment();
    const stopping = options.signal?.aborted ?? false;
    const records = stopping ? [] : await options.consumer.poll(maxRecords, end && reachedEnd() ? 0 : pollTimeoutMs);
    if (records.length > 0) {
      syncAssignment();
      total += records.length;
      metrics.count('touchstream_input_records_total', records.length, { job: options.name });
      const decoded = await options.decode(records, out);
      const now = wallClock();
      const batch: StreamRecord<E>[] = new Array(decoded.length);
      for (let index = 0; index < decoded.length; index++) {
        const { record, value } = decoded[index]!;
        const eventTime = options.eventTimeOf(value);
        batch[index] = {
          value,
          key: options.keyOf(value),
          eventTime,
          partition: record.partition,
          offset: record.offset,
          partitionWatermark: watermarks.observe(record.partition, eventTime, now),
        };
      }
      for (const record of records) {
        if (record.topic === options.inputTopic) processed.set(record.partition, record.offset + 1);
      }
      for (const operator of options.operators) operator.process(batch, out, context);
    }
    const finished = reachedEnd();
    if (finished) watermarks.endOfInput();
    const watermark = watermarks.current();
    if (watermark > lastWatermark) {
      lastWatermark = watermark;
      for (const operator of options.operators) operator.onWatermark(watermark, out, context);
      if (Number.isFinite(watermark)) metrics.gauge('touchstream_watermark_ms', watermark, { job: options.name });
    }
    for (const operator of options.operators) {
      for (const [name, value] of Object.entries(operator.gauges?.() ?? {})) metrics.gauge(`touchstream_${name}`, value, { job: options.name });
    }
    if (finished || stopping || buffered >= maxBuffered || wallClock() - lastFlush >= flushIntervalMs) await flush();
    if (finished || stopping) return { records: total, watermark: lastWatermark, emitted };
  }
}

async function writeWithRetry(sink: Sink<unknown>, values: unknown[], retry: StreamJobOptions<never, never>['retry'], metrics: Metrics): Promise<void> {
  let delay = retry?.initialDelayMs ?? 100;
  const maxDelay = retry?.maxDelayMs ?? 5000;
  while (true) {
    try {
      await sink.write(values);
      return;
    } catch (error) {
      metrics.count('touchstream_sink_errors_total', 1, { sink: sink.name, retriable: String(isRetriable(error)) });
      if (!isRetriable(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(maxDelay, delay * 2);
    }
  }
}

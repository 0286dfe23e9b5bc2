// The composition root: picks the log and ClickHouse implementations from the config and wires sources, the CX topology and sinks.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Metrics } from '../engine/index.ts';
import { MetricsRecorder, runStreamJob } from '../engine/index.ts';
import type { StreamJobResult } from '../engine/index.ts';
import type { Log, LogProducer, PartitionOffset } from '../log/log.ts';
import { MemoryLog } from '../log/memory.ts';
import { cartReminder } from '../pipelines/cx/rules/cart-reminder.ts';
import { DEFAULT_CONTACT_POLICY } from '../pipelines/cx/contact-policy.ts';
import type { CxOutputs } from '../pipelines/cx/journey-operator.ts';
import { JourneyOperator } from '../pipelines/cx/journey-operator.ts';
import { loadSchema } from '../schemas/avro.ts';
import { AvroWireCodec } from '../schemas/codec.ts';
import { sessionKeyOf } from '../schemas/events.ts';
import type { CxEvent } from '../schemas/events.ts';
import type { DeadLetter, SessionKpis, Signal } from '../schemas/outputs.ts';
import { TOPICS } from '../schemas/outputs.ts';
import type { SchemaRegistry } from '../schemas/registry.ts';
import { LocalSchemaRegistry } from '../schemas/registry.ts';
import { connectClickHouse } from '../sinks/clickhouse/connection.ts';
import type { ClickHouseTarget } from '../sinks/clickhouse/connection.ts';
import { eventsTableSink, rejectedEventsTableSink, sessionsTableSink, signalsTableSink } from '../sinks/clickhouse/table-sinks.ts';
import { ClickHouseWriter } from '../sinks/clickhouse/writer.ts';
import { avroTopicSink } from '../sinks/topic/avro-topic-sink.ts';
import { createEventDecoder } from '../sources/kafka/event-decoder.ts';
import { createEventPublisher } from '../sources/kafka/event-publisher.ts';
import type { Source } from '../sources/source.ts';
import type { Config } from './config.ts';


export interface Runtime {
  config: Config;
  log: Log;
  producer: LogProducer;
  clickhouse: ClickHouseWriter;
  registry: SchemaRegistry;
  codecs: {
    event: AvroWireCodec<Record<string, unknown>>;
    session: AvroWireCodec<SessionKpis>;
    signal: AvroWireCodec<Signal>;
    deadLetter: AvroWireCodec<DeadLetter>;
  };
  metrics: Metrics;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  metrics?: Metrics;
  /** Use this log instead of building one from the config (tests share one in-process log). */
  log?: Log;
  registry?: SchemaRegistry;
}

export function clickHouseTargetOf(config: Config): ClickHouseTarget {
  if (config.clickhouse.url) {
    return { kind: 'http', url: config.clickhouse.url, username: config.clickhouse.username, password: config.clickhouse.password, dialect: config.clickhouse.dialect };
  }
  return { kind: 'embedded', path: join(config.dataDir, 'clickhouse') };
}

async function openLog(config: Config): Promise<Log> {
  switch (config.transport) {
    case 'kafkajs': {
      const { KafkajsLog } = await import('../log/kafkajs.ts');
      return new KafkajsLog({ brokers: config.kafka.brokers, clientId: config.kafka.clientId });
    }
    case 'rdkafka': {
      const { RdkafkaLog } = await import('../log/rdkafka.ts');
      return new RdkafkaLog({ brokers: config.kafka.brokers, clientId: config.kafka.clientId });
    }
    default:
      return new MemoryLog({ defaultPartitions: config.kafka.partitions });
  }
}

/** Opens the ClickHouse writer alone (for `touchstream query`). */
export async function openClickHouse(config: Config): Promise<ClickHouseWriter> {
  mkdirSync(config.dataDir, { recursive: true });
  return new ClickHouseWriter(connectClickHouse(clickHouseTargetOf(config)), {
    database: config.clickhouse.database,
    retentionDays: config.clickhouse.retentionDays,
  });
}

export async function openRuntime(config: Config, options: RuntimeOptions = {}): Promise<Runtime> {
  mkdirSync(config.dataDir, { recursive: true });
  const metrics = options.metrics ?? new MetricsRecorder();
  const registry = options.registry ?? new LocalSchemaRegistry(join(config.dataDir, 'schema-registry.json'));
  const codec = <T>(subject: string, name: Parameters<typeof loadSchema>[0]) => new AvroWireCodec<T>(registry, subject, loadSchema(name)).init();
  const codecs = {
    event: await codec<Record<string, unknown>>(`${config.kafka.inputTopic}-value`, 'event'),
    session: await codec<SessionKpis>(`${TOPICS.sessions}-value`, 'session'),
    signal: await codec<Signal>(`${TOPICS.signals}-value`, 'signal'),
    deadLetter: await codec<DeadLetter>(`${TOPICS.deadLetters}-value`, 'dead-letter'),
  };
  const clickhouse = await openClickHouse(config);
  await clickhouse.migrate();
  const log = options.log ?? (await openLog(config));
  const partitions = config.kafka.partitions;
  await log.createTopics([
    { topic: config.kafka.inputTopic, partitions },
    { topic: TOPICS.sessions, partitions },
    { topic: TOPICS.signals, partitions },
    { topic: TOPICS.deadLetters, partitions: 1 },
  ]);
  const producer = await log.producer();
  return {
    config,
    log,
    producer,
    clickhouse,
    registry,
    codecs,
    metrics,
    async close() {
      await producer.close();
      if (!options.log) await log.close();
      await clickhouse.close();
    },
  };
}

/** Where dead letters go, wherever they are found: the DLQ topic and the rejected_events table. */
function deadLetterSinks(runtime: Runtime) {
  return [
    rejectedEventsTableSink(runtime.clickhouse),
    avroTopicSink<DeadLetter>({ topic: TOPICS.deadLetters, producer: runtime.producer, codec: runtime.codecs.deadLetter, keyOf: (letter) => letter.source }),
  ];
}

export interface IngestResult {
  events: number;
  rejected: number;
}

/** Drives a source into the input topic; each batch is acknowledged by the log before the next is read. */
export async function ingest(runtime: Runtime, source: Source, signal?: AbortSignal): Promise<IngestResult> {
  const publisher = createEventPublisher(runtime.producer, runtime.codecs.event, runtime.config.kafka.inputTopic);
  const rejectSinks = deadLetterSinks(runtime);
  const result: IngestResult = { events: 0, rejected: 0 };
  for await (const batch of source.batches(signal)) {
    await publisher.publish(batch.events);
    if (batch.rejected.length > 0) await Promise.all(rejectSinks.map((sink) => sink.write(batch.rejected)));
    result.events += batch.events.length;
    result.rejected += batch.rejected.length;
    runtime.metrics.count('touchstream_source_events_total', batch.events.length, { source: source.name });
    for (const letter of batch.rejected) runtime.metrics.count('touchstream_rejected_total', 1, { source: letter.source, reason: letter.reason_code });
  }
  return result;
}

export interface PipelineRunOptions {
  /** Stop at these end offsets (bounded replay); without, run live until `signal` aborts. */
  boundedBy?: readonly PartitionOffset[];
  signal?: AbortSignal;
  wallClock?: () => number;
  /** Records per poll (tests vary it to prove results do not depend on batch boundaries). */
  poll?: { maxRecords?: number; timeoutMs?: number };
}

/** Runs the CX topology: input topic → journey operator → ClickHouse tables and output topics. */
export async function runPipeline(runtime: Runtime, options: PipelineRunOptions = {}): Promise<StreamJobResult> {
  const { config } = runtime;
  const wallClock = options.wallClock ?? Date.now;
  const consumer = await runtime.log.consumer({ groupId: config.kafka.groupId, topics: [config.kafka.inputTopic], start: 'earliest' });
  const decode = createEventDecoder({ source: `kafka:${config.kafka.inputTopic}`, codec: runtime.codecs.event, maxPayloadBytes: config.maxPayloadBytes, wallClock });
  try {
    return await runStreamJob<CxEvent, CxOutputs>({
      name: 'cx-journeys',
      consumer,
      inputTopic: config.kafka.inputTopic,
      decode: (records, out) =>
        decode(records, (letter) => {
          out.emit('rejected', letter);
          runtime.metrics.count('touchstream_rejected_total', 1, { source: letter.source, reason: letter.reason_code });
        }),
      keyOf: sessionKeyOf,
      eventTimeOf: (event) => event.occurred_at,
      operators: [
        new JourneyOperator({
          sessionGapMs: config.session.gapMs,
          dedupHorizonMs: config.dedupHorizonMs,
          rules: [cartReminder],
          contactPolicy: DEFAULT_CONTACT_POLICY,
        }),
      ],
      sinks: {
        events: eventsTableSink(runtime.clickhouse),
        sessions: [
          sessionsTableSink(runtime.clickhouse),
          avroTopicSink<SessionKpis>({ topic: TOPICS.sessions, producer: runtime.producer, codec: runtime.codecs.session, keyOf: (session) => session.customer_id }),
        ],
        signals: [
          signalsTableSink(runtime.clickhouse),
          avroTopicSink<Signal>({ topic: TOPICS.signals, producer: runtime.producer, codec: runtime.codecs.signal, keyOf: (signal) => signal.customer_id, filter: (signal) => signal.status === 'emitted' }),
        ],
        rejected: deadLetterSinks(runtime),
      },
      watermarks: { outOfOrdernessMs: config.session.outOfOrdernessMs, idleTimeoutMs: config.session.idleTimeoutMs },
      ...(options.boundedBy ? { boundedBy: options.boundedBy } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.poll ? { poll: options.poll } : {}),
      wallClock,
      metrics: runtime.metrics,
    });
  } finally {
    await consumer.close();
  }
}

/** Replays a bounded source through the whole pipeline and returns once every session is written. */
export async function replay(runtime: Runtime, source: Source): Promise<IngestResult & StreamJobResult> {
  const ingested = await ingest(runtime, source);
  const boundedBy = await runtime.log.endOffsets(runtime.config.kafka.inputTopic);
  const result = await runPipeline(runtime, { boundedBy });
  return { ...ingested, ...result };
}

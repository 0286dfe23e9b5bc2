// The composition root: picks the log and ClickHouse implementations from the config and wires sources, the CX topology and sinks.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Metrics } from '../engine/index.ts';
import { MetricsRecorder, runStreamJob, supervise } from '../engine/index.ts';
import type { Decoded, StreamJobResult } from '../engine/index.ts';
import type { Log, LogProducer, PartitionOffset, ProduceRecord, TransactionalProducer } from '../log/log.ts';
import { MemoryLog } from '../log/memory.ts';
import { partitionOf } from '../log/partitioner.ts';
import { AnomalyDetector } from '../pipelines/cx/anomaly-detector.ts';
import { PurchaseAttributionOperator } from '../pipelines/cx/purchase-attribution.ts';
import { DEFAULT_RULES } from '../pipelines/cx/rules/default-rules.ts';
import type { RuleSet } from '../pipelines/cx/rules/rule-set.ts';
import { compileRules, loadRulesFile } from '../pipelines/cx/rules/rule-set.ts';
import { scoreSentiment } from '../pipelines/cx/sentiment.ts';
import { DEFAULT_CONTACT_POLICY } from '../pipelines/cx/contact-policy.ts';
import type { CxOutputs } from '../pipelines/cx/journey-operator.ts';
import { JourneyOperator } from '../pipelines/cx/journey-operator.ts';
import { loadSchema } from '../schemas/avro.ts';
import { AvroWireCodec } from '../schemas/codec.ts';
import { sessionKeyOf } from '../schemas/events.ts';
import type { CxEvent } from '../schemas/events.ts';
import type { Alert, DeadLetter, SessionKpis, Signal } from '../schemas/outputs.ts';
import { TOPICS } from '../schemas/outputs.ts';
import type { SchemaRegistry } from '../schemas/registry.ts';
import type { ErasureApplied, ErasureRecord } from '../schemas/erasure.ts';
import { LocalSchemaRegistry } from '../schemas/registry.ts';
import { HttpSchemaRegistry } from '../schemas/registry-http.ts';
import { connectClickHouse } from '../sinks/clickhouse/connection.ts';
import type { ClickHouseTarget } from '../sinks/clickhouse/connection.ts';
import { ClickHouseWriter } from '../sinks/clickhouse/writer.ts';
import { deadLetterRows, plainRows } from '../sinks/rows/row-chunks.ts';
import { rowTopicSink } from '../sinks/rows/row-topic-sink.ts';
import { avroTopicSink } from '../sinks/topic/avro-topic-sink.ts';
import type { TableLoadResult } from '../loader/table-loader.ts';
import { runTableLoader } from '../loader/table-loader.ts';
import { createEventDecoder } from '../sources/kafka/event-decoder.ts';
import { createEventPublisher } from '../sources/kafka/event-publisher.ts';
import { IdentityStitcher, withoutHandover } from '../sources/identity/index.ts';
import type { Source } from '../sources/source.ts';
import type { Config } from './config.ts';
import type { PrivacyEdge } from '../privacy/index.ts';
import { kafkaRetentionConfig, privacyEdgeOf, retentionPolicyOf, withKafkaRetention } from './privacy.ts';
import type { PipelineLiveState } from './live-state.ts';
import { erasuresAppliedTopicOf, loadedTables, rowTopicOf, TABLE_OUTPUTS } from './table-outputs.ts';
import { erasureSplitter, ErasuresInBatch, routeErasureRequests } from './erasure.ts';
import type { TableOutput } from './table-outputs.ts';
import type { ActionRunResult } from './actions.ts';
import { actionTopics, runActions } from './actions.ts';
import { startKeyDriverThread } from './key-driver-thread/index.ts';


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
    alert: AvroWireCodec<Alert>;
    deadLetter: AvroWireCodec<DeadLetter>;
    erasure: AvroWireCodec<ErasureRecord>;
  };
  metrics: Metrics;
  /** Pseudonymises and scrubs every source's events and dead letters before they are published (docs/privacy.md). */
  privacy: PrivacyEdge;
  /** Stitches anonymous journeys to the customer at a login, after the privacy edge (docs/analytics.md); null when off. */
  identity: IdentityStitcher | null;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  metrics?: Metrics;
  /** Use this log instead of building one from the config (tests share one in-process log). */
  log?: Log;
  registry?: SchemaRegistry;
  /** Create the ClickHouse tables (default); a loader thread leaves that to the process that started it. */
  migrate?: boolean;
}

export function clickHouseTargetOf(config: Config): ClickHouseTarget {
  if (config.clickhouse.url) {
    return {
      kind: 'http',
      url: config.clickhouse.url,
      username: config.clickhouse.username,
      password: config.clickhouse.password,
      dialect: config.clickhouse.dialect,
      compression: config.clickhouse.compression,
    };
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
export async function openClickHouse(config: Config, metrics?: Metrics): Promise<ClickHouseWriter> {
  mkdirSync(config.dataDir, { recursive: true });
  return new ClickHouseWriter(connectClickHouse(clickHouseTargetOf(config)), {
    database: config.clickhouse.database,
    retention: retentionPolicyOf(config),
    ...(metrics ? { metrics } : {}),
  });
}

export async function openRuntime(config: Config, options: RuntimeOptions = {}): Promise<Runtime> {
  mkdirSync(config.dataDir, { recursive: true });
  const metrics = options.metrics ?? new MetricsRecorder();
  const privacy = privacyEdgeOf(config, metrics);
  const registry =
    options.registry ??
    (config.schemaRegistry.url ? new HttpSchemaRegistry({ url: config.schemaRegistry.url }) : new LocalSchemaRegistry(join(config.dataDir, 'schema-registry.json')));
  const codec = <T>(subject: string, name: Parameters<typeof loadSchema>[0]) => new AvroWireCodec<T>(registry, subject, loadSchema(name)).init();
  const codecs = {
    event: await codec<Record<string, unknown>>(`${config.kafka.inputTopic}-value`, 'event'),
    session: await codec<SessionKpis>(`${TOPICS.sessions}-value`, 'session'),
    signal: await codec<Signal>(`${TOPICS.signals}-value`, 'signal'),
    alert: await codec<Alert>(`${TOPICS.alerts}-value`, 'alert'),
    deadLetter: await codec<DeadLetter>(`${TOPICS.deadLetters}-value`, 'dead-letter'),
    erasure: await codec<ErasureRecord>(`${config.kafka.erasureTopic}-value`, 'erasure'),
  };
  const clickhouse = await openClickHouse(config, metrics);
  if (options.migrate ?? true) await clickhouse.migrate();
  const log = options.log ?? (await openLog(config));
  const partitions = config.kafka.partitions;
  // Every topic with the retention bound: what an erasure cannot delete from an append-only log ages out (docs/privacy.md).
  await log.createTopics(withKafkaRetention(config, [
    { topic: config.kafka.inputTopic, partitions },
    { topic: TOPICS.sessions, partitions },
    { topic: TOPICS.signals, partitions },
    { topic: TOPICS.alerts, partitions: 1 },
    { topic: TOPICS.deadLetters, partitions: 1 },
    { topic: config.kafka.erasureTopic, partitions },
    { topic: erasuresAppliedTopicOf(config.kafka.groupId), partitions: 1 },
    // One partition per row topic: a checkpoint's transaction touches one partition per table (its cost grows with
    // the partitions it touches); loaders scale across tables (a group shares the topics' partitions).
    ...TABLE_OUTPUTS.map(({ table }) => ({ topic: rowTopicOf(config.kafka.groupId, table), partitions: 1 })),
    ...actionTopics(config, partitions),
  ]));
  const producer = await log.producer();
  return {
    config,
    log,
    producer,
    clickhouse,
    registry,
    codecs,
    metrics,
    privacy,
    identity: config.identity.enabled
      ? new IdentityStitcher({ sessionGapMs: config.session.gapMs, maxVisitors: config.identity.maxVisitors, maxEventsPerVisitor: config.identity.maxEventsPerVisitor })
      : null,
    async close() {
      await producer.close();
      if (!options.log) await log.close();
      await clickhouse.close();
    },
  };
}

type TopicProducer = { send(topic: string, records: readonly ProduceRecord[]): Promise<void> };

/**
 * Where dead letters go, wherever they are found: the DLQ topic, and the rejected_events table by way of its row
 * topic (the loader's). Inside the pipeline both are written in its checkpoint transaction.
 */
function deadLetterSinks(runtime: Runtime, producer: TopicProducer, transactional: boolean) {
  return [
    { ...rowTopicSink<DeadLetter>({ topic: rowTopicOf(runtime.config.kafka.groupId, 'rejected_events'), producer, codec: deadLetterRows }), transactional },
    { ...avroTopicSink<DeadLetter>({ topic: TOPICS.deadLetters, producer, codec: runtime.codecs.deadLetter, keyOf: (letter) => letter.source }), transactional },
  ];
}

/** The dead-letter path as a callback sources are handed (they never import sinks): resolves once both topics have the letters. */
export type DeadLetterPath = (letters: readonly DeadLetter[]) => Promise<void>;

export function deadLetterPath(runtime: Runtime): DeadLetterPath {
  const sinks = deadLetterSinks(runtime, runtime.producer, false);
  return async (letters) => {
    if (letters.length === 0) return;
    const kept = runtime.privacy.deadLetters(letters);
    await Promise.all(sinks.map((sink) => sink.write(kept)));
  };
}

/**
 * Publishes a source's events to the input topic once the privacy edge has pseudonymised and scrubbed them and
 * identity stitching has handed anonymous sessions over at logins (on the pseudonyms: both ids are keyed the same way).
 */
export function inputPublisher(runtime: Runtime) {
  const publisher = createEventPublisher(runtime.producer, runtime.codecs.event, runtime.config.kafka.inputTopic);
  const { identity, metrics } = runtime;
  return {
    publish: (events: readonly CxEvent[]) => {
      const kept = runtime.privacy.events(events);
      if (identity === null) return publisher.publish(withoutHandover(kept));
      const stitched = identity.stitch(kept);
      for (const [what, count] of Object.entries(stitched.counts)) if (count > 0) metrics.count('touchstream_identity_stitching_total', count, { what });
      metrics.gauge('touchstream_identity_visitors', identity.size, {});
      return publisher.publish(stitched.events);
    },
  };
}

export interface IngestResult {
  events: number;
  rejected: number;
}

/** Drives a source into the input topic; each batch is acknowledged by the log before the next is read. */
export async function ingest(runtime: Runtime, source: Source, signal?: AbortSignal): Promise<IngestResult> {
  const publisher = inputPublisher(runtime);
  const deadLetters = deadLetterPath(runtime);
  const result: IngestResult = { events: 0, rejected: 0 };
  for await (const batch of source.batches(signal)) {
    await publisher.publish(batch.events);
    await deadLetters(batch.rejected);
    await batch.ack?.();
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
  /** Told when the job restarts after a retriable failure (a failed checkpoint, the broker gone). */
  onRestart?(error: unknown, delayMs: number): void;
  /** Told the committed input offsets after each checkpoint (for consumer lag). */
  onCommit?(offsets: readonly PartitionOffset[]): void;
  /**
   * Also run the ClickHouse loader (default: `loader.inProcess`): live, beside the pipeline until `signal`; bounded,
   * after it, until the tables hold everything it committed.
   */
  load?: boolean;
  /** The live state the customer API reads: each job attempt attaches its operator's view and reports its partitions. */
  liveState?: PipelineLiveState;
}

/** The next-best-action rules: the configured rules file, else the default set (CONTRACT §4); a wrong file throws `invalid_rules`. */
export function ruleSetOf(config: Config): RuleSet {
  return config.rules ? loadRulesFile(config.rules) : compileRules(DEFAULT_RULES, 'default rules');
}

/**
 * Runs the CX pipeline: the topology (input topic → operators → output and row topics, one transaction per
 * checkpoint) and, unless `load` is off, the ClickHouse loader beside it (live) or after it (bounded).
 */
export async function runPipeline(runtime: Runtime, options: PipelineRunOptions = {}): Promise<StreamJobResult & { loaded?: TableLoadResult; actions?: ActionRunResult }> {
  const load = options.load ?? runtime.config.loader.inProcess;
  if (options.boundedBy) {
    const result = await runTopology(runtime, options);
    // Bounded: every action is delivered or dead-lettered (with destinations configured) before the tables load its
    // attempts. Delivery does not depend on the loader: without it, `touchstream load` loads the attempts later.
    const actions = await runActions(runtime, { bounded: true, ...(options.signal ? { signal: options.signal } : {}) });
    return {
      ...result,
      ...(actions ? { actions } : {}),
      ...(load ? { loaded: await loadTables(runtime, { bounded: true, ...(options.signal ? { signal: options.signal } : {}) }) } : {}),
    };
  }
  // Live: all until `signal`; a failure of one (one the supervisor does not retry) stops the others too.
  const failed = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, failed.signal]) : failed.signal;
  const stopOnFailure = <T>(running: Promise<T>) => running.catch((error: unknown) => {
    failed.abort();
    throw error;
  });
  const loadOptions = { signal, ...(options.onRestart ? { onRestart: options.onRestart } : {}) };
  // On Kafka the loader takes a thread of its own (the second core); the in-process log lives on this thread.
  const loading = !load
    ? Promise.resolve(undefined)
    : runtime.config.transport !== 'memory' && runtime.config.loader.thread
      ? (await import('./loader-thread/index.ts')).loadTablesInThread({ config: runtime.config, metrics: runtime.metrics, ...loadOptions })
      : loadTables(runtime, loadOptions);
  // Action delivery reads the committed signals at its own pace (with destinations configured): it never holds up a signal.
  const acting = runActions(runtime, loadOptions);
  // Erasure requests other systems put on touchstream.erasure go onto the input topic, in the customer's partition.
  const routing = routeErasureRequests(runtime, loadOptions);
  const [result, loaded, actions] = await Promise.all([stopOnFailure(runTopology(runtime, { ...options, signal })), stopOnFailure(loading), stopOnFailure(acting), stopOnFailure(routing)]);
  return { ...result, ...(loaded ? { loaded } : {}), ...(actions ? { actions } : {}) };
}

export interface LoadOptions {
  /** Stop once the tables hold everything the row topics held at the start (a bounded run); else run until `signal`. */
  bounded?: boolean;
  signal?: AbortSignal;
  onRestart?(error: unknown, delayMs: number): void;
}

/** Loads the ClickHouse tables from the committed row topics (`touchstream load`, and inside `run` and `replay`). */
export async function loadTables(runtime: Runtime, options: LoadOptions = {}): Promise<TableLoadResult> {
  const { config } = runtime;
  return supervise(
    () =>
      runTableLoader({
        name: 'table-loader',
        log: runtime.log,
        groupId: `${config.kafka.groupId}-loader`,
        // Like the pipeline's group: a restarted worker's loader takes its partitions back without waiting for the dead one's session to time out.
        ...(config.engine.workerId ? { instanceId: config.engine.workerId } : {}),
        tables: loadedTables(config.kafka.groupId, runtime.clickhouse),
        bounded: options.bounded ?? false,
        ...(options.signal ? { signal: options.signal } : {}),
        poll: { maxRecords: config.loader.maxPollChunks },
        stallTimeoutMs: config.engine.stallTimeoutMs,
        metrics: runtime.metrics,
      }),
    { name: 'table-loader', metrics: runtime.metrics, ...(options.signal ? { signal: options.signal } : {}), ...(options.onRestart ? { onRestart: options.onRestart } : {}) },
  );
}

/** The CX topology on the engine: input topic → journey and attribution operators → output and row topics. */
async function runTopology(runtime: Runtime, options: PipelineRunOptions): Promise<StreamJobResult> {
  const { config } = runtime;
  const rules = ruleSetOf(config);
  const wallClock = options.wallClock ?? Date.now;
  // Output topics are written in each checkpoint's transaction (docs/engine.md); the producer changes on a restart.
  const transactionalId = `${config.kafka.groupId}-${config.engine.workerId ?? randomUUID()}`;
  const splitErasures = erasureSplitter(runtime);
  const decode = createEventDecoder({ source: `kafka:${config.kafka.inputTopic}`, codec: runtime.codecs.event, maxPayloadBytes: config.maxPayloadBytes, wallClock });
  return supervise(async () => {
    const consumer = await runtime.log.consumer({
      groupId: config.kafka.groupId, topics: [config.kafka.inputTopic], start: 'earliest',
      ...(config.engine.workerId ? { instanceId: config.engine.workerId } : {}),
    });
    // This attempt's producer: a flush a failed attempt left behind can never send into its successor's transaction.
    let transactions: TransactionalProducer | undefined;
    const outputs: TopicProducer = { send: (topic, records) => transactions!.send(topic, records) };
    // Every table output goes to its row topic in the checkpoint transaction; the loader takes it from there.
    const tableSinks = Object.fromEntries(
      TABLE_OUTPUTS.map((entry) => {
        const { output, table, codec } = entry as TableOutput<keyof CxOutputs>;
        return [output, rowTopicSink({ topic: rowTopicOf(config.kafka.groupId, table), producer: outputs, codec })];
      }),
    ) as { [K in keyof CxOutputs]: ReturnType<typeof rowTopicSink<CxOutputs[K]>> };
    // The erasures of the batch being processed, for the requests the journey makes for linked anonymous ids.
    const erasuresInBatch = new ErasuresInBatch();
    // Key-driver computations run beside the loop, in a thread of this attempt's own.
    const keyDriverThread = config.keyDrivers.enabled && config.keyDrivers.offThread ? startKeyDriverThread() : null;
    const journey = new JourneyOperator({
      sessionGapMs: config.session.gapMs,
      dedupHorizonMs: config.dedupHorizonMs,
      rules,
      contactPolicy: DEFAULT_CONTACT_POLICY,
      scoreSentiment,
      ...(config.anomaly.enabled ? { anomalies: new AnomalyDetector(config.anomaly) } : {}),
      keyDrivers: config.keyDrivers,
      ...(keyDriverThread ? { keyDriverCompute: keyDriverThread.compute } : {}),
      lastSessionHorizonMs: config.serving.lastSessionMs,
      consent: { marketingOptIn: config.privacy.marketingOptIn },
      erasureRequestOf: (key) => erasuresInBatch.take(key),
    });
    options.liveState?.attach(journey.live);
    try {
      transactions = await runtime.log.transactionalProducer({ transactionalId, timeoutMs: config.engine.transactionTimeoutMs });
      return await runStreamJob<CxEvent, CxOutputs>({
        name: 'cx-journeys',
        consumer,
        state: { log: runtime.log, transactions, changelogPrefix: config.kafka.groupId, topicConfig: kafkaRetentionConfig(config, true) },
        inputTopic: config.kafka.inputTopic,
        // The privacy edge again (idempotent): events a producer wrote to the input topic past the sources are covered too.
        // Erasure requests routed onto the input topic are applied where they sit in the customer's partition.
        decode: async (records, out) => {
          const { events, erasures } = await splitErasures(records);
          const decoded = await decode(events, (letter) => {
            out.emit('rejected', runtime.privacy.deadLetters([letter])[0]!);
            runtime.metrics.count('touchstream_rejected_total', 1, { source: letter.source, reason: letter.reason_code });
          });
          runtime.privacy.events(decoded.map((item) => item.value));
          erasuresInBatch.set(erasures.map(({ value }) => value));
          if (erasures.length === 0) return decoded;
          for (const { value } of erasures) out.emit('erasures', value);
          const items: Decoded<CxEvent>[] = [...decoded, ...erasures.map(({ record, value }) => ({ record, forget: value.customer_id }))];
          // Back in the order they were read.
          const order = new Map(records.map((record, index) => [record, index]));
          return items.sort((a, b) => order.get(a.record)! - order.get(b.record)!);
        },
        keyOf: sessionKeyOf,
        eventTimeOf: (event) => event.occurred_at,
        // The journey first: attribution reads its analytics consent as of each purchase of the batch it has just taken.
        operators: [journey, new PurchaseAttributionOperator({ consent: journey.analyticsConsent })],
        sinks: {
          ...tableSinks,
          sessions: [
            tableSinks.sessions,
            { ...avroTopicSink<SessionKpis>({ topic: TOPICS.sessions, producer: outputs, codec: runtime.codecs.session, keyOf: (session) => session.customer_id }), transactional: true },
          ],
          signals: [
            tableSinks.signals,
            { ...avroTopicSink<Signal>({ topic: TOPICS.signals, producer: outputs, codec: runtime.codecs.signal, keyOf: (signal) => signal.customer_id, filter: (signal) => signal.status === 'emitted' }), transactional: true },
          ],
          // KPI anomalies: their own topic (not customer signals, CONTRACT §4), in the same checkpoint transaction.
          alerts: [
            tableSinks.alerts,
            { ...avroTopicSink<Alert>({ topic: TOPICS.alerts, producer: outputs, codec: runtime.codecs.alert, keyOf: (alert) => `${alert.kpi}:${alert.dimension_value}` }), transactional: true },
          ],
          rejected: deadLetterSinks(runtime, outputs, true),
          erasures: rowTopicSink({ topic: erasuresAppliedTopicOf(config.kafka.groupId), producer: outputs, codec: plainRows<ErasureApplied>() }),
          // A customer's linked anonymous ids: each erasure goes onto the input topic, keyed by the id, so it is applied on
          // the id's own partition in log order (every stage, then the loader's tables), after this checkpoint commits.
          erasure_requests: { ...avroTopicSink<ErasureRecord>({ topic: config.kafka.inputTopic, producer: outputs, codec: runtime.codecs.erasure, keyOf: (request) => request.customer_id }), transactional: true },
        },
        watermarks: { outOfOrdernessMs: config.session.outOfOrdernessMs, idleTimeoutMs: config.session.idleTimeoutMs },
        ...(options.boundedBy ? { boundedBy: options.boundedBy } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onCommit ? { onCommit: options.onCommit } : {}),
        ...(options.liveState ? { onAssignment: options.liveState.onAssignment } : {}),
        poll: { maxRecords: config.engine.maxPollRecords, ...options.poll },
        flush: { intervalMs: config.engine.flushIntervalMs, maxBufferedValues: config.engine.maxBufferedValues, urgent: ['signals'], urgentIntervalMs: config.engine.signalFlushMs },
        stallTimeoutMs: config.engine.stallTimeoutMs,
        partitioner: partitionOf,
        wallClock,
        metrics: runtime.metrics,
      });
    } finally {
      await consumer.close().catch(() => {});
      await transactions?.close().catch(() => {});
      await keyDriverThread?.close().catch(() => {});
    }
  }, { name: 'cx-journeys', metrics: runtime.metrics, ...(options.signal ? { signal: options.signal } : {}), ...(options.onRestart ? { onRestart: options.onRestart } : {}) });
}

/** Replays a bounded source through the whole pipeline and returns once every session is written. */
export async function replay(runtime: Runtime, source: Source, options: { liveState?: PipelineLiveState } = {}): Promise<IngestResult & StreamJobResult & { actions?: ActionRunResult }> {
  const ingested = await ingest(runtime, source);
  const boundedBy = await runtime.log.endOffsets(runtime.config.kafka.inputTopic);
  const result = await runPipeline(runtime, { boundedBy, ...(options.liveState ? { liveState: options.liveState } : {}) });
  return { ...ingested, ...result };
}

export interface LiveReplayOptions {
  /** Stops the replay early: publishing ends, the live run drains and commits. */
  signal?: AbortSignal;
  onCommit?(offsets: readonly PartitionOffset[]): void;
  onRestart?(error: unknown, delayMs: number): void;
  /** The live state the customer API reads (both the live run and the bounded one after it report to it). */
  liveState?: PipelineLiveState;
}

/**
 * `replay --rate`: a live run while the source is published at its pace (outputs, tables, metrics and the live page
 * move as events flow); once the file is in the log the live run drains and commits, and a bounded run from those
 * commits (state restored from the changelogs) takes the watermark to infinity so every session closes, as `replay`.
 */
export async function replayLive(runtime: Runtime, source: Source, options: LiveReplayOptions = {}): Promise<IngestResult & StreamJobResult & { actions?: ActionRunResult }> {
  const live = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, live.signal]) : live.signal;
  const serving = options.liveState ? { liveState: options.liveState } : {};
  const running = runPipeline(runtime, { signal, ...serving, ...(options.onCommit ? { onCommit: options.onCommit } : {}), ...(options.onRestart ? { onRestart: options.onRestart } : {}) });
  let ingested: IngestResult;
  try {
    ingested = await ingest(runtime, source, options.signal);
  } finally {
    live.abort();
  }
  // The live run drains and commits what it has processed; the bounded run below takes the rest.
  const first = await running;
  if (options.signal?.aborted) return { ...ingested, ...first };
  const boundedBy = await runtime.log.endOffsets(runtime.config.kafka.inputTopic);
  const rest = await runPipeline(runtime, { boundedBy, ...serving, ...(options.onCommit ? { onCommit: options.onCommit } : {}) });
  const emitted = { ...first.emitted };
  for (const [output, count] of Object.entries(rest.emitted)) emitted[output] = (emitted[output] ?? 0) + count;
  // Delivery ran beside the live run and then, bounded, after the rest: every action is delivered or dead-lettered.
  const actions = sumActions(first.actions, rest.actions);
  return { ...ingested, ...rest, records: first.records + rest.records, emitted, ...(actions ? { actions } : {}) };
}

/** The delivery counts of two runs over the same signals topic (each delivered what the other had not). */
function sumActions(a: ActionRunResult | undefined, b: ActionRunResult | undefined): ActionRunResult | undefined {
  if (!a || !b) return a ?? b;
  return {
    delivery: {
      signals: a.delivery.signals + b.delivery.signals,
      delivered: a.delivery.delivered + b.delivery.delivered,
      deadLettered: a.delivery.deadLettered + b.delivery.deadLettered,
      unmapped: a.delivery.unmapped + b.delivery.unmapped,
    },
    outcomes: { outcomes: a.outcomes.outcomes + b.outcomes.outcomes, invalid: a.outcomes.invalid + b.outcomes.invalid },
  };
}

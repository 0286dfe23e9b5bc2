// Wires action management into a running touchstream: delivery from the committed signals topic, the outcomes relay, the outcomes endpoint, their topics and codecs.
import type { ActionDeadLetter, ActionDeliveryResult, ActionOutcome, ActionRouting, DeliverableSignal, Fetch } from '../actions/index.ts';
import { ACTION_TOPICS, parseOutcome, runActionDelivery, runOutcomeRelay } from '../actions/index.ts';
import { supervise } from '../engine/index.ts';
import { loadSchema } from '../schemas/avro.ts';
import { AvroWireCodec } from '../schemas/codec.ts';
import { TOPICS } from '../schemas/outputs.ts';
import { plainRows } from '../sinks/rows/row-chunks.ts';
import { rowTopicSink } from '../sinks/rows/row-topic-sink.ts';
import { avroTopicSink } from '../sinks/topic/avro-topic-sink.ts';
import { ACTION_TABLES } from './action-tables.ts';
import type { Config } from './config.ts';
import { actionRoutingOf } from './config.ts';
import type { Runtime } from './runtime.ts';
import { rowTopicOf } from './table-outputs.ts';

/** The topics action management creates: its public ones and its tables' row topics. */
export function actionTopics(config: Config, partitions: number) {
  return [
    { topic: ACTION_TOPICS.deadLetters, partitions: 1 },
    { topic: ACTION_TOPICS.outcomes, partitions },
    ...ACTION_TABLES.map(({ table }) => ({ topic: rowTopicOf(config.kafka.groupId, table), partitions: 1 })),
  ];
}

interface ActionCodecs {
  deadLetter: AvroWireCodec<ActionDeadLetter>;
  outcome: AvroWireCodec<ActionOutcome>;
}

const codecsOf = new WeakMap<Runtime, Promise<ActionCodecs>>();

/** The Avro codecs of the actions topics, registered once per runtime. */
export function actionCodecs(runtime: Runtime): Promise<ActionCodecs> {
  let codecs = codecsOf.get(runtime);
  if (!codecs) {
    codecs = (async () => ({
      deadLetter: await new AvroWireCodec<ActionDeadLetter>(runtime.registry, `${ACTION_TOPICS.deadLetters}-value`, loadSchema('action-dead-letter')).init(),
      outcome: await new AvroWireCodec<ActionOutcome>(runtime.registry, `${ACTION_TOPICS.outcomes}-value`, loadSchema('action-outcome')).init(),
    }))();
    codecsOf.set(runtime, codecs);
  }
  return codecs;
}

export interface ActionRunOptions {
  /** Stop once every action on the signals topic now is delivered or dead-lettered; else run until `signal`. */
  bounded?: boolean;
  signal?: AbortSignal;
  onRestart?(error: unknown, delayMs: number): void;
  /** The routing to use instead of the configured destinations file (tests). */
  routing?: ActionRouting;
  fetch?: Fetch;
}

export interface ActionRunResult {
  delivery: ActionDeliveryResult;
  outcomes: { outcomes: number; invalid: number };
}

/**
 * Delivers the actions of the committed signals (and relays outcomes into their table) when a destinations file is
 * configured; answers undefined without one. Each has its own consumer group and resumes from its committed offsets.
 */
export async function runActions(runtime: Runtime, options: ActionRunOptions = {}): Promise<ActionRunResult | undefined> {
  const routing = options.routing ?? actionRoutingOf(runtime.config);
  if (!routing) return undefined;
  const { config, metrics } = runtime;
  const codecs = await actionCodecs(runtime);
  const attempts = rowTopicSink<unknown>({ topic: rowTopicOf(config.kafka.groupId, 'action_deliveries'), producer: runtime.producer, codec: plainRows() });
  const outcomeRows = rowTopicSink<unknown>({ topic: rowTopicOf(config.kafka.groupId, 'action_outcomes'), producer: runtime.producer, codec: plainRows() });
  const deadLetters = avroTopicSink<ActionDeadLetter>({ topic: ACTION_TOPICS.deadLetters, producer: runtime.producer, codec: codecs.deadLetter, keyOf: (letter) => letter.signal_id });
  const supervised = <T>(name: string, job: () => Promise<T>) =>
    supervise(job, { name, metrics, ...(options.signal ? { signal: options.signal } : {}), ...(options.onRestart ? { onRestart: options.onRestart } : {}) });
  const common = {
    log: runtime.log, metrics, bounded: options.bounded ?? false,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(config.engine.workerId ? { instanceId: config.engine.workerId } : {}),
  };
  const [delivery, outcomes] = await Promise.all([
    supervised('action-delivery', () =>
      runActionDelivery({
        ...common,
        groupId: `${config.kafka.groupId}-actions`,
        topic: TOPICS.signals,
        routing,
        decode: async (values) => (await runtime.codecs.signal.decodeBatch(values)).map((decoded) => (decoded.ok ? (decoded.value as DeliverableSignal) : null)),
        writeAttempts: (rows) => attempts.write(rows),
        writeDeadLetters: (letters) => deadLetters.write(letters),
        ...(options.fetch ? { fetch: options.fetch } : {}),
      }),
    ),
    supervised('action-outcomes', () =>
      runOutcomeRelay({
        ...common,
        groupId: `${config.kafka.groupId}-outcomes`,
        topic: ACTION_TOPICS.outcomes,
        // A plain copy: Avro records carry methods on their prototype, which a strict schema would take for keys.
        decode: async (values) => (await codecs.outcome.decodeBatch(values)).map((decoded) => (decoded.ok ? { ...decoded.value } : null)),
        writeRows: (rows) => outcomeRows.write(rows),
      }),
    ),
  ]);
  return { delivery, outcomes };
}

/** Answer of the outcomes endpoint. */
export interface OutcomeReply {
  status: number;
  body: Record<string, unknown>;
}

/**
 * `POST /v1/outcomes`: validates one outcome (or an array of them) and publishes it to `touchstream.outcomes`
 * (Avro, key signal_id); 202 once the log has it, 400 naming the field path and rule otherwise.
 */
export function outcomeEndpoint(runtime: Runtime): (body: unknown) => Promise<OutcomeReply> {
  return async (body) => {
    const items = Array.isArray(body) ? body : [body];
    const outcomes: ActionOutcome[] = [];
    for (const [index, item] of items.entries()) {
      const parsed = parseOutcome(item);
      if (!parsed.ok) return { status: 400, body: { error: 'invalid_outcome', message: Array.isArray(body) ? `[${index}] ${parsed.message}` : parsed.message } };
      outcomes.push(parsed.outcome);
    }
    const { outcome } = await actionCodecs(runtime);
    await runtime.producer.send(ACTION_TOPICS.outcomes, outcomes.map((value) => ({ key: value.signal_id, value: outcome.encode(value) })));
    runtime.metrics.count('touchstream_action_outcomes_received_total', outcomes.length);
    return { status: 202, body: { accepted: outcomes.length } };
  };
}

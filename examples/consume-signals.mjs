#!/usr/bin/env node
// A personalisation engine's consumer of touchstream.signals (docs/consumers.md): Avro through the schema registry,
// read_committed, deduplicated by signal_id, expired signals skipped. Plain Node, kafkajs and avsc only.
//
//   KAFKA_BROKERS=127.0.0.1:9092 SCHEMA_REGISTRY_URL=http://127.0.0.1:8081/apis/ccompat/v7 node examples/consume-signals.mjs
//
// Each signal it acts on is printed as one JSON line on stdout; what it skips is counted on stderr.
import avro from 'avsc';
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;
const env = process.env;
const brokers = (env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const registryUrl = (env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7').replace(/\/+$/, '');
const topic = env.SIGNALS_TOPIC ?? 'touchstream.signals';
const groupId = env.GROUP_ID ?? 'personalisation-engine';
/** A new group starts at the topic's end unless FROM_BEGINNING=true. */
const fromBeginning = env.FROM_BEGINNING === 'true';
/** Stop after acting on this many signals (0: run until SIGINT/SIGTERM). */
const exitAfter = Number(env.EXIT_AFTER ?? 0);

// --- Decoding: Confluent wire format (magic byte 0, 4-byte schema id, Avro body), writer schema from the registry.
const types = new Map();
async function writerType(id) {
  if (!types.has(id)) {
    types.set(id, (async () => {
      const response = await fetch(`${registryUrl}/schemas/ids/${id}`);
      if (!response.ok) throw new Error(`schema ${id}: registry answered ${response.status}`);
      return avro.Type.forSchema(JSON.parse((await response.json()).schema));
    })());
  }
  return types.get(id);
}
async function decode(buffer) {
  if (buffer.length < 5 || buffer[0] !== 0) throw new Error('not in the Confluent wire format');
  return (await writerType(buffer.readInt32BE(1))).fromBuffer(buffer.subarray(5));
}

// --- Dedup by signal_id: a signal is delivered at least once to a consumer (a restart re-reads from the last
// committed offset). Keep the ids you acted on where your actions are recorded; here, the last 100,000 in memory.
const handled = new Set();
function firstTime(signalId) {
  if (handled.has(signalId)) return false;
  handled.add(signalId);
  if (handled.size > 100_000) handled.delete(handled.values().next().value);
  return true;
}

/** Your engine's part: here, print it. A signal's `channel` and `action` say what to do, `reason` why. */
function act(signal) {
  console.log(JSON.stringify({
    signal_id: signal.signal_id, customer_id: signal.customer_id, action: signal.action, channel: signal.channel,
    priority: signal.priority, reason: signal.reason, expires_at: new Date(signal.expires_at).toISOString(),
  }));
}

const counts = { acted: 0, duplicates: 0, expired: 0, undecodable: 0 };
const kafka = new Kafka({ clientId: 'consume-signals-example', brokers, logLevel: logLevel.WARN });
// read_committed (kafkajs' default, said here on purpose): signals of an aborted checkpoint are never seen.
const consumer = kafka.consumer({ groupId, readUncommitted: false });
let stopping = false;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  console.error(`consume-signals: ${counts.acted} acted on, ${counts.duplicates} duplicates, ${counts.expired} expired, ${counts.undecodable} undecodable`);
  await consumer.disconnect().catch(() => {});
  process.exit(code);
}
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => void stop());

await consumer.connect();
await consumer.subscribe({ topic, fromBeginning });
let listening = false;
// After its first fetch the group's start offsets are resolved: what is written from now on is seen.
consumer.on(consumer.events.FETCH, () => {
  if (!listening) console.error(`consume-signals: listening on ${topic} as group ${groupId}`);
  listening = true;
});
await consumer.run({
  eachMessage: async ({ message }) => {
    if (stopping || !message.value) return;
    let signal;
    try {
      signal = await decode(message.value);
    } catch (error) {
      counts.undecodable++;
      console.error(`consume-signals: skipped an undecodable record: ${error.message}`);
      return;
    }
    if (!firstTime(signal.signal_id)) {
      counts.duplicates++;
      return;
    }
    // expires_at is event time; on a live stream it tracks the wall clock: past it, the moment is gone.
    if (signal.expires_at <= Date.now()) {
      counts.expired++;
      return;
    }
    act(signal);
    counts.acted++;
    if (exitAfter > 0 && counts.acted >= exitAfter) setImmediate(() => void stop());
  },
});

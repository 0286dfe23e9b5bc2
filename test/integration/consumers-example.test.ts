// docs/consumers.md's example (examples/consume-signals.mjs) against the real broker and registry: it acts on committed, unexpired signals once each, decoded through the registry, and never sees an aborted transaction's.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSchema } from '../../schemas/avro.ts';
import { AvroWireCodec } from '../../schemas/codec.ts';
import type { Signal } from '../../schemas/outputs.ts';
import { TOPICS } from '../../schemas/outputs.ts';
import { HttpSchemaRegistry } from '../../schemas/registry-http.ts';
import { requireEnvironment, runId, waitFor } from '../support/environment.ts';

const EXAMPLE = join(import.meta.dirname, '../../examples/consume-signals.mjs');

describe('the signal consumer example of docs/consumers.md', () => {
  const run = runId();
  const brokers = requireEnvironment('TOUCHSTREAM_TEST_KAFKA_BROKERS');
  const registryUrl = requireEnvironment('TOUCHSTREAM_TEST_SCHEMA_REGISTRY_URL');
  const kafka = new Kafka({ clientId: `consumers-example-${run}`, brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ transactionalId: `consumers-example-${run}`, idempotent: true, maxInFlightRequests: 1 });

  afterAll(async () => {
    await producer.disconnect().catch(() => {});
  });

  it('prints each committed, unexpired signal once, in order, and skips duplicates, expired and aborted ones', async () => {
    const child = spawn(process.execPath, [EXAMPLE], {
      env: { ...process.env, KAFKA_BROKERS: brokers, SCHEMA_REGISTRY_URL: registryUrl, GROUP_ID: `consumers-example-${run}`, EXIT_AFTER: '2' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await waitFor(async () => (stderr.includes('listening on') ? true : undefined), 30_000, 'the example to listen');

      // The pipeline's own codec: the signal schema registered under touchstream.signals-value, the wire format.
      const codec = await new AvroWireCodec<Signal>(new HttpSchemaRegistry({ url: registryUrl }), `${TOPICS.signals}-value`, loadSchema('signal')).init();
      const now = Date.now();
      const customer = `consumers-${run}-c1`;
      const signal = (id: string, expiresAt: number): Signal => ({
        signal_id: `${run}-${id}`, customer_id: customer, session_id: null, action: 'cart_reminder', channel: 'email', priority: 40,
        rule_id: 'cart_reminder', reason: `signal ${id}`, evidence_event_ids: [`${run}-e1`], triggered_at: now - 1000, emitted_at: now, expires_at: expiresAt, status: 'emitted',
        audience: 'customer', context: null,
      });
      const send = async (signals: readonly Signal[], outcome: 'commit' | 'abort') => {
        const transaction = await producer.transaction();
        await transaction.send({ topic: TOPICS.signals, messages: signals.map((each) => ({ key: customer, value: codec.encode(each) })) });
        await transaction[outcome]();
      };
      await producer.connect();
      const hour = 3_600_000;
      await send([signal('s1', now + hour), signal('s1', now + hour), signal('s2-expired', now - 1)], 'commit');
      await send([signal('s3-aborted', now + hour)], 'abort');
      await send([signal('s4', now + hour)], 'commit');

      expect(await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('timeout'), 30_000))]), stderr).toBe(0);
      const acted = stdout.trim().split('\n').map((line) => JSON.parse(line) as { signal_id: string; customer_id: string; action: string; expires_at: string });
      expect(acted.map((each) => each.signal_id)).toEqual([`${run}-s1`, `${run}-s4`]);
      expect(acted[0]).toMatchObject({ customer_id: customer, action: 'cart_reminder', expires_at: new Date(now + hour).toISOString() });
      expect(stderr).toContain('2 acted on, 1 duplicates, 1 expired, 0 undecodable');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

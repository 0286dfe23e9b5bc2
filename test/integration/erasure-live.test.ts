// Erasure end to end on the real broker and the 18.16 ClickHouse server: a customer erased over HTTP in the middle of a live run is gone from every table, from live state and its changelog (a restarted worker restores nothing of them), and their next events start from nothing; export holds them and nobody else.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector } from '../../app/collect.ts';
import type { RunningCollector } from '../../app/collect.ts';
import { loadConfig } from '../../app/config.ts';
import { exportCustomer } from '../../app/customer-export.ts';
import { awaitErasure } from '../../app/erasure.ts';
import type { Runtime } from '../../app/runtime.ts';
import { inputPublisher, openRuntime, runPipeline } from '../../app/runtime.ts';
import { changelogTopicOf } from '../../engine/changelog.ts';
import { loadKeyFile, Pseudonymiser } from '../../privacy/index.ts';
import type { CxEvent } from '../../schemas/events.ts';
import { parseEvent } from '../../schemas/events.ts';
import { rowsHeldFor } from '../support/erasure-rows.ts';
import { requireEnvironment, runId, waitFor } from '../support/environment.ts';

const MIN = 60_000;

describe.each(['Kafka and the ClickHouse 18.16 server', 'the embedded default (in-process log, chDB)'] as const)('erasure in the middle of a live run on %s', (target) => {
  const run = runId();
  const servers = target.startsWith('Kafka');
  const database = `ts_erasure_live_${run}`;
  const writeKey = `wk-${run}`;
  const raw = (name: string) => `raw${run}-${name}`;
  const T0 = Math.floor((Date.now() - 6 * 60 * MIN) / MIN) * MIN;
  let runtime: Runtime;
  let collector: RunningCollector;
  let alice: string;
  let bob: string;
  let carol: string;
  let live: { stop: AbortController; done: Promise<unknown> } | null = null;

  const event = (suffix: string, customer: string, minute: number, type: string, properties: object, channel = 'web'): CxEvent => {
    const parsed = parseEvent({ event_id: `${run}-${suffix}`, type, occurred_at: new Date(T0 + minute * MIN).toISOString(), channel, customer_id: customer, properties }, Date.now());
    if (!parsed.ok) throw new Error(parsed.failure.message);
    return parsed.event;
  };
  const page = (suffix: string, customer: string, minute: number, pageType: string) => event(suffix, customer, minute, 'page_view', { page: `/${pageType}`, page_type: pageType });
  const call = (suffix: string, customer: string, minute: number) => event(suffix, customer, minute, 'contact', { kind: 'call', reason: 'order' }, 'call_center');
  const nps = (suffix: string, customer: string, minute: number) => event(suffix, customer, minute, 'survey_response', { survey_id: 'sv', metric: 'nps', score: 3, comment: 'slow delivery', language: 'en' }, 'survey');
  const publish = (events: CxEvent[]) => inputPublisher(runtime).publish(events);
  const startLive = () => {
    const stop = new AbortController();
    live = { stop, done: runPipeline(runtime, { signal: stop.signal }) };
  };
  const stopLive = async () => {
    live?.stop.abort();
    await live?.done;
    live = null;
  };
  const rows = (sql: string) => runtime.clickhouse.rows<Record<string, unknown>>(sql.replaceAll('$db', database));
  const count = async (sql: string) => Number((await rows(sql))[0]!.n);
  const customerRows = (customer: string) => rowsHeldFor(runtime.clickhouse, database, customer);

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'touchstream-erasure-live-'));
    const keyPath = join(dataDir, 'pseudonymisation.key');
    writeFileSync(keyPath, `${randomBytes(48).toString('base64')}\n`, { mode: 0o600 });
    const pseudonymiser = new Pseudonymiser(loadKeyFile(keyPath));
    alice = pseudonymiser.pseudonym(raw('alice'));
    bob = pseudonymiser.pseudonym(raw('bob'));
    carol = pseudonymiser.pseudonym(raw('carol'));
    runtime = await openRuntime(loadConfig({
      dataDir,
      ...(servers
        ? {
            transport: 'rdkafka' as const,
            kafka: { brokers: requireEnvironment('TOUCHSTREAM_TEST_KAFKA_BROKERS'), inputTopic: `it-erasure-${run}`, erasureTopic: `it-erasure-requests-${run}`, groupId: `it-erasure-${run}`, partitions: 2 },
            clickhouse: { url: requireEnvironment('TOUCHSTREAM_TEST_CLICKHOUSE_URL'), dialect: 'legacy' as const, database },
          }
        : { kafka: { inputTopic: `it-erasure-${run}`, erasureTopic: `it-erasure-requests-${run}`, groupId: `it-erasure-${run}`, partitions: 2 }, clickhouse: { database } }),
      collector: { port: 0, writeKeys: [writeKey] },
      engine: { workerId: `w-${run}` },
    }, { TOUCHSTREAM_PSEUDONYMISATION_KEY_FILE: keyPath }));
    collector = await startCollector(runtime);
  }, 60_000);

  afterAll(async () => {
    await stopLive().catch(() => {});
    await collector?.close();
    if (servers) await runtime?.clickhouse.command(`DROP DATABASE IF EXISTS ${database}`).catch(() => {});
    await runtime?.close();
  });

  it('exports, erases over HTTP, and a restarted worker starts the customer from nothing', async () => {
    startLive();
    // Both: a help session (closes), a later session still open, a contact and a survey response still waiting; alice two checkout errors (a signal).
    await publish([
      page('a1', raw('alice'), 0, 'help'), page('b1', raw('bob'), 0, 'help'),
      event('ae', raw('alice'), 2, 'email_open', { campaign_id: 'camp' }, 'email'),
      page('a2', raw('alice'), 60, 'product'), page('b2', raw('bob'), 60, 'product'),
      call('a3', raw('alice'), 61), call('b3', raw('bob'), 61),
      nps('a4', raw('alice'), 62), nps('b4', raw('bob'), 62),
      event('a5', raw('alice'), 63, 'checkout_error', { code: 'X' }), event('a6', raw('alice'), 64, 'checkout_error', { code: 'X' }),
      page('c1', raw('carol'), 65, 'home'), // after the others: never late on a shared partition
    ]);
    await waitFor(async () => ((await count(`SELECT count() AS n FROM $db.sessions WHERE customer_id = '${alice}'`)) > 0 && (await count(`SELECT count() AS n FROM $db.signals WHERE customer_id = '${alice}'`)) >= 2
      && (await count(`SELECT count() AS n FROM $db.events WHERE customer_id = '${alice}'`)) >= 7 ? true : undefined), 60_000, "alice's events, closed session and signals in the tables");

    // Access: her rows and live state, nothing of bob.
    const exported = await exportCustomer(runtime, raw('alice'));
    const text = JSON.stringify(exported);
    expect(exported.customer_id).toBe(alice);
    expect(text).not.toContain(bob);
    expect(text).not.toContain(raw('alice'));
    expect(exported.tables.sessions!.length).toBe(1);
    expect(exported.tables.signals!.map((row) => row.action).sort()).toEqual(['crm_update', 'live_chat_offer', 'support_callback', 'support_case']); // the detractor's fan-out: callback, case, CRM update
    expect(exported.tables.events!.length).toBe(7);
    expect(Object.keys(exported.state).sort()).toEqual(expect.arrayContaining(['journey-customers', 'journey-pending-contacts', 'journey-pending-feedback', 'journey-sessions']));

    // Erasure over HTTP, in the middle of the live run.
    const response = await fetch(`${collector.url}/v1/erasure`, { method: 'POST', headers: { authorization: `Bearer ${writeKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ customer_id: raw('alice') }) });
    expect(response.status).toBe(202);
    const { request_id: requestId } = (await response.json()) as { request_id: string };
    const tables = await awaitErasure(runtime.clickhouse, requestId, 90_000);
    expect(tables).toEqual(expect.arrayContaining(['events', 'sessions', 'signals', 'page_views', 'campaign_kpis']));
    expect(await customerRows(alice)).toEqual({});
    expect(Object.keys(await customerRows(bob)).sort()).toEqual(expect.arrayContaining(['events', 'sessions']));
    const log = await rows(`SELECT request_id, customer_id, status, completed_at IS NOT NULL AS done FROM $db.erasure_log FINAL WHERE request_id = '${requestId}' ORDER BY status DESC`);
    expect(log.map((row) => [row.request_id, row.customer_id, row.status, Number(row.done)])).toEqual([[requestId, alice, 'requested', 0], [requestId, alice, 'completed', 1]]);

    // A request another system puts on the erasure topic, with the raw id: routed onto the input topic and applied alike.
    await waitFor(async () => ((await count(`SELECT count() AS n FROM $db.events WHERE customer_id = '${carol}'`)) > 0 ? true : undefined), 30_000, "carol's event");
    const topicRequest = `req-topic-${run}`;
    await runtime.producer.send(runtime.config.kafka.erasureTopic, [{ key: raw('carol'), value: runtime.codecs.erasure.encode({ request_id: topicRequest, customer_id: raw('carol'), requested_at: Date.now(), source: 'topic' }) }]);
    await awaitErasure(runtime.clickhouse, topicRequest, 90_000);
    expect(await customerRows(carol)).toEqual({});
    expect((await rows(`SELECT customer_id FROM $db.erasure_log FINAL WHERE request_id = '${topicRequest}'`)).map((row) => row.customer_id)).toEqual([carol, carol]);

    // The changelog: tombstones for her keys, and compacted nothing of her.
    await stopLive();
    const changelog = changelogTopicOf(runtime.config.kafka.groupId);
    const records = await runtime.log.readPartitions(changelog, (await runtime.log.endOffsets(changelog)).map((end) => end.partition));
    const hers = records.filter((record) => String(record.key).split('|')[1] === alice);
    const last = new Map(hers.map((record) => [String(record.key), record.value.length]));
    expect([...last.keys()].map((key) => key.split('|')[0]).sort()).toEqual(expect.arrayContaining(['journey-customers', 'journey-pending-contacts', 'journey-pending-feedback', 'journey-sessions', 'contact-policy']));
    expect([...last.values()].every((length) => length === 0)).toBe(true);

    // A restarted worker restores from the changelogs; her next events start from nothing: a new session, no channel
    // switch to the help session of before (bob's contact still links to his), no survey of before.
    startLive();
    await publish([page('a7', raw('alice'), 100, 'home'), call('a8', raw('alice'), 101), call('b8', raw('bob'), 101),
      // Each customer's partition moves on (they may sit on different partitions): sessions close, contacts are decided.
      page('a9', raw('alice'), 300, 'home'), page('b9', raw('bob'), 300, 'home')]);
    await waitFor(async () => ((await count(`SELECT count() AS n FROM $db.channel_switches WHERE customer_id = '${bob}'`)) >= 2 && (await count(`SELECT count() AS n FROM $db.sessions WHERE customer_id = '${alice}'`)) > 0 ? true : undefined), 60_000, "bob's channel switches and alice's new session");
    await stopLive();
    expect(await count(`SELECT count() AS n FROM $db.channel_switches WHERE customer_id = '${alice}'`)).toBe(0);
    expect((await rows(`SELECT toUnixTimestamp(started_at) * 1000 AS started FROM $db.sessions FINAL WHERE customer_id = '${alice}'`)).map((row) => Number(row.started))).toEqual([T0 + 100 * MIN]);
    expect(await count(`SELECT count() AS n FROM $db.feedback WHERE customer_id = '${alice}'`)).toBe(0);
    expect((await rows(`SELECT event_id FROM $db.events WHERE customer_id = '${alice}' ORDER BY event_id`)).map((row) => row.event_id)).toEqual([`${run}-a7`, `${run}-a8`, `${run}-a9`]);
  }, 110_000);
});

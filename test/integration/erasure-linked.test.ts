// Erasing a customer erases the anonymous journeys identity stitching joined to them: in a live run, the customer's erasure asks for the linked anonymous id's on the input topic, applied on that id's own partition (live state and changelog) and by the loader (its rows, erasure_log); a visitor never linked keeps everything.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import { awaitErasure, requestErasure } from '../../app/erasure.ts';
import type { Runtime } from '../../app/runtime.ts';
import { inputPublisher, openRuntime, runPipeline } from '../../app/runtime.ts';
import { changelogTopicOf } from '../../engine/changelog.ts';
import { partitionOf } from '../../log/partitioner.ts';
import { loadKeyFile, Pseudonymiser } from '../../privacy/index.ts';
import type { CxEvent } from '../../schemas/events.ts';
import { parseEvent } from '../../schemas/events.ts';
import { rowsHeldFor } from '../support/erasure-rows.ts';
import { requireEnvironment, runId, waitFor } from '../support/environment.ts';

const MIN = 60_000;

describe.each(['Kafka and the ClickHouse 18.16 server', 'the embedded default (in-process log, chDB)'] as const)('erasure of a customer and their linked anonymous journeys on %s', (target) => {
  const run = runId();
  const servers = target.startsWith('Kafka');
  const database = `ts_erasure_linked_${run}`;
  const raw = (name: string) => `raw${run}-${name}`;
  const T0 = Math.floor((Date.now() - 6 * 60 * MIN) / MIN) * MIN;
  let runtime: Runtime;
  let dave: string;
  let anon: string;
  let anonRaw: string;
  let stranger: string;
  let live: { stop: AbortController; done: Promise<unknown> } | null = null;

  /** A web page view: anonymous (`anonymous` only), or of a customer (with the anonymous id of their device, when given). */
  const page = (suffix: string, minute: number, ids: { customer?: string; anonymous?: string }): CxEvent => {
    const parsed = parseEvent({
      event_id: `${run}-${suffix}`, type: 'page_view', occurred_at: new Date(T0 + minute * MIN).toISOString(), channel: 'web',
      ...(ids.customer ? { customer_id: ids.customer } : {}), ...(ids.anonymous ? { anonymous_id: ids.anonymous } : {}), properties: { page: '/help', page_type: 'help' },
    }, Date.now());
    if (!parsed.ok) throw new Error(parsed.failure.message);
    return parsed.event;
  };
  const rows = (sql: string) => runtime.clickhouse.rows<Record<string, unknown>>(sql.replaceAll('$db', database));
  const count = async (sql: string) => Number((await rows(sql))[0]!.n);
  const rowsOf = (id: string) => rowsHeldFor(runtime.clickhouse, database, id);
  /** The compacted changelog's live entries (a tombstone, an empty value, drops the key) that belong to `id`, by store. */
  const stateOf = async (id: string) => {
    const changelog = changelogTopicOf(runtime.config.kafka.groupId);
    const records = await runtime.log.readPartitions(changelog, (await runtime.log.endOffsets(changelog)).map((end) => end.partition));
    const last = new Map<string, number>();
    for (const record of records) if (String(record.key).split('|')[1] === id) last.set(String(record.key), record.value?.length ?? 0);
    return [...last].filter(([, length]) => length > 0).map(([key]) => key.split('|')[0]).sort();
  };

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'touchstream-erasure-linked-'));
    const keyPath = join(dataDir, 'pseudonymisation.key');
    writeFileSync(keyPath, `${randomBytes(48).toString('base64')}\n`, { mode: 0o600 });
    const pseudonymiser = new Pseudonymiser(loadKeyFile(keyPath));
    dave = pseudonymiser.pseudonym(raw('dave'));
    // A device id on the other partition than dave's: the linked request must travel to it.
    for (let index = 0; ; index++) {
      anonRaw = raw(`anon${index}`);
      anon = pseudonymiser.pseudonym(anonRaw);
      if (partitionOf(anon, 2) !== partitionOf(dave, 2)) break;
    }
    stranger = pseudonymiser.pseudonym(raw('stranger'));
    runtime = await openRuntime(loadConfig({
      dataDir,
      ...(servers
        ? {
            transport: 'rdkafka' as const,
            kafka: { brokers: requireEnvironment('TOUCHSTREAM_TEST_KAFKA_BROKERS'), inputTopic: `it-erasure-linked-${run}`, erasureTopic: `it-erasure-linked-requests-${run}`, groupId: `it-erasure-linked-${run}`, partitions: 2 },
            clickhouse: { url: requireEnvironment('TOUCHSTREAM_TEST_CLICKHOUSE_URL'), dialect: 'legacy' as const, database },
          }
        : { kafka: { inputTopic: `it-erasure-linked-${run}`, erasureTopic: `it-erasure-linked-requests-${run}`, groupId: `it-erasure-linked-${run}`, partitions: 2 }, clickhouse: { database } }),
      engine: { workerId: `w-${run}` },
    }, { TOUCHSTREAM_PSEUDONYMISATION_KEY_FILE: keyPath }));
  }, 60_000);

  afterAll(async () => {
    live?.stop.abort();
    await live?.done.catch(() => {});
    if (servers) await runtime?.clickhouse.command(`DROP DATABASE IF EXISTS ${database}`).catch(() => {});
    await runtime?.close();
  });

  it('forgets the anonymous id in live state and deletes its rows, logged under the request; the stranger keeps theirs', async () => {
    const stop = new AbortController();
    live = { stop, done: runPipeline(runtime, { signal: stop.signal }) };
    // The visitor browses anonymously (a session that closes, rows under the anonymous id), comes back and logs in as
    // dave (identity stitching links the two); another visitor browses and never logs in.
    await inputPublisher(runtime).publish([
      page('v1', 0, { anonymous: anonRaw }), page('v2', 1, { anonymous: anonRaw }), page('s1', 0, { anonymous: raw('stranger') }),
      page('v3', 60, { anonymous: anonRaw }), page('d1', 61, { customer: raw('dave'), anonymous: anonRaw }), page('s2', 60, { anonymous: raw('stranger') }),
      page('d2', 62, { anonymous: anonRaw }), // routed to dave
    ]);
    await waitFor(async () => ((await count(`SELECT count() AS n FROM $db.sessions WHERE customer_id = '${anon}'`)) > 0 && (await count(`SELECT count() AS n FROM $db.sessions WHERE customer_id = '${stranger}'`)) > 0
      && (await count(`SELECT count() AS n FROM $db.events WHERE customer_id = '${dave}'`)) >= 2 ? true : undefined), 60_000, "the anonymous sessions and dave's events in the tables");
    expect(Object.keys(await rowsOf(anon)).sort()).toEqual(expect.arrayContaining(['events', 'sessions']));
    expect(await stateOf(anon)).toContain('journey-customers'); // the anonymous journey's history, under its own key

    const request = await requestErasure(runtime, raw('dave'), { source: 'cli' });
    await awaitErasure(runtime.clickhouse, request.requestId, 90_000);
    const linked = `${request.requestId}-linked-1`;
    const tables = await awaitErasure(runtime.clickhouse, linked, 90_000);
    expect(tables).toEqual(expect.arrayContaining(['events', 'sessions']));
    expect(await rowsOf(dave)).toEqual({});
    expect(await rowsOf(anon)).toEqual({});
    expect(Object.keys(await rowsOf(stranger)).sort()).toEqual(expect.arrayContaining(['events', 'sessions']));
    expect((await rows(`SELECT customer_id, status FROM $db.erasure_log FINAL WHERE request_id = '${linked}' ORDER BY status`)).map((row) => [row.customer_id, row.status])).toEqual([[anon, 'completed'], [anon, 'requested']]);

    live.stop.abort();
    await live.done;
    live = null;
    expect(await stateOf(dave)).toEqual([]);
    expect(await stateOf(anon)).toEqual([]);
    expect(await stateOf(stranger)).toContain('journey-customers');
  }, 150_000);
});

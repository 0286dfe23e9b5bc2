// The CX chain's live view (what the customer API answers): open session KPIs so far, the last closed session, open signals and the journey, also after a restore; and the engine's assignment hook it is served by.
import { describe, expect, it } from 'vitest';
import type { Operator, PartitionAssignment, StateChange } from '../../engine/index.ts';
import { KeyedStateStore, runStreamJob } from '../../engine/index.ts';
import { MemoryLog } from '../../log/memory.ts';
import type { JourneyOperator } from '../../pipelines/cx/journey-operator.ts';
import { PipelineLiveState } from '../../app/live-state.ts';
import { MIN, at, event, journeyHarness } from '../support/cx-harness.ts';

const journeyEvents = () => [
  event('e1', 'page_view', 0, { page: '/home', page_type: 'home' }),
  event('e2', 'add_to_cart', 1, { product_id: 'p1', price: 40, quantity: 1 }),
  event('e3', 'checkout_error', 2, { code: 'TIMEOUT' }),
  event('e4', 'checkout_error', 3, { code: 'TIMEOUT' }),
];

describe('the CX live view', () => {
  it('answers the open session so far, then the closed one as the pipeline wrote it', () => {
    const harness = journeyHarness();
    const live = (harness.operator as JourneyOperator).live;
    expect(live.session('c1')).toBeUndefined();
    expect(live.journey('c1')).toBeUndefined();
    expect(live.openSignals('c1', at(0))).toBeUndefined();

    harness.process(journeyEvents().slice(0, 2));
    const open = live.session('c1')!;
    expect(open.status).toBe('open');
    expect(open.kpis).toMatchObject({ customer_id: 'c1', events: 2, page_views: 1, cart_adds: 1, cart_value: 40, started_at: at(0), ended_at: at(1), duration_ms: MIN, entry_page: '/home' });
    expect(live.openSignals('c1', at(2))).toEqual([]);

    harness.process(journeyEvents().slice(2));
    expect(live.session('c1')!.kpis).toMatchObject({ events: 4, checkout_errors: 2 });
    // The live chat offer fired on the second checkout error: open until it expires (30 min).
    const signals = live.openSignals('c1', at(10))!;
    expect(signals.map((signal) => signal.rule_id)).toEqual(harness.outputs.signals.filter((signal) => signal.status === 'emitted').map((signal) => signal.rule_id));
    expect(signals.map((signal) => signal.rule_id)).toContain('live_chat_offer');
    expect(live.openSignals('c1', at(3) + 30 * MIN)!.map((signal) => signal.rule_id)).not.toContain('live_chat_offer');
    const journey = live.journey('c1')!;
    expect(journey.sessions).toHaveLength(1);
    expect(journey.sessions[0]).toMatchObject({ status: 'open', checkout_errors: 2, started_at: at(0), ended_at: at(3) });

    harness.watermark(at(3) + 31 * MIN);
    expect(harness.outputs.sessions).toHaveLength(1);
    const closed = live.session('c1')!;
    expect(closed.status).toBe('closed');
    expect(closed.kpis).toEqual(harness.outputs.sessions[0]);
    expect(live.journey('c1')!.sessions).toEqual([expect.objectContaining({ status: 'closed', session_id: harness.outputs.sessions[0]!.session_id })]);

    // A new session: the open one is answered again; the journey has both, oldest first.
    harness.process([event('e5', 'page_view', 60, { page: '/help', page_type: 'help' })], at(3) + 31 * MIN);
    expect(live.session('c1')).toMatchObject({ status: 'open', kpis: { events: 1, entry_page: '/help' } });
    expect(live.journey('c1')!.sessions.map((session) => session.status)).toEqual(['closed', 'open']);
  });

  it('answers the same after the operator is restored from its changelog', () => {
    const first = journeyHarness();
    first.process(journeyEvents()).watermark(at(3) + 31 * MIN);
    first.process([event('e6', 'survey_response', 40, { survey_id: 's1', metric: 'nps', score: 3, comment: null, language: null }, { channel: 'survey' })], at(3) + 31 * MIN);
    const before = (first.operator as JourneyOperator).live;
    const answers = (live: typeof before) => ({ session: live.session('c1'), signals: live.openSignals('c1', at(41)), journey: live.journey('c1') });
    const expected = answers(before);
    expect(expected.signals!.map((signal) => signal.rule_id)).toContain('support_callback');
    expect(expected.journey!.feedback).toEqual([{ responded_at: at(40), metric: 'nps', score: 3, survey_id: null, session_id: null }]);

    const changes: StateChange[] = first.operator.snapshot!();
    const second = journeyHarness();
    const operator = second.operator as Operator<never, never>;
    operator.reset!();
    const byStore = new Map<string, Map<number, Map<string, unknown>>>();
    for (const change of changes) {
      const partitions = byStore.get(change.store) ?? new Map<number, Map<string, unknown>>();
      byStore.set(change.store, partitions);
      const entries = partitions.get(change.partition) ?? new Map<string, unknown>();
      partitions.set(change.partition, entries);
      if (change.value === null) entries.delete(change.key);
      else entries.set(change.key, JSON.parse(JSON.stringify(change.value)));
    }
    expect([...byStore.keys()]).toEqual(expect.arrayContaining(['journey-last-sessions', 'journey-open-signals']));
    for (const [store, partitions] of byStore) for (const [partition, entries] of partitions) operator.restore!(store, partition, entries);
    expect(answers((second.operator as JourneyOperator).live)).toEqual(expected);
  });

  it('forgets expired signals and old closed sessions as the watermark passes them', () => {
    const harness = journeyHarness();
    const live = (harness.operator as JourneyOperator).live;
    harness.process(journeyEvents()).watermark(at(3) + 31 * MIN);
    expect(live.session('c1')!.status).toBe('closed');
    harness.watermark(at(3) + 25 * 60 * MIN);
    // The history still knows the customer (7 days); the last closed KPI row (24 h) and the expired chat offer (30 min)
    // are gone (asked with now = 0: the store itself forgot it), the cart reminder (48 h) is still open.
    expect(live.session('c1')).toBeUndefined();
    expect(live.openSignals('c1', 0)!.map((signal) => signal.rule_id)).toEqual(['cart_reminder']);
    harness.watermark(at(3) + 50 * 60 * MIN);
    expect(live.openSignals('c1', 0)).toEqual([]);
  });
});

describe('the engine\'s assignment hook', () => {
  it('says rebalancing until the state of the assigned partitions is restored, the partitions then, and rebalancing at the end', async () => {
    const log = new MemoryLog({ defaultPartitions: 2 });
    await log.createTopics([{ topic: 'input', partitions: 2 }]);
    log.append('input', [{ key: 'a', value: Buffer.from('x'), partition: 0 }, { key: 'b', value: Buffer.from('y'), partition: 1 }] as never);
    const store = new KeyedStateStore<number>('counts');
    const seen: PartitionAssignment[] = [];
    const state = new PipelineLiveState();
    let restoredWhileRebalancing = false;
    const counter: Operator<string, { counts: number }> = {
      name: 'counter',
      stateStores: ['counts'],
      process(batch) {
        for (const record of batch) store.put(record.partition, record.key, (store.get(record.key) ?? 0) + 1);
      },
      onWatermark() {},
      snapshot: () => store.changes(),
      restore: (_name, partition, entries) => {
        restoredWhileRebalancing = state.ownedPartitions() === 'rebalancing';
        store.restore(partition, entries);
      },
      reset: () => store.clear(),
    };
    state.attach({} as never);
    const run = async () =>
      runStreamJob<string, { counts: number }>({
        name: 'assignment',
        consumer: await log.consumer({ groupId: 'grp', topics: ['input'] }),
        inputTopic: 'input',
        decode: async (records) => records.map((record) => ({ record, value: record.value.toString() })),
        keyOf: (value) => (value === 'x' ? 'a' : 'b'),
        eventTimeOf: () => 1000,
        operators: [counter],
        sinks: { counts: { name: 'counts', write: async () => {} } },
        watermarks: { outOfOrdernessMs: 0, idleTimeoutMs: 60_000 },
        boundedBy: await log.endOffsets('input'),
        state: { log, transactions: await log.transactionalProducer({ transactionalId: `t-${seen.length}` }), changelogPrefix: 'grp' },
        onAssignment: (assignment) => {
          seen.push(assignment);
          state.onAssignment(assignment);
        },
      });
    await run();
    expect(seen).toEqual(['rebalancing', [0, 1], 'rebalancing']);
    expect(state.ownedPartitions()).toBe('rebalancing');
    // A second job restores the first one's state: while it does, the view is rebalancing.
    log.append('input', [{ key: 'a', value: Buffer.from('x'), partition: 0 }] as never);
    state.onAssignment([0, 1]); // as if the job still served them: the runner must say otherwise before it restores
    await run();
    expect(restoredWhileRebalancing).toBe(true);
    expect(store.get('a')).toBe(2);
  });
});

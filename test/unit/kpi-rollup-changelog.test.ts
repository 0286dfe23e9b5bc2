// The minute rollup's changelog: one entry per partition and minute, tombstones only for entries that were written.
import { describe, expect, it } from 'vitest';
import { KpiRollup } from '../../pipelines/cx/kpi-rollup.ts';
import type { KpiMinuteRow } from '../../schemas/analytics-outputs.ts';
import { MIN, at, event } from '../support/cx-harness.ts';

const GAP = 30 * MIN;
const view = (id: string, minutes: number, touchpoint: string | null = null) => event(id, 'page_view', minutes, { url: '/', title: null, referrer: null }, { touchpoint });

describe('KpiRollup changelog', () => {
  it('writes one entry per partition and minute holding all its rows, however many events changed it', () => {
    const rollup = new KpiRollup(GAP);
    rollup.addEvent(view('e1', 0), 0);
    rollup.addEvent(view('e2', 0.5, '/help'), 0);
    rollup.addEvent(view('e3', 0.7), 0);
    rollup.addEvent(view('e4', 0.2), 1);
    rollup.addEvent(view('e5', 1.1), 1);
    const changes = rollup.changes();
    expect(changes.map(({ partition, key }) => `${partition}:${key}`).sort()).toEqual([`0:${at(0)}`, `1:${at(0)}`, `1:${at(1)}`]);
    // [channel, touchpoint, events, page_views, orders, revenue, sessions, conversions, cart_abandonments, responses,
    //  nps_responses, promoters, passives, detractors, csat_responses, csat_satisfied, ces_responses, ces_sum]
    expect(changes.find((change) => change.partition === 0)!.value).toEqual([
      ['web', '', 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      ['web', '/help', 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ]);
    expect(rollup.changes()).toEqual([]);
  });

  it('tombstones an emitted minute only when its entry reached the changelog', () => {
    const rollup = new KpiRollup(GAP);
    rollup.addEvent(view('e1', 0), 0);
    rollup.changes(); // minute 0 of partition 0 is on the changelog now
    rollup.addEvent(view('e2', 2), 0); // minute 2: created and emitted before any checkpoint
    const emitted: KpiMinuteRow[] = [];
    rollup.release(at(3) + GAP + 1, (row) => emitted.push(row));
    expect(emitted.map((row) => row.minute)).toEqual([at(0), at(2)]);
    expect(rollup.changes().map(({ key, value }) => [key, value])).toEqual([[String(at(0)), null], ['emitted-up-to', at(2)]]);
  });

  it('restores rows from their entries and goes on counting into them', () => {
    const first = new KpiRollup(GAP);
    first.addEvent(view('e1', 0), 2);
    first.addEvent(view('e2', 0.5, '/cart'), 2);
    const entries = new Map(first.changes().map((change) => [change.key, JSON.parse(JSON.stringify(change.value)) as unknown]));
    const restored = new KpiRollup(GAP);
    restored.restore(2, entries);
    restored.addEvent(view('e3', 0.9), 2);
    const emitted: KpiMinuteRow[] = [];
    restored.release(at(1) + GAP + 1, (row) => emitted.push(row));
    expect(emitted.map((row) => [row.touchpoint, row.input_partition, row.events])).toEqual([['', 2, 2], ['/cart', 2, 1]]);
    // The restored entry was on the changelog: emitting it writes its tombstone.
    expect(restored.changes().map(({ key, value }) => [key, value])).toEqual([[String(at(0)), null], ['emitted-up-to', at(0)]]);
  });
});

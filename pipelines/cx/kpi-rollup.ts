// Per-minute rollups by channel and touchpoint (CONTRACT §3) for dashboards, each row emitted once when its minute is final; a checkpointed state store.
import type { StateChange, StateStore } from '../../engine/index.ts';
import type { KpiMinuteRow } from '../../schemas/analytics-outputs.ts';
import type { Channel, CxEvent } from '../../schemas/events.ts';
import type { SessionKpis } from '../../schemas/outputs.ts';

const MINUTE_MS = 60_000;

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Changelog key of a partition's "minutes up to here were emitted" mark; row keys start with a digit (the minute). */
const EMITTED_KEY = 'emitted-up-to';

/**
 * Event measures (events, page_views, orders, revenue, responses, NPS/CSAT/CES parts) count in the minute of
 * the event, by its channel and touchpoint; session measures (sessions, conversions, cart abandonments) in the
 * minute the session ended, by its channel and entry touchpoint. A minute is final when the watermark passes
 * its end plus the session gap (every session that ended in it has closed), and is emitted once: the table is a
 * ReplacingMergeTree on (channel, touchpoint, minute, input_partition), so a replay writes the same rows again and
 * no sum doubles. Contributions for a minute already emitted (input later than the gap) are counted, not added.
 *
 * One row per input partition: with several workers each owns some partitions, and rows summed per worker would
 * replace each other in the table; per-partition rows are the same whatever the number of workers, and analysts
 * add them up (`sum(...) GROUP BY minute, channel, touchpoint`). State: the partial row of each partition, minute,
 * channel and touchpoint (changelog key `minute/channel/touchpoint` in that partition), so it moves with its
 * partition. Each partition also keeps the last emitted minute, so input for it after a restore is still counted
 * as late instead of re-emitting a row.
 */
export class KpiRollup implements StateStore {
  /** minute → "partition\0channel\0touchpoint" → partial row with its partition; plain objects. */
  readonly #minutes = new Map<number, Map<string, { partition: number; row: KpiMinuteRow }>>();
  /** Per known input partition: the last minute emitted (the same for all: the largest one emitted). */
  readonly #emittedUpTo = new Map<number, number>();
  readonly #changed = new Map<string, { partition: number; key: string; value: unknown }>();
  #emittedMax = Number.NEGATIVE_INFINITY;
  late = 0;

  constructor(
    private readonly sessionGapMs: number,
    readonly name = 'journey-kpi-rollup',
  ) {}

  get size(): number {
    return this.#minutes.size;
  }

  #row(time: number, channel: Channel, touchpoint: string | null, partition: number): KpiMinuteRow | null {
    const minute = Math.floor(time / MINUTE_MS) * MINUTE_MS;
    if (!this.#emittedUpTo.has(partition)) this.#markEmitted(partition, this.#emittedMax);
    if (minute <= this.#emittedMax) {
      this.late++;
      return null;
    }
    let rows = this.#minutes.get(minute);
    if (!rows) this.#minutes.set(minute, (rows = new Map()));
    const key = `${partition}\0${channel}\0${touchpoint ?? ''}`;
    let entry = rows.get(key);
    if (!entry) {
      const row = {
        minute, channel, touchpoint: touchpoint ?? '', input_partition: partition, events: 0, page_views: 0, orders: 0, revenue: 0, sessions: 0, conversions: 0,
        cart_abandonments: 0, responses: 0, nps_responses: 0, promoters: 0, passives: 0, detractors: 0, csat_responses: 0,
        csat_satisfied: 0, ces_responses: 0, ces_sum: 0,
      };
      rows.set(key, (entry = { partition, row }));
    }
    this.#changed.set(`${partition}\0${minute}/${channel}/${entry.row.touchpoint}`, { partition, key: `${minute}/${channel}/${entry.row.touchpoint}`, value: entry.row });
    return entry.row;
  }

  #markEmitted(partition: number, minute: number): void {
    this.#emittedUpTo.set(partition, minute);
    if (Number.isFinite(minute)) this.#changed.set(`${partition}\0${EMITTED_KEY}`, { partition, key: EMITTED_KEY, value: minute });
  }

  addEvent(event: CxEvent, partition: number): void {
    const row = this.#row(event.occurred_at, event.channel, event.touchpoint, partition);
    if (!row) return;
    row.events++;
    switch (event.type) {
      case 'page_view':
        row.page_views++;
        break;
      case 'purchase':
        row.orders++;
        row.revenue = Math.round((row.revenue + event.properties.revenue) * 100) / 100;
        break;
      case 'survey_response': {
        row.responses++;
        const { metric, score } = event.properties;
        if (metric === 'nps') {
          row.nps_responses++;
          if (score >= 9) row.promoters++;
          else if (score >= 7) row.passives++;
          else row.detractors++;
        } else if (metric === 'csat') {
          row.csat_responses++;
          if (score >= 4) row.csat_satisfied++;
        } else {
          row.ces_responses++;
          row.ces_sum += score;
        }
        break;
      }
    }
  }

  addSession(session: SessionKpis, entryTouchpoint: string | null, partition: number): void {
    const row = this.#row(session.ended_at, session.channel, entryTouchpoint, partition);
    if (!row) return;
    row.sessions++;
    if (session.converted) row.conversions++;
    if (session.cart_abandoned) row.cart_abandonments++;
  }

  /** Emits the minutes that are final at this watermark, oldest first, rows in (channel, touchpoint, partition) order. */
  release(watermark: number, emit: (row: KpiMinuteRow) => void): void {
    if (this.#minutes.size === 0) return;
    const due = [...this.#minutes.keys()].filter((minute) => minute + MINUTE_MS + this.sessionGapMs < watermark).sort((a, b) => a - b);
    if (due.length === 0) return;
    for (const minute of due) {
      const entries = [...this.#minutes.get(minute)!.values()].sort(
        (a, b) => compare(a.row.channel, b.row.channel) || compare(a.row.touchpoint, b.row.touchpoint) || a.partition - b.partition,
      );
      for (const { partition, row } of entries) {
        emit({ ...row });
        this.#changed.set(`${partition}\0${minute}/${row.channel}/${row.touchpoint}`, { partition, key: `${minute}/${row.channel}/${row.touchpoint}`, value: null });
      }
      this.#minutes.delete(minute);
    }
    this.#emittedMax = Math.max(this.#emittedMax, due.at(-1)!);
    for (const partition of this.#emittedUpTo.keys()) this.#markEmitted(partition, this.#emittedMax);
  }

  changes(): StateChange[] {
    const changes = [...this.#changed.values()].map(({ partition, key, value }) => ({ store: this.name, partition, key, value }));
    this.#changed.clear();
    return changes;
  }

  restore(partition: number, entries: ReadonlyMap<string, unknown>): void {
    for (const [key, value] of entries) {
      if (key === EMITTED_KEY) {
        const minute = value as number;
        this.#emittedUpTo.set(partition, minute);
        this.#emittedMax = Math.max(this.#emittedMax, minute);
        continue;
      }
      const row = { ...(value as KpiMinuteRow), input_partition: partition };
      let rows = this.#minutes.get(row.minute);
      if (!rows) this.#minutes.set(row.minute, (rows = new Map()));
      rows.set(`${partition}\0${row.channel}\0${row.touchpoint}`, { partition, row });
    }
    if (!this.#emittedUpTo.has(partition)) this.#emittedUpTo.set(partition, Number.NEGATIVE_INFINITY);
  }

  clear(): void {
    this.#minutes.clear();
    this.#emittedUpTo.clear();
    this.#changed.clear();
    this.#emittedMax = Number.NEGATIVE_INFINITY;
  }
}

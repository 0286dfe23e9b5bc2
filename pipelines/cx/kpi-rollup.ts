// Per-minute rollups by channel and touchpoint (CONTRACT §3) for dashboards, each row emitted once when its minute is final; a checkpointed state store.
import type { StateChange, StateStore } from '../../engine/index.ts';
import type { KpiMinuteRow } from '../../schemas/analytics-outputs.ts';
import type { Channel, CxEvent } from '../../schemas/events.ts';
import type { SessionKpis } from '../../schemas/outputs.ts';

const MINUTE_MS = 60_000;

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Changelog key of a partition's "minutes up to here were emitted" mark; row keys start with a digit (the minute). */
const EMITTED_KEY = 'emitted-up-to';

/** The measures of a row, in the order a changelog entry lists them after channel and touchpoint. */
const MEASURES = [
  'events', 'page_views', 'orders', 'revenue', 'sessions', 'conversions', 'cart_abandonments', 'responses', 'nps_responses',
  'promoters', 'passives', 'detractors', 'csat_responses', 'csat_satisfied', 'ces_responses', 'ces_sum',
] as const satisfies ReadonlyArray<keyof KpiMinuteRow>;

/** A row on the changelog: [channel, touchpoint, ...measures], a third of the JSON of the row object. */
type RowEntry = [Channel, string, ...number[]];

const toEntry = (row: KpiMinuteRow): RowEntry => [row.channel, row.touchpoint, ...MEASURES.map((measure) => row[measure])];

function fromEntry(entry: RowEntry, minute: number, partition: number): KpiMinuteRow {
  const row = { minute, channel: entry[0], touchpoint: entry[1], input_partition: partition } as KpiMinuteRow;
  MEASURES.forEach((measure, index) => (row[measure] = entry[index + 2] as number));
  return row;
}

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
 * add them up (`sum(...) GROUP BY minute, channel, touchpoint`). State: the partial rows of each partition and
 * minute, one changelog entry per partition and minute (key: the minute; value: its rows) re-written when one of its
 * rows changed since the last checkpoint, so the changelog carries a few records per minute rather than one per
 * event; the entries move with their partition. Each partition also keeps the last emitted minute, so input for it
 * after a restore is still counted as late instead of re-emitting a row.
 */
export class KpiRollup implements StateStore {
  /** minute → partition → "channel\0touchpoint" → partial row; plain objects. */
  readonly #minutes = new Map<number, Map<number, Map<string, KpiMinuteRow>>>();
  /** Per known input partition: the last minute emitted (the same for all: the largest one emitted). */
  readonly #emittedUpTo = new Map<number, number>();
  /** Minute → the partitions whose rows of that minute changed since the last checkpoint. */
  readonly #changedMinutes = new Map<number, Set<number>>();
  /** Minute → the partitions that have an entry on the changelog: only those need a tombstone once emitted. */
  readonly #checkpointed = new Map<number, Set<number>>();
  /** Partitions whose emitted-up-to mark changed since the last checkpoint. */
  readonly #changedMarks = new Set<number>();
  /** The last minute `#row` looked up, and its partition map: consecutive events mostly share a minute. */
  #lastMinute = Number.NaN;
  #lastRows: Map<number, Map<string, KpiMinuteRow>> | null = null;
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
    let minuteRows = minute === this.#lastMinute ? this.#lastRows : this.#minutes.get(minute);
    if (!minuteRows) this.#minutes.set(minute, (minuteRows = new Map()));
    this.#lastMinute = minute;
    this.#lastRows = minuteRows;
    let rows = minuteRows.get(partition);
    if (!rows) minuteRows.set(partition, (rows = new Map()));
    const key = touchpoint ? `${channel}\0${touchpoint}` : channel;
    let row = rows.get(key);
    if (!row) {
      row = {
        minute, channel, touchpoint: touchpoint ?? '', input_partition: partition, events: 0, page_views: 0, orders: 0, revenue: 0, sessions: 0, conversions: 0,
        cart_abandonments: 0, responses: 0, nps_responses: 0, promoters: 0, passives: 0, detractors: 0, csat_responses: 0,
        csat_satisfied: 0, ces_responses: 0, ces_sum: 0,
      };
      rows.set(key, row);
    }
    let changed = this.#changedMinutes.get(minute);
    if (!changed) this.#changedMinutes.set(minute, (changed = new Set()));
    changed.add(partition);
    return row;
  }

  #markEmitted(partition: number, minute: number): void {
    this.#emittedUpTo.set(partition, minute);
    if (Number.isFinite(minute)) this.#changedMarks.add(partition);
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
      const minuteRows = this.#minutes.get(minute)!;
      const rows: KpiMinuteRow[] = [];
      for (const partitionRows of minuteRows.values()) for (const row of partitionRows.values()) rows.push(row);
      rows.sort((a, b) => compare(a.channel, b.channel) || compare(a.touchpoint, b.touchpoint) || a.input_partition - b.input_partition);
      for (const row of rows) emit({ ...row });
      let changed = this.#changedMinutes.get(minute);
      if (!changed) this.#changedMinutes.set(minute, (changed = new Set()));
      for (const partition of minuteRows.keys()) changed.add(partition);
      this.#minutes.delete(minute);
    }
    this.#lastMinute = Number.NaN;
    this.#lastRows = null;
    this.#emittedMax = Math.max(this.#emittedMax, due.at(-1)!);
    for (const partition of this.#emittedUpTo.keys()) this.#markEmitted(partition, this.#emittedMax);
  }

  /** One change per partition and changed minute (its rows now, or null once emitted) and per moved emitted mark. */
  changes(): StateChange[] {
    const changes: StateChange[] = [];
    for (const [minute, partitions] of this.#changedMinutes) {
      const minuteRows = this.#minutes.get(minute);
      let checkpointed = this.#checkpointed.get(minute);
      for (const partition of partitions) {
        const rows = minuteRows?.get(partition);
        if (rows) {
          changes.push({ store: this.name, partition, key: String(minute), value: Array.from(rows.values(), toEntry) });
          if (!checkpointed) this.#checkpointed.set(minute, (checkpointed = new Set()));
          checkpointed.add(partition);
        } else if (checkpointed?.delete(partition)) {
          // Emitted since: a tombstone, unless the entry never reached the changelog.
          changes.push({ store: this.name, partition, key: String(minute), value: null });
        }
      }
      if (checkpointed?.size === 0) this.#checkpointed.delete(minute);
    }
    for (const partition of this.#changedMarks) changes.push({ store: this.name, partition, key: EMITTED_KEY, value: this.#emittedUpTo.get(partition) });
    this.#changedMinutes.clear();
    this.#changedMarks.clear();
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
      const minute = Number(key);
      for (const entry of value as RowEntry[]) {
        const row = fromEntry(entry, minute, partition);
        let minuteRows = this.#minutes.get(row.minute);
        if (!minuteRows) this.#minutes.set(row.minute, (minuteRows = new Map()));
        let rows = minuteRows.get(partition);
        if (!rows) minuteRows.set(partition, (rows = new Map()));
        rows.set(row.touchpoint ? `${row.channel}\0${row.touchpoint}` : row.channel, row);
        let checkpointed = this.#checkpointed.get(row.minute);
        if (!checkpointed) this.#checkpointed.set(row.minute, (checkpointed = new Set()));
        checkpointed.add(partition);
      }
    }
    if (!this.#emittedUpTo.has(partition)) this.#emittedUpTo.set(partition, Number.NEGATIVE_INFINITY);
    this.#lastMinute = Number.NaN;
    this.#lastRows = null;
  }

  clear(): void {
    this.#minutes.clear();
    this.#emittedUpTo.clear();
    this.#changedMinutes.clear();
    this.#checkpointed.clear();
    this.#changedMarks.clear();
    this.#emittedMax = Number.NEGATIVE_INFINITY;
    this.#lastMinute = Number.NaN;
    this.#lastRows = null;
  }
}

// Per-minute rollups by channel and touchpoint (CONTRACT §3) for dashboards, each row emitted once when its minute is final.
import type { KpiMinuteRow } from '../../schemas/analytics-outputs.ts';
import type { Channel, CxEvent } from '../../schemas/events.ts';
import type { SessionKpis } from '../../schemas/outputs.ts';

const MINUTE_MS = 60_000;

/**
 * Event measures (events, page_views, orders, revenue, responses, NPS/CSAT/CES parts) count in the minute of
 * the event, by its channel and touchpoint; session measures (sessions, conversions, cart abandonments) in the
 * minute the session ended, by its channel and entry touchpoint. A minute is final when the watermark passes
 * its end plus the session gap (every session that ended in it has closed), and is emitted once: the table is a
 * ReplacingMergeTree on (minute, channel, touchpoint), so a replay writes the same rows again and no sum doubles.
 * Contributions for a minute already emitted (input later than the gap) are counted, not added.
 */
export class KpiRollup {
  /** minute → "channel\0touchpoint" → row; plain objects. */
  readonly #minutes = new Map<number, Map<string, KpiMinuteRow>>();
  #emittedUpTo = Number.NEGATIVE_INFINITY;
  late = 0;

  constructor(private readonly sessionGapMs: number) {}

  get size(): number {
    return this.#minutes.size;
  }

  #row(time: number, channel: Channel, touchpoint: string | null): KpiMinuteRow | null {
    const minute = Math.floor(time / MINUTE_MS) * MINUTE_MS;
    if (minute <= this.#emittedUpTo) {
      this.late++;
      return null;
    }
    let rows = this.#minutes.get(minute);
    if (!rows) this.#minutes.set(minute, (rows = new Map()));
    const key = `${channel}\0${touchpoint ?? ''}`;
    let row = rows.get(key);
    if (!row) {
      row = {
        minute, channel, touchpoint: touchpoint ?? '', events: 0, page_views: 0, orders: 0, revenue: 0, sessions: 0, conversions: 0,
        cart_abandonments: 0, responses: 0, nps_responses: 0, promoters: 0, passives: 0, detractors: 0, csat_responses: 0,
        csat_satisfied: 0, ces_responses: 0, ces_sum: 0,
      };
      rows.set(key, row);
    }
    return row;
  }

  addEvent(event: CxEvent): void {
    const row = this.#row(event.occurred_at, event.channel, event.touchpoint);
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

  addSession(session: SessionKpis, entryTouchpoint: string | null): void {
    const row = this.#row(session.ended_at, session.channel, entryTouchpoint);
    if (!row) return;
    row.sessions++;
    if (session.converted) row.conversions++;
    if (session.cart_abandoned) row.cart_abandonments++;
  }

  /** Emits the minutes that are final at this watermark, oldest first, rows in (channel, touchpoint) order. */
  release(watermark: number, emit: (row: KpiMinuteRow) => void): void {
    if (this.#minutes.size === 0) return;
    const due = [...this.#minutes.keys()].filter((minute) => minute + MINUTE_MS + this.sessionGapMs < watermark).sort((a, b) => a - b);
    for (const minute of due) {
      const rows = [...this.#minutes.get(minute)!.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      for (const [, row] of rows) emit(row);
      this.#minutes.delete(minute);
      this.#emittedUpTo = Math.max(this.#emittedUpTo, minute);
    }
  }
}

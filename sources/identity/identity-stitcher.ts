// Identity stitching at the source edge: when an anonymous visitor logs in, its open session's events are handed over to the customer ahead of the login, and its later anonymous events go to that customer.
import { z } from 'zod';
import type { CxEvent } from '../../schemas/events.ts';
import { isSessionEvent } from '../../schemas/events.ts';

export const identityConfigSchema = z.object({
  /** Stitch anonymous journeys to the customer who logs in (docs/analytics.md "Identity stitching"). */
  enabled: z.boolean().default(true),
  /** Anonymous ids remembered (least recently seen forgotten first): their open session and the customer they logged in as. */
  maxVisitors: z.number().int().min(1).default(100_000),
  /** An anonymous session longer than this many session events is not handed over at a login (it stays anonymous). */
  maxEventsPerVisitor: z.number().int().min(1).default(500),
});
export type IdentityConfig = z.output<typeof identityConfigSchema>;

export interface IdentityStitcherOptions {
  /** The sessions' inactivity gap (CONTRACT §2): what "the anonymous visitor's open session" means at the edge. */
  sessionGapMs: number;
  maxVisitors: number;
  maxEventsPerVisitor: number;
}

/** What one call stitched, for the caller's metrics (ids never leave the stitcher). */
export interface StitchCounts {
  /** First logins of an anonymous id (anonymous id → customer remembered). */
  logins: number;
  /** Logins whose anonymous open session was handed over (a link was published). */
  handovers: number;
  /** Events copied to the customer (`handover: 'copy'`). */
  copied: number;
  /** Anonymous-only events of a logged-in anonymous id, routed to its customer. */
  routed: number;
  /** An anonymous id seen with a second customer: first login wins, nothing changes. */
  conflicts: number;
  /** Logins whose open anonymous session was too long to hand over (`maxEventsPerVisitor`). */
  overflows: number;
}

interface Visitor {
  /** The customer it logged in as (first login wins), else null. */
  customer: string | null;
  /** Session events of its current anonymous session (gap rule), in arrival order, while not logged in. */
  events: CxEvent[];
  first: number;
  last: number;
  /** The current session outgrew `maxEventsPerVisitor`: it will not be handed over. */
  overflow: boolean;
  /** When it last moved to the young end of the recency order (a count of such moves). */
  moved: number;
}

/** Sources' events without identity stitching's marks (set only by the stitcher, never taken from input); in place. */
export function withoutHandover<T extends readonly CxEvent[]>(events: T): T {
  for (const event of events) if (event.handover !== undefined) delete event.handover;
  return events;
}

/**
 * Stitches in publish order, so the input topic itself carries the result and every replay of it (any batch size,
 * any partition count) decides the same: a login's copies sit in the customer's partition right before the login, in
 * its log order. One instance per publishing process; its memory is its own (see the limits in docs/analytics.md).
 */
export class IdentityStitcher {
  readonly #visitors = new Map<string, Visitor>();
  /** Moves to the young end of `#visitors` so far. */
  #moves = 0;

  constructor(private readonly options: IdentityStitcherOptions) {}

  /** Anonymous ids remembered. */
  get size(): number {
    return this.#visitors.size;
  }

  /** The events to publish, in order: the input with copies and links added before logins and anonymous events routed. */
  stitch(events: readonly CxEvent[]): { events: CxEvent[]; counts: StitchCounts } {
    const counts: StitchCounts = { logins: 0, handovers: 0, copied: 0, routed: 0, conflicts: 0, overflows: 0 };
    const out: CxEvent[] = [];
    for (const event of events) {
      // A mark from the source's input (an Avro topic's producer) is not ours to trust: only this stitcher sets it.
      if (event.handover !== undefined) delete event.handover;
      const anonymous = event.anonymous_id;
      if (anonymous === null) {
        out.push(event);
        continue;
      }
      const visitor = this.#visitor(anonymous);
      if (event.customer_id !== null) {
        if (visitor.customer === null) this.#login(visitor, event, out, counts);
        else if (visitor.customer !== event.customer_id) counts.conflicts++;
        out.push(event);
        continue;
      }
      if (visitor.customer !== null) {
        counts.routed++;
        out.push({ ...event, customer_id: visitor.customer });
        continue;
      }
      if (isSessionEvent(event)) this.#remember(visitor, event);
      out.push(event);
    }
    return { events: out, counts };
  }

  /** The first login of an anonymous id: its open session's events are copied to the customer, then a link to its own key. */
  #login(visitor: Visitor, login: CxEvent, out: CxEvent[], counts: StitchCounts): void {
    const customer = login.customer_id as string;
    visitor.customer = customer;
    counts.logins++;
    const gap = this.options.sessionGapMs;
    const open = visitor.events.length > 0 && login.occurred_at >= visitor.first - gap && login.occurred_at <= visitor.last + gap;
    if (visitor.overflow && login.occurred_at <= visitor.last + gap) counts.overflows++;
    else if (open) {
      for (const event of visitor.events) out.push({ ...event, customer_id: customer, handover: 'copy' });
      out.push({ ...login, handover: 'link' });
      counts.handovers++;
      counts.copied += visitor.events.length;
    }
    visitor.events = [];
    visitor.overflow = false;
  }

  /** Keeps an anonymous session event: a gap since the last one starts a new session (the old one closes anonymous). */
  #remember(visitor: Visitor, event: CxEvent): void {
    const time = event.occurred_at;
    if ((visitor.events.length > 0 || visitor.overflow) && time > visitor.last + this.options.sessionGapMs) {
      visitor.events = [];
      visitor.overflow = false;
    }
    if (visitor.events.length === 0 && !visitor.overflow) visitor.first = visitor.last = time;
    visitor.first = Math.min(visitor.first, time);
    visitor.last = Math.max(visitor.last, time);
    if (visitor.overflow) return;
    visitor.events.push(event);
    if (visitor.events.length > this.options.maxEventsPerVisitor) {
      visitor.events = [];
      visitor.overflow = true;
    }
  }

  /**
   * The visitor of an anonymous id. Beyond `maxVisitors` the least recently seen is forgotten: the map is kept in
   * recency order, but a visitor seen again moves to its young end only once it is in the older half (a move on
   * every event cost most of the stitcher's time), so none seen within the last `maxVisitors / 2` moves is forgotten.
   */
  #visitor(anonymous: string): Visitor {
    let visitor = this.#visitors.get(anonymous);
    if (visitor === undefined) {
      if (this.#visitors.size >= this.options.maxVisitors) this.#visitors.delete(this.#visitors.keys().next().value!);
      visitor = { customer: null, events: [], first: 0, last: 0, overflow: false, moved: ++this.#moves };
      this.#visitors.set(anonymous, visitor);
    } else if (this.#moves - visitor.moved > this.options.maxVisitors / 2) {
      this.#visitors.delete(anonymous);
      this.#visitors.set(anonymous, visitor);
      visitor.moved = ++this.#moves;
    }
    return visitor;
  }
}

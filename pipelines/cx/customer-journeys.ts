// Per-customer recent history (closed sessions, contacts, survey scores, negative mentions), bounded and evicted by the watermark; a checkpointed state store.
import { KeyedStateStore } from '../../engine/index.ts';
import type { StateChange, StateStore } from '../../engine/index.ts';
import type { Channel, SurveyMetric } from '../../schemas/events.ts';

/** What is kept of a closed session for the X+O link, channel switches and journey facts. */
export interface SessionSummary {
  session_id: string;
  started_at: number;
  ended_at: number;
  channel: Channel;
  touchpoint: string | null;
  converted: boolean;
  cart_abandoned: boolean;
  help_views: number;
  checkout_errors: number;
  /** For the key-driver analysis (absent in histories checkpointed before it: read as 0). */
  page_views?: number;
  videos_completed?: number;
}

export interface ResponseSummary {
  at: number;
  metric: SurveyMetric;
  score: number;
}

/** Plain arrays (serialisable for checkpoints), each sorted by time and capped. */
export interface CustomerHistory {
  sessions: SessionSummary[];
  contacts: number[];
  responses: ResponseSummary[];
  negativeMentions: number[];
}

export interface CustomerJourneysOptions {
  /** How far behind the watermark history is kept (event time). */
  horizonMs: number;
  /** At most this many entries of each kind per customer (the oldest go first). */
  maxPerCustomer: number;
}

const insertByTime = <T>(list: T[], value: T, timeOf: (value: T) => number, max: number) => {
  let index = list.length;
  while (index > 0 && timeOf(list[index - 1]!) > timeOf(value)) index--;
  list.splice(index, 0, value);
  if (list.length > max) list.splice(0, list.length - max);
};
const identity = (time: number) => time;

/** Keyed by customer (the session key), checkpointed in the input partition of that customer. */
export class CustomerJourneys implements StateStore {
  readonly #customers: KeyedStateStore<CustomerHistory>;

  constructor(
    private readonly options: CustomerJourneysOptions,
    readonly name = 'journey-customers',
  ) {
    this.#customers = new KeyedStateStore(name);
  }

  get size(): number {
    return this.#customers.size;
  }

  historyOf(key: string): CustomerHistory | undefined {
    return this.#customers.get(key);
  }

  /** Changes one customer's history and marks it changed for the next checkpoint. */
  #update(key: string, partition: number, change: (history: CustomerHistory) => void): void {
    const history = this.#customers.get(key) ?? { sessions: [], contacts: [], responses: [], negativeMentions: [] };
    change(history);
    this.#customers.put(partition, key, history);
  }

  addSession(key: string, session: SessionSummary, partition: number): void {
    this.#update(key, partition, (history) => insertByTime(history.sessions, session, (entry) => entry.ended_at, this.options.maxPerCustomer));
  }

  addContact(key: string, at: number, partition: number): void {
    this.#update(key, partition, (history) => insertByTime(history.contacts, at, identity, this.options.maxPerCustomer));
  }

  addResponse(key: string, response: ResponseSummary, partition: number): void {
    this.#update(key, partition, (history) => insertByTime(history.responses, response, (entry) => entry.at, this.options.maxPerCustomer));
  }

  addNegativeMention(key: string, at: number, partition: number): void {
    this.#update(key, partition, (history) => insertByTime(history.negativeMentions, at, identity, this.options.maxPerCustomer));
  }

  /** Forgets what lies more than the horizon behind the watermark, and customers with nothing left. */
  evict(watermark: number): void {
    const limit = watermark - this.options.horizonMs;
    for (const [key, { partition, value: history }] of this.#customers.entries()) {
      const dropped =
        dropBefore(history.sessions, (entry) => entry.ended_at, limit) +
        dropBefore(history.contacts, identity, limit) +
        dropBefore(history.responses, (entry) => entry.at, limit) +
        dropBefore(history.negativeMentions, identity, limit);
      if (dropped === 0) continue;
      if (history.sessions.length + history.contacts.length + history.responses.length + history.negativeMentions.length === 0) {
        this.#customers.delete(key);
      } else this.#customers.put(partition, key, history);
    }
  }

  /** Forgets one customer's history (an erasure); the next checkpoint writes its tombstone. */
  forget(key: string): void {
    this.#customers.delete(key);
  }

  changes(): StateChange[] {
    return this.#customers.changes();
  }

  restore(partition: number, entries: ReadonlyMap<string, unknown>): void {
    this.#customers.restore(partition, entries);
  }

  clear(): void {
    this.#customers.clear();
  }
}

/** Drops the entries before `limit` from a time-sorted list; answers how many. */
function dropBefore<T>(list: T[], timeOf: (value: T) => number, limit: number): number {
  let count = 0;
  while (count < list.length && timeOf(list[count]!) < limit) count++;
  if (count > 0) list.splice(0, count);
  return count;
}

/** The most recent session that ended in [at − withinMs, at] and passes `accept`, else null. */
export function latestSessionBefore(
  sessions: readonly SessionSummary[],
  at: number,
  withinMs: number,
  accept: (session: SessionSummary) => boolean = () => true,
): SessionSummary | null {
  for (let index = sessions.length - 1; index >= 0; index--) {
    const session = sessions[index]!;
    if (session.ended_at > at) continue;
    if (session.ended_at < at - withinMs) return null;
    if (accept(session)) return session;
  }
  return null;
}

const WEEK_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Journey and experience facts at time `at` (CONTRACT rules): sessions that ended in [at − 7 d, at] other than
 * the current one — closed ones from the history and still-open earlier ones of the same key, so the answer
 * does not depend on when the global watermark closed them — plus contacts, survey scores and negative
 * mentions recorded at or before `at`.
 */
export function journeyFactsAt(
  history: CustomerHistory | undefined,
  openSessions: ReadonlyArray<{ last: number; converted: boolean; cartAbandoned: boolean }>,
  at: number,
  /** A closed session not to count (the one closing, already in the history). */
  excludeSessionId: string | null = null,
): {
  sessions_7d: number; converted_sessions_7d: number; abandoned_carts_7d: number; contacts_7d: number;
  last_nps: number | null; last_nps_at: number | null; last_csat: number | null; last_ces: number | null; detractor_responses_7d: number; negative_mentions_7d: number;
} {
  const from = at - WEEK_MS;
  const facts = {
    sessions_7d: 0, converted_sessions_7d: 0, abandoned_carts_7d: 0, contacts_7d: 0,
    last_nps: null as number | null, last_nps_at: null as number | null, last_csat: null as number | null, last_ces: null as number | null,
    detractor_responses_7d: 0, negative_mentions_7d: 0,
  };
  const countSession = (ended: number, converted: boolean, abandoned: boolean) => {
    if (ended < from || ended > at) return;
    facts.sessions_7d++;
    if (converted) facts.converted_sessions_7d++;
    if (abandoned) facts.abandoned_carts_7d++;
  };
  for (const session of history?.sessions ?? []) {
    if (session.session_id !== excludeSessionId) countSession(session.ended_at, session.converted, session.cart_abandoned);
  }
  for (const session of openSessions) countSession(session.last, session.converted, session.cartAbandoned);
  if (history) {
    for (const contact of history.contacts) if (contact >= from && contact <= at) facts.contacts_7d++;
    for (const mention of history.negativeMentions) if (mention >= from && mention <= at) facts.negative_mentions_7d++;
    for (const response of history.responses) {
      if (response.at < from || response.at > at) continue;
      if (response.metric === 'nps') {
        facts.last_nps = response.score;
        facts.last_nps_at = response.at;
        if (response.score <= 6) facts.detractor_responses_7d++;
      } else if (response.metric === 'csat') facts.last_csat = response.score;
      else facts.last_ces = response.score;
    }
  }
  return facts;
}

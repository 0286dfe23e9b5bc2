// The privacy step of the source edge: one transform every source's events and dead letters pass before they are published, stored or processed.
import { createHash } from 'node:crypto';
import type { CxEvent } from '../schemas/events.ts';
import type { DeadLetter } from '../schemas/outputs.ts';
import { sealBytes } from './dead-letter-bytes.ts';
import type { PseudonymisationKey } from './key.ts';
import { Pseudonymiser } from './pseudonymiser.ts';
import type { ScrubKind } from './scrubber.ts';
import { scrubEmails, scrubText } from './scrubber.ts';

/** Where the edge counts what it scrubbed (the engine's metrics fit; the privacy module needs nothing more of them). */
export interface ScrubCounter {
  count(name: string, value: number, labels?: Record<string, string>): void;
}

export interface PrivacyEdgeOptions {
  /** With a key, ids become pseudonyms and dead letters' bytes are sealed; without one ids pass unchanged. */
  key?: PseudonymisationKey | undefined;
  /** Scrub free text (survey comments, social texts, contact reasons; e-mail addresses in pages and URLs). */
  scrub: boolean;
  /**
   * Counts what was scrubbed: `touchstream_scrubbed_total{kind}` (email, phone, iban, card), the number of
   * placeholders written. The kind only: never the text, a field's value or an id.
   */
  metrics?: ScrubCounter;
}

const noneFound = (): Record<ScrubKind, number> => ({ email: 0, phone: 0, iban: 0, card: 0 });

/** Free-text properties and the limits the contract sets on them. */
const FREE_TEXT: Partial<Record<CxEvent['type'], readonly [field: string, maxLength: number]>> = {
  survey_response: ['comment', 10_000],
  social_mention: ['text', 10_000],
  contact: ['reason', 1024],
};
const URL_TEXT: Partial<Record<CxEvent['type'], string>> = { page_view: 'page', email_click: 'url' };

// V8's JSON.parse messages quote the input (`Unexpected token 'x', "{"customer_id":…" is not valid JSON`).
const QUOTED_JSON = /(, )?(?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON/s;

/** Dead-letter reasons carry ids, never payloads (CONTRACT §6): the part of a parser's message that quotes the input goes. */
export function withoutPayload(message: string): string {
  return message.replace(QUOTED_JSON, (_quote, comma: string | undefined) => `${comma ?? ''}the input is not valid JSON`);
}

export class PrivacyEdge {
  readonly #pseudonymiser: Pseudonymiser | null;
  readonly #key: PseudonymisationKey | undefined;
  readonly #scrub: boolean;
  readonly #metrics: ScrubCounter | undefined;

  constructor(options: PrivacyEdgeOptions) {
    this.#key = options.key;
    this.#pseudonymiser = options.key ? new Pseudonymiser(options.key) : null;
    this.#scrub = options.scrub;
    this.#metrics = options.metrics;
  }

  /** The key id pseudonyms are made with, or null when ids pass unchanged. */
  get keyId(): string | null {
    return this.#key?.keyId ?? null;
  }

  /**
   * The ids of an erasure request for `id` (raw, or already a pseudonym): the one the tables hold (the pseudonym
   * with a key, else the id itself) and the one erasure_log may record (never a raw id: without a key, a SHA-256
   * digest of it).
   */
  erasureIds(id: string): { stored: string; logged: string } {
    if (this.#pseudonymiser !== null) {
      const pseudonym = this.#pseudonymiser.pseudonym(id);
      return { stored: pseudonym, logged: pseudonym };
    }
    return { stored: id, logged: `sha256:${createHash('sha256').update(id, 'utf8').digest('hex')}` };
  }

  /** An id as the pipeline stores it: its pseudonym with a key (an id that already is one stays), else the id itself. */
  storedIdOf(id: string): string {
    return this.#pseudonymiser === null ? id : this.#pseudonymiser.pseudonym(id);
  }

  /** Pseudonymises and scrubs events in place (they are the source's fresh values) and answers the same array. */
  events<T extends readonly CxEvent[]>(events: T): T {
    const pseudonymiser = this.#pseudonymiser;
    if (pseudonymiser === null && !this.#scrub) return events;
    const found = noneFound();
    for (const event of events) {
      if (pseudonymiser !== null) {
        event.customer_id = pseudonymiser.nullable(event.customer_id);
        event.anonymous_id = pseudonymiser.nullable(event.anonymous_id);
      }
      if (this.#scrub) this.#scrubEvent(event, found);
    }
    this.#report(found);
    return events;
  }

  /** Dead letters as they may be kept: sealed original bytes (with a key), and a message without the payload. */
  deadLetters(letters: readonly DeadLetter[]): DeadLetter[] {
    const found = noneFound();
    const sealed = letters.map((letter) => {
      const message = withoutPayload(letter.message);
      return {
        ...letter,
        message: this.#scrub ? this.#scrubbed(message, Number.POSITIVE_INFINITY, found) : message,
        original: this.#key ? sealBytes(this.#key, letter.original) : letter.original,
      };
    });
    this.#report(found);
    return sealed;
  }

  #scrubbed(text: string, maxLength: number, found: Record<ScrubKind, number>): string {
    const result = scrubText(text, maxLength);
    for (const kind of Object.keys(found) as ScrubKind[]) found[kind] += result.found[kind];
    return result.text;
  }

  /** One count per kind per call (a batch of events or letters), only for kinds found: the hot path adds nothing else. */
  #report(found: Record<ScrubKind, number>): void {
    if (!this.#metrics) return;
    for (const kind of Object.keys(found) as ScrubKind[]) if (found[kind] > 0) this.#metrics.count('touchstream_scrubbed_total', found[kind], { kind });
  }

  #scrubEvent(event: CxEvent, found: Record<ScrubKind, number>): void {
    const properties = event.properties as Record<string, unknown>;
    const freeText = FREE_TEXT[event.type];
    if (freeText) {
      const [field, maxLength] = freeText;
      const value = properties[field];
      if (typeof value === 'string' && value.length > 0) properties[field] = this.#scrubbed(value, maxLength, found);
    }
    const urlField = URL_TEXT[event.type];
    if (urlField) {
      const value = properties[urlField];
      if (typeof value === 'string') properties[urlField] = scrubEmails(value, found);
    }
  }
}

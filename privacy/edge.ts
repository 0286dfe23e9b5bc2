// The privacy step of the source edge: one transform every source's events and dead letters pass before they are published, stored or processed.
import { createHash } from 'node:crypto';
import type { CxEvent } from '../schemas/events.ts';
import type { DeadLetter } from '../schemas/outputs.ts';
import { sealBytes } from './dead-letter-bytes.ts';
import type { PseudonymisationKey } from './key.ts';
import { Pseudonymiser } from './pseudonymiser.ts';
import { scrubEmails, scrubText } from './scrubber.ts';

export interface PrivacyEdgeOptions {
  /** With a key, ids become pseudonyms and dead letters' bytes are sealed; without one ids pass unchanged. */
  key?: PseudonymisationKey | undefined;
  /** Scrub free text (survey comments, social texts, contact reasons; e-mail addresses in pages and URLs). */
  scrub: boolean;
}

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

  constructor(options: PrivacyEdgeOptions) {
    this.#key = options.key;
    this.#pseudonymiser = options.key ? new Pseudonymiser(options.key) : null;
    this.#scrub = options.scrub;
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
    for (const event of events) {
      if (pseudonymiser !== null) {
        event.customer_id = pseudonymiser.nullable(event.customer_id);
        event.anonymous_id = pseudonymiser.nullable(event.anonymous_id);
      }
      if (this.#scrub) this.#scrubEvent(event);
    }
    return events;
  }

  /** Dead letters as they may be kept: sealed original bytes (with a key), and a message without the payload. */
  deadLetters(letters: readonly DeadLetter[]): DeadLetter[] {
    return letters.map((letter) => {
      const message = withoutPayload(letter.message);
      return {
        ...letter,
        message: this.#scrub ? scrubText(message).text : message,
        original: this.#key ? sealBytes(this.#key, letter.original) : letter.original,
      };
    });
  }

  #scrubEvent(event: CxEvent): void {
    const properties = event.properties as Record<string, unknown>;
    const freeText = FREE_TEXT[event.type];
    if (freeText) {
      const [field, maxLength] = freeText;
      const value = properties[field];
      if (typeof value === 'string' && value.length > 0) properties[field] = scrubText(value, maxLength).text;
    }
    const urlField = URL_TEXT[event.type];
    if (urlField) {
      const value = properties[urlField];
      if (typeof value === 'string') properties[urlField] = scrubEmails(value);
    }
  }
}

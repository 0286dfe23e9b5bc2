// Keyed pseudonyms of customer ids (HMAC-SHA256, key id recorded): deterministic, and idempotent on ids that already are pseudonyms.
import { createHmac } from 'node:crypto';
import type { PseudonymisationKey } from './key.ts';

/**
 * A pseudonym: `p1:<keyId>:<digest>`, the digest being the first 16 bytes (128 bits) of
 * HMAC-SHA256(idKey, id) in base64url (22 characters). 128 bits keep collisions out of reach for any number of
 * customers a CX stream sees (about 2^-64 at 2^32 ids), and the whole fits the contract's 128 characters for ids.
 */
export const PSEUDONYM_PATTERN = /^p1:[A-Za-z0-9]{1,16}:[A-Za-z0-9_-]{22}$/;

/** Ids seen recently and their pseudonyms (in memory only): a customer's events mostly come together. */
const CACHE_SIZE = 10_000;

export function isPseudonym(id: string): boolean {
  return id.length <= 42 && id.charCodeAt(0) === 0x70 /* p */ && PSEUDONYM_PATTERN.test(id);
}

export class Pseudonymiser {
  readonly keyId: string;
  readonly #key: Buffer;
  readonly #prefix: string;
  #cache = new Map<string, string>();

  constructor(key: PseudonymisationKey) {
    this.keyId = key.keyId;
    this.#key = key.idKey;
    this.#prefix = `p1:${key.keyId}:`;
  }

  /**
   * The pseudonym of `id`. An id that already is a pseudonym (of this key or an earlier one) is returned as it is:
   * re-ingesting pseudonymised data (a replay, a topic another touchstream wrote) never hashes twice.
   */
  pseudonym(id: string): string {
    if (isPseudonym(id)) return id;
    let pseudonym = this.#cache.get(id);
    if (pseudonym === undefined) {
      pseudonym = this.#prefix + createHmac('sha256', this.#key).update(id, 'utf8').digest().subarray(0, 16).toString('base64url');
      if (this.#cache.size >= CACHE_SIZE) this.#cache = new Map();
      this.#cache.set(id, pseudonym);
    }
    return pseudonym;
  }

  /** Same, passing null through. */
  nullable(id: string | null): string | null {
    return id === null ? null : this.pseudonym(id);
  }
}

// Scrubs free text of e-mail addresses, phone numbers (German and international), IBANs (checksum) and card numbers (Luhn) into typed placeholders.
import { isValidIBAN } from 'ibantools';
import { findPhoneNumbersInText } from 'libphonenumber-js/max';

/** The typed placeholders: plain words with no polarity in either sentiment lexicon, so a scrubbed text keeps its score. */
export const PLACEHOLDERS = { email: '[email]', phone: '[phone]', iban: '[iban]', card: '[card]' } as const;
export type ScrubKind = keyof typeof PLACEHOLDERS;

export interface ScrubResult {
  text: string;
  /** How many of each kind were replaced (for metrics; never the values). */
  found: Record<ScrubKind, number>;
}

const EMAIL = /[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,}/gu;
// Country code, check digits, then groups of four (paper format) or one run (electronic format), a shorter last group.
const IBAN_CANDIDATE = /\b[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,4})?\b/g;
// 13–19 digits, optionally grouped by spaces or hyphens, starting like the major networks' numbers (2–6); not the
// tail of a longer token (an IBAN with a wrong checksum, an invoice number) nor of a decimal number.
const CARD_CANDIDATE = /(?<![\p{L}\d.,-]|\d[ -])[2-6](?:[ -]?\d){12,18}(?!\d|[.,]\d)/gu;
const DIGITS = /\d/g;
// How a phone number is written: international (+49…, 0049…), national with the trunk prefix (0171…, (030)…), or
// North American 415-555-2671. A bare digit run (a build number, 20261203) is not one.
const PHONE_SHAPE = /^(?:[+(0]|\d{3}[-. ]\d{3}[-. ]\d{4}$)/;
// A match glued to a word or id (RE-2026-000123, #0171234567) is part of that id.
const GLUED = /[\p{L}\d#_/-]/u;
// Shapes that libphonenumber may read as a number but that are dates or times.
const DATE_LIKE = /^(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./]\d{1,2}[./]\d{2,4}|\d{1,2}:\d{2}(?::\d{2})?)$/;

const countDigits = (text: string) => text.match(DIGITS)?.length ?? 0;

/** Luhn's checksum (ISO/IEC 7812): what every payment card number satisfies and a random digit run does 1 time in 10. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let index = digits.length - 1, double = false; index >= 0; index--, double = !double) {
    let digit = digits.charCodeAt(index) - 48;
    if (double) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/** The longest prefix of a candidate (dropping trailing space-separated groups) that is a valid IBAN, or null. */
function validIbanPrefix(candidate: string): string | null {
  let text = candidate;
  for (;;) {
    const electronic = text.replace(/ /g, '').toUpperCase();
    if (electronic.length >= 15 && isValidIBAN(electronic)) return text;
    const space = text.lastIndexOf(' ');
    if (space < 0) return null;
    text = text.slice(0, space);
  }
}

function replaceIbans(text: string, found: Record<ScrubKind, number>): string {
  return text.replace(IBAN_CANDIDATE, (candidate) => {
    const iban = validIbanPrefix(candidate);
    if (iban === null) return candidate;
    found.iban++;
    return PLACEHOLDERS.iban + candidate.slice(iban.length);
  });
}

function replaceCards(text: string, found: Record<ScrubKind, number>): string {
  return text.replace(CARD_CANDIDATE, (candidate) => {
    if (!luhnValid(candidate.replace(/[ -]/g, ''))) return candidate;
    found.card++;
    return PLACEHOLDERS.card;
  });
}

function replacePhones(text: string, found: Record<ScrubKind, number>): string {
  // German national formats (0171 1234567, (030) 123 456 78) by default; any number with + or 00 and its country code.
  const matches = findPhoneNumbersInText(text, { defaultCountry: 'DE' });
  if (matches.length === 0) return text;
  let out = '';
  let from = 0;
  for (const match of matches) {
    const number = text.slice(match.startsAt, match.endsAt);
    const before = text[match.startsAt - 1];
    const after = text[match.endsAt];
    const glued = (before !== undefined && GLUED.test(before)) || (after !== undefined && /[\p{L}\d_-]/u.test(after));
    if (glued || !PHONE_SHAPE.test(number) || DATE_LIKE.test(number.trim()) || countDigits(number) < 7) continue;
    out += text.slice(from, match.startsAt) + PLACEHOLDERS.phone;
    from = match.endsAt;
    found.phone++;
  }
  return out + text.slice(from);
}

/**
 * Replaces personal data in free text by typed placeholders. Idempotent (placeholders hold no digits or `@`).
 * `maxLength`: the field's limit; a text the placeholders made longer (only `[email]` for a six-character address
 * can) is cut to it.
 */
export function scrubText(text: string, maxLength = Number.POSITIVE_INFINITY): ScrubResult {
  const found: Record<ScrubKind, number> = { email: 0, phone: 0, iban: 0, card: 0 };
  let out = text;
  if (out.includes('@')) {
    out = out.replace(EMAIL, () => {
      found.email++;
      return PLACEHOLDERS.email;
    });
  }
  // IBANs hold at least 10 digits (NL: 12), card numbers 13, phone numbers 7: most texts skip the scans.
  const digits = countDigits(out);
  if (digits >= 10) out = replaceIbans(out, found);
  if (digits >= 13) out = replaceCards(out, found);
  if (digits >= 7) out = replacePhones(out, found);
  if (out.length > maxLength && out.length > text.length) out = out.slice(0, Math.max(maxLength, text.length));
  return { text: out, found };
}

/** E-mail addresses only: for URLs and page names, where digit runs are ids, not phone numbers. `found`: counted there. */
export function scrubEmails(text: string, found?: Record<ScrubKind, number>): string {
  if (!text.includes('@')) return text;
  return text.replace(EMAIL, () => {
    if (found) found.email++;
    return PLACEHOLDERS.email;
  });
}

// Pins free-text scrubbing: e-mail, phone (German and international), IBAN (checksum) and card (Luhn) become typed placeholders; near misses stay; sentiment is kept.
import { describe, expect, it } from 'vitest';
import { scoreSentiment } from '../../pipelines/cx/sentiment.ts';
import { luhnValid, scrubEmails, scrubText } from '../../privacy/scrubber.ts';

const scrub = (text: string) => scrubText(text).text;

describe('scrubText: what is replaced', () => {
  it.each([
    ['Schreibt mir an max.mustermann@example.de, danke', 'Schreibt mir an [email], danke'],
    ['mail jürgen.müller@post-fach.de or J_Doe+cx@mail.example.co.uk', 'mail [email] or [email]'],
  ])('e-mail addresses: %s', (text, expected) => expect(scrub(text)).toBe(expected));

  it.each([
    ['Ruft mich an: 0171 1234567 bitte', 'Ruft mich an: [phone] bitte'],
    ['Tel. +49 30 12345678.', 'Tel. [phone].'],
    ['Festnetz (030) 123 456 78', 'Festnetz [phone]'],
    ['Büro 030/12345678 ab 9 Uhr', 'Büro [phone] ab 9 Uhr'],
    ['mobil 0151-23456789', 'mobil [phone]'],
    ['aus dem Ausland +49 (0) 171 1234567', 'aus dem Ausland [phone]'],
    ['oder 0049 89 1234567', 'oder [phone]'],
    ['call me on +1 (415) 555-2671 today', 'call me on [phone] today'],
    ['London office +44 20 7946 0958', 'London office [phone]'],
  ])('phone numbers: %s', (text, expected) => expect(scrub(text)).toBe(expected));

  it.each([
    ['Bitte auf DE89 3704 0044 0532 0130 00 erstatten', 'Bitte auf [iban] erstatten'],
    ['refund to DE89370400440532013000 please', 'refund to [iban] please'],
    ['IBAN GB82 WEST 1234 5698 7654 32 BIC WESTGB22', 'IBAN [iban] BIC WESTGB22'],
    ['NL91 ABNA 0417 1643 00', '[iban]'],
  ])('IBANs with a valid checksum: %s', (text, expected) => expect(scrub(text)).toBe(expected));

  it.each([
    ['charged twice on 4111 1111 1111 1111!', 'charged twice on [card]!'],
    ['Karte 5555-5555-5555-4444 wurde belastet', 'Karte [card] wurde belastet'],
    ['amex 378282246310005', 'amex [card]'],
  ])('card numbers that pass Luhn: %s', (text, expected) => expect(scrub(text)).toBe(expected));

  it('counts what it replaced by kind', () => {
    const result = scrubText('a@b.de, 0171 1234567, DE89370400440532013000, 4111111111111111');
    expect(result.text).toBe('[email], [phone], [iban], [card]');
    expect(result.found).toEqual({ email: 1, phone: 1, iban: 1, card: 1 });
  });

  it('is idempotent', () => {
    const once = scrub('x@y.com 0171 1234567 DE89370400440532013000 4111 1111 1111 1111');
    expect(scrub(once)).toBe(once);
  });
});

describe('scrubText: near misses stay as they are', () => {
  it.each([
    'Bestellung A-100234 vom 03.12.2026 für 19,99 €',
    'order #1234567890 arrived on 2026-12-03 at 14:30',
    'Preis 1.299,00 EUR, Lieferung am 3.12.26',
    'Kundennummer 4711, PLZ 10115 Berlin',
    'order 100234567 for $1,299.00',
    'tracking 4111 1111 1111 1112 (not a card: Luhn fails)',
    'IBAN DE89 3704 0044 0532 0130 01 (checksum wrong)',
    'Rechnung RE-2026-000123 über 249,90 €',
    'I waited 45 minutes, then 20 more',
    'version 10.2.3, build 20261203',
    'the @support team and user@localhost',
  ])('%s', (text) => expect(scrub(text)).toBe(text));
});

describe('scrubEmails', () => {
  it('replaces only e-mail addresses (digits in URLs are ids)', () => {
    expect(scrubEmails('/account?email=max@example.de&order=1234567890')).toBe('/account?email=[email]&order=1234567890');
  });
});

describe('luhnValid', () => {
  it('accepts card numbers and refuses a changed digit', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(luhnValid('79927398713')).toBe(true);
  });
});

describe('sentiment of scrubbed text', () => {
  it.each([
    ['Der Service war schlecht, ruft mich an: 0171 1234567', 'de', 'Der Service war schlecht, ruft mich an:'],
    ['Sehr gute Beratung! Rückfragen an max.mustermann@example.de', 'de', 'Sehr gute Beratung! Rückfragen an'],
    ['Terrible support, you charged my card 4111 1111 1111 1111 twice', 'en', 'Terrible support, you charged my card twice'],
    ['Great shop, refund to DE89 3704 0044 0532 0130 00 was fast', 'en', 'Great shop, refund to was fast'],
    ['Awful experience, call me on +44 20 7946 0958', 'en', 'Awful experience, call me on'],
  ])('%s keeps the score of the text without the personal data', (text, language, withoutData) => {
    const scrubbed = scrub(text);
    expect(scrubbed).not.toBe(text);
    // With the language hint and without it (detection must not tip over to the placeholder's language).
    expect(scoreSentiment(scrubbed, language).score).toBeCloseTo(scoreSentiment(withoutData, language).score, 10);
    expect(scoreSentiment(scrubbed).score).toBeCloseTo(scoreSentiment(withoutData).score, 10);
    expect(scoreSentiment(scrubbed).score).not.toBe(0);
  });
});

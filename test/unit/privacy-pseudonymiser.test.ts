// Pins keyed pseudonyms (format, determinism, idempotence, key ids), key-file errors, sealed dead-letter bytes and the edge transform.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MetricsRecorder } from '../../engine/index.ts';
import { openBytes, sealBytes, sealedKeyId } from '../../privacy/dead-letter-bytes.ts';
import { PrivacyEdge, withoutPayload } from '../../privacy/edge.ts';
import { deriveKeyId, keyFromSecret, loadKeyFile } from '../../privacy/key.ts';
import { isPseudonym, PSEUDONYM_PATTERN, Pseudonymiser } from '../../privacy/pseudonymiser.ts';
import type { CxEvent } from '../../schemas/events.ts';
import type { DeadLetter } from '../../schemas/outputs.ts';

const SECRET = Buffer.from('0123456789abcdef0123456789abcdef-test-secret');
const OTHER = Buffer.from('fedcba9876543210fedcba9876543210-other-secret');
const key = keyFromSecret(SECRET);

describe('Pseudonymiser', () => {
  it('makes p1:<keyid>:<22 base64url characters>, the same for the same id and key', () => {
    const pseudonymiser = new Pseudonymiser(key);
    const pseudonym = pseudonymiser.pseudonym('cust-42');
    expect(pseudonym).toMatch(/^p1:[0-9a-f]{8}:[A-Za-z0-9_-]{22}$/);
    expect(pseudonym.split(':')[1]).toBe(key.keyId);
    expect(pseudonymiser.pseudonym('cust-42')).toBe(pseudonym);
    expect(new Pseudonymiser(keyFromSecret(SECRET)).pseudonym('cust-42')).toBe(pseudonym);
    expect(pseudonym).not.toContain('cust-42');
  });

  it('pins the digest: HMAC-SHA256 over the HKDF-derived id key, first 16 bytes', async () => {
    const { createHmac, hkdfSync } = await import('node:crypto');
    const idKey = Buffer.from(hkdfSync('sha256', SECRET, Buffer.from('touchstream privacy'), 'touchstream pseudonym v1', 32));
    const digest = createHmac('sha256', idKey).update('cust-42').digest().subarray(0, 16).toString('base64url');
    expect(new Pseudonymiser(key).pseudonym('cust-42')).toBe(`p1:${key.keyId}:${digest}`);
  });

  it('gives different pseudonyms for different ids and for different keys', () => {
    const a = new Pseudonymiser(key);
    const b = new Pseudonymiser(keyFromSecret(OTHER));
    expect(a.pseudonym('cust-1')).not.toBe(a.pseudonym('cust-2'));
    expect(a.pseudonym('cust-1').split(':')[2]).not.toBe(b.pseudonym('cust-1').split(':')[2]);
  });

  it('leaves an id that already is a pseudonym (of this or an earlier key) as it is', () => {
    const pseudonymiser = new Pseudonymiser(key);
    const once = pseudonymiser.pseudonym('anon-7');
    expect(pseudonymiser.pseudonym(once)).toBe(once);
    const older = new Pseudonymiser(keyFromSecret(OTHER, 'k2025')).pseudonym('anon-7');
    expect(older.startsWith('p1:k2025:')).toBe(true);
    expect(pseudonymiser.pseudonym(older)).toBe(older);
    // Look-alikes that are not pseudonyms are hashed.
    expect(pseudonymiser.pseudonym('p1:abc:short')).toMatch(PSEUDONYM_PATTERN);
    expect(isPseudonym('p1:abc:short')).toBe(false);
  });

  it('uses a configured key id', () => {
    expect(new Pseudonymiser(keyFromSecret(SECRET, 'k2026a')).pseudonym('x').startsWith('p1:k2026a:')).toBe(true);
  });
});

describe('the key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'touchstream-key-'));

  it('is read from a file; a trailing line break is not part of it; the key id is derived from the secret', () => {
    const path = join(dir, 'key');
    writeFileSync(path, `${SECRET.toString()}\n`);
    const loaded = loadKeyFile(path);
    expect(loaded.keyId).toBe(deriveKeyId(SECRET));
    expect(loaded.idKey.equals(key.idKey)).toBe(true);
  });

  it('fails with a code when the file is missing, the key too short, or the key id malformed', () => {
    expect(() => loadKeyFile(join(dir, 'nope'))).toThrow(expect.objectContaining({ code: 'pseudonymisation_key_missing' }));
    const short = join(dir, 'short');
    writeFileSync(short, 'too-short-secret\n');
    expect(() => loadKeyFile(short)).toThrow(expect.objectContaining({ code: 'pseudonymisation_key_too_short' }));
    expect(() => keyFromSecret(SECRET, 'bad:id')).toThrow(expect.objectContaining({ code: 'pseudonymisation_key_id_invalid' }));
    expect(() => loadKeyFile(dir)).toThrow(expect.objectContaining({ code: 'pseudonymisation_key_unreadable' }));
  });

  it('never puts the secret in an error message', () => {
    const path = join(dir, 'short2');
    writeFileSync(path, 'SECRETSECRET');
    expect(() => loadKeyFile(path)).toThrow(expect.not.objectContaining({ message: expect.stringContaining('SECRETSECRET') }));
  });
});

describe('sealed dead-letter bytes', () => {
  const bytes = Buffer.from('{"customer_id":"alice@example.com","type":"bogus"}');

  it('seal and open again with the same key; the key id is readable, the content is not', () => {
    const sealed = sealBytes(key, bytes);
    expect(sealed.includes(Buffer.from('alice'))).toBe(false);
    expect(sealedKeyId(sealed)).toBe(key.keyId);
    expect(openBytes([keyFromSecret(OTHER), key], sealed).equals(bytes)).toBe(true);
    expect(sealBytes(key, sealed)).toBe(sealed);
    expect(sealBytes(key, Buffer.alloc(0)).length).toBe(0);
  });

  it('do not open with another key, nor when damaged', () => {
    const sealed = sealBytes(key, bytes);
    expect(() => openBytes([keyFromSecret(OTHER)], sealed)).toThrow(expect.objectContaining({ code: 'dead_letter_key_unknown' }));
    expect(() => openBytes([keyFromSecret(OTHER, key.keyId)], sealed)).toThrow(expect.objectContaining({ code: 'dead_letter_unreadable' }));
    const damaged = Buffer.from(sealed);
    damaged.writeUInt8(damaged.readUInt8(damaged.length - 1) ^ 1, damaged.length - 1);
    expect(() => openBytes([key], damaged)).toThrow(expect.objectContaining({ code: 'dead_letter_unreadable' }));
  });
});

const event = (overrides: Partial<CxEvent> & Pick<CxEvent, 'type' | 'properties'>): CxEvent =>
  ({ event_id: 'e1', occurred_at: 0, customer_id: 'cust-1', anonymous_id: 'anon-1', channel: 'survey', touchpoint: null, experiment: null, ...overrides }) as CxEvent;

const letter = (original: string, message = 'invalid_event'): DeadLetter => ({
  reason_code: 'invalid_json', message, source: 'collector', topic: null, partition: null, offset: null, event_id: null, received_at: 0, original: Buffer.from(original),
});

describe('PrivacyEdge', () => {
  it('gives the serving API the id as stored: the pseudonym events get with a key (a pseudonym stays), the id itself without', () => {
    const edge = new PrivacyEdge({ key, scrub: false });
    const [stored] = edge.events([{ event_id: 'e1', type: 'page_view', occurred_at: 0, customer_id: 'cust-7', anonymous_id: null, channel: 'web', touchpoint: null, experiment: null, properties: {} } as unknown as CxEvent]);
    expect(edge.storedIdOf('cust-7')).toBe(stored!.customer_id);
    expect(edge.storedIdOf(stored!.customer_id!)).toBe(stored!.customer_id);
    expect(new PrivacyEdge({ scrub: true }).storedIdOf('cust-7')).toBe('cust-7');
  });

  it('without a key passes ids unchanged and still scrubs free text', () => {
    const edge = new PrivacyEdge({ scrub: true });
    const [scrubbed] = edge.events([event({ type: 'survey_response', properties: { survey_id: 's', metric: 'nps', score: 2, comment: 'ruft an: 0171 1234567', language: 'de' } })]);
    expect(scrubbed!.customer_id).toBe('cust-1');
    expect(scrubbed!.anonymous_id).toBe('anon-1');
    expect((scrubbed!.properties as { comment: string }).comment).toBe('ruft an: [phone]');
    expect(edge.deadLetters([letter('{"customer_id":"cust-1"}')])[0]!.original.toString()).toBe('{"customer_id":"cust-1"}');
  });

  it('with a key replaces customer_id and anonymous_id, and is idempotent', () => {
    const edge = new PrivacyEdge({ key, scrub: true });
    const pseudonymiser = new Pseudonymiser(key);
    const events = edge.events([event({ type: 'contact', channel: 'call_center', properties: { kind: 'call', reason: 'IBAN DE89 3704 0044 0532 0130 00 falsch' } }), event({ type: 'page_view', customer_id: null, channel: 'web', properties: { page: '/a?mail=a@b.de', page_type: 'other' } })]);
    expect(events[0]!.customer_id).toBe(pseudonymiser.pseudonym('cust-1'));
    expect(events[0]!.anonymous_id).toBe(pseudonymiser.pseudonym('anon-1'));
    expect((events[0]!.properties as { reason: string }).reason).toBe('IBAN [iban] falsch');
    expect(events[1]!.customer_id).toBeNull();
    expect((events[1]!.properties as { page: string }).page).toBe('/a?mail=[email]');
    const again = edge.events(structuredClone(events));
    expect(again).toEqual(events);
  });

  it('counts what it scrubbed per kind (touchstream_scrubbed_total{kind}), never the text; a second pass counts nothing', () => {
    const metrics = new MetricsRecorder();
    const edge = new PrivacyEdge({ key, scrub: true, metrics });
    const events = edge.events([
      event({ type: 'survey_response', properties: { survey_id: 's', metric: 'nps', score: 2, comment: 'max@example.de, 0171 1234567 oder +49 30 1234567', language: 'de' } }),
      event({ type: 'contact', channel: 'call_center', properties: { kind: 'call', reason: 'IBAN DE89 3704 0044 0532 0130 00, Karte 4111 1111 1111 1111' } }),
      event({ type: 'page_view', channel: 'web', properties: { page: '/a?mail=a@b.de', page_type: 'other' } }),
      event({ type: 'page_view', channel: 'web', properties: { page: '/order/100234567', page_type: 'other' } }), // nothing to scrub
    ]);
    edge.deadLetters([letter('x', 'bad value for max@example.de')]);
    const counted = (kind: string) => metrics.counters.get(`touchstream_scrubbed_total{kind="${kind}"}`) ?? 0;
    expect({ email: counted('email'), phone: counted('phone'), iban: counted('iban'), card: counted('card') }).toEqual({ email: 3, phone: 2, iban: 1, card: 1 });
    // Labels are the kind and nothing else: no text, id or field value.
    expect([...metrics.counters.keys()].sort()).toEqual(['card', 'email', 'iban', 'phone'].map((kind) => `touchstream_scrubbed_total{kind="${kind}"}`));
    // The pipeline runs the edge again on what the sources published: placeholders are not counted twice.
    edge.events(structuredClone(events));
    expect(counted('email') + counted('phone') + counted('iban') + counted('card')).toBe(7);
  });

  it('with a key seals dead letters\' bytes; messages lose the quoted input', () => {
    const edge = new PrivacyEdge({ key, scrub: true });
    let message = '';
    try {
      JSON.parse('cust-1 is no JSON');
    } catch (error) {
      message = `body is not JSON: ${(error as Error).message}`;
    }
    const [sealed] = edge.deadLetters([letter('cust-1 is no JSON', message)]);
    expect(sealed!.original.includes(Buffer.from('cust-1'))).toBe(false);
    expect(openBytes([key], sealed!.original).toString()).toBe('cust-1 is no JSON');
    expect(message).toContain('cust-1');
    expect(sealed!.message).not.toContain('cust-1');
    expect(sealed!.message).toMatch(/^body is not JSON: .*the input is not valid JSON$/);
  });
});

describe('withoutPayload', () => {
  it('drops V8\'s quote of the input, truncated or not', () => {
    expect(withoutPayload('Unexpected token \'o\', "not json" is not valid JSON')).toBe('Unexpected token \'o\', the input is not valid JSON');
    expect(withoutPayload('Unexpected token \'x\', ..."er_id":"c"x"... is not valid JSON')).toBe('Unexpected token \'x\', the input is not valid JSON');
    expect(withoutPayload('properties.score: nps score must be 0–10')).toBe('properties.score: nps score must be 0–10');
  });
});

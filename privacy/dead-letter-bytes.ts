// Seals a dead letter's original bytes (AES-256-GCM, a key derived from the pseudonymisation secret) so raw ids never rest in the DLQ or rejected_events.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { TouchstreamError } from '../schemas/errors.ts';
import type { PseudonymisationKey } from './key.ts';

/**
 * Sealed bytes: `TSDL` `0x01` | key id length (1 byte) | key id (ASCII) | IV (12) | GCM tag (16) | ciphertext.
 * The key id says which secret opens them: after a rotation the old key file opens the old letters, and deleting
 * it makes them unreadable for good (what append-only Kafka logs need, CONTRACT §6).
 */
const MAGIC = Buffer.from('TSDL\x01', 'latin1');
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function isSealed(bytes: Buffer): boolean {
  return bytes.length > MAGIC.length + 1 + IV_BYTES + TAG_BYTES && bytes.subarray(0, MAGIC.length).equals(MAGIC);
}

/** The key id sealed bytes were sealed with, or null when they are not sealed. */
export function sealedKeyId(bytes: Buffer): string | null {
  if (!isSealed(bytes)) return null;
  const length = bytes[MAGIC.length]!;
  return bytes.subarray(MAGIC.length + 1, MAGIC.length + 1 + length).toString('latin1');
}

/** Seals `bytes`; empty and already sealed bytes are returned as they are (sealing twice would hide the key id). */
export function sealBytes(key: PseudonymisationKey, bytes: Buffer): Buffer {
  if (bytes.length === 0 || isSealed(bytes)) return bytes;
  const keyId = Buffer.from(key.keyId, 'latin1');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.deadLetterKey, iv);
  // The header is authenticated too: a sealed letter cannot be relabelled with another key id.
  const header = Buffer.concat([MAGIC, Buffer.from([keyId.length]), keyId]);
  cipher.setAAD(header);
  const body = Buffer.concat([cipher.update(bytes), cipher.final()]);
  return Buffer.concat([header, iv, cipher.getAuthTag(), body]);
}

/** Opens sealed bytes with whichever of `keys` sealed them; bytes that are not sealed are returned as they are. */
export function openBytes(keys: readonly PseudonymisationKey[], bytes: Buffer): Buffer {
  const keyId = sealedKeyId(bytes);
  if (keyId === null) return bytes;
  const key = keys.find((candidate) => candidate.keyId === keyId);
  if (!key) throw new TouchstreamError('dead_letter_key_unknown', `the dead letter was sealed with key ${keyId}, which is not among the keys given`);
  const headerEnd = MAGIC.length + 1 + keyId.length;
  const iv = bytes.subarray(headerEnd, headerEnd + IV_BYTES);
  const tag = bytes.subarray(headerEnd + IV_BYTES, headerEnd + IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key.deadLetterKey, iv);
  decipher.setAAD(bytes.subarray(0, headerEnd));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(bytes.subarray(headerEnd + IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch (error) {
    throw new TouchstreamError('dead_letter_unreadable', `the dead letter sealed with key ${keyId} does not open with that key (wrong secret or damaged bytes)`, false, { cause: error });
  }
}

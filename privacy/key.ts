// The pseudonymisation secret: read from a file (never a default in code), with its key id and the subkeys derived from it.
import { createHash, hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TouchstreamError } from '../schemas/errors.ts';

/** Shortest secret accepted, in bytes: 256 bits, what `openssl rand -base64 32` (44 characters) gives with room to spare. */
export const MIN_KEY_BYTES = 32;

/** Key ids name the key inside every pseudonym and sealed dead letter: short, and safe in ids, topics and SQL. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9]{1,16}$/;

export interface PseudonymisationKey {
  /** Recorded in every pseudonym (`p1:<keyId>:…`) and sealed dead letter, so data says which key made it. */
  readonly keyId: string;
  /** HMAC-SHA256 key of the pseudonyms (HKDF of the secret, info `touchstream pseudonym v1`). */
  readonly idKey: Buffer;
  /** AES-256-GCM key of the dead letters' original bytes (HKDF of the secret, info `touchstream dead-letter v1`). */
  readonly deadLetterKey: Buffer;
}

export class PseudonymisationKeyError extends TouchstreamError {
  constructor(code: 'pseudonymisation_key_missing' | 'pseudonymisation_key_unreadable' | 'pseudonymisation_key_too_short' | 'pseudonymisation_key_id_invalid', message: string, options?: { cause?: unknown }) {
    super(code, message, false, options);
    this.name = 'PseudonymisationKeyError';
  }
}

const SALT = Buffer.from('touchstream privacy');
const derive = (secret: Buffer, info: string) => Buffer.from(hkdfSync('sha256', secret, SALT, info, 32));

/** The key id of a secret when none is configured: the first 4 bytes of SHA-256 over a label and the secret, as hex. */
export function deriveKeyId(secret: Buffer): string {
  return createHash('sha256').update('touchstream key id\0').update(secret).digest('hex').slice(0, 8);
}

/** Builds the key from the secret's bytes (trailing line breaks and spaces are not part of the secret). */
export function keyFromSecret(bytes: Buffer, keyId?: string): PseudonymisationKey {
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d || bytes[end - 1] === 0x20 || bytes[end - 1] === 0x09)) end--;
  const secret = bytes.subarray(0, end);
  if (secret.length < MIN_KEY_BYTES) {
    throw new PseudonymisationKeyError('pseudonymisation_key_too_short', `the pseudonymisation key has ${secret.length} bytes; at least ${MIN_KEY_BYTES} are required (e.g. \`openssl rand -base64 48 > key\`)`);
  }
  if (keyId !== undefined && !KEY_ID_PATTERN.test(keyId)) {
    throw new PseudonymisationKeyError('pseudonymisation_key_id_invalid', `the pseudonymisation key id "${keyId}" must be 1–16 letters or digits`);
  }
  return { keyId: keyId ?? deriveKeyId(secret), idKey: derive(secret, 'touchstream pseudonym v1'), deadLetterKey: derive(secret, 'touchstream dead-letter v1') };
}

/** Reads the secret from `path`; the error names the file, never its content. */
export function loadKeyFile(path: string, keyId?: string): PseudonymisationKey {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PseudonymisationKeyError('pseudonymisation_key_missing', `the pseudonymisation key file ${path} does not exist`, { cause: error });
    throw new PseudonymisationKeyError('pseudonymisation_key_unreadable', `the pseudonymisation key file ${path} cannot be read (${code ?? 'error'})`, { cause: error });
  }
  return keyFromSecret(bytes, keyId);
}

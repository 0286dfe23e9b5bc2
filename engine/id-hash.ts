// A 128-bit hash of an id string (MurmurHash3 x86_128 over its UTF-16LE code units), for compact dedup state.

/**
 * The seed is fixed: hashes are checkpointed to changelogs and must mean the same in every process.
 *
 * Collisions: for n distinct ids held at once, the chance that any two share all 128 bits is about n² / 2¹²⁹
 * (birthday bound): 1.5 × 10⁻²³ for 10⁸ ids, so a fresh event is never mistaken for a duplicate in practice.
 * MurmurHash3 is not a cryptographic hash: someone who controls event ids could craft two that collide, but
 * that only drops their own second event, as a duplicate would be.
 */
const SEED = 0x5eed;
const C1 = 0x239b961b;
const C2 = 0xab0e9789;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93;

const rotl = (value: number, bits: number): number => (value << bits) | (value >>> (32 - bits));

/** The code unit at `index`, 0 past the end (module level: a closure per call would be allocated per id). */
const unitAt = (id: string, index: number): number => (index < id.length ? id.charCodeAt(index) : 0);

function fmix(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * Writes the 128-bit hash of `id` into `out[offset … offset + 3]` as four 32-bit words (h1, h2, h3, h4 of the
 * reference implementation, as signed integers). No allocation.
 */
export function hashId(id: string, out: Int32Array, offset = 0): void {
  const length = id.length;
  let h1 = SEED;
  let h2 = SEED;
  let h3 = SEED;
  let h4 = SEED;
  const blocks = length >> 3; // 8 UTF-16 code units = 16 bytes
  let at = 0;
  for (let block = 0; block < blocks; block++, at += 8) {
    let k1 = id.charCodeAt(at) | (id.charCodeAt(at + 1) << 16);
    let k2 = id.charCodeAt(at + 2) | (id.charCodeAt(at + 3) << 16);
    let k3 = id.charCodeAt(at + 4) | (id.charCodeAt(at + 5) << 16);
    let k4 = id.charCodeAt(at + 6) | (id.charCodeAt(at + 7) << 16);
    k1 = Math.imul(rotl(Math.imul(k1, C1), 15), C2);
    h1 ^= k1;
    h1 = (Math.imul(rotl(h1, 19) + h2, 5) + 0x561ccd1b) | 0;
    k2 = Math.imul(rotl(Math.imul(k2, C2), 16), C3);
    h2 ^= k2;
    h2 = (Math.imul(rotl(h2, 17) + h3, 5) + 0x0bcaa747) | 0;
    k3 = Math.imul(rotl(Math.imul(k3, C3), 17), C4);
    h3 ^= k3;
    h3 = (Math.imul(rotl(h3, 15) + h4, 5) + 0x96cd1c35) | 0;
    k4 = Math.imul(rotl(Math.imul(k4, C4), 18), C1);
    h4 ^= k4;
    h4 = (Math.imul(rotl(h4, 13) + h1, 5) + 0x32ac3b17) | 0;
  }
  // The tail: 0–7 code units, two per 32-bit word, little-endian.
  const rest = length - at;
  if (rest > 0) {
    if (rest > 6) h4 ^= Math.imul(rotl(Math.imul(unitAt(id, at + 6) | (unitAt(id, at + 7) << 16), C4), 18), C1);
    if (rest > 4) h3 ^= Math.imul(rotl(Math.imul(unitAt(id, at + 4) | (unitAt(id, at + 5) << 16), C3), 17), C4);
    if (rest > 2) h2 ^= Math.imul(rotl(Math.imul(unitAt(id, at + 2) | (unitAt(id, at + 3) << 16), C2), 16), C3);
    h1 ^= Math.imul(rotl(Math.imul(unitAt(id, at) | (unitAt(id, at + 1) << 16), C1), 15), C2);
  }
  const bytes = length * 2;
  h1 ^= bytes;
  h2 ^= bytes;
  h3 ^= bytes;
  h4 ^= bytes;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h3 = fmix(h3);
  h4 = fmix(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  out[offset] = h1;
  out[offset + 1] = h2;
  out[offset + 2] = h3;
  out[offset + 3] = h4;
}

// The privacy part's public face: keys, pseudonyms, scrubbing, sealed dead-letter bytes and the edge transform that applies them.
export { KEY_ID_PATTERN, MIN_KEY_BYTES, PseudonymisationKeyError, deriveKeyId, keyFromSecret, loadKeyFile } from './key.ts';
export type { PseudonymisationKey } from './key.ts';
export { PSEUDONYM_PATTERN, Pseudonymiser, isPseudonym } from './pseudonymiser.ts';
export { PLACEHOLDERS, luhnValid, scrubEmails, scrubText } from './scrubber.ts';
export type { ScrubKind, ScrubResult } from './scrubber.ts';
export { isSealed, openBytes, sealBytes, sealedKeyId } from './dead-letter-bytes.ts';
export { PrivacyEdge, withoutPayload } from './edge.ts';
export type { PrivacyEdgeOptions, ScrubCounter } from './edge.ts';

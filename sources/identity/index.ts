// Identity stitching at the source edge: its config schema and the stitcher every publishing path runs events through.
export { IdentityStitcher, identityConfigSchema, withoutHandover } from './identity-stitcher.ts';
export type { IdentityConfig, IdentityStitcherOptions, StitchCounts } from './identity-stitcher.ts';

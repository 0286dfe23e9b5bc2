// The HTTP collector's public face: its config schema, factory, and the intake shared with the webhook sources.
export { collectorConfigSchema } from './config.ts';
export type { CollectorConfig } from './config.ts';
export { createHttpCollector } from './http-collector.ts';
export type { CollectorAnswer, CollectorDependencies } from './http-collector.ts';
export type { Candidate, ItemResult } from './intake.ts';

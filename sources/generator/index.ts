// The synthetic-day generator's public face: its config schema, the generator and its seeded random source.
export { generateDay, generatorConfigSchema, seededRandom } from './synthetic-day.ts';
export type { GeneratorConfig } from './synthetic-day.ts';

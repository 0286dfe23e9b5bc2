// The collector's config schema (kept apart from the server so the app's config loads without fastify).
import { z } from 'zod';

const list = z.union([z.array(z.string()), z.string().transform((text) => text.split(',').map((part) => part.trim()).filter(Boolean))]);
const number = z.coerce.number();

export const collectorConfigSchema = z.object({
  host: z.string().default('127.0.0.1'),
  port: number.pipe(z.number().int().min(0).max(65535)).default(8088),
  /** Write keys a client sends as `Authorization: Bearer <key>`; the collector refuses to start without one. */
  writeKeys: list.default([]),
  /** Largest request body read; a larger one is refused (413) and dead-lettered. */
  maxBodyBytes: number.pipe(z.number().int().min(1)).default(5_000_000),
  /** Most items in one batch request. */
  maxBatchEvents: number.pipe(z.number().int().min(1)).default(1000),
  /** Largest single event (bytes of its JSON). */
  maxEventBytes: number.pipe(z.number().int().min(1)).default(1_000_000),
});
export type CollectorConfig = z.output<typeof collectorConfigSchema>;

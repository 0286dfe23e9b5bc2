// The serving API's config schema (kept apart from the plugin so the app's config loads without fastify).
import { z } from 'zod';

const list = z.union([z.array(z.string()), z.string().transform((text) => text.split(',').map((part) => part.trim()).filter(Boolean))]);
const number = z.coerce.number();

export const servingConfigSchema = z.object({
  /**
   * API keys a client sends as `Authorization: Bearer <key>` (TOUCHSTREAM_API_KEYS, comma-separated). Without any,
   * the customer API answers loopback clients only (127.0.0.1, ::1) and refuses every other one with 401.
   */
  apiKeys: list.default([]),
  /**
   * The base URL other workers reach this worker's HTTP server at (TOUCHSTREAM_ADVERTISED_URL), published in the
   * partition directory. Default: the address the server listens on (right on one host; set it in containers).
   */
  advertisedUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** A request forwarded to a partition's owner that has not answered after this long is a 503 (owner_unreachable). */
  forwardTimeoutMs: number.pipe(z.number().int().min(1)).default(2000),
  /** The Retry-After (seconds) of a 503 while a partition is being rebalanced. */
  retryAfterSeconds: number.pipe(z.number().int().min(1)).default(1),
  /** A worker re-announces its partitions this often; announcements older than 3 heartbeats are ignored (a dead worker). */
  heartbeatMs: number.pipe(z.number().int().min(100)).default(5000),
  /**
   * How long (event time, behind the watermark) a customer's last closed session is kept for `/session` once no
   * session is open (TOUCHSTREAM_SERVING_LAST_SESSION_MS): ≈ 0.6 KB per customer with a session closed in that time.
   */
  lastSessionMs: number.pipe(z.number().int().min(1)).default(24 * 60 * 60 * 1000),
});
export type ServingConfig = z.output<typeof servingConfigSchema>;

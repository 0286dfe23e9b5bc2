// Maps social posts (webhook JSON or NDJSON lines from a listening tool) to contract `social_mention` events, detecting the language when the post has none.
import { createHash } from 'node:crypto';
import { detect } from 'tinyld';
import { z } from 'zod';
import type { Candidate } from '../collector/intake.ts';

/** One post as listening tools export it; docs/sources.md lists the accepted aliases. */
export const socialPostSchema = z.object({
  id: z.union([z.string().min(1), z.number()]).transform(String),
  platform: z.string().min(1).max(64),
  text: z.string(),
  created_at: z.string(),
  /** Known customer (CRM match); else the platform author becomes the anonymous key `platform:author`. */
  customer_id: z.string().min(1).max(128).optional(),
  author: z.string().min(1).max(100).optional(),
  language: z.string().min(2).max(35).optional().nullable(),
  rating: z.number().int().optional().nullable(),
  product_id: z.string().min(1).optional().nullable(),
  touchpoint: z.string().max(128).optional(),
});

type Json = Record<string, unknown>;

/** ISO 639-1 code of a text, or null when it is too short or too mixed to tell (tinyld, ~0.4 ms per post). */
export function detectLanguage(text: string): string | null {
  const language = text.trim() === '' ? '' : detect(text);
  return language === '' ? null : language;
}

function eventId(platform: string, id: string): string {
  const joined = `${platform}:${id}`;
  return joined.length <= 64 ? joined : `soc:${createHash('sha256').update(joined).digest('hex').slice(0, 40)}`;
}

const issues = (error: z.ZodError) => error.issues.map((issue) => `${issue.path.join('.') || '(post)'}: ${issue.message}`).join('; ');

/** One post → one candidate event; the contract's rules (text ≤ 10,000 chars, rating 1–5) are checked by the collector's intake. */
export function socialCandidate(body: unknown, original: Buffer): Candidate {
  const post = socialPostSchema.safeParse(body);
  if (!post.success) return { ok: false, code: 'invalid_event', message: `social post: ${issues(post.error)}`, original };
  const value = post.data;
  if (value.customer_id === undefined && value.author === undefined) {
    return { ok: false, code: 'invalid_event', message: 'social post: customer_id or author is required to key the mention', original };
  }
  const language = value.language ?? detectLanguage(value.text);
  const properties: Json = { platform: value.platform, text: value.text };
  if (language) properties.language = language;
  if (value.rating != null) properties.rating = value.rating;
  if (value.product_id != null) properties.product_id = value.product_id;
  const json: Json = {
    event_id: eventId(value.platform, value.id),
    type: 'social_mention',
    occurred_at: value.created_at,
    channel: 'social',
    properties,
  };
  if (value.customer_id !== undefined) json.customer_id = value.customer_id;
  else json.anonymous_id = `${value.platform}:${value.author}`;
  if (value.touchpoint) json.touchpoint = value.touchpoint;
  return { ok: true, json, original: Buffer.from(JSON.stringify(json)) };
}

/** A webhook body: one post, an array of posts, or `{ posts: [...] }`. */
export function socialCandidates(body: unknown, original: Buffer): Candidate[] {
  const posts = Array.isArray(body) ? body : Array.isArray((body as { posts?: unknown } | null)?.posts) ? (body as { posts: unknown[] }).posts : null;
  if (posts === null) return [socialCandidate(body, original)];
  return posts.map((post) => socialCandidate(post, Buffer.from(JSON.stringify(post) ?? 'null')));
}

/** NDJSON (one post per line): an unparseable line is a refused candidate with that line's bytes. */
export function socialNdjsonCandidates(body: Buffer): Candidate[] {
  const candidates: Candidate[] = [];
  for (const line of body.toString('utf8').split('\n')) {
    if (line.trim() === '') continue;
    const bytes = Buffer.from(line);
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (error) {
      candidates.push({ ok: false, code: 'invalid_json', message: `line is not JSON: ${(error as Error).message}`, original: bytes });
      continue;
    }
    candidates.push(socialCandidate(json, bytes));
  }
  return candidates;
}

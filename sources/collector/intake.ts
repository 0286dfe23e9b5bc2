// Validates candidate events that arrived over HTTP (contract JSON, or mapped from a webhook) into events and dead letters, with one result per input.
import { parseEvent } from '../../schemas/events.ts';
import type { CxEvent } from '../../schemas/events.ts';
import type { DeadLetter, RejectReason } from '../../schemas/outputs.ts';
import { deadLetterFor } from '../kafka/event-decoder.ts';

/** One input item: a JSON value to validate as a contract event, or an item already refused while reading or mapping it. */
export type Candidate =
  | { ok: true; json: unknown; original: Buffer }
  | { ok: false; code: RejectReason; message: string; original: Buffer; eventId?: string | null };

/** What the caller is told about each item, in input order. */
export type ItemResult =
  | { index: number; status: 'accepted'; event_id: string }
  | { index: number; status: 'rejected'; code: RejectReason; message: string; event_id: string | null };

export interface Intake {
  events: CxEvent[];
  rejected: DeadLetter[];
  results: ItemResult[];
}

export interface IntakeOptions {
  /** Names the source in dead letters and metrics, e.g. `collector`, `webhook:survey`. */
  source: string;
  /** Items larger than this (bytes of their JSON) are refused as oversized. */
  maxEventBytes: number;
  now: number;
}

const eventIdOf = (json: unknown): string | null => {
  const id = (json as { event_id?: unknown } | null)?.event_id;
  return typeof id === 'string' ? id.slice(0, 64) : null;
};

export function intake(candidates: readonly Candidate[], options: IntakeOptions): Intake {
  const { source, maxEventBytes, now } = options;
  const out: Intake = { events: [], rejected: [], results: [] };
  const refuse = (index: number, original: Buffer, code: RejectReason, message: string, eventId: string | null) => {
    out.rejected.push(deadLetterFor(source, null, original, code, message, now, eventId));
    out.results.push({ index, status: 'rejected', code, message, event_id: eventId });
  };
  candidates.forEach((candidate, index) => {
    if (!candidate.ok) return refuse(index, candidate.original, candidate.code, candidate.message, candidate.eventId ?? null);
    const eventId = eventIdOf(candidate.json);
    if (candidate.original.length > maxEventBytes) {
      return refuse(index, candidate.original, 'oversized_payload', `event of ${candidate.original.length} bytes exceeds ${maxEventBytes}`, eventId);
    }
    const parsed = parseEvent(candidate.json, now);
    if (!parsed.ok) return refuse(index, candidate.original, parsed.failure.code, parsed.failure.message, eventId);
    out.events.push(parsed.event);
    out.results.push({ index, status: 'accepted', event_id: parsed.event.event_id });
  });
  return out;
}

/** Parses a body as JSON; a body that does not parse is one refused candidate. */
export function parseJsonBody(body: Buffer): { ok: true; json: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, json: JSON.parse(body.toString('utf8')) };
  } catch (error) {
    return { ok: false, message: `body is not JSON: ${(error as Error).message}` };
  }
}

/** The items of a JSON array body, each with its own bytes (what its dead letter keeps). */
export function candidatesOf(values: readonly unknown[]): Candidate[] {
  return values.map((json) => ({ ok: true, json, original: Buffer.from(JSON.stringify(json) ?? 'null') }));
}

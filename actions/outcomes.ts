// Outcomes coming back from destinations (CONTRACT §7): validated with zod at the edge (HTTP endpoint, outcomes topic), one shape for both.
import { z } from 'zod';
import type { ActionOutcome } from './records.ts';

/** `at`: ISO-8601 with a zone (ms precision), or epoch milliseconds. */
const instant = z.union([
  z.iso.datetime({ offset: true }).transform((text) => Date.parse(text)),
  z.number().int().min(0),
]);

export const outcomeSchema = z.strictObject({
  signal_id: z.string().min(1).max(128),
  action: z.string().min(1).max(128),
  status: z.enum(['acknowledged', 'resolved']),
  at: instant,
});

export type OutcomeParse = { ok: true; outcome: ActionOutcome } | { ok: false; message: string };

/** Validates one outcome; a problem names the field path and the rule. */
export function parseOutcome(input: unknown): OutcomeParse {
  const parsed = outcomeSchema.safeParse(input);
  if (parsed.success) return { ok: true, outcome: parsed.data };
  return { ok: false, message: parsed.error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`).join('; ') };
}

/** An outcome as JSON for receivers and the table loader: `at` as ISO text on the wire is not needed, ms stay ms. */
export interface OutcomeRow extends ActionOutcome {
  /** Wall clock when touchstream took it in. */
  received_at: number;
}

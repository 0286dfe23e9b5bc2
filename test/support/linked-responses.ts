// For tests: a generated day through the journey pipeline (sessions, X+O link), each linked response with its session's driver vector.
import { channelSwitchBefore, driverVectorOf } from '../../pipelines/cx/key-drivers.ts';
import type { DriverVector } from '../../pipelines/cx/key-drivers.ts';
import type { FeedbackRow } from '../../schemas/analytics-outputs.ts';
import type { CxEvent } from '../../schemas/events.ts';
import { sessionKeyOf } from '../../schemas/events.ts';
import type { SessionKpis } from '../../schemas/outputs.ts';
import { journeyHarness } from './cx-harness.ts';

export interface LinkedResponse {
  row: FeedbackRow;
  drivers: DriverVector;
  /** The input partition the customer's events would come from (customers spread over `partitions`). */
  partition: number;
}

/** Every feedback row linked to a session, in the order the link released them, with the session's drivers. */
export function linkedResponses(events: readonly CxEvent[], partitions = 1): LinkedResponse[] {
  const harness = journeyHarness();
  harness.process(events).watermark(Number.POSITIVE_INFINITY);
  const sessions = new Map<string, SessionKpis>(harness.outputs.sessions.map((session) => [session.session_id, session]));
  const contacts = new Map<string, number[]>();
  for (const event of events) if (event.type === 'contact') contacts.set(sessionKeyOf(event), [...(contacts.get(sessionKeyOf(event)) ?? []), event.occurred_at]);
  const partitionOf = (customer: string) => [...customer].reduce((sum, char) => sum + char.charCodeAt(0), 0) % partitions;
  return harness.outputs.feedback
    .filter((row) => row.session_id !== null)
    .map((row) => {
      const session = sessions.get(row.session_id!)!;
      const channelSwitch = channelSwitchBefore(session, contacts.get(row.customer_id) ?? [], row.responded_at);
      return { row, drivers: driverVectorOf(session, channelSwitch), partition: partitionOf(row.customer_id) };
    });
}

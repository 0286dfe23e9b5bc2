// The CX journey operator: dedups events, sessionises digital journeys in event time, lands event rows, closes sessions with KPIs and fires session rules.
import type { Operator, OperatorContext, Outputs, StreamRecord } from '../../engine/index.ts';
import { SeenSet, SessionWindows } from '../../engine/index.ts';
import type { CxEvent } from '../../schemas/events.ts';
import { isSessionEvent } from '../../schemas/events.ts';
import type { DeadLetter, EventRow, SessionKpis, Signal } from '../../schemas/outputs.ts';
import { ContactPolicy } from './contact-policy.ts';
import type { ContactPolicyOptions } from './contact-policy.ts';
import type { SessionClosedRule } from './rules/rule.ts';
import { toSignal } from './rules/rule.ts';
import type { SessionAccumulator } from './session-kpis.ts';
import { sessionKpiAggregator, sessionKpis } from './session-kpis.ts';

/** The named outputs of the CX topology. */
export type CxOutputs = {
  events: EventRow;
  sessions: SessionKpis;
  signals: Signal;
  rejected: DeadLetter;
};

export interface JourneyOptions {
  /** Session inactivity gap (CONTRACT §2: 30 min by default). */
  sessionGapMs: number;
  /** How long an event_id is remembered for dedup, in event time behind the watermark. */
  dedupHorizonMs: number;
  rules: readonly SessionClosedRule[];
  contactPolicy: ContactPolicyOptions;
}

const POLICY_EVICT_EVERY_MS = 60_000;

export class JourneyOperator implements Operator<CxEvent, CxOutputs> {
  readonly name = 'journey';
  readonly #sessions: SessionWindows<CxEvent, SessionAccumulator>;
  readonly #seen: SeenSet;
  readonly #policy: ContactPolicy;
  #policyEvictedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: JourneyOptions) {
    this.#sessions = new SessionWindows({ name: 'journey-sessions', gapMs: options.sessionGapMs }, sessionKpiAggregator);
    this.#seen = new SeenSet(options.dedupHorizonMs);
    this.#policy = new ContactPolicy(options.contactPolicy);
  }

  process(records: readonly StreamRecord<CxEvent>[], out: Outputs<CxOutputs>, context: OperatorContext): void {
    let duplicates = 0;
    let late = 0;
    for (const record of records) {
      const event = record.value;
      if (!this.#seen.add(event.event_id, record.eventTime)) {
        duplicates++;
        continue;
      }
      let isLate = false;
      if (isSessionEvent(event)) {
        const session = this.#sessions.add(record.key, record.eventTime, record.partitionWatermark, record.partition, record.offset, event);
        isLate = session === null;
        if (isLate) late++;
      }
      out.emit('events', { event, late: isLate });
    }
    if (duplicates > 0) context.metrics.count('touchstream_duplicate_events_total', duplicates, { operator: this.name });
    if (late > 0) context.metrics.count('touchstream_late_events_total', late, { operator: this.name });
  }

  onWatermark(watermark: number, out: Outputs<CxOutputs>, context: OperatorContext): void {
    const gap = this.options.sessionGapMs;
    this.#sessions.closeUpTo(watermark, (session) => {
      const kpis = sessionKpis(session.key, session.start, session.last, session.accumulator);
      out.emit('sessions', kpis);
      const fired = this.options.rules.filter((rule) => rule.when(kpis)).sort((a, b) => b.priority - a.priority);
      for (const rule of fired) {
        const signal = toSignal(
          {
            rule,
            customerId: kpis.customer_id,
            sessionId: kpis.session_id,
            triggerId: kpis.session_id,
            triggeredAt: kpis.ended_at + gap,
            reason: rule.reason(kpis),
            evidence: session.accumulator.cartEventIds,
          },
          context.wallClock(),
        );
        out.emit('signals', this.#policy.apply(signal));
      }
    });
    this.#seen.evict(watermark);
    if (watermark - this.#policyEvictedAt >= POLICY_EVICT_EVERY_MS) {
      this.#policy.evict(watermark);
      this.#policyEvictedAt = watermark;
    }
  }

  retainedOffsets(): Map<number, number> {
    return this.#sessions.retainedOffsets();
  }

  gauges(): Record<string, number> {
    return { live_sessions: this.#sessions.size, dedup_ids: this.#seen.size };
  }
}

// The head of the CX chain: dedups events by event_id and sessionises web/app journeys in event time; a session closes when its own partition's watermark passes it.
import type { ChainHead, EmitItem, OperatorContext, Outputs, Session, StreamRecord } from '../../../engine/index.ts';
import { SeenSet, SessionWindows } from '../../../engine/index.ts';
import type { CxEvent } from '../../../schemas/events.ts';
import { isSessionEvent } from '../../../schemas/events.ts';
import type { CxItem, CxOutputs } from '../journey-items.ts';
import type { SessionAccumulator } from '../session-kpis.ts';
import { sessionKpiAggregator, sessionKpis } from '../session-kpis.ts';

/** Appended to a handed-over copy's event_id in the dedup set (U+001F: no contract id holds it in practice). */
const COPY_ID_SUFFIX = '\u001fcopy';

export interface SessionisationOptions {
  /** Session inactivity gap (CONTRACT §2: 30 min by default). */
  sessionGapMs: number;
  /** How long an event_id is remembered for dedup, in event time behind the watermark. */
  dedupHorizonMs: number;
}

export class Sessionisation implements ChainHead<CxEvent, CxItem, CxOutputs> {
  readonly name = 'sessionisation';
  readonly windows: SessionWindows<CxEvent, SessionAccumulator>;
  readonly #seen: SeenSet;
  readonly stores;
  /** Each input partition's watermark as sessions were last closed up to it. */
  readonly #partitionWatermarks: number[] = [];

  constructor(options: SessionisationOptions) {
    this.windows = new SessionWindows({ name: 'journey-sessions', gapMs: options.sessionGapMs }, sessionKpiAggregator);
    this.#seen = new SeenSet(options.dedupHorizonMs, 'journey-seen-ids');
    this.stores = [this.windows, this.#seen];
  }

  onRecord(record: StreamRecord<CxEvent>, emit: EmitItem<CxItem>, out: Outputs<CxOutputs>, context: OperatorContext): void {
    if (record.value.handover !== undefined) return this.#handover(record, emit, context);
    // Sessions of this partition that its watermark closed before this record close first, in log order: what
    // follows from their close is decided before what this record does, whatever the batch boundaries.
    this.#closeSessions(record.partition, record.partitionWatermark, emit);
    const event = record.value;
    if (!this.#seen.add(event.event_id, record.eventTime, record.partition, record.partitionWatermark)) {
      context.metrics.count('touchstream_duplicate_events_total', 1, { operator: this.name });
      return;
    }
    let session: Session<SessionAccumulator> | null = null;
    let late = false;
    if (isSessionEvent(event)) {
      session = this.windows.add(record.key, record.eventTime, record.partitionWatermark, record.partition, record.offset, event);
      late = session === null;
      if (late) context.metrics.count('touchstream_late_events_total', 1, { operator: this.name });
    }
    out.emit('events', { event, late });
    emit({ kind: 'event', record, event, key: record.key, partition: record.partition, session, late, handedOver: false, sentiment: null, firings: [] });
  }

  /**
   * Identity stitching's marks (docs/analytics.md "Identity stitching"). A link (the login, on the anonymous id's
   * partition) drops the anonymous session it handed over. A copy (on the customer's partition, just before the login)
   * joins the customer's session whatever this partition's watermark: the anonymous session was open when the visitor
   * logged in, and its copies are one unit, so no session closes between them. A copy is not an `events` row again.
   */
  #handover(record: StreamRecord<CxEvent>, emit: EmitItem<CxItem>, context: OperatorContext): void {
    const event = record.value;
    if (event.handover === 'link') {
      this.#closeSessions(record.partition, record.partitionWatermark, emit);
      const key = event.anonymous_id;
      if (key === null) return;
      for (const session of this.windows.remove(key, event.occurred_at)) {
        context.metrics.count('touchstream_sessions_handed_over_total', 1, { operator: this.name });
        emit({ kind: 'session_handed_over', session, key, partition: session.partition });
      }
      return;
    }
    // A copy is deduplicated among copies: its original may share this partition (the anonymous and the customer key
    // can), and that is no duplicate.
    if (!this.#seen.add(`${event.event_id}${COPY_ID_SUFFIX}`, record.eventTime, record.partition, record.partitionWatermark)) {
      context.metrics.count('touchstream_duplicate_events_total', 1, { operator: this.name });
      return;
    }
    if (!isSessionEvent(event)) return;
    const session = this.windows.add(record.key, record.eventTime, Number.NEGATIVE_INFINITY, record.partition, record.offset, event);
    if (session === null) {
      context.metrics.count('touchstream_late_events_total', 1, { operator: this.name });
      return;
    }
    emit({ kind: 'event', record, event, key: record.key, partition: record.partition, session, late: false, handedOver: true, sentiment: null, firings: [] });
  }

  onPartitionWatermark(partition: number, watermark: number, emit: EmitItem<CxItem>): void {
    this.#closeSessions(partition, watermark, emit);
  }

  onWatermark(): void {
    this.#seen.evict(); // by each partition's own watermark (SeenSet), not the global one
  }

  reset(): void {
    this.#partitionWatermarks.length = 0;
  }

  gauges(): Record<string, number> {
    return { live_sessions: this.windows.size, dedup_ids: this.#seen.size };
  }

  /** Closes the partition's sessions its watermark has passed (once per advance of that watermark). */
  #closeSessions(partition: number, watermark: number, emit: EmitItem<CxItem>): void {
    if (!(watermark > (this.#partitionWatermarks[partition] ?? Number.NEGATIVE_INFINITY))) return;
    this.#partitionWatermarks[partition] = watermark;
    this.windows.closePartitionUpTo(partition, watermark, (session) => {
      const kpis = sessionKpis(session.key, session.start, session.last, session.accumulator);
      emit({ kind: 'session_closed', session, kpis, key: session.key, partition: session.partition, firings: [] });
    });
  }
}

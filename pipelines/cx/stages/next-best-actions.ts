// Next-best-action signals (CONTRACT §4): the rules fire inside the live session and when it closes; the contact policy decides each firing when it fires, in the partition's order.
import type { ChainStage, OperatorContext, Outputs, SessionWindows } from '../../../engine/index.ts';
import type { CxEvent } from '../../../schemas/events.ts';
import type { Signal } from '../../../schemas/outputs.ts';
import { ContactPolicy } from '../contact-policy.ts';
import type { ConsentOptions, ConsentStore } from '../consent.ts';
import { consentGate } from '../consent.ts';
import type { ContactPolicyOptions } from '../contact-policy.ts';
import type { CustomerJourneys } from '../customer-journeys.ts';
import { journeyFactsAt } from '../customer-journeys.ts';
import type { CxItem, CxOutputs } from '../journey-items.ts';
import type { LiveSession } from '../rules/rule-evaluator.ts';
import { RuleEvaluator } from '../rules/rule-evaluator.ts';
import type { Firing } from '../rules/rule.ts';
import { toSignals } from '../rules/rule.ts';
import type { RuleSet } from '../rules/rule-set.ts';
import type { SessionLine } from '../rules/signal-context.ts';
import { SessionEventBuffer } from '../session-event-buffer.ts';
import type { SessionAccumulator } from '../session-kpis.ts';
import { Every } from './every.ts';

/** Signals fired together: higher priority first, then by id (CONTRACT §4). */
const byPriority = (a: Signal, b: Signal) => b.priority - a.priority || (a.signal_id < b.signal_id ? -1 : a.signal_id > b.signal_id ? 1 : 0);

export interface NextBestActionsOptions {
  rules: RuleSet;
  contactPolicy: ContactPolicyOptions;
  sessionGapMs: number;
  /** The live sessions (the chain's head) and the customers' histories: what the rules' journey facts read. */
  sessions: SessionWindows<CxEvent, SessionAccumulator>;
  journeys: CustomerJourneys;
  /** Marketing consent per customer: a marketing-channel signal without it is suppressed, no_consent (pipelines/cx/consent.ts). */
  consent?: { store: ConsentStore; options: ConsentOptions };
}

/** Placed after every stage that feeds the journey history, so the facts see the event's own response or contact. */
export class NextBestActions implements ChainStage<CxItem, CxOutputs> {
  readonly name = 'next-best-actions';
  readonly #rules: RuleEvaluator;
  readonly #policy: ContactPolicy;
  /** The open sessions' cart lines and checkout errors, for the signal context (taken when the session closes). */
  readonly #lines = new SessionEventBuffer<SessionLine>('journey-signal-context');
  readonly stores;
  readonly #evict = new Every();

  constructor(private readonly options: NextBestActionsOptions) {
    this.#rules = new RuleEvaluator(options.rules, options.sessionGapMs);
    this.#policy = new ContactPolicy(options.contactPolicy);
    this.stores = [this.#policy, this.#lines];
  }

  onItem(item: CxItem, out: Outputs<CxOutputs>, context: OperatorContext): void {
    if (context.partitionOf) this.#policy.partitionOf = context.partitionOf;
    if (item.kind === 'session_closed') {
      const { session, kpis } = item;
      const at = kpis.ended_at + this.options.sessionGapMs;
      // "Other sessions in the last 7 days" do not count the closing one (already in the history).
      const lines = () => this.#lines.peek(item.key, session.start, session.last);
      item.firings.push(...this.#rules.onSessionClosed(kpis, session.accumulator, () => this.#journeyFacts(session.key, session, at, kpis.session_id), lines));
      this.#lines.take(item.key, item.partition, session.start, session.last);
      this.#decide(item.firings, 'session_closed', out, context);
      return;
    }
    // A late event changes no closed session and fires nothing; a handed-over copy was judged where it first arrived
    // (its KPIs are in the customer's live session, which the rules read at the customer's next event).
    if (item.kind !== 'event' || item.late || item.handedOver) return;
    const { event, key, session } = item;
    if (session) {
      if (event.type === 'add_to_cart') this.#lines.add(key, item.partition, [event.occurred_at, event.event_id, 'a', event.properties.product_id, event.properties.price, event.properties.quantity]);
      else if (event.type === 'checkout_error') this.#lines.add(key, item.partition, [event.occurred_at, event.event_id, 'e', event.properties.code]);
    }
    if (!this.#rules.hasEventRules(event.type)) return;
    const lines = () => (session ? this.#lines.peek(key, session.start, session.last) : []);
    item.firings.push(...this.#rules.onEvent(event, key, session, item.sentiment, () => this.#journeyFacts(key, session, event.occurred_at, null), lines));
    this.#decide(item.firings, 'event', out, context);
  }

  onWatermark(watermark: number): void {
    if (this.#evict.due(watermark)) this.#policy.evict(watermark);
  }

  reset(): void {
    this.#evict.reset();
  }

  /** Journey facts at `at`: closed history (but `closing`) plus the key's other open sessions that ended before it. */
  #journeyFacts(key: string, current: LiveSession | null, at: number, closing: string | null) {
    const open = this.options.sessions
      .sessionsOf(key)
      .filter((session) => session !== current)
      .map((session) => ({ last: session.last, converted: session.accumulator.converted, cartAbandoned: session.accumulator.cartAbandoned }));
    return journeyFactsAt(this.options.journeys.historyOf(key), open, at, closing);
  }

  /**
   * Higher priority first; the contact policy decides each customer-facing signal (internal ones are outside it,
   * CONTRACT §7); suppressed ones are recorded, emitted ones go to the topic.
   */
  #decide(firings: readonly Firing[], trigger: 'event' | 'session_closed', out: Outputs<CxOutputs>, context: OperatorContext): void {
    if (firings.length === 0) return;
    context.metrics.count('touchstream_rule_firings_total', firings.length, { operator: this.name, trigger });
    const now = context.wallClock();
    const signals = firings.flatMap((firing) => toSignals(firing, now));
    if (signals.length > 1) signals.sort(byPriority);
    let emitted = 0;
    for (const signal of signals) {
      // Internal actions (support, R&D, CRM) are outside consent and the contact policy. A customer-facing one passes
      // consent first: a signal the customer did not consent to never counts against the contact policy.
      const internal = signal.audience === 'internal';
      const gated = !internal && this.options.consent ? consentGate(signal, this.options.consent.store.get(signal.customer_id), this.options.consent.options) : signal;
      const decided = internal || gated.status === 'suppressed' ? gated : this.#policy.apply(signal);
      if (decided.status === 'emitted') emitted++;
      out.emit('signals', decided);
    }
    if (emitted > 0) context.metrics.count('touchstream_signals_total', emitted, { operator: this.name, status: 'emitted' });
    if (signals.length > emitted) context.metrics.count('touchstream_signals_total', signals.length - emitted, { operator: this.name, status: 'suppressed' });
  }
}

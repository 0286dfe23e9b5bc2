// Remembers, per customer, the anonymous ids identity stitching joined to them, so that erasing the customer also erases those anonymous journeys: each is kept under its own key, often on another input partition, so the stage asks for it with an erasure request of its own.
import type { ChainStage, OperatorContext, Outputs } from '../../../engine/index.ts';
import { KeyedStateStore } from '../../../engine/index.ts';
import type { ErasureRecord } from '../../../schemas/erasure.ts';
import type { CxItem, CxOutputs } from '../journey-items.ts';

/** The source of a request this stage makes: its own erasure does not ask again (no chains, no loops). */
export const LINKED_ERASURE_SOURCE = 'linked';

export interface LinkedVisitorsOptions {
  /** Anonymous ids remembered per customer, the first linked kept (default 32): a shared device's visitors stay bounded. */
  maxPerCustomer?: number;
  /**
   * The erasure request being applied to a key (the composition root knows it; the engine's `forget` carries the
   * key only): the follow-up requests are named after it, so erasure_log ties them to it.
   */
  requestOf?(key: string): ErasureRecord | undefined;
}

export class LinkedVisitors implements ChainStage<CxItem, CxOutputs> {
  readonly name = 'linked-visitors';
  /** Per customer key, the anonymous ids seen with it, in the order first seen. */
  readonly visitors = new KeyedStateStore<string[]>('journey-linked-visitors');
  readonly stores = [this.visitors];

  constructor(private readonly options: LinkedVisitorsOptions = {}) {}

  onItem(item: CxItem): void {
    if (item.kind !== 'event') return;
    // The customer's own events that carry an anonymous id: the login, what identity stitching copied or routed to them.
    const anonymous = item.event.anonymous_id;
    if (anonymous === null || anonymous === undefined || anonymous === item.key || item.event.customer_id !== item.key) return;
    const linked = this.visitors.get(item.key) ?? [];
    if (linked.includes(anonymous) || linked.length >= (this.options.maxPerCustomer ?? 32)) return;
    this.visitors.put(item.partition, item.key, [...linked, anonymous]);
  }

  /**
   * An erasure of the customer: one request per linked anonymous id, onto the input topic keyed by that id (output
   * `erasure_requests`), so each is applied on its own partition in its log order, by every stage and by the loader;
   * then the links go too.
   */
  forget(key: string, _partition: number, out: Outputs<CxOutputs>, context: OperatorContext): void {
    const linked = this.visitors.get(key);
    this.visitors.forget(key);
    if (!linked) return;
    const request = this.options.requestOf?.(key);
    if (request?.source === LINKED_ERASURE_SOURCE) return;
    const requestedAt = request?.requested_at ?? context.wallClock();
    const requestId = request?.request_id ?? `erasure-${requestedAt}`;
    linked.forEach((anonymous, index) => {
      out.emit('erasure_requests', { request_id: `${requestId}-linked-${index + 1}`, customer_id: anonymous, requested_at: requestedAt, source: LINKED_ERASURE_SOURCE });
    });
    context.metrics.count('touchstream_linked_erasures_requested_total', linked.length);
  }

  gauges(): Record<string, number> {
    return { linked_visitor_customers: this.visitors.size };
  }
}

// The contact policy (CONTRACT §4): per customer at most N emitted signals in any 24 h, the same action at most once per 24 h; a checkpointed state store.
import type { StateChange, StateStore } from '../../engine/index.ts';
import type { Signal } from '../../schemas/outputs.ts';

export interface ContactPolicyOptions {
  maxPerWindow: number;
  windowMs: number;
}

export const DEFAULT_CONTACT_POLICY: ContactPolicyOptions = { maxPerWindow: 3, windowMs: 24 * 60 * 60 * 1000 };

export class ContactPolicy implements StateStore {
  readonly name = 'contact-policy';
  /** Emitted signals per customer within the window, in triggered_at order. */
  readonly #recent = new Map<string, Array<{ action: string; at: number }>>();
  readonly #changed = new Set<string>();
  /** The input partition a customer's records come from (the operator sets it from its context). */
  partitionOf: (customerId: string) => number = () => 0;

  constructor(private readonly options: ContactPolicyOptions = DEFAULT_CONTACT_POLICY) {}

  changes(): StateChange[] {
    const changes = [...this.#changed].map((customer) => ({ store: this.name, partition: this.partitionOf(customer), key: customer, value: this.#recent.get(customer) ?? null }));
    this.#changed.clear();
    return changes;
  }

  restore(_partition: number, entries: ReadonlyMap<string, unknown>): void {
    for (const [customer, recent] of entries) this.#recent.set(customer, recent as Array<{ action: string; at: number }>);
  }

  clear(): void {
    this.#recent.clear();
    this.#changed.clear();
  }

  /** Decides a signal's status and records it when emitted. Call in triggered_at order per customer. */
  apply(signal: Signal): Signal {
    const { windowMs, maxPerWindow } = this.options;
    const recent = (this.#recent.get(signal.customer_id) ?? []).filter((entry) => entry.at > signal.triggered_at - windowMs);
    const allowed = recent.length < maxPerWindow && !recent.some((entry) => entry.action === signal.action);
    if (allowed) recent.push({ action: signal.action, at: signal.triggered_at });
    this.#changed.add(signal.customer_id);
    if (recent.length > 0) this.#recent.set(signal.customer_id, recent);
    else this.#recent.delete(signal.customer_id);
    return allowed ? signal : { ...signal, status: 'suppressed' };
  }

  /** Forgets one customer's contact history (an erasure): the next checkpoint writes its tombstone. */
  forget(customer: string): void {
    if (this.#recent.delete(customer) || this.#changed.has(customer)) this.#changed.add(customer);
  }

  /** Forgets customers whose last emitted signal is older than the window behind the watermark. */
  evict(watermark: number): void {
    for (const [customer, recent] of this.#recent) {
      if (recent[recent.length - 1]!.at <= watermark - this.options.windowMs) {
        this.#recent.delete(customer);
        this.#changed.add(customer);
      }
    }
  }

  get size(): number {
    return this.#recent.size;
  }
}

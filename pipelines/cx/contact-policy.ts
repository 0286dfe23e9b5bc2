// The contact policy (CONTRACT §4): per customer at most N emitted signals in any 24 h, the same action at most once per 24 h.
import type { Signal } from '../../schemas/outputs.ts';

export interface ContactPolicyOptions {
  maxPerWindow: number;
  windowMs: number;
}

export const DEFAULT_CONTACT_POLICY: ContactPolicyOptions = { maxPerWindow: 3, windowMs: 24 * 60 * 60 * 1000 };

export class ContactPolicy {
  /** Emitted signals per customer within the window, in triggered_at order. */
  readonly #recent = new Map<string, Array<{ action: string; at: number }>>();

  constructor(private readonly options: ContactPolicyOptions = DEFAULT_CONTACT_POLICY) {}

  /** Decides a signal's status and records it when emitted. Call in triggered_at order per customer. */
  apply(signal: Signal): Signal {
    const { windowMs, maxPerWindow } = this.options;
    const recent = (this.#recent.get(signal.customer_id) ?? []).filter((entry) => entry.at > signal.triggered_at - windowMs);
    const allowed = recent.length < maxPerWindow && !recent.some((entry) => entry.action === signal.action);
    if (allowed) recent.push({ action: signal.action, at: signal.triggered_at });
    if (recent.length > 0) this.#recent.set(signal.customer_id, recent);
    else this.#recent.delete(signal.customer_id);
    return allowed ? signal : { ...signal, status: 'suppressed' };
  }

  /** Forgets customers whose last emitted signal is older than the window behind the watermark. */
  evict(watermark: number): void {
    for (const [customer, recent] of this.#recent) {
      if (recent[recent.length - 1]!.at <= watermark - this.options.windowMs) this.#recent.delete(customer);
    }
  }

  get size(): number {
    return this.#recent.size;
  }
}

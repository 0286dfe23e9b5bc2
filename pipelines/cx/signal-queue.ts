// Holds fired signals until the watermark passes their triggered_at, then applies the contact policy in triggered_at order (higher priority first on ties).
import type { Signal } from '../../schemas/outputs.ts';
import type { ContactPolicy } from './contact-policy.ts';

/**
 * Why wait for the watermark: signals of one customer come from events (processed in partition order) and
 * from sessions closing (when the global watermark passes them). Deciding the policy only once no earlier
 * signal can still appear makes `emitted`/`suppressed` the same on every run, batch size and partition count.
 * The cost is the out-of-orderness bound (5 s by default) of latency.
 */
export class SignalQueue {
  /** Plain signal objects, in arrival order (serialisable). */
  readonly #pending: Signal[] = [];

  constructor(private readonly policy: ContactPolicy) {}

  get size(): number {
    return this.#pending.length;
  }

  add(signal: Signal): void {
    this.#pending.push(signal);
  }

  /** Decides and hands out every signal triggered before the watermark. */
  release(watermark: number, emittedAt: number, emit: (signal: Signal) => void): void {
    if (this.#pending.length === 0) return;
    const due: Signal[] = [];
    let kept = 0;
    for (const signal of this.#pending) {
      if (signal.triggered_at < watermark) due.push(signal);
      else this.#pending[kept++] = signal;
    }
    this.#pending.length = kept;
    due.sort((a, b) => a.triggered_at - b.triggered_at || b.priority - a.priority || (a.signal_id < b.signal_id ? -1 : a.signal_id > b.signal_id ? 1 : 0));
    for (const signal of due) emit(this.policy.apply({ ...signal, emitted_at: emittedAt }));
  }
}

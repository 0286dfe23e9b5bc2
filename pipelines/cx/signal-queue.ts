// Holds fired signals until the watermark passes their triggered_at, then applies the contact policy in triggered_at order (higher priority first on ties); a checkpointed state store.
import type { Signal } from '../../schemas/outputs.ts';
import type { ContactPolicy } from './contact-policy.ts';
import { PendingStore } from './pending-by-customer.ts';

const bySignalOrder = (a: Signal, b: Signal) =>
  a.triggered_at - b.triggered_at || b.priority - a.priority || (a.signal_id < b.signal_id ? -1 : a.signal_id > b.signal_id ? 1 : 0);

/**
 * Why wait for the watermark: signals of one customer come from events (processed in partition order) and
 * from sessions closing (when the global watermark passes them). Deciding the policy only once no earlier
 * signal can still appear makes `emitted`/`suppressed` the same on every run, batch size and partition count.
 * The cost is the out-of-orderness bound (5 s by default) of latency.
 * State: the waiting signals per customer, checkpointed in the customer's input partition.
 */
export class SignalQueue extends PendingStore<Signal> {
  constructor(
    private readonly policy: ContactPolicy,
    name = 'journey-signal-queue',
  ) {
    super(name);
  }

  /** Queues a signal; `partition` is the input partition of its customer's records. */
  add(signal: Signal, partition: number): void {
    this.pending.add(signal.customer_id, partition, signal);
  }

  /** Decides and hands out every signal triggered before the watermark. */
  release(watermark: number, emittedAt: number, emit: (signal: Signal) => void): void {
    const due = this.pending.takeDue((signal) => signal.triggered_at < watermark).sort(bySignalOrder);
    for (const signal of due) emit(this.policy.apply({ ...signal, emitted_at: emittedAt }));
  }
}

// What the live-serving API reads besides the open sessions and the journey history: each customer's last closed session (its full KPI row) and its open (emitted, unexpired) signals; checkpointed stores.
import type { ChainStage, StateChange, StateStore } from '../../../engine/index.ts';
import { KeyedStateStore } from '../../../engine/index.ts';
import type { SessionKpis, Signal } from '../../../schemas/outputs.ts';
import type { CxItem, CxOutputs } from '../journey-items.ts';
import { Every } from './every.ts';

/** Open signals kept per customer at most (the contact policy emits ≤ 3 a day; the longest expiry is 48 h). */
const MAX_OPEN_SIGNALS = 10;

export interface ServingStateOptions {
  /** How long (event time, behind the watermark) a customer's last closed session is kept for the API; default 24 h. */
  lastSessionHorizonMs?: number;
}

/** One KPI row per customer: the last session that closed, until it is `horizonMs` behind the watermark. */
export class LastSessions implements StateStore {
  readonly #sessions = new KeyedStateStore<SessionKpis>('journey-last-sessions');

  constructor(private readonly horizonMs: number) {}

  get name(): string {
    return this.#sessions.name;
  }

  get size(): number {
    return this.#sessions.size;
  }

  of(key: string): SessionKpis | undefined {
    return this.#sessions.get(key);
  }

  /** Keeps the later of the one held and `kpis` (a late-closing earlier session never replaces a later one). */
  closed(key: string, kpis: SessionKpis, partition: number): void {
    const held = this.#sessions.get(key);
    if (held && held.ended_at > kpis.ended_at) return;
    this.#sessions.put(partition, key, kpis);
  }

  evict(watermark: number): void {
    const limit = watermark - this.horizonMs;
    for (const [key, { value }] of this.#sessions.entries()) if (value.ended_at < limit) this.#sessions.delete(key);
  }

  changes(): StateChange[] {
    return this.#sessions.changes();
  }

  restore(partition: number, entries: ReadonlyMap<string, unknown>): void {
    this.#sessions.restore(partition, entries);
  }

  clear(): void {
    this.#sessions.clear();
  }

  /** An erasure: the customer's last session goes (a tombstone on the changelog). */
  forget(key: string): void {
    this.#sessions.delete(key);
  }
}

/** Per customer, the signals the contact policy emitted whose `expires_at` the watermark has not passed (newest kept). */
export class OpenSignals implements StateStore {
  readonly #signals = new KeyedStateStore<Signal[]>('journey-open-signals');

  get name(): string {
    return this.#signals.name;
  }

  get size(): number {
    return this.#signals.size;
  }

  of(key: string): readonly Signal[] | undefined {
    return this.#signals.get(key);
  }

  /** Records an emitted signal (others are ignored); the same signal_id again (a replay of the input) replaces it. */
  emitted(signal: Signal, partition: number): void {
    if (signal.status !== 'emitted') return;
    const kept = (this.#signals.get(signal.customer_id) ?? []).filter((held) => held.signal_id !== signal.signal_id);
    kept.push(signal);
    if (kept.length > MAX_OPEN_SIGNALS) kept.splice(0, kept.length - MAX_OPEN_SIGNALS);
    this.#signals.put(partition, signal.customer_id, kept);
  }

  /** Forgets signals that expired by the watermark (event time), and customers with none left. */
  evict(watermark: number): void {
    for (const [key, { partition, value }] of this.#signals.entries()) {
      const open = value.filter((signal) => signal.expires_at > watermark);
      if (open.length === value.length) continue;
      if (open.length === 0) this.#signals.delete(key);
      else this.#signals.put(partition, key, open);
    }
  }

  changes(): StateChange[] {
    return this.#signals.changes();
  }

  restore(partition: number, entries: ReadonlyMap<string, unknown>): void {
    this.#signals.restore(partition, entries);
  }

  clear(): void {
    this.#signals.clear();
  }

  /** An erasure: the customer's open signals go (a tombstone on the changelog). */
  forget(key: string): void {
    this.#signals.delete(key);
  }
}

/**
 * Placed after the campaigns stage (it completes a closed session's row with its first/last campaign). The journey
 * operator hands it the signals the next-best-actions stage emits (`OpenSignals.emitted`).
 */
export class ServingState implements ChainStage<CxItem, CxOutputs> {
  readonly name = 'serving-state';
  readonly lastSessions: LastSessions;
  readonly openSignals = new OpenSignals();
  readonly stores: readonly StateStore[];
  readonly #evict = new Every();

  constructor(options: ServingStateOptions = {}) {
    this.lastSessions = new LastSessions(options.lastSessionHorizonMs ?? 24 * 60 * 60_000);
    this.stores = [this.lastSessions, this.openSignals];
  }

  onItem(item: CxItem): void {
    if (item.kind === 'session_closed') this.lastSessions.closed(item.key, item.kpis, item.partition);
  }

  onWatermark(watermark: number): void {
    // The end of bounded input (Infinity) keeps what it closed: the job ends there anyway.
    if (!Number.isFinite(watermark) || !this.#evict.due(watermark)) return;
    this.lastSessions.evict(watermark);
    this.openSignals.evict(watermark);
  }

  reset(): void {
    this.#evict.reset();
  }

  gauges(): Record<string, number> {
    return { serving_last_sessions: this.lastSessions.size, serving_open_signals_customers: this.openSignals.size };
  }
}

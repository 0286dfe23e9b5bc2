// Consent per customer (CONTRACT §6): the latest stated analytics and marketing consent, a checkpointed state store; what it means for signals (no_consent) and for per-person rows.
import { KeyedStateStore } from '../../engine/index.ts';
import type { Outputs } from '../../engine/index.ts';
import type { CxOutputs } from './journey-items.ts';
import type { Channel, Consent, CxEvent } from '../../schemas/events.ts';
import type { Signal } from '../../schemas/outputs.ts';

/** Channels whose signals are marketing (CONTRACT §6: e-mail, ads). */
export const MARKETING_CHANNELS: ReadonlySet<Channel> = new Set<Channel>(['email', 'ads']);

/** The reason a signal suppressed for want of consent carries. */
export const NO_CONSENT = 'no_consent';

export interface ConsentOptions {
  /**
   * Marketing needs an explicit `marketing: true` (opt-in); without it (default) only a stated `marketing: false`
   * suppresses, for deployments whose consent is managed before events reach touchstream.
   */
  marketingOptIn: boolean;
}

export const DEFAULT_CONSENT: ConsentOptions = { marketingOptIn: false };

/**
 * Analytics consent as of a place in the log, for an operator after the journey in the same batch (purchase
 * attribution): it runs once the journey has read the whole batch, so "the latest stated" must be read back to the
 * record's own offset or the answer would depend on where the batch ended.
 */
export interface AnalyticsConsentView {
  /** Whether the key's analytics consent allowed per-person rows just after the record at `offset` of its partition. */
  analyticsAllowedAt(key: string, offset: number): boolean;
}

/** Per customer key, the latest stated value of each purpose, in log order; null: never stated. */
export class ConsentStore extends KeyedStateStore<Consent> implements AnalyticsConsentView {
  /**
   * This batch's changes of analytics consent per key, in log order, with the value before each: enough to answer
   * `analyticsAllowedAt` for any record of the batch. Not state (it never outlives the batch): cleared by `startBatch`.
   */
  readonly #changes = new Map<string, Array<{ offset: number; before: boolean | null }>>();

  constructor(name = 'journey-consent') {
    super(name);
  }

  /** A new input batch: the previous one's changes are no longer asked for. */
  startBatch(): void {
    this.#changes.clear();
  }

  /** Records what an event states (a purpose it leaves null keeps its earlier value); `offset`: the event's place in its partition. */
  record(key: string, partition: number, consent: Consent, offset?: number): void {
    const known = this.get(key);
    const next = { analytics: consent.analytics ?? known?.analytics ?? null, marketing: consent.marketing ?? known?.marketing ?? null };
    if (known && known.analytics === next.analytics && known.marketing === next.marketing) return;
    if (offset !== undefined && (known?.analytics ?? null) !== next.analytics) {
      const changes = this.#changes.get(key) ?? [];
      changes.push({ offset, before: known?.analytics ?? null });
      this.#changes.set(key, changes);
    }
    this.put(partition, key, next);
  }

  /** Whether the customer's data may be kept per person for analytics: unless they said no. */
  analyticsAllowed(key: string): boolean {
    return this.get(key)?.analytics !== false;
  }

  analyticsAllowedAt(key: string, offset: number): boolean {
    // The first change after the record tells what held at the record; without one, the latest value does.
    const later = this.#changes.get(key)?.find((change) => change.offset > offset);
    return (later ? later.before : (this.get(key)?.analytics ?? null)) !== false;
  }

  override forget(key: string): void {
    this.#changes.delete(key);
    super.forget(key);
  }

  override clear(): void {
    this.#changes.clear();
    super.clear();
  }
}

/** Decides a signal by consent: a marketing-channel signal without marketing consent is suppressed, reason no_consent. */
export function consentGate(signal: Signal, consent: Consent | undefined, options: ConsentOptions): Signal {
  if (!MARKETING_CHANNELS.has(signal.channel)) return signal;
  const marketing = consent?.marketing ?? null;
  const allowed = options.marketingOptIn ? marketing === true : marketing !== false;
  return allowed ? signal : { ...signal, status: 'suppressed', reason: NO_CONSENT };
}

/** Whether an event (with what it states itself) may be kept per person. */
export function eventAnalyticsAllowed(event: CxEvent, store: ConsentStore, key: string): boolean {
  const own = event.consent?.analytics;
  return own === false ? false : own === true ? true : store.analyticsAllowed(key);
}

/**
 * Whether an event at `offset` of its partition may be kept per person, read after the journey took the batch: its own
 * statement first, else what held at that place in the log.
 */
export function eventAnalyticsAllowedAt(event: CxEvent, view: AnalyticsConsentView, key: string, offset: number): boolean {
  const own = event.consent?.analytics;
  return own === false ? false : own === true ? true : view.analyticsAllowedAt(key, offset);
}

/** Per-person outputs of the journey: their rows carry the customer; without analytics consent they are kept without them. */
const PER_PERSON = new Set<keyof CxOutputs>(['sessions', 'feedback', 'social_mentions', 'channel_switches', 'page_views', 'video_engagement', 'campaign_kpis']);

/**
 * The analytics rule (docs/privacy.md): a row about a customer whose analytics consent is `false` (an event's own
 * statement first, else the latest stated) is written without them, `customer_id` empty (and an event's
 * `anonymous_id` null): it still counts in every aggregate, and links to no one. Signals, dead letters and the
 * aggregates themselves pass unchanged.
 */
export function withoutPersonWhereNoAnalytics(out: Outputs<CxOutputs>, store: ConsentStore, metrics?: { count(name: string, value: number, labels?: Record<string, string>): void }): Outputs<CxOutputs> {
  return {
    emit(output, value) {
      if (output === 'events') {
        const row = value as CxOutputs['events'];
        const key = row.event.customer_id ?? row.event.anonymous_id ?? '';
        if (!eventAnalyticsAllowed(row.event, store, key)) {
          metrics?.count('touchstream_rows_deidentified_total', 1, { output });
          return out.emit('events', { ...row, event: { ...row.event, customer_id: '', anonymous_id: null } } as CxOutputs['events']);
        }
      } else if (PER_PERSON.has(output)) {
        const row = value as { customer_id: string };
        if (!store.analyticsAllowed(row.customer_id)) {
          metrics?.count('touchstream_rows_deidentified_total', 1, { output: String(output) });
          return out.emit(output, { ...row, customer_id: '' } as CxOutputs[typeof output]);
        }
      }
      out.emit(output, value);
    },
  };
}

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

/** Per customer key, the latest stated value of each purpose, in log order; null: never stated. */
export class ConsentStore extends KeyedStateStore<Consent> {
  constructor(name = 'journey-consent') {
    super(name);
  }

  /** Records what an event states (a purpose it leaves null keeps its earlier value). */
  record(key: string, partition: number, consent: Consent): void {
    const known = this.get(key);
    const next = { analytics: consent.analytics ?? known?.analytics ?? null, marketing: consent.marketing ?? known?.marketing ?? null };
    if (known && known.analytics === next.analytics && known.marketing === next.marketing) return;
    this.put(partition, key, next);
  }

  /** Whether the customer's data may be kept per person for analytics: unless they said no. */
  analyticsAllowed(key: string): boolean {
    return this.get(key)?.analytics !== false;
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

// Keeps each customer's consent (the latest stated per purpose, in log order) for the stages after it: first in the chain, so an event's own consent applies to what it triggers.
import type { ChainStage } from '../../../engine/index.ts';
import { ConsentStore } from '../consent.ts';
import type { CxItem, CxOutputs } from '../journey-items.ts';

export class ConsentTracking implements ChainStage<CxItem, CxOutputs> {
  readonly name = 'consent';
  readonly consent = new ConsentStore();
  readonly stores = [this.consent];

  onItem(item: CxItem): void {
    // A late event's consent counts too: consent is the customer's, not the session's.
    if (item.kind === 'event' && item.event.consent) this.consent.record(item.key, item.partition, item.event.consent, item.record.offset);
  }

  gauges(): Record<string, number> {
    return { consent_customers: this.consent.size };
  }
}

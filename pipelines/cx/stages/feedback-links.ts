// The X+O link and channel switches as chain stages: survey responses and contacts wait for their partition's watermark, then join the customer's closed sessions.
import type { ChainStage, Outputs } from '../../../engine/index.ts';
import type { FeedbackRow } from '../../../schemas/analytics-outputs.ts';
import type { CustomerJourneys } from '../customer-journeys.ts';
import { ChannelSwitchDetector } from '../channel-switches.ts';
import { FeedbackLinker } from '../feedback-link.ts';
import type { CxItem, CxOutputs } from '../journey-items.ts';

export class FeedbackLinks implements ChainStage<CxItem, CxOutputs> {
  readonly name = 'feedback-links';
  readonly #feedback: FeedbackLinker;
  readonly stores;

  constructor(
    private readonly journeys: CustomerJourneys,
    sessionGapMs: number,
    /** Told each row as it is released (e.g. the key-driver analysis). */
    private readonly onLinked: ReadonlyArray<(row: FeedbackRow, partition: number) => void> = [],
  ) {
    this.#feedback = new FeedbackLinker(sessionGapMs);
    this.stores = [this.#feedback];
  }

  onItem(item: CxItem): void {
    if (item.kind === 'event' && !item.late && item.event.type === 'survey_response') this.#feedback.add(item.event, item.key, item.sentiment, item.partition);
  }

  onPartitionWatermark(partition: number, watermark: number, out: Outputs<CxOutputs>): void {
    this.#feedback.release(watermark, this.journeys, (row) => {
      out.emit('feedback', row);
      for (const listener of this.onLinked) listener(row, partition);
    }, partition);
  }

  gauges(): Record<string, number> {
    return { pending_feedback: this.#feedback.size };
  }
}

export class ChannelSwitches implements ChainStage<CxItem, CxOutputs> {
  readonly name = 'channel-switches';
  readonly #switches: ChannelSwitchDetector;
  readonly stores;

  constructor(private readonly journeys: CustomerJourneys, sessionGapMs: number) {
    this.#switches = new ChannelSwitchDetector(sessionGapMs);
    this.stores = [this.#switches];
  }

  onItem(item: CxItem): void {
    if (item.kind === 'event' && !item.late && item.event.type === 'contact') this.#switches.add(item.event, item.key, item.partition);
  }

  onPartitionWatermark(partition: number, watermark: number, out: Outputs<CxOutputs>): void {
    this.#switches.release(watermark, this.journeys, (row) => out.emit('channel_switches', row), partition);
  }

  gauges(): Record<string, number> {
    return { pending_contacts: this.#switches.size };
  }
}

// Key-driver analysis as a chain stage (CONTRACT §3): each linked feedback row with its session's journey KPIs feeds the analysis; it recomputes on the global watermark.
import type { ChainStage, OperatorContext, Outputs } from '../../../engine/index.ts';
import type { FeedbackRow } from '../../../schemas/analytics-outputs.ts';
import type { CustomerJourneys } from '../customer-journeys.ts';
import { DriverAnalysis } from '../driver-analysis.ts';
import type { DriverAnalysisConfig } from '../driver-analysis.ts';
import type { CxItem, CxOutputs } from '../journey-items.ts';
import { channelSwitchBefore, driverVectorOf } from '../key-drivers.ts';
import type { KeyDriverCompute } from '../key-drivers.ts';

export class KeyDrivers implements ChainStage<CxItem, CxOutputs> {
  readonly name = 'key-drivers';
  readonly #analysis: DriverAnalysis;
  readonly stores;
  #lateReported = 0;

  constructor(
    config: DriverAnalysisConfig,
    sessionGapMs: number,
    private readonly journeys: CustomerJourneys,
    compute?: KeyDriverCompute,
  ) {
    this.#analysis = new DriverAnalysis(config, sessionGapMs, compute);
    this.stores = [this.#analysis];
  }

  /** A feedback row the X+O link released: with a linked session, a response of the analysis. */
  onFeedback(row: FeedbackRow, partition: number): void {
    if (row.session_id === null) return;
    const history = this.journeys.historyOf(row.customer_id);
    const session = history?.sessions.find((candidate) => candidate.session_id === row.session_id);
    if (!history || !session) return;
    const drivers = driverVectorOf(
      {
        ended_at: session.ended_at,
        duration_ms: session.ended_at - session.started_at,
        page_views: session.page_views ?? 0,
        cart_abandoned: session.cart_abandoned,
        checkout_errors: session.checkout_errors,
        help_views: session.help_views,
        videos_completed: session.videos_completed ?? 0,
      },
      channelSwitchBefore(session, history.contacts, row.responded_at),
    );
    this.#analysis.add(row, drivers, partition);
  }

  onWatermark(watermark: number, out: Outputs<CxOutputs>, context: OperatorContext): void {
    this.#analysis.release(watermark);
    if (this.#analysis.late > this.#lateReported) {
      context.metrics.count('touchstream_driver_analysis_late_total', this.#analysis.late - this.#lateReported, { operator: this.name });
      this.#lateReported = this.#analysis.late;
    }
  }

  /** The rows of the computations started on the watermarks since the last checkpoint (they ran off the loop meanwhile). */
  async drain(out: Outputs<CxOutputs>): Promise<void> {
    if (this.#analysis.running) await this.#analysis.drain((row) => out.emit('driver_analysis', row));
  }

  gauges(): Record<string, number> {
    return { driver_analysis_responses: this.#analysis.size };
  }
}

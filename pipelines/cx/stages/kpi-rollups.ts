// Per-minute KPI rollups per channel and touchpoint (CONTRACT §3), released on the global watermark; and KPI anomaly alerts over the same flow.
import type { ChainStage, OperatorContext, Outputs } from '../../../engine/index.ts';
import type { AnomalyDetector } from '../anomaly-detector.ts';
import type { CxItem, CxOutputs } from '../journey-items.ts';
import { KpiRollup } from '../kpi-rollup.ts';

export class KpiRollups implements ChainStage<CxItem, CxOutputs> {
  readonly name = 'kpi-rollups';
  readonly #rollup: KpiRollup;
  readonly stores;
  #lateReported = 0;

  constructor(sessionGapMs: number) {
    this.#rollup = new KpiRollup(sessionGapMs);
    this.stores = [this.#rollup];
  }

  /** Every accepted event counts, late ones included (a handed-over copy counted where it first arrived); a session counts when it closes. */
  onItem(item: CxItem): void {
    if (item.kind === 'event') {
      if (!item.handedOver) this.#rollup.addEvent(item.event, item.partition);
    } else if (item.kind === 'session_closed') this.#rollup.addSession(item.kpis, item.session.accumulator.touchpoint, item.partition);
  }

  onWatermark(watermark: number, out: Outputs<CxOutputs>, context: OperatorContext): void {
    this.#rollup.release(watermark, (row) => out.emit('kpi_minute', row));
    if (this.#rollup.late > this.#lateReported) {
      context.metrics.count('touchstream_rollup_late_total', this.#rollup.late - this.#lateReported, { operator: this.name });
      this.#lateReported = this.#rollup.late;
    }
  }

  gauges(): Record<string, number> {
    return { open_rollup_minutes: this.#rollup.size };
  }
}

/** KPI rates per window against their baseline (optional); alerts (output `alerts`, not signals) on the global watermark. */
export class KpiAnomalies implements ChainStage<CxItem, CxOutputs> {
  readonly name = 'kpi-anomalies';
  readonly stores;

  constructor(private readonly detector: AnomalyDetector) {
    this.stores = [detector];
  }

  onItem(item: CxItem): void {
    if (item.kind === 'session_closed') this.detector.addSession(item.kpis, item.partition);
    else if (item.kind === 'event' && !item.late && !item.handedOver) this.detector.addEvent(item.event, item.sentiment, item.partition);
  }

  onWatermark(watermark: number, out: Outputs<CxOutputs>, context: OperatorContext): void {
    this.detector.release(watermark, context.wallClock(), (alert) => out.emit('alerts', alert));
  }
}

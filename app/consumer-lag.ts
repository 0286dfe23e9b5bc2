// Consumer lag for SREs: the log's end offsets minus the group's committed offsets, per partition, sampled on an interval.
import type { Metrics } from '../engine/metrics.ts';
import type { Log, PartitionOffset } from '../log/log.ts';

export class ConsumerLag {
  readonly #committed = new Map<number, number>();
  #total: number | null = null;

  constructor(
    private readonly log: Log,
    private readonly topic: string,
    private readonly metrics: Metrics,
  ) {}

  /** Records committed offsets (the runner's onCommit). */
  committed(offsets: readonly PartitionOffset[]): void {
    for (const { partition, offset } of offsets) this.#committed.set(partition, offset);
  }

  /** Total lag at the last sample; null before the first one (not known to be caught up). */
  get total(): number | null {
    return this.#total;
  }

  /** Reads the end offsets once and reports lag per partition and in total. */
  async sample(): Promise<number> {
    let total = 0;
    for (const { partition, offset } of await this.log.endOffsets(this.topic)) {
      const lag = Math.max(0, offset - (this.#committed.get(partition) ?? 0));
      total += lag;
      this.metrics.gauge('touchstream_consumer_lag', lag, { topic: this.topic, partition: String(partition) });
    }
    this.#total = total;
    return total;
  }

  /** Samples every `intervalMs` until `signal` aborts; a failed sample keeps the last value. */
  every(intervalMs: number, signal: AbortSignal): void {
    const timer = setInterval(() => void this.sample().catch(() => {}), intervalMs);
    timer.unref();
    signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  }
}

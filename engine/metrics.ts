// The one metrics surface every stage reports through; the composition root backs it with Prometheus or a test recorder.

export type Labels = Record<string, string>;

export interface Metrics {
  /** Adds to a counter (things taken in, emitted, rejected, retried). */
  count(name: string, value: number, labels?: Labels): void;
  /** Sets a gauge (watermark, live sessions, lag). */
  gauge(name: string, value: number, labels?: Labels): void;
  /** Records one observation of a histogram (latency, batch size). */
  observe(name: string, value: number, labels?: Labels): void;
}

export const noMetrics: Metrics = { count() {}, gauge() {}, observe() {} };

/** Keeps totals in memory: for the CLI summary and for tests. */
export class MetricsRecorder implements Metrics {
  readonly counters = new Map<string, number>();
  readonly gauges = new Map<string, number>();

  count(name: string, value: number, labels?: Labels): void {
    const key = keyOf(name, labels);
    this.counters.set(key, (this.counters.get(key) ?? 0) + value);
  }

  gauge(name: string, value: number, labels?: Labels): void {
    this.gauges.set(keyOf(name, labels), value);
  }

  observe(): void {}

  /** Sum of a counter over all label sets. */
  total(name: string): number {
    let sum = 0;
    for (const [key, value] of this.counters) if (key === name || key.startsWith(`${name}{`)) sum += value;
    return sum;
  }
}

function keyOf(name: string, labels?: Labels): string {
  if (!labels) return name;
  const parts = Object.keys(labels)
    .sort()
    .map((label) => `${label}="${labels[label]}"`);
  return `${name}{${parts.join(',')}}`;
}

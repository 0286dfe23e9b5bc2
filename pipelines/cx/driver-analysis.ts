// Key drivers recomputed as linked responses arrive (CONTRACT §3, table `driver_analysis`): a bounded sample per survey metric, checkpointed per input partition, released on the global watermark.
import { z } from 'zod';
import { KeyedStateStore } from '../../engine/index.ts';
import type { StateChange, StateStore } from '../../engine/index.ts';
import type { DriverAnalysisRow, FeedbackRow } from '../../schemas/analytics-outputs.ts';
import type { SurveyMetric } from '../../schemas/events.ts';
import type { DriverVector, KeyDriverCompute, KeyDriverResult } from './key-drivers.ts';
import { computeKeyDriversHere, KEY_DRIVERS, seedOf } from './key-drivers.ts';

export const driverAnalysisConfigSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** No computation for a metric before its sample holds this many linked responses. */
    minResponses: z.coerce.number().int().min(10).default(30),
    /** The sample: the latest this many linked responses per metric (by response time); older ones are forgotten. */
    sampleSize: z.coerce.number().int().min(10).default(1000),
    /** Recompute after this many new responses of a metric… */
    everyResponses: z.coerce.number().int().min(1).default(500),
    /** …or at each boundary of this much event time that new responses came before. */
    everyMs: z.coerce.number().int().min(60_000).default(60 * 60_000),
    resamples: z.coerce.number().int().min(20).default(200),
    permutations: z.coerce.number().int().min(20).default(200),
    confidence: z.coerce.number().gt(0).lt(1).default(0.95),
    alpha: z.coerce.number().gt(0).lt(1).default(0.05),
    /** Mixed with the metric and computed_at into each computation's seed. */
    seed: z.coerce.number().int().default(16),
    /** Compute in a worker thread of the process, off the event loop (the composition root provides it). */
    offThread: z.boolean().default(true),
  })
  .prefault({});
export type DriverAnalysisConfig = z.output<typeof driverAnalysisConfigSchema>;

/** The store the responses' driver vectors and the computation marks are checkpointed in. */
export const DRIVER_ANALYSIS_STORE = 'journey-driver-responses';

const METRICS: readonly SurveyMetric[] = ['nps', 'csat', 'ces'];

/** A linked response as the changelog holds it: [responded_at, score, ...drivers in KEY_DRIVERS order]. */
type ResponseEntry = number[];

interface Response {
  id: string;
  customer: string;
  at: number;
  score: number;
  drivers: number[];
}

/** Where a metric's computations have got to: the last response included (by time, then id) and the last computed_at; null before the first. */
interface Mark {
  cutAt: number | null;
  cutId: string | null;
  computedAt: number | null;
}

/** A computation started and not emitted yet: its rows go out in `drain`, in the order computations started. */
interface Running {
  metric: SurveyMetric;
  computedAt: number;
  result: Promise<KeyDriverResult>;
}

/** The customer is in the key so that an erasure finds the customer's responses. */
/** Key parts are joined by U+001F (printable in kcat; the rdkafka transport keeps NUL in keys too, since it sends them as bytes). */
const SEP = '\u001f';
const responseKey = (metric: SurveyMetric, customer: string, id: string) => `r${SEP}${metric}${SEP}${customer}${SEP}${id}`;
const markKey = (metric: SurveyMetric, partition: number) => `m${SEP}${metric}${SEP}${partition}`;
const compareIds = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const byTimeThenId = (a: Response, b: Response) => a.at - b.at || compareIds(a.id, b.id);
/** Whether response (at, id) comes after the mark's cut. */
const afterCut = (mark: Mark, at: number, id: string) => mark.cutAt === null || at > mark.cutAt || (at === mark.cutAt && id > mark.cutId!);

/**
 * Per survey metric, the key drivers of the score over the latest `sampleSize` linked responses (method: `keyDrivers`).
 *
 * Time: a response is final — no other linked response can still come before it — once the global watermark (the
 * minimum over input partitions; this is an aggregate across customers) has passed its time plus the session gap,
 * because the X+O link releases a response when its partition's watermark passes that. Final responses are taken
 * in (responded_at, response_event_id) order, and a computation runs at the `everyResponses`-th new one
 * (computed_at = its time) or at the first `everyMs` boundary of event time with new responses before it
 * (computed_at = the boundary), whichever comes first. So the computations, their samples and (seeded by metric and
 * computed_at) their rows are the same on every replay, whatever the batching and the interleaving of partitions.
 * A linked response at or before the last computation of its metric is late: counted and left out.
 *
 * State: each response's score and drivers under its input partition (one changelog entry keyed by metric, customer
 * and response; a tombstone once it leaves the sample or the customer is erased), and per partition and metric the
 * mark of the last computation (the same on all partitions; a restore takes the latest). Memory: the sample plus
 * the responses not computed yet.
 *
 * With several workers, each computes over the partitions it owns (like the anomaly baselines).
 */
export class DriverAnalysis implements StateStore {
  readonly #entries: KeyedStateStore<ResponseEntry | Mark>;
  /** Per metric: responses in the last computation's sample, in order, and responses after its cut, unordered. */
  readonly #sample = new Map<SurveyMetric, Response[]>();
  readonly #pending = new Map<SurveyMetric, Response[]>();
  /** The keys of the responses held, to recognise a duplicate. */
  readonly #held = new Set<string>();
  readonly #marks = new Map<SurveyMetric, Mark>();
  readonly #partitions = new Set<number>();
  #running: Running[] = [];
  /** The earliest pending response time (+∞: none), so `release` is cheap while nothing is final. */
  #earliestPending = Number.POSITIVE_INFINITY;
  late = 0;
  /** Computations run (including those with too few responses to emit rows). */
  computations = 0;

  constructor(
    private readonly config: DriverAnalysisConfig,
    private readonly sessionGapMs: number,
    private readonly compute: KeyDriverCompute = computeKeyDriversHere,
    readonly name = DRIVER_ANALYSIS_STORE,
  ) {
    this.#entries = new KeyedStateStore(name);
    this.#reset();
  }

  /** Responses held (sample and pending) over all metrics. */
  get size(): number {
    let size = 0;
    for (const metric of METRICS) size += this.#sample.get(metric)!.length + this.#pending.get(metric)!.length;
    return size;
  }

  /** A linked feedback row of input partition `partition` and its session's drivers; a row without a session (no link) is not a response here. */
  add(row: FeedbackRow, drivers: DriverVector, partition: number): void {
    if (!this.config.enabled || row.session_id === null) return;
    this.#partitions.add(partition);
    const mark = this.#marks.get(row.metric)!;
    if (!afterCut(mark, row.responded_at, row.response_event_id) || (mark.computedAt !== null && row.responded_at < mark.computedAt)) {
      this.late++;
      return;
    }
    const key = responseKey(row.metric, row.customer_id, row.response_event_id);
    if (this.#held.has(key)) return; // a duplicate of a response already held
    const vector = KEY_DRIVERS.map((driver) => drivers[driver]);
    this.#pending.get(row.metric)!.push({ id: row.response_event_id, customer: row.customer_id, at: row.responded_at, score: row.score, drivers: vector });
    this.#held.add(key);
    this.#entries.put(partition, key, [row.responded_at, row.score, ...vector]);
    if (row.responded_at < this.#earliestPending) this.#earliestPending = row.responded_at;
  }

  /**
   * Starts the computations that are due at this global watermark, metric by metric (nps, csat, ces), oldest first;
   * their rows come out of `drain`. The sample and the marks move on now, so the state checkpointed next is the
   * state after them.
   */
  release(globalWatermark: number): void {
    if (!this.config.enabled) return;
    const finalBefore = globalWatermark - this.sessionGapMs;
    if (!(this.#earliestPending < finalBefore)) return;
    this.#earliestPending = Number.POSITIVE_INFINITY;
    for (const metric of METRICS) {
      this.#releaseMetric(metric, finalBefore);
      for (const response of this.#pending.get(metric)!) if (response.at < this.#earliestPending) this.#earliestPending = response.at;
    }
  }

  #releaseMetric(metric: SurveyMetric, finalBefore: number): void {
    const pending = this.#pending.get(metric)!;
    const final = pending.filter((response) => response.at < finalBefore).sort(byTimeThenId);
    if (final.length === 0) return;
    const { everyMs, everyResponses } = this.config;
    const boundaryAfter = (time: number) => Math.floor(time / everyMs) * everyMs + everyMs;
    const mark = this.#marks.get(metric)!;
    let boundary = boundaryAfter(mark.computedAt ?? final[0]!.at);
    let taken = 0; // final[0 .. taken) went into computations
    let index = 0;
    while (index < final.length) {
      const response = final[index]!;
      if (response.at >= boundary) {
        if (index > taken) {
          this.#compute(metric, final.slice(taken, index), boundary);
          taken = index;
        }
        boundary = boundaryAfter(response.at);
        continue;
      }
      index++;
      if (index - taken >= everyResponses) {
        this.#compute(metric, final.slice(taken, index), response.at);
        taken = index;
      }
    }
    // The boundary after the last final response is itself final when every response before it is.
    if (final.length > taken && boundary <= finalBefore) {
      this.#compute(metric, final.slice(taken), boundary);
      taken = final.length;
    }
    if (taken === 0) return;
    const computed = new Set(final.slice(0, taken));
    this.#pending.set(metric, pending.filter((response) => !computed.has(response)));
  }

  /** Adds `added` (in order, after the cut) to the metric's sample, trims it, and starts the computation when it is large enough. */
  #compute(metric: SurveyMetric, added: Response[], computedAt: number): void {
    const sample = this.#sample.get(metric)!;
    sample.push(...added);
    const excess = sample.length - this.config.sampleSize;
    if (excess > 0) {
      for (const old of sample.splice(0, excess)) {
        const key = responseKey(metric, old.customer, old.id);
        this.#entries.delete(key);
        this.#held.delete(key);
      }
    }
    const last = added.at(-1)!;
    const mark: Mark = { cutAt: last.at, cutId: last.id, computedAt };
    this.#marks.set(metric, mark);
    for (const partition of this.#partitions) this.#entries.put(partition, markKey(metric, partition), mark);
    this.computations++;
    if (sample.length < this.config.minResponses) return;
    const { resamples, permutations, confidence, alpha, seed } = this.config;
    const result = this.compute({
      scores: sample.map((response) => response.score),
      rows: sample.map((response) => response.drivers),
      names: KEY_DRIVERS,
      options: { resamples, permutations, confidence, alpha, seed: seedOf(`${seed}\0${metric}\0${computedAt}`) },
    });
    result.catch(() => {}); // awaited in `drain`; dropped unawaited by `clear`
    this.#running.push({ metric, computedAt, result });
  }

  /** Whether computations are running whose rows `drain` has not emitted yet. */
  get running(): boolean {
    return this.#running.length > 0;
  }

  /** Waits for the computations started so far and emits a row per driver of each, in the order they started. */
  async drain(emit: (row: DriverAnalysisRow) => void): Promise<void> {
    const running = this.#running;
    this.#running = [];
    for (const { metric, computedAt, result: pending } of running) {
      const result = await pending;
      for (const driver of result.drivers) {
        emit({
          metric,
          driver: driver.driver,
          importance: driver.importance,
          ci_low: driver.ci_low,
          ci_high: driver.ci_high,
          responses: result.responses,
          computed_at: computedAt,
          effect: driver.effect,
          significant: driver.significant,
          r_squared: result.r_squared,
          p_value: result.p_value,
        });
      }
    }
  }

  /**
   * Erasure (CONTRACT §6): forgets the customer's held responses (and their changelog entries). Rows already
   * computed hold no customer data; later computations run without the customer's responses.
   */
  forgetCustomer(customer: string): void {
    for (const metric of METRICS) {
      for (const list of [this.#sample, this.#pending]) {
        const kept = list.get(metric)!.filter((response) => {
          if (response.customer !== customer) return true;
          const key = responseKey(metric, customer, response.id);
          this.#entries.delete(key);
          this.#held.delete(key);
          return false;
        });
        list.set(metric, kept);
      }
    }
  }

  /** The store hook of an erasure. */
  forget(customer: string): void {
    this.forgetCustomer(customer);
  }

  changes(): StateChange[] {
    return this.#entries.changes();
  }

  restore(partition: number, entries: ReadonlyMap<string, unknown>): void {
    this.#partitions.add(partition);
    this.#entries.restore(partition, entries);
    for (const [key, value] of entries) {
      const [kind, metric] = key.split(SEP) as [string, SurveyMetric];
      if (kind !== 'm' || !this.#marks.has(metric) || value === null) continue;
      const restored = value as Mark;
      if (restored.cutAt !== null && afterCut(this.#marks.get(metric)!, restored.cutAt, restored.cutId!)) this.#marks.set(metric, restored);
    }
    // Responses go to the sample or the pending list once the marks of this partition are in.
    for (const [key, value] of entries) {
      const [kind, metric, customer, id] = key.split(SEP) as [string, SurveyMetric, string, string];
      if (kind !== 'r' || !this.#pending.has(metric)) continue;
      const [at, score, ...drivers] = value as ResponseEntry;
      this.#held.add(key);
      this.#pending.get(metric)!.push({ id, customer, at: at!, score: score!, drivers });
    }
    // A mark of another partition may move the cut: re-split every metric (restores are rare).
    for (const metric of METRICS) {
      const mark = this.#marks.get(metric)!;
      const all = [...this.#sample.get(metric)!, ...this.#pending.get(metric)!];
      this.#sample.set(metric, all.filter((response) => !afterCut(mark, response.at, response.id)).sort(byTimeThenId));
      this.#pending.set(metric, all.filter((response) => afterCut(mark, response.at, response.id)));
    }
    this.#earliestPending = Number.NEGATIVE_INFINITY;
  }

  clear(): void {
    this.#entries.clear();
    this.#running = []; // their state is gone with the rest: a restore redoes them
    this.#reset();
  }

  #reset(): void {
    for (const metric of METRICS) {
      this.#sample.set(metric, []);
      this.#pending.set(metric, []);
      this.#marks.set(metric, { cutAt: null, cutId: null, computedAt: null });
    }
    this.#held.clear();
    this.#partitions.clear();
    this.#earliestPending = Number.POSITIVE_INFINITY;
  }
}

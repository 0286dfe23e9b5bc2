// Key-driver analysis (CONTRACT §3): the relative importance of journey KPIs for a survey score — LMG (Shapley) shares of R², bootstrap intervals, a permutation test; pure and seeded.

/**
 * The drivers, each a `sessions` column of the linked session (CONTRACT §2), except `channel_switch`: 1 when the
 * session was followed, within 24 h and before the response, by a contact of the customer and had help views or
 * checkout errors (the "tried online before calling" of CONTRACT §3), see `channelSwitchBefore`.
 */
export const KEY_DRIVERS = ['checkout_errors', 'help_views', 'videos_completed', 'duration_ms', 'cart_abandoned', 'page_views', 'channel_switch'] as const;
export type KeyDriver = (typeof KEY_DRIVERS)[number];
export type DriverVector = Readonly<Record<KeyDriver, number>>;

/** Exact LMG enumerates every subset of drivers: 2^k regressions per resample. */
export const MAX_EXACT_DRIVERS = 8;

const CHANNEL_SWITCH_WINDOW_MS = 24 * 60 * 60 * 1000;

/** The session fields the drivers are read from (a `SessionKpis` has them all). */
export interface DriverSession {
  ended_at: number;
  duration_ms: number;
  page_views: number;
  cart_abandoned: boolean;
  checkout_errors: number;
  help_views: number;
  videos_completed: number;
}

/**
 * "Tried online before calling" for one response: the linked session had help views or checkout errors and the
 * customer contacted (call, chat, store visit) within 24 h after it ended and at or before the response. Contacts
 * after the response are left out, so the driver is known when the response is linked and cannot change later.
 */
export function channelSwitchBefore(session: Pick<DriverSession, 'ended_at' | 'help_views' | 'checkout_errors'>, contactTimes: readonly number[], respondedAt: number): boolean {
  if (session.help_views < 1 && session.checkout_errors < 1) return false;
  const until = Math.min(session.ended_at + CHANNEL_SWITCH_WINDOW_MS, respondedAt);
  return contactTimes.some((at) => at > session.ended_at && at <= until);
}

/** The driver vector of a response linked to `session`; dwell is the session's `duration_ms` in minutes (the scale does not change the shares). */
export function driverVectorOf(session: DriverSession, channelSwitch: boolean): DriverVector {
  return {
    checkout_errors: session.checkout_errors,
    help_views: session.help_views,
    videos_completed: session.videos_completed,
    duration_ms: session.duration_ms / 60_000,
    cart_abandoned: session.cart_abandoned ? 1 : 0,
    page_views: session.page_views,
    channel_switch: channelSwitch ? 1 : 0,
  };
}

export interface KeyDriverOptions {
  /** Bootstrap resamples for the intervals. */
  resamples: number;
  /** Permutations of the scores for the model's p-value. */
  permutations: number;
  /** Two-sided coverage of the percentile intervals, e.g. 0.95. */
  confidence: number;
  /** The model explains the score when its permutation p-value is below this. */
  alpha: number;
  /** Seeds the resampling: the same seed and input give the same result, bit for bit. */
  seed: number;
}

export interface DriverImportance {
  driver: string;
  /** LMG share of the model's R², in [0, 1]; the shares of one analysis sum to 1. */
  importance: number;
  /** Percentile bootstrap interval of the share. */
  ci_low: number;
  ci_high: number;
  /** Standardised coefficient in the model with every driver: the direction (sign) and size of the effect. */
  effect: number;
  effect_ci_low: number;
  effect_ci_high: number;
  /** A key driver: the model explains the score (p < alpha) and the effect's interval excludes 0. */
  significant: boolean;
}

export interface KeyDriverResult {
  responses: number;
  /** R² of the model with every driver. */
  r_squared: number;
  /** Permutation test of R² (scores shuffled against the drivers): (1 + #{R²* ≥ R²}) / (1 + permutations). */
  p_value: number;
  /** p_value < alpha: false is "finds nothing" — no driver is significant then, whatever the shares. */
  explains: boolean;
  /** In the order of the driver names given. */
  drivers: DriverImportance[];
}

/** mulberry32, as the generator uses: a small seeded source so that a replay resamples the same way. */
export function seededUniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit seed from text (FNV-1a), for per-computation seeds. */
export function seedOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193);
  return hash >>> 0;
}

/** Below this a pivot counts as zero: the driver is a linear combination of the others already in (or constant). */
const PIVOT_EPSILON = 1e-10;

/** Correlations of the drivers among themselves (k×k, row-major) and with the score. */
interface Correlations {
  matrix: Float64Array;
  withScore: Float64Array;
}

/**
 * Per response, the products z_a·z_b (a ≤ b) of z = (drivers…, score, 1): summed over a resample they give every
 * mean, variance and covariance, so a resample costs one addition per product and response.
 */
function productsOf(columns: readonly Float64Array[], scores: Float64Array): { products: Float64Array; width: number } {
  const size = columns.length + 2;
  const width = (size * (size + 1)) / 2;
  const n = scores.length;
  const products = new Float64Array(n * width);
  const z = new Float64Array(size);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < columns.length; j++) z[j] = columns[j]![i]!;
    z[size - 2] = scores[i]!;
    z[size - 1] = 1;
    let offset = i * width;
    for (let a = 0; a < size; a++) for (let b = a; b < size; b++) products[offset++] = z[a]! * z[b]!;
  }
  return { products, width };
}

/**
 * Correlations from summed products (see `productsOf`). A constant driver correlates 0 with everything (1 with
 * itself), so it explains nothing and takes no share; a constant score gives all-zero correlations, R² = 0.
 */
function correlationsOf(k: number, sums: Float64Array): Correlations {
  const size = k + 2;
  const at = (a: number, b: number) => sums[a * size - (a * (a - 1)) / 2 + (b - a)]!; // a ≤ b
  const n = at(size - 1, size - 1);
  const covariance = (a: number, b: number) => at(a, b) - (at(a, size - 1) * at(b, size - 1)) / n;
  const scale = new Float64Array(k + 1);
  for (let j = 0; j <= k; j++) {
    const variance = covariance(j, j);
    // Relative to the raw second moment: rounding leaves a constant column a tiny variance, not zero.
    scale[j] = variance > 1e-12 * Math.max(1, at(j, j)) ? 1 / Math.sqrt(variance) : 0;
  }
  const matrix = new Float64Array(k * k);
  const withScore = new Float64Array(k);
  for (let a = 0; a < k; a++) {
    matrix[a * k + a] = 1;
    for (let b = a + 1; b < k; b++) matrix[a * k + b] = matrix[b * k + a] = covariance(a, b) * scale[a]! * scale[b]!;
    withScore[a] = covariance(a, k) * scale[a]! * scale[k]!;
  }
  return { matrix, withScore };
}

/** Buffers for `regress`, allocated once per analysis. */
interface Workspace {
  /** (k+1)×(k+1) matrix `sweepSubsets` sweeps in place. */
  sweep: Float64Array;
  members: Int32Array;
  system: Float64Array;
  pivotColumnOfRow: Int32Array;
}

const workspaceFor = (k: number): Workspace => ({ sweep: new Float64Array((k + 1) * (k + 1)), members: new Int32Array(k), system: new Float64Array(k * (k + 1)), pivotColumnOfRow: new Int32Array(k) });

/**
 * Standardised coefficients of the drivers in `mask` (bit j: driver j), solving R_SS β = r_S by Gauss–Jordan
 * elimination with partial pivoting; a driver whose pivot vanishes (collinear with those before it) gets β = 0.
 * Writes β into `beta` (0 outside the mask) and answers R² = r_S·β, clamped to [0, 1].
 */
function regress(k: number, { matrix, withScore }: Correlations, mask: number, beta: Float64Array, { members, system, pivotColumnOfRow }: Workspace): number {
  beta.fill(0);
  let m = 0;
  for (let j = 0; j < k; j++) if (mask & (1 << j)) members[m++] = j;
  if (m === 0) return 0;
  const width = m + 1;
  for (let a = 0; a < m; a++) {
    for (let b = 0; b < m; b++) system[a * width + b] = matrix[members[a]! * k + members[b]!]!;
    system[a * width + m] = withScore[members[a]!]!;
  }
  let row = 0;
  for (let column = 0; column < m && row < m; column++) {
    let best = row;
    for (let r = row + 1; r < m; r++) if (Math.abs(system[r * width + column]!) > Math.abs(system[best * width + column]!)) best = r;
    if (Math.abs(system[best * width + column]!) < PIVOT_EPSILON) continue; // collinear: this driver stays at 0
    if (best !== row) {
      for (let c = 0; c < width; c++) {
        const swap = system[row * width + c]!;
        system[row * width + c] = system[best * width + c]!;
        system[best * width + c] = swap;
      }
    }
    const pivot = system[row * width + column]!;
    for (let r = 0; r < m; r++) {
      if (r === row) continue;
      const factor = system[r * width + column]! / pivot;
      if (factor === 0) continue;
      for (let c = column; c < width; c++) system[r * width + c]! -= factor * system[row * width + c]!;
    }
    pivotColumnOfRow[row++] = column;
  }
  let r2 = 0;
  for (let r = 0; r < row; r++) {
    const column = pivotColumnOfRow[r]!;
    const value = system[r * width + m]! / system[r * width + column]!;
    beta[members[column]!] = value;
    r2 += withScore[members[column]!]! * value;
  }
  return Math.min(1, Math.max(0, r2));
}

/** A pivot below this while sweeping means a driver is (nearly) collinear with those already in: `fit` solves every subset instead. */
const SWEEP_EPSILON = 1e-8;

/**
 * R² of every subset of drivers, visited in Gray-code order so that each step sweeps one driver in or out of the
 * (k+1)×(k+1) correlation matrix (score last; the sweep operator of Dempster and Goodnight): with the drivers S
 * swept in, the score's diagonal entry is 1 − R²(S). One sweep per subset instead of one solve. Answers false,
 * leaving `r2OfSubset` partly written, when a driver is collinear with the others in (a vanishing pivot).
 */
function sweepSubsets(k: number, { matrix, withScore }: Correlations, r2OfSubset: Float64Array, { sweep: a }: Workspace): boolean {
  const size = k + 1;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) a[i * size + j] = matrix[i * k + j]!;
    a[i * size + k] = a[k * size + i] = withScore[i]!;
  }
  a[k * size + k] = 1;
  let mask = 0;
  for (let step = 1; step < 1 << k; step++) {
    const pivot = 31 - Math.clz32(step & -step); // the bit that flips from Gray code step − 1 to step
    const entering = !(mask & (1 << pivot));
    const d = a[pivot * size + pivot]!;
    if (entering && !(Math.abs(d) >= SWEEP_EPSILON)) return false;
    // Forward sweep (entering) or its inverse (leaving): they differ in the sign of the pivot row and column.
    const sign = entering ? 1 : -1;
    for (let i = 0; i < size; i++) {
      if (i === pivot) continue;
      const factor = a[i * size + pivot]! / d;
      if (factor === 0) continue;
      for (let j = 0; j < size; j++) if (j !== pivot) a[i * size + j]! -= factor * a[pivot * size + j]!;
    }
    for (let i = 0; i < size; i++) {
      if (i === pivot) continue;
      a[i * size + pivot] = (sign * a[i * size + pivot]!) / d;
      a[pivot * size + i] = (sign * a[pivot * size + i]!) / d;
    }
    a[pivot * size + pivot] = -1 / d;
    mask ^= 1 << pivot;
    r2OfSubset[mask] = Math.min(1, Math.max(0, 1 - a[k * size + k]!));
  }
  return true;
}

/** LMG weights: the share of orderings in which a driver enters after exactly s others, s!(k−s−1)!/k!. */
function orderingWeights(k: number): Float64Array {
  const factorial = (n: number): number => (n <= 1 ? 1 : n * factorial(n - 1));
  return Float64Array.from({ length: k }, (_, s) => (factorial(s) * factorial(k - s - 1)) / factorial(k));
}

const bitCount = (mask: number) => {
  let count = 0;
  for (let rest = mask; rest; rest &= rest - 1) count++;
  return count;
};

interface Fit {
  r2: number;
  /** LMG shares of R² (1/k each when R² is 0: nothing to share). */
  shares: Float64Array;
  /** Standardised coefficients of the full model. */
  beta: Float64Array;
}

/** Exact LMG: each driver's R² gain averaged over all orderings of entry, from the R² of every subset. */
function fit(k: number, correlation: Correlations, weights: Float64Array, workspace: Workspace): Fit {
  const subsets = 1 << k;
  const r2OfSubset = new Float64Array(subsets);
  if (!sweepSubsets(k, correlation, r2OfSubset, workspace)) {
    const scratch = new Float64Array(k);
    for (let mask = 1; mask < subsets - 1; mask++) r2OfSubset[mask] = regress(k, correlation, mask, scratch, workspace);
  }
  const beta = new Float64Array(k);
  const r2 = (r2OfSubset[subsets - 1] = regress(k, correlation, subsets - 1, beta, workspace));
  const shares = new Float64Array(k);
  if (!(r2 > 1e-12)) {
    shares.fill(1 / k);
    return { r2, shares, beta };
  }
  for (let j = 0; j < k; j++) {
    const bit = 1 << j;
    let contribution = 0;
    for (let mask = 0; mask < subsets; mask++) if (!(mask & bit)) contribution += weights[bitCount(mask)]! * (r2OfSubset[mask | bit]! - r2OfSubset[mask]!);
    shares[j] = Math.max(0, contribution);
  }
  const total = shares.reduce((sum, value) => sum + value, 0);
  for (let j = 0; j < k; j++) shares[j] = total > 0 ? shares[j]! / total : 1 / k;
  return { r2, shares, beta };
}

/** Percentile (linear between order statistics, as R's type 7) of sorted values. */
function quantile(sorted: Float64Array, p: number): number {
  const position = (sorted.length - 1) * p;
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}

/**
 * Relative importance of `names.length` drivers (at most MAX_EXACT_DRIVERS) for `scores`: `rows[i][j]` is driver j
 * of response i. Method: LMG (Lindeman, Merenda and Gold; the Shapley value of R²), exact over all subsets, on the
 * correlations; a percentile bootstrap of the shares and of the full model's standardised coefficients (rows resampled
 * with replacement); a permutation test of the full model's R². Deterministic for a given seed.
 */
export function keyDrivers(scores: readonly number[], rows: readonly (readonly number[])[], names: readonly string[], options: KeyDriverOptions): KeyDriverResult {
  const k = names.length;
  if (k < 1 || k > MAX_EXACT_DRIVERS) throw new RangeError(`keyDrivers: between 1 and ${MAX_EXACT_DRIVERS} drivers, got ${k}`);
  const n = scores.length;
  if (rows.length !== n) throw new RangeError(`keyDrivers: ${rows.length} driver rows for ${n} scores`);
  if (n < 2) throw new RangeError('keyDrivers: at least 2 responses');
  const columns = Array.from({ length: k }, (_, j) => Float64Array.from(rows, (row) => row[j]!));
  const score = Float64Array.from(scores);
  const weights = orderingWeights(k);
  const workspace = workspaceFor(k);
  const { products, width } = productsOf(columns, score);
  const sums = new Float64Array(width);
  for (let i = 0; i < n; i++) for (let p = 0, offset = i * width; p < width; p++) sums[p]! += products[offset + p]!;
  const observed = correlationsOf(k, sums);
  const estimate = fit(k, observed, weights, workspace);
  const random = seededUniform(options.seed);

  // Bootstrap: resample responses with replacement and refit.
  const shareDraws = Array.from({ length: k }, () => new Float64Array(options.resamples));
  const effectDraws = Array.from({ length: k }, () => new Float64Array(options.resamples));
  // A resample is how often each response is drawn: about a third are not drawn at all and cost nothing.
  const drawn = new Int32Array(n);
  for (let b = 0; b < options.resamples; b++) {
    sums.fill(0);
    drawn.fill(0);
    for (let i = 0; i < n; i++) drawn[Math.floor(random() * n)]!++;
    for (let i = 0; i < n; i++) {
      const times = drawn[i]!;
      if (times === 0) continue;
      for (let p = 0, offset = i * width; p < width; p++) sums[p]! += times * products[offset + p]!;
    }
    const draw = fit(k, correlationsOf(k, sums), weights, workspace);
    for (let j = 0; j < k; j++) {
      shareDraws[j]![b] = draw.shares[j]!;
      effectDraws[j]![b] = draw.beta[j]!;
    }
  }

  // Permutation test: shuffled scores keep the drivers' correlations and break their link with the score. Only the
  // drivers' correlations with the score change, from Σ x_j·y over the shuffled pairs.
  const shuffled = Float64Array.from(score);
  const beta = new Float64Array(k);
  const permuted: Correlations = { matrix: observed.matrix, withScore: new Float64Array(k) };
  const driverMeans = columns.map((column) => column.reduce((sum, value) => sum + value, 0) / n);
  const scoreMean = score.reduce((sum, value) => sum + value, 0) / n;
  // A constant column (every value equal) correlates 0, as in `correlationsOf`.
  const constant = (values: Float64Array) => values.every((value) => value === values[0]);
  const driverNorms = columns.map((column, j) => (constant(column) ? 0 : Math.sqrt(column.reduce((sum, value) => sum + (value - driverMeans[j]!) ** 2, 0))));
  const scoreNorm = constant(score) ? 0 : Math.sqrt(score.reduce((sum, value) => sum + (value - scoreMean) ** 2, 0));
  const centred = columns.map((column, j) => column.map((value) => value - driverMeans[j]!));
  let asExtreme = 0;
  for (let p = 0; p < options.permutations; p++) {
    for (let i = n - 1; i > 0; i--) {
      const other = Math.floor(random() * (i + 1));
      const swap = shuffled[i]!;
      shuffled[i] = shuffled[other]!;
      shuffled[other] = swap;
    }
    for (let j = 0; j < k; j++) {
      const x = centred[j]!;
      let cross = 0;
      for (let i = 0; i < n; i++) cross += x[i]! * shuffled[i]!;
      // Σ (x − x̄)·y equals Σ (x − x̄)·(y − ȳ).
      permuted.withScore[j] = driverNorms[j]! > 0 && scoreNorm > 0 ? cross / (driverNorms[j]! * scoreNorm) : 0;
    }
    if (regress(k, permuted, (1 << k) - 1, beta, workspace) >= estimate.r2) asExtreme++;
  }
  const pValue = (1 + asExtreme) / (1 + options.permutations);
  const explains = pValue < options.alpha;

  const tail = (1 - options.confidence) / 2;
  const interval = (draws: Float64Array): [number, number] => {
    if (draws.length === 0) return [Number.NaN, Number.NaN];
    const sorted = Float64Array.from(draws).sort();
    return [quantile(sorted, tail), quantile(sorted, 1 - tail)];
  };
  return {
    responses: n,
    r_squared: estimate.r2,
    p_value: pValue,
    explains,
    drivers: names.map((driver, j) => {
      const [ciLow, ciHigh] = interval(shareDraws[j]!);
      const [effectLow, effectHigh] = interval(effectDraws[j]!);
      return {
        driver,
        importance: estimate.shares[j]!,
        ci_low: ciLow,
        ci_high: ciHigh,
        effect: estimate.beta[j]!,
        effect_ci_low: effectLow,
        effect_ci_high: effectHigh,
        significant: explains && (effectLow > 0 || effectHigh < 0),
      };
    }),
  };
}

/** One computation's input, as it travels to another thread (plain data). */
export interface KeyDriverJob {
  scores: number[];
  rows: number[][];
  names: readonly string[];
  options: KeyDriverOptions;
}

/** Where computations run: on the calling thread (`computeKeyDriversHere`) or in another one (the composition root's). */
export type KeyDriverCompute = (job: KeyDriverJob) => Promise<KeyDriverResult>;

/** Computes on the calling thread, now; the promise only hands the result over. */
export const computeKeyDriversHere: KeyDriverCompute = (job) => {
  try {
    return Promise.resolve(keyDrivers(job.scores, job.rows, job.names, job.options));
  } catch (error) {
    return Promise.reject(error as Error);
  }
};

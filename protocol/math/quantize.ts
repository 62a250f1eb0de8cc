/**
 * Fixed-point quantization of model updates for aggregation in Z_(2^32).
 *
 * A member clips each float32 coordinate to `[-clip, clip]`, shifts it to `[0, 2·clip]`,
 * multiplies by `scale` and rounds stochastically to an integer `q ∈ [0, levels − 1]`. It then
 * sends `w·q` for every coordinate plus its weight `w` (FedAvg's sample count) as one extra
 * coordinate, all as uint32. The leader learns only `S_i = Σ w_u·q_u,i` and `W = Σ w_u` over the
 * survivors and recovers the weighted mean `(S_i / W) / scale − clip`.
 *
 * Definitions (used consistently by every function here; `fl(·)` is float64 rounding):
 *
 * - `top = ⌈fl(fl(clip + clip) · scale)⌉` and `levels = top + 1`. After clipping, the float64
 *   value `v = fl(fl(x + clip) · scale)` satisfies `0 ≤ v ≤ fl(fl(clip + clip) · scale)` because
 *   rounding is monotone, so every rounded `q ∈ {⌊v⌋, ⌈v⌉}` lies in `[0, top]`. (`q ≤ 2·clip·scale`
 *   cannot hold in general: unbiased rounding of `x = +clip` must round up when `2·clip·scale` is
 *   not an integer; `top` is that rounded-up value.)
 * - No overflow: `members · maxWeight · top < 2^32` (the value coordinates) and
 *   `members · maxWeight < 2^32` (the weight coordinate). Then no partial or total sum over any
 *   subset of members wraps, so the unmasked sum is the exact integer sum.
 * - `errorBound = 1/scale + 2^-23·(clip + 1/scale) + 2^-149`, a bound on
 *   `|dequantizeMean(...)_i − m_i|` where `m_i` is the exact weighted mean of the clipped inputs.
 *   Stochastic rounding moves each `v` by strictly less than 1, so each member's value by less
 *   than `1/scale`, and a weighted mean of values each off by less than `1/scale` is off by less
 *   than `1/scale`. The rest is slack for the final float32 rounding (at most half a float32 ulp
 *   of a result whose magnitude is below `clip + 1/scale`, i.e. `≤ 2^-24·(clip + 1/scale)`, or
 *   `2^-150` when subnormal) plus the float64 rounding of the shift, the scaling and the division
 *   (a few `2^-53` relative errors of magnitude `≤ 2·clip + 1/scale`), which the second `2^-24`
 *   covers many times over.
 *
 * Stochastic rounding rounds up iff `u < frac(v)·2^32` for a uniform uint32 `u`, so the rounding
 * is unbiased up to `2^-32` of a step per coordinate.
 *
 * @module
 */
import { bytesToU32, wipe } from "../encoding/bytes.ts";
import { ConfigError } from "../errors.ts";
import type { Rng } from "../crypto/random.ts";

const TWO_POW_32 = 4294967296;
const TWO_POW_MINUS_32 = 1 / TWO_POW_32;
/** Smallest accepted clip and scale, largest accepted clip: keeps the mean and bound in float32. */
const MIN_CLIP = 2 ** -100;
const MAX_CLIP = 2 ** 100;
const MIN_SCALE = 2 ** -100;

/** The settings a federation chooses; `scale` is derived (as large as possible) when omitted. */
export interface QuantizationSettings {
  /** Roster size `n`: the most members whose vectors can be summed. Integer ≥ 1. */
  readonly members: number;
  /** Clipping radius `c`: coordinates are clipped to `[-c, c]`. Finite, in `[2^-100, 2^100]`. */
  readonly clip: number;
  /** Largest weight (sample count) one member may claim. Integer ≥ 1. */
  readonly maxWeight: number;
  /** Quantization steps per unit. Finite, ≥ 2^-100. Omit to get the largest safe value. */
  readonly scale?: number;
}

/** Validated, frozen quantization parameters (see the module doc for the definitions). */
export interface QuantizationParameters {
  /** Clipping radius `c`. */
  readonly clip: number;
  /** Quantization steps per unit. */
  readonly scale: number;
  /** Largest weight one member may claim. */
  readonly maxWeight: number;
  /** Roster size `n`. */
  readonly members: number;
  /** Number of quantization levels: `q ∈ [0, levels − 1]`, `levels − 1 = ⌈2·clip·scale⌉`. */
  readonly levels: number;
  /** Worst-case absolute error of {@link dequantizeMean} against the exact clipped mean. */
  readonly errorBound: number;
}

/**
 * Validates the federation's quantization settings and derives `levels`, `errorBound` and, when
 * omitted, `scale`.
 *
 * Guarantees: for the returned parameters `members · maxWeight · (levels − 1) < 2^32` and
 * `members · maxWeight < 2^32`, so sums of up to `members` quantized vectors never wrap. Without
 * `scale`, the result's scale is the largest float64 (deliberately not restricted to a power of
 * two, which could waste up to half the resolution) for which this holds; then
 * `levels − 1 = ⌊(2^32 − 1) / (members · maxWeight)⌋` and the next float64 scale up overflows.
 * Exactness does not need a power of two: the shift and scaling are float64 operations whose
 * rounding is monotone (so the range argument above holds) and whose error is covered by
 * `errorBound`.
 *
 * Refuses with {@link ConfigError} naming the setting: `members` or `maxWeight` not a safe
 * integer ≥ 1; `clip` not finite or outside `[2^-100, 2^100]`; `scale` not finite or below
 * `2^-100`; `"n*maxWeight"` when `members · maxWeight ≥ 2^32`; `"n*maxWeight*levels"` when a given
 * scale makes `members · maxWeight · (levels − 1) ≥ 2^32` (the message states the product, the
 * limit and what to reduce).
 */
export function quantizationParameters(settings: QuantizationSettings): QuantizationParameters {
  const { members, clip, maxWeight, scale } = settings;
  if (!Number.isSafeInteger(members) || members < 1) {
    throw new ConfigError("members", `must be an integer ≥ 1, got ${members}`);
  }
  if (!Number.isSafeInteger(maxWeight) || maxWeight < 1) {
    throw new ConfigError("maxWeight", `must be an integer ≥ 1, got ${maxWeight}`);
  }
  if (typeof clip !== "number" || !(clip >= MIN_CLIP && clip <= MAX_CLIP)) {
    throw new ConfigError("clip", `must be a finite number in [2^-100, 2^100], got ${clip}`);
  }
  if (
    scale !== undefined && (typeof scale !== "number" || !(scale >= MIN_SCALE && scale < Infinity))
  ) {
    throw new ConfigError("scale", `must be a finite number ≥ 2^-100, got ${scale}`);
  }
  const nw = BigInt(members) * BigInt(maxWeight);
  if (nw >= BigInt(TWO_POW_32)) {
    throw new ConfigError(
      "n*maxWeight",
      `members·maxWeight = ${members}·${maxWeight} = ${nw} ≥ 2^32 = ${TWO_POW_32}: the weight ` +
        "coordinate would wrap; reduce maxWeight or members",
    );
  }
  const twoC = clip + clip;
  let s: number;
  if (scale === undefined) {
    const maxTop = Math.floor((TWO_POW_32 - 1) / Number(nw)); // ≥ 1, exact: both < 2^53
    s = maxTop / twoC;
    while (twoC * nextUp(s) <= maxTop) s = nextUp(s);
    while (twoC * s > maxTop) s = nextDown(s);
  } else {
    s = scale;
  }
  const top = Math.ceil(twoC * s);
  if (!(top < TWO_POW_32) || nw * BigInt(top) >= BigInt(TWO_POW_32)) {
    const product = top < TWO_POW_32 ? `${nw * BigInt(top)}` : `≥ ${nw}·2^32`;
    throw new ConfigError(
      "n*maxWeight*levels",
      `members·maxWeight·(levels−1) = ${members}·${maxWeight}·${top} = ${product} ≥ 2^32 = ` +
        `${TWO_POW_32}: sums would wrap; reduce scale (or clip, maxWeight, members), or omit ` +
        "scale to get the largest safe one",
    );
  }
  const step = 1 / s;
  return Object.freeze({
    clip,
    scale: s,
    maxWeight,
    members,
    levels: top + 1,
    errorBound: step + 2 ** -23 * (clip + step) + 2 ** -149,
  });
}

/**
 * The largest error bound, as a fraction of the clipping radius, that `fedagg roster` accepts
 * without `--force`: 1/1000. At the default clip of 8 that is 0.008, about what float16 keeps of a
 * weight near 8 (and 60 times its float32 resolution at 1). Parameters beyond it (many members
 * times a large `maxWeight` leave few quantization levels) average to a visibly coarse mean.
 */
export const MAX_RELATIVE_ERROR = 0.001;

/** Whether `params.errorBound ≤ MAX_RELATIVE_ERROR · params.clip` (see {@link MAX_RELATIVE_ERROR}). */
export function withinPrecision(params: QuantizationParameters): boolean {
  return params.errorBound <= MAX_RELATIVE_ERROR * params.clip;
}

/**
 * The most members (1..`limit`) a federation with `clip`, `maxWeight` and `scale` (omit for the
 * largest safe one) may have while its parameters are valid and {@link withinPrecision}: the error
 * bound grows with n when the scale is derived, and a given scale overflows past some n. 0 when
 * not even one member is. Refuses nothing: invalid settings give 0.
 */
export function maxMembersWithinPrecision(
  settings: Omit<QuantizationSettings, "members">,
  limit: number,
): number {
  const ok = (members: number): boolean => {
    try {
      return withinPrecision(quantizationParameters({ ...settings, members }));
    } catch {
      return false;
    }
  };
  if (!ok(1)) return 0;
  let lo = 1, hi = limit; // ok(lo); the answer is in [lo, hi]
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ok(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * How many coordinates of `x` quantization clips: those with `|x_i| > clip` (a value of exactly
 * ±clip is kept as is). NaN counts as not clipped (quantization refuses it). Reads `x` once;
 * allocates nothing. The count is a function of a private update: report it to its owner only.
 */
export function countClipped(x: Float32Array, clip: number): number {
  let n = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v > clip || v < -clip) n++;
  }
  return n;
}

/**
 * Quantizes `x` with weight `weight` into `out` (length `x.length + 1`): `out[i] = weight·q_i`
 * for `i < d` and `out[d] = weight`, where `q_i` is the stochastic rounding of
 * `(clip(x_i) + clip)·scale` (see the module doc). Draws exactly one `rng(4·d)` call (none when
 * `d = 0`) and wipes those bytes afterwards. No per-element allocation.
 *
 * Guarantees `0 ≤ out[i] ≤ maxWeight·(levels − 1)`, so the sum over up to `members` vectors
 * does not wrap.
 *
 * Refuses with `RangeError`: a NaN or ±Infinity coordinate (the message names the first bad
 * index; `out` is zeroed), a weight that is not an integer in `[1, maxWeight]`, an `out` of the
 * wrong length, an rng that returns the wrong number of bytes. Refuses with
 * {@link ConfigError} parameters that {@link quantizationParameters} would not have returned.
 */
export function quantizeInto(
  x: Float32Array,
  weight: number,
  params: QuantizationParameters,
  rng: Rng,
  out: Uint32Array,
): void {
  checkParameters(params);
  const d = x.length;
  if (out.length !== d + 1) {
    throw new RangeError(`output length ${out.length} must be the input length ${d} + 1`);
  }
  checkWeight(weight, params.maxWeight);
  const c = params.clip;
  const scale = params.scale;
  const bytes = d === 0 ? new Uint8Array(0) : rng(4 * d);
  if (bytes.length !== 4 * d) {
    throw new RangeError(`rng returned ${bytes.length} bytes, expected ${4 * d}`);
  }
  const aligned = bytes.byteOffset % 4 === 0;
  const u = aligned ? new Uint32Array(bytes.buffer, bytes.byteOffset, d) : bytesToU32(bytes);
  try {
    for (let i = 0; i < d; i++) {
      let xi = x[i];
      if (xi - xi !== 0) {
        // NaN - NaN and ±Infinity - ±Infinity are NaN; every finite value gives 0.
        out.fill(0);
        throw new RangeError(`input coordinate ${i} is ${xi}, not a finite number`);
      }
      if (xi > c) xi = c;
      else if (xi < -c) xi = -c;
      const v = (xi + c) * scale;
      const lo = Math.floor(v);
      // Branch-free "u < frac·2^32": frac = v - lo is exact, u·2^-32 is exact, and the rounded
      // difference keeps its exact sign and lies in (-1, 1), so its ceiling is 1 iff u < frac·2^32
      // and 0 otherwise. (A data-dependent branch here costs ~3x in mispredictions.)
      out[i] = (weight * (lo + Math.ceil(v - lo - u[i] * TWO_POW_MINUS_32))) >>> 0;
    }
  } finally {
    wipe(bytes);
    if (!aligned) wipe(u);
  }
  out[d] = weight;
}

/**
 * Convenience form of {@link quantizeInto} that returns a new `Uint32Array` of length
 * `x.length + 1`. Same guarantees and refusals.
 */
export function quantize(
  x: Float32Array,
  weight: number,
  params: QuantizationParameters,
  rng: Rng,
): Uint32Array<ArrayBuffer> {
  const out = new Uint32Array(x.length + 1);
  quantizeInto(x, weight, params, rng, out);
  return out;
}

/**
 * Recovers the weighted mean from an aggregate `sum` (length `d + 1`, last coordinate the total
 * weight `W`): `mean_i = (sum_i / W) / scale − clip`, computed in float64 and stored as float32.
 *
 * Guarantees: when `sum` is the exact sum of honest {@link quantizeInto} outputs, each
 * `|mean_i − m_i| ≤ params.errorBound` where `m_i` is the exact weighted mean of the clipped
 * inputs. The result is not clamped: an aggregate containing out-of-range vectors (a dishonest
 * member) can produce means outside `[-clip, clip + 1/scale)`.
 *
 * Refuses with `RangeError`: `survivors` not an integer in `[1, members]`, an empty `sum`,
 * "aggregate weight out of range" when `W < 1` or `W > survivors·maxWeight`. Refuses with
 * {@link ConfigError} parameters that {@link quantizationParameters} would not have returned.
 */
export function dequantizeMean(
  sum: Uint32Array,
  params: QuantizationParameters,
  survivors: number,
): Float32Array<ArrayBuffer> {
  const total = checkAggregate(sum, params, survivors);
  const d = sum.length - 1;
  const c = params.clip;
  const scale = params.scale;
  const out = new Float32Array(d);
  for (let i = 0; i < d; i++) out[i] = sum[i] / total / scale - c;
  return out;
}

/**
 * Recovers the weighted sum `Σ_u w_u·clip(x_u)` from an aggregate `sum` (length `d + 1`):
 * `sum_i / scale − clip·W`, as a `Float64Array` (float64 because the sum's magnitude grows with
 * `W` and float32 would add error proportional to it).
 *
 * Guarantees: for an exact sum of honest {@link quantizeInto} outputs, each coordinate is within
 * `W · params.errorBound` of the exact weighted sum of the clipped inputs (`W` = `sum[d]`).
 *
 * Refuses exactly what {@link dequantizeMean} refuses.
 */
export function dequantizeSum(
  sum: Uint32Array,
  params: QuantizationParameters,
  survivors: number,
): Float64Array<ArrayBuffer> {
  const total = checkAggregate(sum, params, survivors);
  const d = sum.length - 1;
  const scale = params.scale;
  const shift = params.clip * total;
  const out = new Float64Array(d);
  for (let i = 0; i < d; i++) out[i] = sum[i] / scale - shift;
  return out;
}

/** Validates an aggregate and the survivor count; returns the total weight. */
function checkAggregate(
  sum: Uint32Array,
  params: QuantizationParameters,
  survivors: number,
): number {
  checkParameters(params);
  if (!Number.isSafeInteger(survivors) || survivors < 1 || survivors > params.members) {
    throw new RangeError(
      `survivors must be an integer in [1, ${params.members}], got ${survivors}`,
    );
  }
  if (sum.length < 1) throw new RangeError("aggregate has no weight coordinate");
  const total = sum[sum.length - 1];
  if (total < 1 || total > survivors * params.maxWeight) {
    throw new RangeError(
      `aggregate weight out of range: ${total} not in [1, ${survivors}·${params.maxWeight}]`,
    );
  }
  return total;
}

/** Refuses a weight that is not an integer in `[1, maxWeight]`. */
function checkWeight(weight: number, maxWeight: number): void {
  if (!Number.isInteger(weight) || weight < 1 || weight > maxWeight) {
    throw new RangeError(`weight must be an integer in [1, ${maxWeight}], got ${weight}`);
  }
}

/**
 * Refuses parameters that `quantizationParameters` would not return for the same settings
 * (hand-built or edited objects could otherwise break the no-overflow guarantee).
 */
function checkParameters(p: QuantizationParameters): void {
  const again = quantizationParameters({
    members: p.members,
    clip: p.clip,
    maxWeight: p.maxWeight,
    scale: p.scale,
  });
  if (again.levels !== p.levels || again.errorBound !== p.errorBound) {
    throw new ConfigError(
      "quantization",
      "parameters are inconsistent; derive them with quantizationParameters",
    );
  }
}

const f64 = new Float64Array(1);
const i64 = new BigInt64Array(f64.buffer);

/** The next float64 above a positive finite `x`. */
function nextUp(x: number): number {
  f64[0] = x;
  i64[0] += 1n;
  return f64[0];
}

/** The next float64 below a positive finite `x`. */
function nextDown(x: number): number {
  f64[0] = x;
  i64[0] -= 1n;
  return f64[0];
}

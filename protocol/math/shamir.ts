/**
 * Shamir secret sharing over GF(2^16), with robust (error-correcting) reconstruction.
 *
 * A secret is a byte string of even length, read as little-endian 16-bit words; each word is
 * shared with its own random polynomial of degree `threshold − 1` whose constant term is the
 * word. Holders are identified by x coordinates: distinct integers 1..65535 (the protocol uses
 * roster index + 1), so at most {@link MAX_HOLDERS} holders. A share is the polynomials'
 * values at the holder's x, encoded the same way as the secret (so it has the secret's length).
 * Any `threshold` shares determine the secret; fewer reveal nothing about it.
 *
 * Side channels: operations that touch secrets (polynomial coefficients, share values) use the
 * constant-time multiply-by-public-constant of `gf65536.ts`; only public values (x
 * coordinates, Lagrange coefficients) go through log/exp tables. The exception is the error
 * decoder inside {@link reconstruct}, which is variable-time and only runs when the secret
 * interpolated from the first shares failed the caller's check (someone cheated).
 *
 * Refusals: malformed parameters (x coordinates out of range or repeated, a threshold out of
 * range, odd or mismatched lengths) throw `RangeError`; these are caller bugs, not network
 * input. A share that is merely wrong is not an error: {@link reconstruct} corrects it or
 * reports that it could not.
 *
 * @module
 */
import { wipe } from "../encoding/bytes.ts";
import type { Rng } from "../crypto/random.ts";
import { inv, mul, mulByTable, mulTable } from "./gf65536.ts";

/** The largest number of holders: x coordinates are the non-zero elements 1..65535. */
export const MAX_HOLDERS = 65535;

/** One holder's share: its x coordinate (1..65535) and the share bytes (the secret's length). */
export interface Share {
  /** The holder's x coordinate, an integer in 1..65535. */
  readonly x: number;
  /** The values of the word polynomials at `x`, as little-endian 16-bit words. */
  readonly y: Uint8Array;
}

/** Outcome of {@link reconstruct}: the secret `check` accepted, or why there is none. */
export type Reconstruction =
  | {
    /** The secret, accepted by the caller's check. */
    readonly secret: Uint8Array;
    /** x coordinates of the shares inconsistent with the accepted polynomials (in input order). */
    readonly bad: number[];
  }
  | {
    readonly secret: undefined;
    /**
     * True when every share lies on one polynomial of degree < threshold in every word (always
     * so for exactly `threshold` shares): the shares are a sharing of one secret, and `check`
     * rejected it. False when they are inconsistent and decoding did not yield an accepted secret.
     */
    readonly consistent: boolean;
  };

/** Throws unless `xs` are distinct integers in 1..65535. */
function checkXs(xs: readonly number[]): void {
  const seen = new Uint8Array(MAX_HOLDERS + 1);
  for (const x of xs) {
    if (!Number.isInteger(x) || x < 1 || x > MAX_HOLDERS) {
      throw new RangeError(`x coordinate must be an integer in 1..${MAX_HOLDERS}, got ${x}`);
    }
    if (seen[x]) throw new RangeError(`duplicate x coordinate ${x}`);
    seen[x] = 1;
  }
}

/** Throws unless `threshold` is an integer in 1..count. */
function checkThreshold(threshold: number, count: number, what: string): void {
  if (!Number.isInteger(threshold) || threshold < 1) {
    throw new RangeError(`threshold must be an integer >= 1, got ${threshold}`);
  }
  if (threshold > count) {
    throw new RangeError(`threshold ${threshold} exceeds the number of ${what} (${count})`);
  }
}

/** Throws unless all shares have the same even length; returns that length. */
function checkShareLengths(shares: readonly Share[]): number {
  const length = shares.length === 0 ? 0 : shares[0].y.length;
  if (length % 2 !== 0) throw new RangeError(`share length must be even, got ${length}`);
  for (const s of shares) {
    if (s.y.length !== length) {
      throw new RangeError(`share lengths differ (${s.y.length} and ${length})`);
    }
  }
  return length;
}

/**
 * Splits `secret` among the holders `xs`: returns one share per x coordinate, `shares[i]` for
 * `xs[i]`, each as long as the secret. Any `threshold` of them reconstruct the secret; any
 * `threshold − 1` are independent of it. The random coefficients come from `rng` and are
 * zeroed when done; evaluation (Horner) multiplies secrets only by public x coordinates, in
 * constant time.
 *
 * Refuses (RangeError) an odd secret length, x coordinates that are not distinct integers in
 * 1..65535, and a threshold that is not an integer in 1..xs.length.
 */
export function split(
  secret: Uint8Array,
  xs: readonly number[],
  threshold: number,
  rng: Rng,
): Uint8Array<ArrayBuffer>[] {
  if (secret.length % 2 !== 0) {
    throw new RangeError(`secret length must be even, got ${secret.length}`);
  }
  checkXs(xs);
  checkThreshold(threshold, xs.length, "holders");
  const words = secret.length / 2;
  const t = threshold;
  const randomLength = 2 * words * (t - 1);
  const random = randomLength === 0 ? new Uint8Array(0) : rng(randomLength);
  if (random.length !== randomLength) {
    wipe(random);
    throw new RangeError(`rng returned ${random.length} bytes, expected ${randomLength}`);
  }
  // coefficients[w·t + k] is the coefficient of X^k in word w's polynomial.
  const coefficients = new Uint16Array(words * t);
  for (let w = 0; w < words; w++) {
    coefficients[w * t] = secret[2 * w] | (secret[2 * w + 1] << 8);
    for (let k = 1; k < t; k++) {
      const at = 2 * (w * (t - 1) + k - 1);
      coefficients[w * t + k] = random[at] | (random[at + 1] << 8);
    }
  }
  wipe(random);
  const shares: Uint8Array<ArrayBuffer>[] = [];
  for (const x of xs) {
    const table = mulTable(x);
    const share = new Uint8Array(secret.length);
    for (let w = 0; w < words; w++) {
      const base = w * t;
      let acc = coefficients[base + t - 1];
      for (let k = t - 2; k >= 0; k--) acc = mulByTable(acc, table) ^ coefficients[base + k];
      share[2 * w] = acc & 0xff;
      share[2 * w + 1] = acc >>> 8;
    }
    shares.push(share);
  }
  wipe(coefficients);
  return shares;
}

/**
 * The Lagrange coefficients for evaluating at zero the polynomial through points at `xs`:
 * `secret = Σ coefficients[i] · y_i`. They depend only on the (public) x coordinates and are
 * computed with tables in O(xs.length²). Refuses (RangeError) an empty list and x coordinates
 * that are not distinct integers in 1..65535.
 */
export function lagrangeAtZero(xs: readonly number[]): Uint16Array<ArrayBuffer> {
  if (xs.length === 0) throw new RangeError("no x coordinates to interpolate from");
  checkXs(xs);
  // λ_i = Π_{j≠i} x_j / (x_j − x_i) = (Π_j x_j) / (x_i · Π_{j≠i} (x_i + x_j)).
  let all = 1;
  for (const x of xs) all = mul(all, x);
  const out = new Uint16Array(xs.length);
  for (let i = 0; i < xs.length; i++) {
    const xi = xs[i];
    let denominator = xi;
    for (let j = 0; j < xs.length; j++) if (j !== i) denominator = mul(denominator, xi ^ xs[j]);
    out[i] = mul(all, inv(denominator));
  }
  return out;
}

/**
 * `Σ coefficients[i] · shares[i].y`, word by word: the secret when the coefficients are
 * {@link lagrangeAtZero} of the shares' x coordinates. Constant-time in the share values (the
 * coefficients are public). The x coordinates are not read. Refuses (RangeError) an empty list,
 * a coefficient count different from the share count, a coefficient that is not a field
 * element, and share lengths that differ or are odd.
 */
export function combine(
  shares: readonly Share[],
  coefficients: ArrayLike<number>,
): Uint8Array<ArrayBuffer> {
  if (shares.length === 0) throw new RangeError("no shares to combine");
  if (coefficients.length !== shares.length) {
    throw new RangeError(
      `${coefficients.length} coefficients for ${shares.length} shares`,
    );
  }
  const length = checkShareLengths(shares);
  const tables = Array.from(coefficients, (c) => mulTable(c));
  const out = new Uint8Array(length);
  for (let w = 0; w < length / 2; w++) {
    let acc = 0;
    for (let i = 0; i < shares.length; i++) {
      const y = shares[i].y;
      acc ^= mulByTable(y[2 * w] | (y[2 * w + 1] << 8), tables[i]);
    }
    out[2 * w] = acc & 0xff;
    out[2 * w + 1] = acc >>> 8;
  }
  return out;
}

/**
 * The value at zero of the polynomials through `shares` (the secret, if they are at least
 * `threshold` honest shares). Every share is used: pass exactly the ones to interpolate from.
 * Constant-time in the share values. Refuses (RangeError) what {@link lagrangeAtZero} and
 * {@link combine} refuse.
 */
export function interpolateAtZero(shares: readonly Share[]): Uint8Array<ArrayBuffer> {
  return combine(shares, lagrangeAtZero(shares.map((s) => s.x)));
}

/**
 * Robust reconstruction, for the party that collects shares (the leader).
 *
 * Fast path: interpolates from the first `threshold` shares and asks `check` (which must
 * recognise the true secret, e.g. against a hash commitment or a public key); if it accepts,
 * returns it with `bad: []`. Shares after the first `threshold` are then NOT examined, so a bad
 * share among them goes unnamed; put the shares to trust most first.
 *
 * Otherwise, with `m = shares.length > threshold`, decodes all m shares as a Reed–Solomon code
 * (Gao's algorithm, per word), which corrects up to ⌊(m − threshold)/2⌋ wrong shares per word
 * (none with a single spare share, which still shows whether the shares are consistent). When
 * every share lies on one polynomial per word, the decoded secret is the fast path's, which
 * `check` already rejected: the result is `{ secret: undefined, consistent: true }`. When the
 * decoder corrected some shares, it asks `check` about the decoded secret; if it accepts,
 * returns it with `bad` = the x coordinates (in input order) of every share that disagrees with
 * the decoded polynomials in any word. The decoded secret equals the interpolation of any
 * `threshold` of the remaining shares.
 *
 * It never returns a secret `check` rejected; `check` is called at most twice. Without an
 * accepted secret it returns `{ secret: undefined, consistent: false }` when the shares are
 * inconsistent: more wrong shares than the decoder corrects, or a `check` that rejects the true
 * secret while some shares are wrong. Whether a consistent but rejected sharing proves the
 * dealer lied depends on how many of the shares may be corrupt: that is the caller's call.
 *
 * The fast path is constant-time in the share values. The decoder is NOT (table arithmetic and
 * data-dependent branches on share values); it runs only after a share failed the check, i.e.
 * when someone cheated. It costs O(m²) field operations per word. Intermediate buffers are
 * zeroed (best effort); nothing is cached.
 *
 * Refuses (RangeError) fewer shares than `threshold`, a threshold that is not an integer >= 1,
 * x coordinates that are not distinct integers in 1..65535, and share lengths that differ or
 * are odd.
 */
export function reconstruct(
  shares: readonly Share[],
  threshold: number,
  check: (secret: Uint8Array) => boolean,
): Reconstruction {
  checkXs(shares.map((s) => s.x));
  checkThreshold(threshold, shares.length, "shares");
  checkShareLengths(shares);
  const candidate = interpolateAtZero(shares.slice(0, threshold));
  if (check(candidate)) return { secret: candidate, bad: [] };
  wipe(candidate);
  if (shares.length === threshold) return { secret: undefined, consistent: true };
  const decoded = decode(shares, threshold);
  if (decoded === undefined) return { secret: undefined, consistent: false };
  if (decoded.bad.length === 0 || !check(decoded.secret)) {
    wipe(decoded.secret);
    return { secret: undefined, consistent: decoded.bad.length === 0 };
  }
  return { secret: decoded.secret, bad: decoded.bad.map((i) => shares[i].x) };
}

// ---------------------------------------------------------------------------------------------
// Reed–Solomon decoding (Gao, "A new algorithm for decoding Reed–Solomon codes", 2003).
// Polynomials are Uint16Arrays of coefficients, lowest degree first; trailing zeros allowed.
// Variable-time: only for the error path.

/** Degree of `p` (index of its highest non-zero coefficient), −1 for the zero polynomial. */
function degree(p: Uint16Array): number {
  let d = p.length - 1;
  while (d >= 0 && p[d] === 0) d--;
  return d;
}

/** Quotient and remainder of `a` by a non-zero `b` (new arrays; `a` and `b` are untouched). */
function divmod(a: Uint16Array, b: Uint16Array): { q: Uint16Array; r: Uint16Array } {
  const db = degree(b);
  const da = degree(a);
  const r = a.slice();
  if (da < db) return { q: new Uint16Array(1), r };
  const q = new Uint16Array(da - db + 1);
  const leadInverse = inv(b[db]);
  for (let k = da; k >= db; k--) {
    const c = r[k];
    if (c === 0) continue;
    const f = mul(c, leadInverse);
    q[k - db] = f;
    const shift = k - db;
    for (let j = 0; j <= db; j++) r[shift + j] ^= mul(f, b[j]);
  }
  return { q, r };
}

/** `a + q·b` as a new array. */
function mulAdd(a: Uint16Array, q: Uint16Array, b: Uint16Array): Uint16Array {
  const dq = degree(q);
  const db = degree(b);
  const out = new Uint16Array(Math.max(a.length, dq + db + 2, 1));
  out.set(a);
  for (let i = 0; i <= dq; i++) {
    const c = q[i];
    if (c === 0) continue;
    for (let j = 0; j <= db; j++) out[i + j] ^= mul(c, b[j]);
  }
  return out;
}

/** Value of `p` at `x` (Horner, tables). */
function evaluate(p: Uint16Array, x: number): number {
  let acc = 0;
  for (let k = p.length - 1; k >= 0; k--) acc = mul(acc, x) ^ p[k];
  return acc;
}

/**
 * The product polynomial g0 = Π (X − x_i) (degree m) and, per word, the polynomial g1 of
 * degree < m through all m received values (words × m coefficients, word-major).
 */
function interpolateAll(shares: readonly Share[]): { g0: Uint16Array; g1: Uint16Array } {
  const m = shares.length;
  const length = shares[0].y.length;
  const words = length / 2;

  // g0 = Π (X − x_i), degree m.
  const g0 = new Uint16Array(m + 1);
  g0[0] = 1;
  for (let i = 0; i < m; i++) {
    const x = shares[i].x;
    for (let k = i + 1; k >= 1; k--) g0[k] = g0[k - 1] ^ mul(g0[k], x);
    g0[0] = mul(g0[0], x);
  }

  // g1 (one per word, degree < m) interpolates the received values: with q_i = g0 / (X − x_i),
  // g1 = Σ_i y_i · q_i / q_i(x_i). Each q_i is computed once and used for every word.
  const g1 = new Uint16Array(words * m);
  const q = new Uint16Array(m);
  for (let i = 0; i < m; i++) {
    const x = shares[i].x;
    q[m - 1] = g0[m];
    for (let k = m - 1; k >= 1; k--) q[k - 1] = g0[k] ^ mul(x, q[k]);
    const weight = inv(evaluate(q, x));
    const y = shares[i].y;
    for (let w = 0; w < words; w++) {
      const c = mul(y[2 * w] | (y[2 * w + 1] << 8), weight);
      if (c === 0) continue;
      const base = w * m;
      for (let k = 0; k < m; k++) g1[base + k] ^= mul(c, q[k]);
    }
  }

  wipe(q);
  return { g0, g1 };
}

/**
 * Decodes every word of `shares` (m > threshold) with Gao's algorithm. Returns the constant
 * terms as the secret and the indices of shares that disagree with the decoded polynomials, or
 * `undefined` when some word has more errors than the code corrects (⌊(m − threshold)/2⌋; with
 * one spare share that is none, so it then only tells whether the shares are consistent).
 */
function decode(
  shares: readonly Share[],
  threshold: number,
): { secret: Uint8Array; bad: number[] } | undefined {
  const m = shares.length;
  const length = shares[0].y.length;
  const words = length / 2;
  const maxErrors = Math.floor((m - threshold) / 2);
  const { g0, g1 } = interpolateAll(shares);

  const secret = new Uint8Array(length);
  const isBad = new Uint8Array(m);
  const stop = (m + threshold) / 2;
  let failed = false;
  for (let w = 0; w < words && !failed; w++) {
    // Partial extended Euclid on (g0, g1): stop at the first remainder of degree < (m + t)/2.
    let r0: Uint16Array = g0.slice();
    let r1: Uint16Array = g1.slice(w * m, (w + 1) * m);
    let v0: Uint16Array = new Uint16Array(1);
    let v1: Uint16Array = Uint16Array.of(1);
    while (degree(r1) >= stop) {
      const { q: quotient, r: remainder } = divmod(r0, r1);
      const v2 = mulAdd(v0, quotient, v1);
      wipe(r0, v0, quotient);
      r0 = r1;
      r1 = remainder;
      v0 = v1;
      v1 = v2;
    }
    // The message polynomial is r1 / v1 when that division is exact and of degree < t.
    const { q: f, r: remainder } = divmod(r1, v1);
    if (degree(remainder) >= 0 || degree(f) >= threshold) {
      failed = true;
    } else {
      let errors = 0;
      for (let i = 0; i < m; i++) {
        const y = shares[i].y;
        if (evaluate(f, shares[i].x) !== (y[2 * w] | (y[2 * w + 1] << 8))) {
          isBad[i] = 1;
          errors++;
        }
      }
      // Guaranteed by the algorithm (errors lie at roots of v1, deg v1 <= maxErrors); checked
      // anyway so that a decoding outside the unique-decoding radius is never returned.
      if (errors > maxErrors) failed = true;
      secret[2 * w] = f[0] & 0xff;
      secret[2 * w + 1] = f[0] >>> 8;
    }
    wipe(r0, r1, v0, v1, f, remainder);
  }
  wipe(g1);
  if (failed) {
    wipe(secret);
    return undefined;
  }
  const bad: number[] = [];
  for (let i = 0; i < m; i++) if (isBad[i]) bad.push(i);
  return { secret, bad };
}

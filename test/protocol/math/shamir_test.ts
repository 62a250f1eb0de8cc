import { assert, assertEquals, assertNotEquals, assertThrows } from "../../_assert.ts";
import { equalBytes } from "../../../protocol/encoding/bytes.ts";
import { type Rng, seededRng } from "../../../protocol/crypto/random.ts";
import { div, mul } from "../../../protocol/math/gf65536.ts";
import {
  combine,
  interpolateAtZero,
  lagrangeAtZero,
  MAX_HOLDERS,
  reconstruct,
  type Share,
  split,
} from "../../../protocol/math/shamir.ts";

const rng = seededRng(new Uint8Array(32).fill(0x5a));

/** A uniform integer in 0..n−1 (n <= 2^24; the modulo bias is irrelevant for tests). */
function randomInt(n: number): number {
  const b = rng(4);
  return ((b[0] | (b[1] << 8) | (b[2] << 16)) >>> 0) % n;
}

/** A uniform non-zero 16-bit value. */
function randomNonZeroWord(): number {
  const b = rng(2);
  return (b[0] | (b[1] << 8)) || 1;
}

/** A shuffled copy (Fisher–Yates). */
function shuffled<T>(items: readonly T[]): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** 1..n. */
function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** Splits a fresh random secret and pairs the shares with their x coordinates. */
function deal(
  n: number,
  t: number,
  length = 32,
  xs = range(n),
): { secret: Uint8Array; shares: Share[] } {
  const secret = rng(length);
  const ys = split(secret, xs, t, rng);
  return { secret, shares: ys.map((y, i) => ({ x: xs[i], y })) };
}

/** Reads word `w` of a byte string. */
function word(bytes: Uint8Array, w: number): number {
  return bytes[2 * w] | (bytes[2 * w + 1] << 8);
}

/** A copy of `share` with a non-zero error added to word `w`, or to every word. */
function corrupt(share: Share, w: number | "all"): Share {
  const y = share.y.slice();
  for (let k = 0; k < y.length / 2; k++) {
    if (w !== "all" && k !== w) continue;
    const e = randomNonZeroWord();
    y[2 * k] ^= e & 0xff;
    y[2 * k + 1] ^= e >>> 8;
  }
  return { x: share.x, y };
}

/** Byte equality against the true secret: the strictest possible check. */
function equalsSecret(secret: Uint8Array): (candidate: Uint8Array) => boolean {
  return (candidate) => equalBytes(candidate, secret);
}

Deno.test("shamir: any threshold-sized subset reconstructs the secret", () => {
  const cases: [number, number, number][] = [
    // [n, t, random subsets tried]
    [1, 1, 1],
    [2, 1, 2],
    [2, 2, 1],
    [5, 3, 10],
    [10, 1, 3],
    [10, 10, 2],
    [100, 67, 10],
    [1000, 667, 3],
    [1000, 1, 3],
    [1000, 1000, 1],
  ];
  for (const [n, t, subsets] of cases) {
    const { secret, shares } = deal(n, t);
    for (const s of shares) assertEquals(s.y.length, secret.length);
    for (let k = 0; k < subsets; k++) {
      const subset = shuffled(shares).slice(0, t);
      assertEquals(interpolateAtZero(subset), secret, `n=${n} t=${t}`);
      assertEquals(reconstruct(subset, t, equalsSecret(secret)), { secret, bad: [] });
    }
    // More than t shares, in any order, work too.
    const many = shuffled(shares).slice(0, Math.min(n, t + 2));
    assertEquals(interpolateAtZero(many), secret);
    if (t === 1) { for (const s of shares) assertEquals(s.y, secret); }
  }
});

Deno.test("shamir: every 3-subset of 6 shares reconstructs", () => {
  const { secret, shares } = deal(6, 3);
  let count = 0;
  for (let a = 0; a < 6; a++) {
    for (let b = a + 1; b < 6; b++) {
      for (let c = b + 1; c < 6; c++) {
        assertEquals(interpolateAtZero([shares[a], shares[b], shares[c]]), secret);
        count++;
      }
    }
  }
  assertEquals(count, 20);
});

Deno.test("shamir: other secret lengths, sparse x coordinates and the largest x", () => {
  for (const length of [0, 2, 4, 64, 130]) {
    const { secret, shares } = deal(7, 4, length, [3, 65535, 17, 1, 40000, 2, 999]);
    assertEquals(interpolateAtZero(shuffled(shares).slice(0, 4)), secret);
  }
  // All 65535 holders, threshold 2.
  const { secret, shares } = deal(MAX_HOLDERS, 2, 2);
  assertEquals(shares.length, MAX_HOLDERS);
  assertEquals(interpolateAtZero([shares[MAX_HOLDERS - 1], shares[0]]), secret);
  assertEquals(interpolateAtZero([shares[12345], shares[54321]]), secret);
});

Deno.test("shamir: split is deterministic in the rng and consumes fresh randomness", () => {
  const secret = new Uint8Array(32).fill(9);
  const xs = range(10);
  const a = split(secret, xs, 4, seededRng(new Uint8Array(32).fill(1)));
  const b = split(secret, xs, 4, seededRng(new Uint8Array(32).fill(1)));
  const c = split(secret, xs, 4, seededRng(new Uint8Array(32).fill(2)));
  assertEquals(a, b);
  assertNotEquals(a, c);
  // No share equals the secret when t > 1 (overwhelmingly likely for random coefficients).
  for (const y of a) assert(!equalBytes(y, secret));
});

Deno.test("shamir: split zeroes the random coefficients it was given", () => {
  const handedOut: Uint8Array[] = [];
  const spy: Rng = (length) => {
    const bytes = rng(length);
    handedOut.push(bytes);
    return bytes;
  };
  split(rng(32), range(20), 11, spy);
  assertEquals(handedOut.length, 1);
  assertEquals(handedOut[0].length, 2 * 16 * 10);
  assert(handedOut[0].every((b) => b === 0));
});

Deno.test("shamir: fewer than threshold shares do not determine the secret", () => {
  const n = 12;
  const t = 5;
  const { secret, shares } = deal(n, t);
  const known = shares.slice(0, t - 1);
  // t − 1 real shares plus a forged one interpolate to something else.
  const forged = corrupt(shares[t - 1], "all");
  const wrong = interpolateAtZero([...known, forged]);
  assertEquals(wrong.length, secret.length);
  for (let w = 0; w < 16; w++) assertNotEquals(word(wrong, w), word(secret, w));
  // t − 1 shares are consistent with ANY secret: for an arbitrary target, compute the share a
  // t-th holder would need (the polynomial through (0, target) and the known points) and
  // check that the known shares plus that share interpolate to the target.
  const target = rng(32);
  const points = [0, ...known.map((s) => s.x)];
  const newX = shares[n - 1].x;
  const y = new Uint8Array(32);
  for (let w = 0; w < 16; w++) {
    const values = [word(target, w), ...known.map((s) => word(s.y, w))];
    let acc = 0;
    for (let i = 0; i < points.length; i++) {
      let basis = 1; // Lagrange basis polynomial i at newX
      for (let j = 0; j < points.length; j++) {
        if (j !== i) basis = mul(basis, div(newX ^ points[j], points[i] ^ points[j]));
      }
      acc ^= mul(basis, values[i]);
    }
    y[2 * w] = acc & 0xff;
    y[2 * w + 1] = acc >>> 8;
  }
  assertEquals(interpolateAtZero([...known, { x: newX, y }]), target);
});

Deno.test("shamir: lagrangeAtZero and combine", () => {
  const xs = [5, 1, 9000, 65535, 2];
  const coefficients = lagrangeAtZero(xs);
  assertEquals(coefficients.length, xs.length);
  // Interpolating the constant polynomial 1 gives 1: the coefficients sum (XOR) to 1.
  assertEquals(coefficients.reduce((a, c) => a ^ c, 0), 1);
  assertEquals(lagrangeAtZero([7]), Uint16Array.of(1));
  const { secret, shares } = deal(5, 5, 32, xs);
  assertEquals(combine(shares, coefficients), secret);
  assertEquals(combine(shares, Array.from(coefficients)), secret);
});

Deno.test("shamir: robust reconstruction corrects and names bad shares", () => {
  // [n, t, number of bad shares]; the largest count is the correction limit ⌊(n − t)/2⌋.
  const cases: [number, number, number][] = [
    [7, 3, 1],
    [7, 3, 2],
    [100, 67, 1],
    [100, 67, 5],
    [100, 67, 16],
    [30, 1, 14],
    [1000, 667, 166],
  ];
  for (const [n, t, badCount] of cases) {
    assertEquals(badCount <= Math.floor((n - t) / 2), true);
    for (const mode of ["all", "one", "mixed"] as const) {
      const { secret, shares } = deal(n, t);
      // Always corrupt share 0 so that the fast path fails; the rest at random positions.
      const positions = [0, ...shuffled(range(n - 1)).slice(0, badCount - 1)];
      const received = shares.slice();
      for (const [k, p] of positions.entries()) {
        const which = mode === "all" || (mode === "mixed" && k % 2 === 0) ? "all" : randomInt(16);
        received[p] = corrupt(shares[p], which);
      }
      let calls = 0;
      const result = reconstruct(received, t, (s) => {
        calls++;
        return equalBytes(s, secret);
      });
      assert(result.secret !== undefined, `n=${n} t=${t} bad=${badCount} ${mode}`);
      assertEquals(result.secret, secret);
      assertEquals(
        result.bad.slice().sort((a, b) => a - b),
        positions.map((p) => shares[p].x).sort((a, b) => a - b),
      );
      assertEquals(calls, 2);
    }
  }
});

Deno.test("shamir: errors in different words add up beyond the per-word limit", () => {
  // 16 shares wrong in word 0 and 16 other shares wrong in word 1: each word is within the
  // limit of ⌊(100 − 67)/2⌋ = 16, and all 32 bad shares are named.
  const { secret, shares } = deal(100, 67);
  const order = shuffled(range(100).map((x) => x - 1));
  const received = shares.slice();
  for (const p of order.slice(0, 16)) received[p] = corrupt(shares[p], 0);
  for (const p of order.slice(16, 32)) received[p] = corrupt(shares[p], 1);
  received[0] = corrupt(received[0], 2); // make sure the fast path fails
  const expected = [...new Set([0, ...order.slice(0, 32)])].map((p) => shares[p].x);
  const result = reconstruct(received, 67, equalsSecret(secret));
  assert(result.secret !== undefined);
  assertEquals(result.secret, secret);
  assertEquals(result.bad.sort((a, b) => a - b), expected.sort((a, b) => a - b));
});

Deno.test("shamir: the fast path does not look past the first threshold shares", () => {
  const { secret, shares } = deal(10, 4);
  const received = shares.slice();
  received[9] = corrupt(shares[9], "all");
  assertEquals(reconstruct(received, 4, equalsSecret(secret)), { secret, bad: [] });
});

Deno.test("shamir: too many bad shares give no secret, never a wrong one", () => {
  for (const [n, t] of [[7, 3], [100, 67], [40, 10]]) {
    const limit = Math.floor((n - t) / 2);
    for (const badCount of [limit + 1, limit + 3, n - t + 1, n]) {
      if (badCount > n) continue;
      for (const mode of ["all", "one"] as const) {
        const { secret, shares } = deal(n, t);
        const received = shares.slice();
        for (const p of [0, ...shuffled(range(n - 1)).slice(0, badCount - 1)]) {
          received[p] = corrupt(shares[p], mode === "all" ? "all" : 3);
        }
        assertEquals(
          reconstruct(received, t, equalsSecret(secret)),
          { secret: undefined, consistent: false },
          `n=${n} t=${t} bad=${badCount} ${mode}`,
        );
      }
    }
  }
});

Deno.test("shamir: a crafted shift to another codeword is caught by the check", () => {
  // n = 100, t = 67: D(X) = Π_{j=35..100} (X − j) has degree 66 < t, vanishes on the shares
  // with x = 35..100 and is non-zero at x = 1..34 and at 0. Adding D to word 0 of shares
  // x = 1..18 puts the received word 18 errors from the truth but only 16 (the limit) from
  // the sharing of the secret + D(0): the decoder lands on the wrong polynomial.
  const n = 100;
  const t = 67;
  const { secret, shares } = deal(n, t);
  const roots = range(n).slice(34);
  assertEquals(roots.length, t - 1);
  const shift = (x: number) => roots.reduce((acc, r) => mul(acc, x ^ r), 1);
  const received = shares.slice();
  for (let p = 0; p < 18; p++) {
    const y = shares[p].y.slice();
    const v = word(y, 0) ^ shift(shares[p].x);
    y[0] = v & 0xff;
    y[1] = v >>> 8;
    received[p] = { x: shares[p].x, y };
  }
  assertEquals(
    reconstruct(received, t, equalsSecret(secret)),
    { secret: undefined, consistent: false },
  );
  // A check that accepts anything but the fast path's candidate shows what was decoded.
  let calls = 0;
  const decoded = reconstruct(received, t, () => calls++ > 0);
  assert(decoded.secret !== undefined);
  assertEquals(word(decoded.secret, 0), word(secret, 0) ^ shift(0));
  assertEquals(decoded.secret.subarray(2), secret.subarray(2));
  assertEquals(decoded.bad, range(34).slice(18));
});

Deno.test("shamir: nothing to correct with fewer than two spare shares; one detects", () => {
  for (const extra of [0, 1]) {
    const { secret, shares } = deal(10 + extra, 10);
    const received = shares.slice();
    received[0] = corrupt(shares[0], "all");
    assertEquals(
      reconstruct(received, 10, equalsSecret(secret)),
      // Exactly t shares always lie on one polynomial: nothing shows the bad one.
      { secret: undefined, consistent: extra === 0 },
      `${extra} spare`,
    );
  }
  // Two spare shares correct one error.
  const { secret, shares } = deal(12, 10);
  const received = shares.slice();
  received[3] = corrupt(shares[3], 5);
  assertEquals(reconstruct(received, 10, equalsSecret(secret)), { secret, bad: [4] });
});

Deno.test("shamir: a consistent sharing whose secret the check rejects is reported as such", () => {
  for (const m of [5, 6, 20]) {
    const { shares } = deal(20, 5);
    let calls = 0;
    const result = reconstruct(shares.slice(0, m), 5, () => {
      calls++;
      return false;
    });
    assertEquals(result, { secret: undefined, consistent: true }, `m = ${m}`);
    // The decoder finds nothing to correct: its secret is the one already rejected.
    assertEquals(calls, 1);
  }
});

Deno.test("shamir: holders beyond m − t can shift a sharing consistently (framing its dealer)", () => {
  // m = 5, t = 4: e(X) = Π over the 3 honest holders of (X − x_i) has degree 3 < t, so the 2
  // corrupt holders adding e(x) to their shares leave all 5 on one polynomial, of another
  // secret. Consistency alone therefore proves nothing about the dealer here (leader.ts).
  const { secret, shares } = deal(5, 4);
  const honest = shares.slice(0, 3).map((s) => s.x);
  const e = (x: number) => honest.reduce((acc, h) => mul(acc, x ^ h), 1);
  const received = shares.map((s, i) => {
    if (i < 3) return s;
    const y = s.y.slice();
    const v = word(y, 0) ^ e(s.x);
    y[0] = v & 0xff;
    y[1] = v >>> 8;
    return { x: s.x, y };
  });
  assertEquals(
    reconstruct(received, 4, equalsSecret(secret)),
    { secret: undefined, consistent: true },
  );
  // Fewer than m − t + 1 cannot: one shifted share (first, so that it is used) is caught.
  const one = [received[4], ...shares.slice(0, 4)];
  assertEquals(reconstruct(one, 4, equalsSecret(secret)), { secret: undefined, consistent: false });
});

Deno.test("shamir: refusals", () => {
  const secret = new Uint8Array(32);
  assertThrows(() => split(new Uint8Array(31), range(3), 2, rng), RangeError, "even");
  assertThrows(() => split(secret, range(3), 0, rng), RangeError, "threshold");
  assertThrows(() => split(secret, range(3), -1, rng), RangeError, "threshold");
  assertThrows(() => split(secret, range(3), 1.5, rng), RangeError, "threshold");
  assertThrows(() => split(secret, range(3), 4, rng), RangeError, "exceeds");
  assertThrows(() => split(secret, [], 1, rng), RangeError, "exceeds");
  for (const xs of [[0, 1], [1, 65536], [1, 1.5], [1, NaN], [-3, 1]]) {
    assertThrows(() => split(secret, xs, 1, rng), RangeError, "x coordinate");
  }
  assertThrows(() => split(secret, [4, 2, 4], 2, rng), RangeError, "duplicate x coordinate 4");
  assertThrows(() => split(secret, range(3), 2, () => new Uint8Array(5)), RangeError, "rng");

  assertThrows(() => lagrangeAtZero([]), RangeError);
  assertThrows(() => lagrangeAtZero([1, 2, 1]), RangeError, "duplicate");
  assertThrows(() => lagrangeAtZero([0]), RangeError, "x coordinate");

  const { shares } = deal(5, 3);
  assertThrows(() => combine([], []), RangeError);
  assertThrows(() => combine(shares, [1, 2]), RangeError, "coefficients");
  assertThrows(() => combine(shares, [1, 2, 3, 4, 0x10000]), RangeError);
  const short = { x: 9, y: new Uint8Array(30) };
  assertThrows(() => combine([shares[0], short], [1, 1]), RangeError, "lengths differ");
  assertThrows(() => interpolateAtZero([]), RangeError);
  assertThrows(() => interpolateAtZero([shares[0], shares[0]]), RangeError, "duplicate");

  const ok = () => true;
  assertThrows(() => reconstruct(shares.slice(0, 2), 3, ok), RangeError, "exceeds");
  assertThrows(() => reconstruct(shares, 0, ok), RangeError, "threshold");
  assertThrows(() => reconstruct([...shares, shares[1]], 3, ok), RangeError, "duplicate");
  assertThrows(() => reconstruct([...shares, short], 3, ok), RangeError, "lengths differ");
  const odd = [{ x: 1, y: new Uint8Array(3) }, { x: 2, y: new Uint8Array(3) }];
  assertThrows(() => reconstruct(odd, 1, ok), RangeError, "even");
});

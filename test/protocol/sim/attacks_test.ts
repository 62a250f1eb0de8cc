/**
 * The Byzantine update generators (protocol/sim/attacks.ts): each attack's vector worked out by
 * hand, ALIE's z against the normal quantiles of the paper's setting, the Gaussian source's
 * moments, determinism from the seed, and the refusals.
 */
import { labelledRng } from "../../../protocol/crypto/random.ts";
import {
  alieZ,
  ATTACK_KINDS,
  attackUpdates,
  defaultAttack,
  GaussianSource,
  normalQuantile,
} from "../../../protocol/sim/attacks.ts";
import { assert, assertEquals, assertThrows } from "../../_assert.ts";

function assertAlmostEquals(actual: number, expected: number, tolerance: number): void {
  assert(
    Math.abs(actual - expected) <= tolerance,
    `${actual} is not within ${tolerance} of ${expected}`,
  );
}

const v = (...x: number[]) => Float64Array.from(x);
const arr = (x: Float64Array[]) => x.map((y) => Array.from(y));
const HONEST = [v(0, 1, 4), v(2, 3, 4)]; // μ = (1, 2, 4), population σ = (1, 1, 0)
const OWN = [v(1, -2, 0.5), v(3, 0, -1)];

Deno.test("scale and signflip: λ·u and −λ·u of each attacker's own update", () => {
  const rng = labelledRng("attacks-test", "unused");
  assertEquals(arr(attackUpdates({ kind: "scale", lambda: 1000 }, { honest: [], own: OWN }, rng)), [
    [1000, -2000, 500],
    [3000, 0, -1000],
  ]);
  assertEquals(arr(attackUpdates({ kind: "signflip" }, { honest: [], own: OWN }, rng)), [
    [-1, 2, -0.5],
    [-3, -0, 1],
  ]);
  assertEquals(
    arr(attackUpdates({ kind: "signflip", lambda: 4 }, { honest: [], own: OWN }, rng))[0],
    [-4, 8, -2],
  );
  assertEquals(arr(OWN), [[1, -2, 0.5], [3, 0, -1]], "inputs untouched");
});

Deno.test("ipm: every attacker sends −ε times the honest mean", () => {
  const out = attackUpdates({ kind: "ipm", epsilon: 0.5 }, { honest: HONEST, own: OWN }, () => {
    throw new Error("ipm reads no randomness");
  });
  assertEquals(arr(out), [[-0.5, -1, -2], [-0.5, -1, -2]]);
  assert(out[0] !== out[1], "fresh vectors");
});

Deno.test("alie: μ − z·σ with the paper's z, or a given z", () => {
  // n = 4 members, f = 2 attackers: s = ⌊4/2 + 1⌋ − 2 = 1, z = Φ⁻¹(3/4) = 0.6744897501960817
  const z = alieZ(4, 2);
  assertAlmostEquals(z, 0.6744897501960817, 1e-12);
  const out = attackUpdates({ kind: "alie" }, { honest: HONEST, own: OWN }, labelledRng("x"));
  assertEquals(arr(out), [[1 - z, 2 - z, 4], [1 - z, 2 - z, 4]]);
  const given = attackUpdates(
    { kind: "alie", z: 2 },
    { honest: HONEST, own: OWN },
    labelledRng("x"),
  );
  assertEquals(arr(given)[0], [-1, 0, 4]);
  // the paper's example setting: n = 50, f = 24 → s = 2, z = Φ⁻¹(0.96) = 1.7506860712521692
  assertAlmostEquals(alieZ(50, 24), 1.7506860712521692, 1e-12);
});

Deno.test("normalQuantile: known quantiles, symmetric, refuses p outside (0, 1)", () => {
  assertAlmostEquals(normalQuantile(0.5), 0, 1e-15);
  assertAlmostEquals(normalQuantile(0.975), 1.959963984540054, 1e-12);
  assertAlmostEquals(normalQuantile(0.025), -1.959963984540054, 1e-12);
  assertAlmostEquals(normalQuantile(1e-10), -6.361340902404056, 1e-9);
  for (const p of [0, 1, -0.1, NaN]) assertThrows(() => normalQuantile(p), RangeError);
});

Deno.test("noise: N(0, std²) draws, the same for the same seed, others for another", () => {
  const d = 40000;
  const noise = (label: string) =>
    attackUpdates(
      { kind: "noise", std: 3 },
      { honest: [], own: [new Float64Array(d)] },
      labelledRng("attacks-test", label),
    )[0];
  const a = noise("a");
  assertEquals(Array.from(a), Array.from(noise("a")));
  const b = noise("b");
  assert(a.some((x, j) => x !== b[j]));
  let sum = 0, sq = 0, within = 0;
  for (const x of a) {
    sum += x;
    sq += x * x;
    if (Math.abs(x) <= 3) within++;
  }
  // standard errors at d = 40000: mean 3/200 = 0.015, std 3/283 ≈ 0.011, fraction 0.0023
  assert(Math.abs(sum / d) < 0.06, `mean ${sum / d}`);
  assert(Math.abs(Math.sqrt(sq / d) - 3) < 0.045, `std ${Math.sqrt(sq / d)}`);
  assert(Math.abs(within / d - 0.6827) < 0.01, `within one std ${within / d}`);
});

Deno.test("GaussianSource: finite draws from an all-zero and an all-ones byte stream", () => {
  for (const byte of [0, 255]) {
    const g = new GaussianSource((n) => new Uint8Array(n).fill(byte));
    for (let i = 0; i < 4; i++) assert(Number.isFinite(g.next()));
  }
});

Deno.test("attacks: defaults for each kind; refusals name what is wrong", () => {
  for (const kind of ATTACK_KINDS) assertEquals(defaultAttack(kind).kind, kind);
  assertThrows(() => defaultAttack("labelflip" as never), RangeError, "unknown attack");
  const rng = labelledRng("attacks-test", "refusals");
  const refusals: [Parameters<typeof attackUpdates>, string][] = [
    [[{ kind: "scale", lambda: 2 }, { honest: [], own: [] }, rng], "no attackers"],
    [[{ kind: "scale", lambda: 2 }, { honest: [v(1)], own: [v(1, 2)] }, rng], "length 2"],
    [[{ kind: "scale", lambda: NaN }, { honest: [], own: [v(1)] }, rng], "λ must be finite"],
    [[{ kind: "noise", std: -1 }, { honest: [], own: [v(1)] }, rng], "std must be ≥ 0"],
    [[{ kind: "alie" }, { honest: [], own: [v(1)] }, rng], "ALIE needs the honest updates"],
    [[{ kind: "ipm", epsilon: 1 }, { honest: [], own: [v(1)] }, rng], "IPM needs"],
  ];
  for (const [args, text] of refusals) assertThrows(() => attackUpdates(...args), RangeError, text);
  assertThrows(() => alieZ(4, 0), RangeError, "1 ≤ f < n");
});

/**
 * The robust rules (protocol/robust/) against `reference.py`, an independent NumPy
 * implementation of docs/protocol.md ("Robust rules"), on seeded random group means: continuous
 * values, values from a small integer set (many ties, so the tie rules decide), and means with
 * far outliers; every rule, with and without the norm filter. The spec fixes every float
 * operation's order, so results and weights are compared BIT FOR BIT (big-endian hex), and kept
 * and filtered groups exactly. The coordinate-wise median and trimmed mean are also compared with
 * NumPy's `np.median` and SciPy's `trim_mean` (their own summation order) to 1e-12 relative.
 */
import { labelledRng } from "../../../protocol/crypto/random.ts";
import { combine, type RobustRule } from "../../../protocol/robust/mod.ts";
import { minimumGroups } from "../../../protocol/robust/rule.ts";
import { assert, assertEquals } from "../../_assert.ts";
import { Batch, float64Hex, NUMPY } from "./_python.ts";

type Kind = "continuous" | "ties" | "outliers";

function randomMeans(g: number, d: number, kind: Kind, label: string): Float64Array[] {
  const rng = labelledRng("robust-test", "means", label);
  const words = new Uint32Array(rng(8 * g * d).buffer);
  const u = (k: number) => (words[2 * k] * 2 ** 21 + (words[2 * k + 1] >>> 11)) / 2 ** 53;
  const means: Float64Array[] = [];
  for (let i = 0; i < g; i++) {
    const x = new Float64Array(d);
    for (let j = 0; j < d; j++) {
      const r = u(i * d + j);
      x[j] = kind === "ties" ? Math.floor(r * 5) - 2 : 2 * r - 1;
      if (kind === "outliers" && i % 3 === 1) x[j] = x[j] * 1000 - 500;
    }
    means.push(x);
  }
  return means;
}

function rulesFor(g: number): RobustRule[] {
  const rules: RobustRule[] = [
    { kind: "median" },
    { kind: "trimmed-mean", beta: 0.2 },
    { kind: "trimmed-mean", beta: 0.45 },
    { kind: "geomedian", iterations: 8, nu: 1e-6 },
    { kind: "geomedian", iterations: 100, nu: 1e-3 },
    { kind: "multi-krum", f: 0, m: 1 },
    { kind: "multi-krum", f: 1, m: 2 },
    { kind: "multi-krum", f: 2, m: 3 },
    { kind: "bulyan", f: 0 },
    { kind: "bulyan", f: 1 },
    { kind: "bulyan", f: 2 },
  ];
  const all = [
    ...rules,
    ...rules.map((r) => ({ ...r, normFilter: { tau: 1.5 } })),
    ...rules.map((r) => ({ ...r, normFilter: { tau: 1 } })),
  ];
  return all.filter((r) => g >= minimumGroups(r));
}

const batch = new Batch();
const cases: { name: string; rule: RobustRule; means: Float64Array[]; index: number }[] = [];
// g = 40 takes the sort past its insertion-sort length (32), also inside Bulyan (θ = 36)
for (const g of [1, 2, 3, 4, 5, 7, 8, 11, 12, 40]) {
  for (
    const [d, kind] of [[1, "ties"], [5, "continuous"], [17, "ties"], [33, "outliers"]] as const
  ) {
    const means = randomMeans(g, d, kind, `${g}/${d}/${kind}`);
    for (const rule of rulesFor(g)) {
      const index = batch.add({ op: "combine", rule, means: means.map((m) => Array.from(m)) });
      cases.push({ name: `g=${g} d=${d} ${kind} ${JSON.stringify(rule)}`, rule, means, index });
    }
  }
}

Deno.test({
  name: `robust rules: ${cases.length} random cases bit for bit against the NumPy reference`,
  ignore: !NUMPY.available,
  fn: async () => {
    let kinds = new Set<string>();
    for (const c of cases) {
      const got = combine(c.rule, c.means);
      const want = await batch.result<
        { result: string; weights: string; kept: number[]; filtered: number[] }
      >(c.index);
      assertEquals(float64Hex(got.result), want.result, `${c.name}: result`);
      assertEquals(float64Hex(got.weights), want.weights, `${c.name}: weights`);
      assertEquals(got.kept, want.kept, `${c.name}: kept`);
      assertEquals(got.filtered, want.filtered, `${c.name}: filtered`);
      kinds = kinds.add(c.rule.kind + (c.rule.normFilter ? "+filter" : ""));
    }
    assertEquals(kinds.size, 10, "every rule ran, with and without the filter");
    // the filter did drop something in some cases, or the comparison would not cover it
    assert(cases.some((c) => combine(c.rule, c.means).filtered.length > 0));
  },
});

const natural: { name: string; means: Float64Array[]; rule: RobustRule; index: number }[] = [];
for (const g of [4, 7, 10]) {
  const means = randomMeans(g, 64, "continuous", `natural/${g}`);
  for (const rule of [{ kind: "median" }, { kind: "trimmed-mean", beta: 0.25 }] as RobustRule[]) {
    const index = batch.add({ op: "natural", rule, means: means.map((m) => Array.from(m)) });
    natural.push({ name: `g=${g} ${rule.kind}`, means, rule, index });
  }
}

Deno.test({
  name: "median and trimmed mean agree with np.median and scipy.stats.trim_mean to 1e-12",
  ignore: !NUMPY.available,
  fn: async () => {
    for (const c of natural) {
      const got = combine(c.rule, c.means).result;
      const want = (await batch.result<{ result: number[] }>(c.index)).result;
      assertEquals(want.length, got.length);
      want.forEach((w, j) => {
        const err = Math.abs(got[j] - w) / Math.max(Math.abs(w), 1e-300);
        assert(err <= 1e-12, `${c.name} coordinate ${j}: ${got[j]} vs ${w}`);
      });
    }
  },
});

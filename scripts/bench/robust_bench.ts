/**
 * `deno bench`: the robust rules (protocol/robust/) over g = 15 group means of d = 2^20
 * coordinates (d = 1M, the size), each rule and the norm filter by name.
 *
 * @module
 */
import { seededRng } from "../../protocol/crypto/random.ts";
import { combine, type RobustRule } from "../../protocol/robust/mod.ts";

const G = 15;
const D = 1 << 20;
const words = new Uint32Array(seededRng(new Uint8Array(32).fill(5))(4 * G * D).buffer);
const means = Array.from(
  { length: G },
  (_, i) => Float64Array.from(words.subarray(i * D, (i + 1) * D), (w) => w / 2 ** 32 - 0.5),
);

const RULES: [string, RobustRule][] = [
  ["median", { kind: "median" }],
  ["trimmed-mean β=0.2", { kind: "trimmed-mean", beta: 0.2 }],
  ["multi-krum f=3 m=12", { kind: "multi-krum", f: 3, m: 12 }],
  ["bulyan f=3", { kind: "bulyan", f: 3 }],
  ["geomedian 10 iterations", { kind: "geomedian", iterations: 10, nu: 1e-6 }],
  ["median after norm filter τ=2", { kind: "median", normFilter: { tau: 2 } }],
];

for (const [name, rule] of RULES) {
  Deno.bench(`robust: ${name}, g = ${G}, d = 2^20`, { group: "robust", n: 3, warmup: 1 }, () => {
    combine(rule, means);
  });
}

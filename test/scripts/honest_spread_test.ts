/**
 * scripts/honest_spread.py's estimator `spread(updates)`: a hand-worked case, the simulator's own
 * model at a known H (it must recover H), and its refusal of fewer than two updates. Runs Debian's
 * /usr/bin/python3 with NumPy; skipped (with a line on stderr) when that cannot import NumPy.
 */
import { assert } from "../_assert.ts";

const PYTHON = "/usr/bin/python3";
const SCRIPTS = new URL("../../scripts/", import.meta.url).pathname;

async function python(code: string): Promise<{ ok: boolean; out: string; err: string }> {
  const out = await new Deno.Command(PYTHON, {
    args: ["-c", `import sys; sys.path.insert(0, ${JSON.stringify(SCRIPTS)})\n${code}`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { ok: out.success, out: dec.decode(out.stdout).trim(), err: dec.decode(out.stderr) };
}

const available = await python("import numpy").then((r) => r.ok, () => false);
if (!available) console.error(`SKIPPING honest_spread tests: ${PYTHON} cannot import numpy`);

Deno.test({
  name: "honest_spread.spread: hand-worked (two updates 1 apart around a mean of 2)",
  ignore: !available,
  fn: async () => {
    // u = [1, 0], [3, 0]: ū = [2, 0], Σ‖u − ū‖² = 2, S² = 2/1 = 2, M² = 4 − 2/2 = 3,
    // H = √(2/3); Hraw = √(2/2)/2 = 0.5; ‖ū‖ = 2
    const r = await python(
      "import json, honest_spread as h; print(json.dumps(h.spread([[1, 0], [3, 0]])))",
    );
    assert(r.ok, r.err);
    const [H, raw, norm] = JSON.parse(r.out) as number[];
    assert(Math.abs(H - Math.sqrt(2 / 3)) < 1e-15, `H = ${H}`);
    assert(raw === 0.5 && norm === 2, `${raw}, ${norm}`);
  },
});

Deno.test({
  name: "honest_spread.spread: recovers H from the simulator's model (μ + H·ξ_i), H = 0.5 and 2",
  ignore: !available,
  fn: async () => {
    const r = await python(`
import json, math, numpy as np, honest_spread as h
rng = np.random.default_rng(7)
out = []
for H in (0.5, 2.0):
    mu = rng.normal(size=20000)
    out.append(h.spread(mu + H * rng.normal(size=(12, 20000)))[0])
out.append(h.spread(2.0 * rng.normal(size=(12, 20000)))[0])
print(json.dumps([x if math.isfinite(x) else -1 for x in out]))`);
    assert(r.ok, r.err);
    const [h05, h2, iid] = JSON.parse(r.out) as number[]; // −1 stands for ∞
    // 12 × 20 000 draws: the estimate is within a few percent of the true H
    assert(Math.abs(h05 / 0.5 - 1) < 0.03, `H = 0.5 estimated as ${h05}`);
    assert(Math.abs(h2 / 2 - 1) < 0.05, `H = 2 estimated as ${h2}`);
    // no shared direction: M² ≈ 0, so H is huge or ∞
    assert(iid === -1 || iid > 20, `iid estimated as ${iid}`);
  },
});

Deno.test({
  name: "honest_spread.spread: refuses fewer than two updates",
  ignore: !available,
  fn: async () => {
    const r = await python(`
import honest_spread as h
try:
    h.spread([[1.0, 2.0]])
    print("accepted")
except ValueError as e:
    print("refused:", e)`);
    assert(r.ok, r.err);
    assert(r.out.startsWith("refused: spread needs an n × d array with n ≥ 2"), r.out);
  },
});

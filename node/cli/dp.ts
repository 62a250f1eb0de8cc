/**
 * `fedagg dp plan`: what a differential-privacy budget implies before a federation starts — the
 * noise of the distributed discrete Gaussian (central σ and each member's share σ/√(t − c)), the
 * discretization, the privacy actually spent, the expected error per coordinate and whether the
 * word is wide enough. Pure computation (`planDistributedDp` in the protocol core); needs no
 * node and no files.
 *
 * @module
 */
import {
  ConfigError,
  defaultThreshold,
  DP_PLAN_DEFAULTS,
  type DpPlan,
  type DpPlanSettings,
  planDistributedDp,
  WRAP_WARNING_LEVEL,
} from "../../protocol/mod.ts";
import { integer, number, optional, parse, print, required, usage, usageError } from "./_args.ts";
import { HELP } from "./help.ts";

/**
 * `fedagg dp plan …`: prints the plan (`--json`: the plan object) and resolves to 0. Refuses
 * (usage error, naming the option) a missing subcommand or option, malformed numbers, and values
 * the planner refuses: out of range, or a budget the bits cannot meet.
 */
export function dp(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "--help" || sub === "-h" || sub === undefined) usage("dp");
  if (sub !== "plan") throw usageError(`unknown dp subcommand ${sub}\n\n${HELP.dp}`);
  const args = parse(rest, "dp", {
    string: [
      "epsilon",
      "delta",
      "rounds",
      "clip",
      "members",
      "threshold",
      "corrupt",
      "dim",
      "bits",
      "beta",
      "modclip-prob",
    ],
  });
  if (args.help) usage("dp");
  const members = integer(required(args, "members", "dp"), "members", 1);
  const orDefault = (name: string, fallback: number, read: (v: string) => number) => {
    const v = optional(args, name);
    return v === undefined ? fallback : read(v);
  };
  const plan = planOrExplain({
    epsilon: number(required(args, "epsilon", "dp"), "epsilon"),
    delta: number(required(args, "delta", "dp"), "delta"),
    rounds: integer(required(args, "rounds", "dp"), "rounds", 1),
    clip: number(required(args, "clip", "dp"), "clip"),
    members,
    threshold: orDefault("threshold", defaultThreshold(members), (v) => integer(v, "threshold", 1)),
    corrupt: orDefault("corrupt", DP_PLAN_DEFAULTS.corrupt, (v) => integer(v, "corrupt")),
    dim: orDefault("dim", DP_PLAN_DEFAULTS.dim, (v) => integer(v, "dim", 1)),
    bits: orDefault("bits", DP_PLAN_DEFAULTS.bits, (v) => integer(v, "bits", 1)),
    beta: orDefault("beta", DP_PLAN_DEFAULTS.beta, (v) => number(v, "beta")),
    modclipProb: orDefault(
      "modclip-prob",
      DP_PLAN_DEFAULTS.modclipProb,
      (v) => number(v, "modclip-prob"),
    ),
  });
  print(args.json, plan, describe(plan));
  return Promise.resolve(0);
}

/** The CLI's name of each planner setting. */
const FLAGS: Record<string, string> = { modclipProb: "modclip-prob" };

/**
 * {@link planDistributedDp}, its refusals rephrased as usage errors naming the option
 * (`--delta must be in (0, 1), got 2`).
 */
function planOrExplain(settings: DpPlanSettings): DpPlan {
  try {
    return planDistributedDp(settings);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const detail = err.message.slice(err.setting.length + 2);
    throw usageError(`--${FLAGS[err.setting] ?? err.setting} ${detail}`);
  }
}

/** `x` with `digits` significant digits, without a trailing exponent for ordinary sizes. */
function g(x: number, digits = 4): string {
  if (x === 0) return "0";
  const abs = Math.abs(x);
  return abs >= 1e-3 && abs < 1e7 ? String(Number(x.toPrecision(digits))) : x.toExponential(2);
}

/** x² as {@link g} prints it, or as `x²` when the square leaves float64's range (huge clips). */
function squared(x: number): string {
  const v = x * x;
  return Number.isFinite(v) && v > 0 ? g(v) : `${g(x)}²`;
}

/** The plan as text, one fact per line. */
function describe(p: DpPlan): string {
  const s = p.settings;
  const noisy = s.threshold - s.corrupt;
  const k = p.bitsCheck.stddevs;
  return [
    "Distributed discrete Gaussian plan (DDGauss, zCDP accounting, CKS conversion to (ε, δ))",
    `  budget     ε = ${g(s.epsilon)}, δ = ${g(s.delta)} over ${s.rounds} rounds: ` +
    `ρ = ${g(p.rhoBudget, 6)} in zCDP, ${g(p.rhoBudget / s.rounds, 6)} per round`,
    `  federation ${s.members} members, threshold t = ${s.threshold}, up to c = ${s.corrupt} ` +
    `withholding their noise; L2 clip ${g(s.clip)}`,
    `  vector     d = ${s.dim}, padded to D = ${p.paddedDim} for the Hadamard rotation`,
    `  noise      central σ = ${g(p.sigma)} (any ${s.threshold} survivors' sum carries at ` +
    `least this); per member σ/√(t − c) = ${g(p.localStd)} (variance ${squared(p.localStd)})`,
    `  rounding   γ = ${g(p.gamma)} per step (scale ${g(1 / p.gamma)}), β = ${g(s.beta)}, ` +
    `norm bound Δ₂ = ${g(p.l2Bound)} steps; member noise ${g(p.localStdSteps)} steps`,
    `  privacy    ${g(p.rhoPerRound, 6)} ρ per round (τ = ${g(p.tau)}), ` +
    `ε = ${g(p.epsilonSpent, 6)} at δ = ${g(s.delta)} after ${s.rounds} rounds`,
    `  error      per coordinate of the sum: noise std ${g(p.noiseStd.min)} (${noisy} noised) ` +
    `to ${g(p.noiseStd.max)} (all ${s.members}), rounding ≤ ${g(p.roundingStd)}: ` +
    `≈ ${g(p.errorStd)}; of the mean of ${s.members}: ≈ ${g(p.meanErrorStd)}`,
    `  bits       b = ${s.bits}: b ≥ log2 n = ${g(p.bitsCheck.log2Members, 3)} ok; ` +
    `4^b > n·k² = ${g(s.members * k * k)} ok (k = ${g(k, 3)} std for p = ${g(s.modclipProb)})`,
    `  wraps      ${g(p.bitsCheck.modclipPerCoordinate)} per coordinate; any of the ` +
    `${p.paddedDim} in one round: ≤ ${g(p.bitsCheck.modclipAnyCoordinate)} (union bound)`,
    ...p.warnings.map((w) =>
      `  WARNING    ${w.message}; --${FLAGS[w.setting] ?? w.setting} ` +
      `${w.suggested.toExponential(1)} keeps it below ${WRAP_WARNING_LEVEL}`
    ),
  ].join("\n");
}

/**
 * The oracle reference of the robust table (`scripts/robust_sim_table.ts`): what a perfect rule
 * that knows which groups hold an attacker could publish, namely the weighted mean of the
 * unpoisoned groups' members, and its error against the honest weighted mean h that every
 * rule's `robustError` is measured against. It is a reference for the table, not a rule: no member
 * could compute it, because nobody knows the attackers.
 *
 * A second, weight-blind oracle ({@link weightBlindOracle}) averages the unpoisoned groups' means
 * alike, as a rule must (group weights are self-reported, so every rule ignores them): it is the
 * reference for what a rule in this design could reach, the weighted one for any rule at all.
 *
 * Even the weighted oracle misses h, because h also holds the honest members of the poisoned groups
 * (their updates reach the leader only mixed with an attacker's) and the oracle leaves them out.
 * Where the oracle's error is above a bar, no rule that discards poisoned groups meets that bar
 * except by chance: that is a measured reference, not a theorem about every conceivable rule (a
 * rule could in principle decode something from the poisoned means).
 *
 * To compute it outside the simulator this module redraws the honest inputs of a simulated round
 * ({@link simulatedHonestInputs}, the draws of `protocol/sim/simulation.ts`'s attacked rounds);
 * the table checks each redraw against the simulator's own `robustError`, so a drift between the
 * two is an error, not a wrong number.
 *
 * @module
 */
import { GaussianSource, honestUpdates, labelledRng } from "../protocol/sim/mod.ts";

/** The honest inputs of one simulated round under attack, as the simulator draws them. */
export interface SimulatedHonestInputs {
  /** Every member's honest update as submitted (float32, before clipping), member order. */
  readonly updates: readonly Float32Array[];
  /** Every member's honest weight (an attacker's is replaced by maxWeight in the round). */
  readonly weights: readonly number[];
}

/**
 * The honest updates and weights the simulator draws for `round` of a run seeded `seed` under
 * attack (any `byzantine` or `attack`): `honestUpdates(n, dim, clip, spread, …)` from the
 * labelled stream `("fedagg-sim", seed, "attack-inputs", round)`, weights 1 + (a uint32 draw
 * mod maxWeight) from `("fedagg-sim", seed, "attack-weights", round)`, updates rounded to
 * float32. Deterministic. Refuses (RangeError) n < 1, dim < 1 or maxWeight < 1 (and whatever
 * `honestUpdates` refuses).
 */
export function simulatedHonestInputs(settings: {
  readonly nodes: number;
  readonly dim: number;
  readonly clip: number;
  readonly maxWeight: number;
  readonly spread: number;
  readonly seed: number;
  readonly round: number;
}): SimulatedHonestInputs {
  const { nodes: n, dim, clip, maxWeight, spread, seed, round } = settings;
  for (const [name, v] of [["nodes", n], ["dim", dim], ["maxWeight", maxWeight]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new RangeError(`${name} must be an integer ≥ 1, got ${v}`);
    }
  }
  const gauss = new GaussianSource(labelledRng("fedagg-sim", seed, "attack-inputs", round));
  const updates = honestUpdates(n, dim, clip, spread, gauss).map((u) => Float32Array.from(u));
  const weightRng = labelledRng("fedagg-sim", seed, "attack-weights", round);
  const weights = updates.map(() =>
    1 + (new DataView(weightRng(4).buffer).getUint32(0) % maxWeight)
  );
  return { updates, weights };
}

/**
 * The weighted mean, in float64, of `members`' updates each clipped to ±`clip` coordinate-wise,
 * summed in ascending member order (the simulator's honest mean sums in the same order).
 * Refuses (RangeError) an empty member list, a member without an update or weight, a weight
 * that is not > 0, updates of different lengths, or a clip that is not > 0.
 */
export function weightedClippedMean(
  updates: readonly ArrayLike<number>[],
  weights: readonly number[],
  members: Iterable<number>,
  clip: number,
): Float64Array {
  if (!(clip > 0)) throw new RangeError(`clip must be > 0, got ${clip}`);
  const list = [...new Set(members)].sort((a, b) => a - b);
  if (list.length === 0) throw new RangeError("weighted mean of no members");
  const d = updates[list[0]]?.length;
  const out = new Float64Array(d ?? 0);
  let total = 0;
  for (const m of list) {
    const x = updates[m];
    const w = weights[m];
    if (x === undefined || w === undefined) {
      throw new RangeError(`member ${m} has no update or no weight`);
    }
    if (!(w > 0)) throw new RangeError(`member ${m}'s weight must be > 0, got ${w}`);
    if (x.length !== d) {
      throw new RangeError(`member ${m}'s update has length ${x.length}, not ${d}`);
    }
    total += w;
    for (let j = 0; j < out.length; j++) out[j] += w * Math.max(-clip, Math.min(clip, x[j]));
  }
  for (let j = 0; j < out.length; j++) out[j] /= total;
  return out;
}

/**
 * The members of the groups of `partition` that hold none of `byzantine`, ascending: whom the
 * oracle averages. Refuses (RangeError) a partition in which every group is poisoned.
 */
export function unpoisonedMembers(
  partition: readonly (readonly number[])[],
  byzantine: Iterable<number>,
): number[] {
  const bad = new Set(byzantine);
  const clean = partition.filter((g) => !g.some((m) => bad.has(m)));
  if (clean.length === 0) throw new RangeError("every group holds an attacker: no oracle");
  return clean.flat().sort((a, b) => a - b);
}

/** ‖a − h‖ / ‖h‖ in float64 (the simulator's relative error). Refuses unequal lengths. */
export function relativeError(a: ArrayLike<number>, h: ArrayLike<number>): number {
  if (a.length !== h.length) throw new RangeError(`lengths ${a.length} and ${h.length} differ`);
  let num = 0, den = 0;
  for (let j = 0; j < h.length; j++) {
    num += (a[j] - h[j]) ** 2;
    den += h[j] ** 2;
  }
  return Math.sqrt(num / den);
}

/**
 * The plain average of the means of `partition`'s groups that hold none of `byzantine` (each group
 * mean weighted by its members' weights within the group, the groups then counted alike): what a
 * perfect rule that knew the attackers but, like every rule here, ignored the self-reported group
 * weights could publish. Only members in `members` count; a group with none of them is skipped.
 * Refuses (RangeError) when no unpoisoned group has a member in `members`, and what
 * {@link weightedClippedMean} refuses.
 */
export function weightBlindOracle(
  inputs: SimulatedHonestInputs,
  partition: readonly (readonly number[])[],
  members: readonly number[],
  byzantine: readonly number[],
  clip: number,
): Float64Array {
  const bad = new Set(byzantine);
  const survivors = new Set(members);
  const means = partition
    .filter((g) => !g.some((m) => bad.has(m)))
    .map((g) => g.filter((m) => survivors.has(m)))
    .filter((g) => g.length > 0)
    .map((g) => weightedClippedMean(inputs.updates, inputs.weights, g, clip));
  if (means.length === 0) throw new RangeError("no unpoisoned group has a member: no oracle");
  const out = new Float64Array(means[0].length);
  for (const mean of means) for (let j = 0; j < out.length; j++) out[j] += mean[j];
  for (let j = 0; j < out.length; j++) out[j] /= means.length;
  return out;
}

/** The oracle of one round: the honest mean h, the oracles' results and their errors against h. */
export interface OracleReference {
  /** h: the weighted mean of every honest member (what `robustError` is measured against). */
  readonly honest: Float64Array;
  /** The weighted mean of the unpoisoned groups' members. */
  readonly oracle: Float64Array;
  /** ‖oracle − h‖ / ‖h‖. */
  readonly oracleError: number;
  /** {@link weightBlindOracle}: the unpoisoned groups' means averaged alike. */
  readonly weightBlind: Float64Array;
  /** ‖weightBlind − h‖ / ‖h‖. */
  readonly weightBlindError: number;
}

/**
 * The oracle of a round whose members `members` (the certified survivors) were partitioned into
 * `partition`, `byzantine` of them attacking, with honest inputs `inputs` and clip `clip`:
 * h over the honest survivors, the oracle over the honest survivors in groups without an
 * attacker, and the weight-blind oracle over those groups' means. Refuses (RangeError) what {@link weightedClippedMean} and {@link unpoisonedMembers}
 * refuse.
 */
export function oracleReference(
  inputs: SimulatedHonestInputs,
  partition: readonly (readonly number[])[],
  members: readonly number[],
  byzantine: readonly number[],
  clip: number,
): OracleReference {
  const bad = new Set(byzantine);
  const survivors = new Set(members);
  const honest = weightedClippedMean(
    inputs.updates,
    inputs.weights,
    members.filter((m) => !bad.has(m)),
    clip,
  );
  const clean = unpoisonedMembers(partition, byzantine).filter((m) => survivors.has(m));
  const oracle = weightedClippedMean(inputs.updates, inputs.weights, clean, clip);
  const weightBlind = weightBlindOracle(inputs, partition, members, byzantine, clip);
  return {
    honest,
    oracle,
    oracleError: relativeError(oracle, honest),
    weightBlind,
    weightBlindError: relativeError(weightBlind, honest),
  };
}

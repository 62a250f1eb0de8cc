/**
 * The approval committee of a sparse round (`docs/protocol.md` §3, "Sparse traffic"): s members
 * drawn per round from the round's graph seed, of whose approvals a quorum t_C replaces the
 * global t approvals a member needs before it reveals, and a certificate carries. Its size and
 * quorum come from the same hypergeometric bounds as the SecAgg+ graph ({@link
 * committeeParameters}); which members sit on it is a function of the roster and the round alone
 * ({@link approvalCommittee}), so no leader chooses it and every view of a round has the same one.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { deriveKey, KDF, seededRng } from "../crypto/mod.ts";
import type { MemberSet } from "../math/member_set.ts";
import type { CommitteeSettings, GraphSettings } from "./graphs.ts";
import { lnHyperTail, smallestTailAtMost } from "./hypergeometric.ts";
import { randomPermutation } from "./sampling.ts";
import { type GraphRound, graphSeed } from "./session_graph.ts";

/** Inputs of {@link committeeParameters}: the roster size and the counts the bounds assume. */
export interface CommitteeBoundSettings {
  /** Roster size n. */
  readonly n: number;
  /** c: corrupt members in the roster (fixed independently of the round's seed). */
  readonly corrupt: number;
  /** D: members that drop out of a round (fixed independently of the round's seed). */
  readonly dropouts: number;
  /** σ: two quorums share no honest member with probability ≤ 2^−σ. Default 40. */
  readonly securityBits?: number;
  /** η: fewer than t_C honest survivors sit on the committee with probability ≤ 2^−η. Default 20. */
  readonly correctnessBits?: number;
}

/** Output of {@link committeeParameters}. */
export interface CommitteeParameters extends CommitteeSettings {
  /** log₂ P[X_c ≥ 2t_C − s]: two quorums may share no honest member. Target ≤ −σ. */
  readonly log2Intersection: number;
  /** log₂ P[X_{c+D} > s − t_C]: fewer than t_C honest survivors on the committee. Target ≤ −η. */
  readonly log2Liveness: number;
}

/**
 * The smallest approval committee for `n` members of which `corrupt` are corrupt and `dropouts`
 * drop out, with X_c ~ HG(n, c, s) the corrupt members and X_{c+D} ~ HG(n, c + D, s) the
 * corrupt-or-dropped members a uniformly drawn s-subset holds:
 *
 * 1. intersection: P[X_c ≥ 2t_C − s] ≤ 2^−σ, so two sets of t_C approvers (which share at least
 *    2t_C − s members) share an honest member;
 * 2. liveness: P[X_{c+D} > s − t_C] ≤ 2^−η, so at least t_C honest survivors sit on it;
 * 3. t_C ≥ ⌊s/2⌋ + 1.
 *
 * Sizes are tried from 16 upwards (by 4 below 256, then by 16), each with the smallest t_C that
 * meets 1 and 3 (the most dropout-tolerant); the first that meets 2 is returned. Returns
 * `undefined` when no committee smaller than n works: the whole roster with its threshold t then
 * approves, as without a committee. The same search as `deno task scale:plan` (`docs/scale.md`):
 * s = 76, t_C = 49 at n = 10³ and s = 88, t_C = 57 at n = 10⁴, γ = 5 %, δ = 10 %.
 *
 * Refuses (ConfigError naming the setting) counts that are not integers with
 * 0 ≤ corrupt, 0 ≤ dropouts, corrupt + dropouts ≤ n, or bits that are not positive.
 */
export function committeeParameters(
  settings: CommitteeBoundSettings,
): CommitteeParameters | undefined {
  const { n, corrupt: c, dropouts } = settings;
  const sigma = settings.securityBits ?? 40;
  const eta = settings.correctnessBits ?? 20;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new ConfigError("n", `the roster size must be a positive integer, got ${n}`);
  }
  for (const [name, x] of [["corrupt", c], ["dropouts", dropouts]] as const) {
    if (!Number.isSafeInteger(x) || x < 0) {
      throw new ConfigError(name, `must be a non-negative integer, got ${x}`);
    }
  }
  if (c + dropouts > n) {
    throw new ConfigError("corrupt+dropouts", `${c} + ${dropouts} exceeds the ${n} members`);
  }
  for (const [name, x] of [["securityBits", sigma], ["correctnessBits", eta]] as const) {
    if (!(Number.isFinite(x) && x > 0)) {
      throw new ConfigError(name, `must be a positive number of bits, got ${x}`);
    }
  }
  const lnSafety = -sigma * Math.LN2;
  const lnLive = -eta * Math.LN2;
  for (let s = 16; s < n; s += s < 256 ? 4 : 16) {
    const a = smallestTailAtMost(n, c, s, lnSafety); // the smallest a with P[X_c ≥ a] ≤ 2^−σ
    const quorum = Math.max(Math.floor(s / 2) + 1, Math.ceil((a + s) / 2)); // 2t_C − s ≥ a
    if (quorum > s) continue;
    const lnLiveness = lnHyperTail(n, c + dropouts, s, s - quorum + 1);
    if (lnLiveness > lnLive) continue;
    return {
      size: s,
      quorum,
      log2Intersection: lnHyperTail(n, c, s, 2 * quorum - s) / Math.LN2,
      log2Liveness: lnLiveness / Math.LN2,
    };
  }
  return undefined;
}

const cache = new Map<string, MemberSet>();
const CACHE_LIMIT = 16;

/**
 * The approval committee of a round, or `undefined` when the roster has none (the complete graph,
 * a Harary graph without `committee`): the first `size` positions of the uniformly random
 * permutation of `0..n−1` drawn from `HKDF(graphSeed(round), "committee-prg")`
 * (`randomPermutation`), ascending. A function of the roster (its hash, size and graph) and the
 * round alone: the view, the leader and who showed up play no part, so every view of a round has
 * the same committee and no leader can shape it. Refuses (ConfigError `graph.committee`) a size
 * outside [1, n].
 */
export function approvalCommittee(
  roster: { readonly members: readonly unknown[]; readonly graph: GraphSettings },
  round: GraphRound,
): MemberSet | undefined {
  const graph = roster.graph;
  if (graph.kind !== "harary" || graph.committee === undefined) return undefined;
  const n = roster.members.length;
  const size = graph.committee.size;
  if (!Number.isSafeInteger(size) || size < 1 || size > n) {
    throw new ConfigError("graph.committee", `size must be in [1, ${n}], got ${size}`);
  }
  const seed = graphSeed(round);
  const id = `${n}/${size}/${Array.from(seed).join(".")}`;
  let members = cache.get(id);
  if (members === undefined) {
    const key = deriveKey(seed, KDF.committeePrg);
    const permutation = randomPermutation(n, seededRng(key));
    key.fill(0);
    members = Object.freeze(permutation.slice(0, size).sort((a, b) => a - b));
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(id, members);
  }
  return members;
}

/**
 * Who approves a round and how many must: the round's committee and its quorum t_C, or (no
 * committee) `undefined` members, meaning every member of U3, and the roster threshold t.
 */
export function approvalQuorum(
  roster: {
    readonly members: readonly unknown[];
    readonly graph: GraphSettings;
    readonly threshold: number;
  },
  round: GraphRound,
): { readonly committee: MemberSet | undefined; readonly quorum: number } {
  const committee = approvalCommittee(roster, round);
  const quorum = committee === undefined || roster.graph.kind !== "harary"
    ? roster.threshold
    : roster.graph.committee!.quorum;
  return { committee, quorum };
}

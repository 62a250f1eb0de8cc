/**
 * The group part of a certificate (group-wise aggregation, `docs/protocol.md` §6a): the body is
 * the total (d sums, then the total weight) followed by the sum of each included group in the
 * same form, in ascending group order; the certificate names the partition seed and the
 * included groups. {@link checkGroupSums} is what every member checks before co-signing and what
 * `fedagg verify` recomputes; {@link groupBody} is how the leader lays the body out.
 *
 * @module
 */
import { equalBytes, u64be } from "../encoding/bytes.ts";
import { HASH, taggedHash } from "../crypto/mod.ts";
import { ensure } from "../errors.ts";
import { describeRobustRule } from "../robust/rule.ts";
import type { Roster } from "../federation/roster.ts";
import { roundGroups } from "../federation/round_groups.ts";
import { type Session, sessionHash } from "../federation/session.ts";
import { type MemberSet, toMemberSet } from "../math/member_set.ts";
import type { Certificate } from "../wire/messages.ts";
import { type RobustOutcome, robustOutcome } from "./robust_result.ts";

/** One included group's certified sum. */
export interface GroupSum {
  /** The group's index in the round's partition. */
  readonly group: number;
  /** Its members whose inputs the sum holds (the group ∩ U3). */
  readonly members: MemberSet;
  /** Its total weight (the sum's last word). */
  readonly weight: number;
  /** The group's d + 1 words (a view into the body). */
  readonly sum: Uint32Array;
  /** `taggedHash("group-sum", session, group, the sum's little-endian words)`. */
  readonly hash: Uint8Array;
}

/** What the group part of a certificate certifies (see {@link checkGroupSums}). */
export interface CertifiedGroupSums {
  /** The round's partition seed. */
  readonly seed: Uint8Array;
  /** The round's groups (every member of the roster, by group). */
  readonly partition: readonly (readonly number[])[];
  /** The included groups' sums, ascending by group. */
  readonly included: readonly GroupSum[];
  /** The groups left out of the round (too few inputs, or not unmasked), ascending. */
  readonly excluded: readonly number[];
  /**
   * Under a robust rule: the round's robust result, recomputed from the group sums and checked
   * against the hash the certificate binds.
   */
  readonly robust?: RobustOutcome;
}

/** The number of bytes of a certificate body holding the total and `included` group sums. */
export function groupBodyLength(dim: number, included: number): number {
  return 4 * (dim + 1) * (1 + included);
}

/**
 * Whether `length` bytes can be a grouped certificate body of `roster`: the total and 1 to g
 * group sums of 4·(d + 1) bytes each. False for a roster without groups.
 */
export function isGroupBodyLength(roster: Pick<Roster, "dim" | "groups">, length: number): boolean {
  const g = roster.groups?.count ?? 0;
  const w = 4 * (roster.dim + 1);
  return g > 0 && length % w === 0 && length / w >= 2 && length / w <= g + 1;
}

/**
 * The body of a grouped certificate: the total of `sums` (word-wise mod 2^32; no sum can wrap,
 * the roster's quantization guarantees it for all n inputs) followed by each sum, in the order
 * given (ascending group).
 */
export function groupBody(dim: number, sums: readonly Uint32Array[]): Uint32Array {
  const w = dim + 1;
  const body = new Uint32Array(w * (1 + sums.length));
  sums.forEach((s, i) => {
    body.set(s, w * (1 + i));
    for (let k = 0; k < w; k++) body[k] = (body[k] + s[k]) >>> 0;
  });
  return body;
}

/**
 * Checks the group part of `certificate` against the aggregate `words` (the whole body) under a
 * roster with groups, and returns the members whose inputs the aggregate holds and the certified
 * group sums. Refuses (`commitment-mismatch`, naming the `leader`):
 *
 * - a partition seed other than the round's (a wrong partition);
 * - an included group whose members in U3 fall short of its need (its Shamir threshold and the
 *   roster's `minGroupSize`: a group shrunk by declaring its members dropped), or fewer included
 *   groups than `minGroups`;
 * - a body whose length is not the total plus one sum per included group;
 * - a total that is not the word-wise sum of the group sums (a wrong group sum);
 * - a group weight outside [m, m · maxWeight] for its m inputs;
 * - under a robust rule, a robust result hash other than that of the rule's result over the
 *   included groups' means (`robust_result.ts`): a result that does not follow from the sums.
 *
 * The caller checks the body hash and the total weight against the returned members.
 */
export function checkGroupSums(
  roster: Roster,
  session: Session,
  certificate: Certificate,
  words: Uint32Array,
  leader: number,
): { readonly members: MemberSet; readonly groups: CertifiedGroupSums } {
  const rg = roundGroups(roster, session.round)!;
  const groups = certificate.groups;
  ensure(groups !== undefined, "malformed", "certificate without its groups", leader);
  ensure(
    equalBytes(groups.seed, rg.partition.seed),
    "commitment-mismatch",
    "the certificate's partition seed is not the round's: a wrong partition",
    leader,
  );
  const eligible = new Set(rg.eligible(certificate.u3));
  for (const j of groups.included) {
    const inputs = rg.members(j, certificate.u3).length;
    ensure(
      eligible.has(j),
      "commitment-mismatch",
      `group ${j} holds ${inputs} inputs, below its minimum ${rg.need(j)}`,
      leader,
    );
  }
  ensure(
    groups.included.length >= rg.minGroups,
    "commitment-mismatch",
    `${groups.included.length} groups included, the round needs ${rg.minGroups}`,
    leader,
  );
  const w = roster.dim + 1;
  ensure(
    words.length * 4 === groupBodyLength(roster.dim, groups.included.length),
    "wrong-length",
    `aggregate is ${words.length * 4} bytes, expected ${
      groupBodyLength(roster.dim, groups.included.length)
    } for ${groups.included.length} group sums`,
    leader,
  );
  const total = new Uint32Array(w);
  const maxWeight = roster.quantization.maxWeight;
  const included = groups.included.map((group, i): GroupSum => {
    const sum = words.subarray(w * (1 + i), w * (2 + i));
    for (let k = 0; k < w; k++) total[k] = (total[k] + sum[k]) >>> 0;
    const members = rg.members(group, certificate.u3);
    const weight = sum[roster.dim];
    ensure(
      weight >= members.length && weight <= members.length * maxWeight,
      "commitment-mismatch",
      `group ${group}'s weight ${weight} is outside [${members.length}, ${
        members.length * maxWeight
      }] for its ${members.length} inputs`,
      leader,
    );
    const bytes = new Uint8Array(sum.buffer, sum.byteOffset, sum.byteLength);
    const hash = taggedHash(HASH.groupSum, sessionHash(session), u64be(group), bytes);
    return { group, members, weight, sum, hash };
  });
  ensure(
    equalBytes(
      new Uint8Array(total.buffer),
      new Uint8Array(words.buffer, words.byteOffset, 4 * w),
    ),
    "commitment-mismatch",
    "the aggregate is not the sum of the certified group sums: a wrong group sum",
    leader,
  );
  const inSum = new Set(groups.included);
  let robust: RobustOutcome | undefined;
  if (roster.robust !== undefined) {
    robust = robustOutcome(
      roster,
      session,
      included.map((g) => ({ group: g.group, inputs: g.members.length, sum: g.sum })),
      leader,
    );
    ensure(
      groups.robustHash !== undefined && equalBytes(groups.robustHash, robust.hash),
      "commitment-mismatch",
      `the certified robust result is not ${describeRobustRule(roster.robust)} of the group ` +
        "means: it does not follow from the sums",
      leader,
    );
  }
  return {
    members: toMemberSet(included.flatMap((g) => g.members)),
    groups: {
      seed: groups.seed,
      partition: rg.partition.groups,
      included,
      excluded: rg.partition.groups.map((_, j) => j).filter((j) => !inSum.has(j)),
      ...(robust === undefined ? {} : { robust }),
    },
  };
}

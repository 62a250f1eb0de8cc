/**
 * A round's groups under a roster with group-wise aggregation (`graph/groups.ts`): who is in
 * which group, how many inputs a group sum needs, and which groups a survivor set U3 leaves
 * eligible. Everything here is a public function of the roster, the round and U3, so the
 * leader, every member and `fedagg verify` compute the same answers, and approving (U2, U3)
 * approves every group's survivor set.
 *
 * @module
 */
import { groupShareThreshold, type Partition, roundPartition } from "../graph/groups.ts";
import { intersection, type MemberSet } from "../math/member_set.ts";
import type { Roster } from "./roster.ts";

/** The groups of one round. */
export interface RoundGroups {
  /** The round's partition (seed, groups, groupOf). */
  readonly partition: Partition;
  /** The number of groups g. */
  readonly count: number;
  /** The fewest groups a round needs (the roster's `minGroups`). */
  readonly minGroups: number;
  /**
   * The fewest inputs (members of U3) group `j`'s sum needs: its Shamir threshold (fewer
   * revealers cannot unmask it; t_k for a SecAgg+ group) and at least the roster's
   * `minGroupSize`.
   */
  need(j: number): number;
  /** The members of `set` in group `j`, ascending. */
  members(j: number, set: MemberSet): MemberSet;
  /** The groups whose members in `u3` reach their {@link need}, ascending. */
  eligible(u3: MemberSet): number[];
}

/**
 * The groups of `round` under `roster`, or undefined when the roster has no groups. The
 * partition is the round's (`roundPartition`): the same in every view.
 */
export function roundGroups(
  roster: Pick<Roster, "groups" | "graph" | "members" | "federation" | "hash">,
  round: number,
): RoundGroups | undefined {
  const plan = roster.groups;
  if (plan === undefined) return undefined;
  const partition = roundPartition(roster.members.length, plan.count, {
    federation: roster.federation,
    rosterHash: roster.hash,
    round,
  });
  const need = (j: number) =>
    Math.max(groupShareThreshold(partition.groups[j].length, roster.graph), plan.minGroupSize);
  const members = (j: number, set: MemberSet) => intersection(partition.groups[j], set);
  return {
    partition,
    count: plan.count,
    minGroups: plan.minGroups,
    need,
    members,
    eligible: (u3) =>
      partition.groups.map((_, j) => j).filter((j) => members(j, u3).length >= need(j)),
  };
}

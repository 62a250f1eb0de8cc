/**
 * Group-wise secure aggregation: the partition of a round's members into g groups, and the graph
 * of disjoint cliques that keeps every pair mask and every Shamir share inside one group.
 *
 * The partition is public and derived from the roster (its hash) and the round alone — never
 * from the view or from who showed up — by a Fisher–Yates permutation drawn from the ChaCha20
 * stream of `HKDF(taggedHash("group-seed", federation, rosterHash, round), "group-prg")`
 * (`docs/protocol.md` §6a says why nobody can choose it). With the group graph, the leader can
 * unmask each group's sum and nothing finer.
 *
 * @module
 */
import { u64be, utf8 } from "../encoding/bytes.ts";
import { deriveKey, HASH, KDF, seededRng, taggedHash } from "../crypto/mod.ts";
import { ConfigError } from "../errors.ts";
import { type GraphSettings, hararyGraph, type NeighbourGraph } from "./graphs.ts";
import { randomPermutation } from "./sampling.ts";

/**
 * A roster's group settings (`Roster.groups`). Exactly one of `count` (g groups) and `size`
 * (groups of about M members: g = ⌊n / M⌋) is given.
 */
export interface GroupSettings {
  /** The number of groups g (1 ≤ g ≤ n). */
  readonly count?: number;
  /** The planned group size M (1 ≤ M ≤ n): g = ⌊n / M⌋, so every group has at least M. */
  readonly size?: number;
  /**
   * The fewest inputs a group sum may hold in a round (counted in U3, the inputs actually in
   * the sum). Defaults to the share threshold of the smallest group, and at least
   * {@link SAFE_GROUP_SIZE} unless small groups are allowed.
   */
  readonly minGroupSize?: number;
  /**
   * The fewest groups a round needs; defaults to ⌈2g/3⌉. A leader can leave out at most
   * g − minGroups groups, so a median-type rule tolerates f < minGroups / 2 poisoned groups.
   */
  readonly minGroups?: number;
  /**
   * Allows groups (and `minGroupSize`) below {@link SAFE_GROUP_SIZE}; group size 1 is then the
   * explicit "signed plaintext, no privacy" mode. Defaults to false.
   */
  readonly allowSmallGroups?: boolean;
}

/** The checked group settings a roster holds (every default resolved for its member count). */
export interface GroupPlan {
  /** How the operator chose g: by count or by size (kept, so amendments resize the same way). */
  readonly by: "count" | "size";
  /** The count or size given. */
  readonly value: number;
  /** The number of groups g for the roster's n. */
  readonly count: number;
  /** The fewest inputs a group sum may hold. */
  readonly minGroupSize: number;
  /** The fewest groups a round needs. */
  readonly minGroups: number;
  /** Whether groups below {@link SAFE_GROUP_SIZE} were explicitly allowed. */
  readonly allowSmallGroups: boolean;
}

/**
 * The smallest group a roster accepts without `allowSmallGroups`: a group sum of 4 inputs hides
 * each of them from the other 3 only as well as a sum of 4 does — the price of robustness, stated
 * in `docs/threat-model.md`; below it the operator must say so.
 */
export const SAFE_GROUP_SIZE = 4;

/**
 * The Shamir threshold of a group of `size` members: ⌊2·size/3⌋ + 1, the complete graph's rule
 * applied to the group (a strict majority, so two disjoint sets of holders can never both
 * reconstruct). 1 for a group of one (its member's own share: plaintext mode).
 */
export function groupThreshold(size: number): number {
  return Math.min(size, Math.floor((2 * size) / 3) + 1);
}

/**
 * The Shamir threshold of a group of `size` members under the roster's graph `within`: the
 * Harary graph's t_k when the group is larger than its degree + 1 (SecAgg+ inside the group),
 * else {@link groupThreshold} (a clique).
 */
export function groupShareThreshold(size: number, within: GraphSettings): number {
  return within.kind === "harary" && size > within.degree + 1
    ? within.threshold
    : groupThreshold(size);
}

/** The sizes of the g groups of n members: the first n mod g groups have one more. */
export function groupSizes(n: number, g: number): number[] {
  const base = Math.floor(n / g);
  return Array.from({ length: g }, (_, j) => base + (j < n % g ? 1 : 0));
}

/**
 * Checks group settings for a roster of `n` members whose graph is `within` and resolves their
 * defaults (the default `minGroupSize` is the smallest group's `groupShareThreshold`). Refuses
 * (ConfigError naming the setting): neither or both of count and size, a count or size outside
 * [1, n], a smallest group below {@link SAFE_GROUP_SIZE} without `allowSmallGroups`, a
 * `minGroupSize` outside [1, smallest group] (or below the safe size without the override), a
 * `minGroups` outside [1, g].
 */
export function checkedGroupPlan(
  settings: GroupSettings | GroupPlan,
  n: number,
  within: GraphSettings = { kind: "complete" },
): GroupPlan {
  // A plan (an existing roster's, when an amendment rebuilds it) is re-resolved for this n.
  const s: GroupSettings = "by" in settings
    ? {
      [settings.by]: settings.value,
      minGroupSize: settings.minGroupSize,
      minGroups: settings.minGroups,
      allowSmallGroups: settings.allowSmallGroups,
    }
    : settings;
  const isInt = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v);
  if ((s.count === undefined) === (s.size === undefined)) {
    throw new ConfigError("groups", "give exactly one of a group count and a group size");
  }
  const by = s.count !== undefined ? "count" : "size";
  const value = (s.count ?? s.size)!;
  if (!isInt(value) || value < 1 || value > n) {
    throw new ConfigError(`groups.${by}`, `must be an integer in [1, n = ${n}], got ${value}`);
  }
  const count = by === "count" ? value : Math.floor(n / value);
  const smallest = Math.floor(n / count);
  const allowSmallGroups = s.allowSmallGroups ?? false;
  if (typeof allowSmallGroups !== "boolean") {
    throw new ConfigError("groups.allowSmallGroups", "must be true or false");
  }
  if (smallest < SAFE_GROUP_SIZE && !allowSmallGroups) {
    throw new ConfigError(
      `groups.${by}`,
      `${count} groups of ${n} members leave groups of ${smallest}, below the safe size ` +
        `${SAFE_GROUP_SIZE}: each group's sum is revealed; allow small groups explicitly`,
    );
  }
  const minGroupSize = s.minGroupSize ??
    Math.max(groupShareThreshold(smallest, within), allowSmallGroups ? 1 : SAFE_GROUP_SIZE);
  if (!isInt(minGroupSize) || minGroupSize < 1 || minGroupSize > smallest) {
    throw new ConfigError(
      "groups.minGroupSize",
      `must be an integer in [1, ${smallest}] (the smallest group), got ${minGroupSize}`,
    );
  }
  if (minGroupSize < SAFE_GROUP_SIZE && !allowSmallGroups) {
    throw new ConfigError(
      "groups.minGroupSize",
      `${minGroupSize} is below the safe size ${SAFE_GROUP_SIZE}; allow small groups explicitly`,
    );
  }
  const minGroups = s.minGroups ?? Math.ceil((2 * count) / 3);
  if (!isInt(minGroups) || minGroups < 1 || minGroups > count) {
    throw new ConfigError(
      "groups.minGroups",
      `must be an integer in [1, g = ${count}], got ${minGroups}`,
    );
  }
  return Object.freeze({ by, value, count, minGroupSize, minGroups, allowSmallGroups });
}

/** What names a round's partition: the roster (federation and hash) and the round. */
export interface PartitionRound {
  /** The federation's name. */
  readonly federation: string;
  /** The hash of the roster version in effect at the round. */
  readonly rosterHash: Uint8Array;
  /** The round. */
  readonly round: number;
}

/**
 * The round's partition seed: `taggedHash("group-seed", federation, rosterHash, round)`, the
 * same in every view of the round.
 */
export function partitionSeed(round: PartitionRound): Uint8Array<ArrayBuffer> {
  return taggedHash(HASH.groupSeed, utf8(round.federation), round.rosterHash, u64be(round.round));
}

/** A round's partition of the roster indices into groups. Immutable. */
export interface Partition {
  /** The seed it was drawn from ({@link partitionSeed}). */
  readonly seed: Uint8Array;
  /** The groups, each ascending; group j has `groupSizes(n, g)[j]` members. */
  readonly groups: readonly (readonly number[])[];
  /** The group of member `u`. Refuses (RangeError) an index outside 0..n−1. */
  groupOf(u: number): number;
}

/**
 * The partition of `n` members into `g` groups drawn from `seed` (normative): `p =
 * randomPermutation(n, seededRng(HKDF(seed, "group-prg")))`; group j takes the positions
 * `[start_j, start_j + size_j)` of p in order, sizes as {@link groupSizes}, then is sorted.
 * Refuses (ConfigError) g outside [1, n].
 */
export function partition(n: number, g: number, seed: Uint8Array): Partition {
  if (!Number.isSafeInteger(g) || g < 1 || g > n) {
    throw new ConfigError("groups.count", `must be an integer in [1, ${n}], got ${g}`);
  }
  const key = deriveKey(seed, KDF.groupPrg);
  const p = randomPermutation(n, seededRng(key));
  key.fill(0);
  const of = new Uint32Array(n);
  const groups: number[][] = [];
  let start = 0;
  for (const [j, size] of groupSizes(n, g).entries()) {
    const members = p.slice(start, start + size).sort((a, b) => a - b);
    for (const u of members) of[u] = j;
    groups.push(Object.freeze(members) as number[]);
    start += size;
  }
  return Object.freeze({
    seed: seed.slice(),
    groups: Object.freeze(groups),
    groupOf(u: number): number {
      if (!Number.isInteger(u) || u < 0 || u >= n) {
        throw new RangeError(`member index ${u} is outside 0..${n - 1}`);
      }
      return of[u];
    },
  });
}

const cache = new Map<string, Partition>();
const graphs = new Map<string, GroupGraph>();
const CACHE_LIMIT = 16;

/** {@link partition} of the round's seed, cached (the same for every view of a round). */
export function roundPartition(n: number, g: number, round: PartitionRound): Partition {
  const seed = partitionSeed(round);
  const id = `${n}/${g}/${Array.from(seed).join(".")}`;
  let p = cache.get(id);
  if (p === undefined) {
    p = partition(n, g, seed);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(id, p);
  }
  return p;
}

/**
 * The graph of a partition: no edge between groups; within a group a clique, or — with a Harary
 * `within` graph of degree k, in every group of more than k + 1 members — the SecAgg+ graph
 * H(m_j, k) on the group's members (ascending = local indices 0..m_j − 1), relabelled by
 * `hararyGraph(m_j, k, seededRng(HKDF(seed, "group-graph-prg", u64be(j))))` (normative). Unlike
 * the other graphs it is not regular: `degree` is the largest degree of any member. A group of
 * one has no neighbours.
 */
export class GroupGraph implements NeighbourGraph {
  readonly n: number;
  readonly degree: number;
  readonly complete = false;
  /** The partition it is built from. */
  readonly partition: Partition;
  /** Each group's graph on its local indices (undefined: a clique). */
  readonly #within: (NeighbourGraph | undefined)[];
  /** Each group's Shamir threshold. */
  readonly #thresholds: number[];
  /** Member → its local index in its group. */
  readonly #local: Uint32Array;

  /**
   * The graph of `partition`'s groups over `n` members; `within` the roster's graph (complete,
   * or Harary: SecAgg+ inside the groups larger than its degree + 1).
   */
  constructor(n: number, partition: Partition, within: GraphSettings = { kind: "complete" }) {
    this.n = n;
    this.partition = partition;
    this.#local = new Uint32Array(n);
    for (const g of partition.groups) g.forEach((u, i) => this.#local[u] = i);
    this.#within = partition.groups.map((g, j) => {
      if (within.kind !== "harary" || g.length <= within.degree + 1) return undefined;
      const key = deriveKey(partition.seed, KDF.groupGraphPrg, u64be(j));
      const graph = hararyGraph(g.length, within.degree, seededRng(key));
      key.fill(0);
      return graph;
    });
    this.#thresholds = partition.groups.map((g) => groupShareThreshold(g.length, within));
    this.degree = Math.max(
      ...partition.groups.map((g, j) => this.#within[j]?.degree ?? g.length - 1),
    );
  }

  /** The neighbours of `u` (in its group only), ascending. */
  neighbours(u: number): readonly number[] {
    const j = this.partition.groupOf(u);
    const group = this.partition.groups[j];
    const within = this.#within[j];
    if (within === undefined) return Object.freeze(group.filter((v) => v !== u));
    // Local indices are the group's ascending order, so mapping keeps the list ascending.
    return Object.freeze(within.neighbours(this.#local[u]).map((i) => group[i]));
  }

  /** Whether `u` and `v` are neighbours: distinct members of one group, adjacent within it. */
  isNeighbour(u: number, v: number): boolean {
    const j = this.partition.groupOf(u);
    if (u === v || this.partition.groupOf(v) !== j) return false;
    return this.#within[j]?.isNeighbour(this.#local[u], this.#local[v]) ?? true;
  }

  /**
   * The Shamir threshold of `u`'s group: {@link groupThreshold} of its size for a clique, the
   * Harary graph's own threshold t_k for a SecAgg+ group.
   */
  thresholdOf(u: number): number {
    return this.#thresholds[this.partition.groupOf(u)];
  }

  /** The Shamir threshold of group `j` (see {@link thresholdOf}). */
  groupThreshold(j: number): number {
    return this.#thresholds[j];
  }
}

/**
 * The {@link GroupGraph} of the round's partition ({@link roundPartition}) under the roster's
 * graph settings, cached like the partition (the same for every view of a round).
 */
export function groupGraph(
  n: number,
  g: number,
  within: GraphSettings,
  round: PartitionRound,
): GroupGraph {
  const p = roundPartition(n, g, round);
  const id = `${n}/${g}/${JSON.stringify(within)}/${Array.from(p.seed).join(".")}`;
  let graph = graphs.get(id);
  if (graph === undefined) {
    graph = new GroupGraph(n, p, within);
    if (graphs.size >= CACHE_LIMIT) graphs.clear();
    graphs.set(id, graph);
  }
  return graph;
}

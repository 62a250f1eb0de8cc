/**
 * The federation's roster: who the members are (id, long-term public keys) and the parameters
 * every round runs with. Its hash is bound into every signed message, so a message signed under
 * one roster (or one set of parameters) is useless under another.
 *
 * Members are ordered by id; a member's roster index (its position) is how messages name it.
 *
 * @module
 */
import { encode, type Value } from "../encoding/codec.ts";
import { ConfigError } from "../errors.ts";
import { HASH, ML_DSA65_PUBLIC_KEY_LENGTH, taggedHash } from "../crypto/mod.ts";
import type { GraphSettings, NeighbourGraph } from "../graph/graphs.ts";
import {
  checkedGroupPlan,
  GroupGraph,
  type GroupPlan,
  type GroupSettings,
} from "../graph/groups.ts";
import { defaultThreshold } from "../graph/secagg_plus.ts";
import { type QuantizationParameters, quantizationParameters } from "../math/quantize.ts";
import { type DpParameters, dpParameters, type DpSettings } from "../dp/parameters.ts";
import {
  checkGroupCount,
  describeRobustRule,
  parseRobustRule,
  type RobustRule,
  robustRuleValue,
  tolerates,
} from "../robust/rule.ts";
import {
  checkedLayout,
  flatLayout,
  isFlatLayout,
  layoutHash,
  layoutSize,
  type ModelLayout,
} from "./layout.ts";

/** Classical (X25519 + Ed25519) or post-quantum (X-Wing + ML-DSA-65 alongside Ed25519). */
export type Mode = "classical" | "post-quantum";

/** One roster member. */
export interface Member {
  /** Unique, stable identifier (the libp2p PeerId string in a deployment). 1..128 chars. */
  readonly id: string;
  /** Long-term Ed25519 public key (32 bytes). */
  readonly signingKey: Uint8Array;
  /** Long-term ML-DSA-65 public key (1952 bytes); required in post-quantum mode. */
  readonly pqSigningKey?: Uint8Array;
  /**
   * Display name (the organisation), 0..{@link MAX_NAME_LENGTH} characters without control
   * characters; part of the roster hash, so every member approves it. Absent means "".
   */
  readonly name?: string;
  /**
   * Where the member is reached (multiaddrs in a deployment), at most {@link MAX_ADDRESSES}
   * distinct strings of 1..256 characters; part of the roster hash. Absent means none.
   */
  readonly addresses?: readonly string[];
}

/** What a federation chooses; omitted fields take the documented defaults. */
export interface RosterSettings {
  /** Federation name, 1..64 characters. */
  readonly federation: string;
  /** The members (any order; they are sorted by id). */
  readonly members: readonly Member[];
  /** Defaults to `"classical"`. */
  readonly mode?: Mode;
  /**
   * Update length d (number of float32 parameters), 1..2^26. Optional when `layout` is given (d
   * is then its size; a `dim` that differs is refused).
   */
  readonly dim?: number;
  /**
   * The model's tensor layout (names, shapes, order; see `layout.ts`); defaults to the flat
   * layout of `dim`.
   */
  readonly layout?: ModelLayout;
  /** Clipping radius; defaults to {@link DEFAULT_CLIP}. */
  readonly clip?: number;
  /** Largest weight (num_samples) a member may claim; defaults to 1 (plain mean). */
  readonly maxWeight?: number;
  /** Quantization scale; defaults to the largest that cannot overflow. */
  readonly scale?: number;
  /** Global threshold t; defaults to ⌊2n/3⌋ + 1. */
  readonly threshold?: number;
  /** Defaults to the complete graph. */
  readonly graph?: GraphSettings;
  /**
   * Group-wise secure aggregation (`graph/groups.ts`): the members of each round are partitioned
   * into g groups, and the leader unmasks each group's sum. Absent (the default): one sum over
   * everyone. With a Harary `graph`, groups larger than its degree + 1 use it inside (SecAgg+);
   * smaller groups are cliques.
   */
  readonly groups?: GroupSettings | GroupPlan;
  /**
   * The robust rule over the group means (`robust/rule.ts`; its JSON form, read by
   * `parseRobustRule`). Needs `groups`. Absent (the default): the round's result is the plain
   * weighted mean of the total.
   */
  readonly robust?: RobustRule | Readonly<Record<string, unknown>>;
  /** How long the leader waits in a stage for stragglers (ms); see {@link defaultTimeouts}. */
  readonly stageTimeoutMs?: number;
  /**
   * How long the leader waits, from the first AdvertiseKeys of a session, for every member's
   * before starting the round with at least t (ms): the round's submission deadline. See
   * {@link defaultTimeouts}.
   */
  readonly advertiseTimeoutMs?: number;
  /**
   * How long a member waits for the leader to make progress before a view change (ms). See
   * {@link defaultTimeouts}.
   */
  readonly viewTimeoutMs?: number;
  /**
   * How long a member works on one round, from when the round started for it (its submission,
   * or its resumption after a restart), before it gives the round up (ms). See
   * {@link defaultRoundDeadlineMs}.
   */
  readonly roundDeadlineMs?: number;
  /**
   * Distributed differential privacy (`protocol/dp/parameters.ts`); absent: none. In DP mode
   * every weight is 1 (`maxWeight` must be 1) and members send D + 1 words
   * ({@link vectorLength}).
   */
  readonly dp?: DpSettings;
}

/** A validated roster. Immutable. */
export interface Roster {
  /** The federation's name (1–64 characters), part of every session. */
  readonly federation: string;
  /** Members sorted by id; the index in this array is the member's roster index. */
  readonly members: readonly Member[];
  /** Classical, or post-quantum (X-Wing confidentiality, hybrid signatures where it matters). */
  readonly mode: Mode;
  /** The update length d: the size of `layout`. */
  readonly dim: number;
  /**
   * The model's tensor layout: uploads are matched to it and aggregates served in it. The flat
   * layout of d (one tensor `aggregate` of shape `[d]`) when the settings named none.
   */
  readonly layout: ModelLayout;
  /** The global threshold t (> n/2): members a round needs at every stage. */
  readonly threshold: number;
  /** The neighbour graph (complete, or Harary with its per-neighbourhood threshold). */
  readonly graph: GraphSettings;
  /** The groups of group-wise aggregation, or undefined for one sum over everyone. */
  readonly groups: GroupPlan | undefined;
  /**
   * The robust rule a grouped round's result is combined with from the group means, or
   * undefined for the plain weighted mean of the total. Only with `groups`.
   */
  readonly robust: RobustRule | undefined;
  /** Fixed-point encoding of updates and weights, checked not to overflow 2^32. */
  readonly quantization: QuantizationParameters;
  /** How long the leader waits past t answers for the rest, at each later stage (ms). */
  readonly stageTimeoutMs: number;
  /** How long the leader waits for adverts, from the first (ms): the submission deadline. */
  readonly advertiseTimeoutMs: number;
  /** How long a member waits for its leader to make progress before a view change (ms). */
  readonly viewTimeoutMs: number;
  /**
   * How long a member works on one round, from when it started for it, before it gives the
   * round up: `round-failed`, or `outcome-unknown` if its masked input left (ms).
   */
  readonly roundDeadlineMs: number;
  /** The DP parameters every member derives from the roster's `dp` settings; absent: no DP. */
  readonly dp?: DpParameters;
  /** SHA-256 (domain "roster") of the canonical encoding. */
  readonly hash: Uint8Array;
  /** Roster index of `id`, or undefined. */
  indexOf(id: string): number | undefined;
}

/** Largest accepted update length (2^26 parameters = 256 MiB of float32). */
export const MAX_DIM = 2 ** 26;
/** Largest accepted roster. */
export const MAX_MEMBERS = 65535;
/** Longest member display name (characters). */
export const MAX_NAME_LENGTH = 64;
/** Most addresses one member may list. */
export const MAX_ADDRESSES = 16;

/**
 * The clipping radius a roster takes when its settings name none: 8, the clipping range of
 * Flower's SecAgg+. It covers whole-model weights (which rarely leave [-8, 8]) as well as
 * updates (deltas, gradients); the price is resolution, which the error bound states (see
 * `quantize.ts`). Deltas of a known small range get 8× finer steps with `clip` 1.
 */
export const DEFAULT_CLIP = 8;

/** The stage timeout a roster takes when its settings name none (ms). */
export const DEFAULT_STAGE_TIMEOUT_MS = 10_000;

/**
 * The timeouts a roster takes where its settings omit them, the one rule both
 * {@link createRoster} and the node's `fedagg roster create` apply: the stage timeout defaults to
 * {@link DEFAULT_STAGE_TIMEOUT_MS}; the advertise timeout (the submission deadline, which must
 * leave trainers time to finish) to 6 × the stage timeout; the view timeout to 3 × the stage
 * timeout (it must exceed it, or members abandon a leader still waiting for stragglers). With
 * the default stage timeout: 10 s, 60 s and 30 s.
 */
export function defaultTimeouts(stageTimeoutMs: number = DEFAULT_STAGE_TIMEOUT_MS): {
  readonly stageTimeoutMs: number;
  readonly advertiseTimeoutMs: number;
  readonly viewTimeoutMs: number;
} {
  return {
    stageTimeoutMs,
    advertiseTimeoutMs: 6 * stageTimeoutMs,
    viewTimeoutMs: 3 * stageTimeoutMs,
  };
}

/**
 * The round deadline a roster of `members` members takes where its settings name none: every
 * view a round may run (`viewLimit` = n views) at the longest a member waits in one
 * ({@link viewPatienceMs}: the view timeout plus the advertise timeout), plus one more such span
 * for the last view's stages and the publication — so a round that ends by view changes alone
 * ends by the view limit before the deadline, and the deadline catches only what the views
 * cannot (a member whose views keep restarting, a member that never hears the others). With the
 * default timeouts and 5 members: 6 × 90 s = 9 minutes.
 */
export function defaultRoundDeadlineMs(
  members: number,
  timeouts: Pick<Roster, "viewTimeoutMs" | "advertiseTimeoutMs">,
): number {
  return (members + 1) * viewPatienceMs(timeouts);
}

function float64Bytes(x: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, x);
  return b;
}

/**
 * Validates settings and builds a {@link Roster}. Refuses with a {@link ConfigError} naming the
 * setting: fewer than 3 or more than 65535 members, duplicate ids or keys, keys of the wrong
 * length, a missing ML-DSA key in post-quantum mode, a threshold ≤ n/2 or > n (a round
 * completes with n − t members lost, and a threshold t keeps two views of a round from both
 * completing while fewer than 2t − n members are corrupt: the default ⌊2n/3⌋ + 1 tolerates
 * ⌈n/3⌉ − 1 lost members and, for n = 9, up to 4 corrupt ones), a graph whose degree is odd or
 * ≥ n or whose threshold is not a strict majority of a closed neighbourhood, quantization that
 * could overflow 2^32, non-positive timeouts, a robust rule without groups or that the groups'
 * `minGroups` cannot run or leaves tolerating nothing (`robust`), a numeric setting of another type (named as a type
 * error: `"2"` is not a threshold), and a member name or address list outside the limits of
 * {@link Member}.
 *
 * @example Make a roster: every member's long-term keys, the parameters, and its hash
 * ```ts
 * import { createRoster, MemberSigner, systemRng } from "../../mod.ts";
 *
 * const signers = await Promise.all(
 *   ["hospital-a", "hospital-b", "lab-c"].map(() => MemberSigner.fromSeeds(systemRng(32))),
 * );
 * const roster = createRoster({
 *   federation: "example",
 *   members: signers.map((s, i) => ({ id: `member-${i}`, signingKey: s.signingKey })),
 *   dim: 4,
 *   maxWeight: 100,
 * });
 * if (roster.threshold !== 3) throw new Error("t = ⌊2n/3⌋ + 1 = 3 for three members");
 * ```
 */
export function createRoster(settings: RosterSettings): Roster {
  checkNumberTypes(settings);
  const federation = settings.federation;
  if (typeof federation !== "string" || federation.length < 1 || federation.length > 64) {
    throw new ConfigError("federation", "must be a name of 1 to 64 characters");
  }
  const mode: Mode = settings.mode ?? "classical";
  if (mode !== "classical" && mode !== "post-quantum") {
    throw new ConfigError("mode", `must be "classical" or "post-quantum", got ${String(mode)}`);
  }
  const members = checkedMembers(settings.members, mode);
  const n = members.length;
  const { dim, layout } = checkedDimAndLayout(settings);
  const threshold = settings.threshold ?? defaultThreshold(n);
  if (!Number.isSafeInteger(threshold) || threshold <= n / 2 || threshold > n) {
    throw new ConfigError(
      "threshold",
      `must be an integer in (n/2, n] = (${n / 2}, ${n}]: two views of a round can then not ` +
        `both complete while fewer than 2t − n members are corrupt; got ${threshold}`,
    );
  }
  const graph = checkedGraph(settings.graph ?? { kind: "complete" }, n);
  const groups = checkedGroups(settings, graph, n);
  const robust = checkedRobust(settings, groups);
  const quantization = quantizationParameters({
    members: n,
    clip: settings.clip ?? DEFAULT_CLIP,
    maxWeight: settings.maxWeight ?? 1,
    scale: settings.scale,
  });
  const timeouts = checkedTimeouts(settings, n);
  if (settings.dp !== undefined && groups !== undefined) {
    // Each revealed group sum would need the full noise on its own (σ²/(t_g − c) per member of
    // its group), and the DP vector (D + 1 words) is not the group body's d + 1: not built yet.
    throw new ConfigError(
      "dp",
      "distributed DP together with group-wise aggregation is not supported yet: use one or the other",
    );
  }
  const dp = settings.dp === undefined
    ? undefined
    : checkedDp(settings.dp, { members: n, threshold, dim, maxWeight: quantization.maxWeight });
  const hash = rosterHash({
    federation,
    mode,
    members,
    dim,
    layout,
    threshold,
    graph,
    groups,
    robust,
    quantization,
    ...timeouts,
    ...(dp === undefined ? {} : { dp }),
  });
  const index = new Map(members.map((m, i) => [m.id, i]));
  return Object.freeze({
    federation,
    members: Object.freeze(members),
    mode,
    dim,
    layout,
    threshold,
    graph,
    groups,
    robust,
    quantization,
    ...timeouts,
    ...(dp === undefined ? {} : { dp }),
    hash,
    indexOf: (id: string) => index.get(id),
  });
}

/**
 * The DP parameters of a roster of `members` members (see `dpParameters`), refusing
 * (ConfigError `maxWeight`) a largest weight other than 1: in DP mode every member's weight is 1.
 */
function checkedDp(
  settings: DpSettings,
  r: { members: number; threshold: number; dim: number; maxWeight: number },
): DpParameters {
  if (r.maxWeight !== 1) {
    throw new ConfigError(
      "maxWeight",
      `must be 1 in DP mode, got ${r.maxWeight}: a self-reported weight would change the ` +
        "sensitivity the noise is calibrated to, and the weight sum is published exactly",
    );
  }
  return dpParameters(settings, r);
}

/**
 * The number of 32-bit words a member's input and a round's aggregate have: d + 1 (the values
 * and the weight), or D + 1 in DP mode (the rotation's padded length, then the weight word).
 */
export function vectorLength(roster: Pick<Roster, "dim" | "dp">): number {
  return (roster.dp === undefined ? roster.dim : roster.dp.paddedDim) + 1;
}

/**
 * The update length and the layout: the layout given (checked), its size as d, or the flat layout
 * of the `dim` given. Refuses (ConfigError) a `dim` outside [1, 2^26], a layout that is invalid or
 * holds more than 2^26 values, and a `dim` other than the layout's size.
 */
function checkedDimAndLayout(settings: RosterSettings): { dim: number; layout: ModelLayout } {
  const given = settings.dim;
  if (given !== undefined && (!Number.isSafeInteger(given) || given < 1 || given > MAX_DIM)) {
    throw new ConfigError("dim", `must be an integer in [1, ${MAX_DIM}], got ${given}`);
  }
  if (settings.layout === undefined) {
    if (given === undefined) throw new ConfigError("dim", "a roster needs dim or a layout");
    return { dim: given, layout: flatLayout(given) };
  }
  const layout = checkedLayout(settings.layout, MAX_DIM);
  const dim = layoutSize(layout);
  if (given !== undefined && given !== dim) {
    throw new ConfigError(
      "dim",
      `is ${given} but the layout holds ${dim} values (d follows from the layout)`,
    );
  }
  return { dim, layout };
}

/** The settings that are numbers, each refused by name when present with another type. */
const NUMBER_SETTINGS = [
  "dim",
  "clip",
  "maxWeight",
  "scale",
  "threshold",
  "stageTimeoutMs",
  "advertiseTimeoutMs",
  "viewTimeoutMs",
  "roundDeadlineMs",
] as const;

/** Refuses (ConfigError naming the setting) a numeric setting of another type, e.g. `"2"`. */
function checkNumberTypes(settings: RosterSettings): void {
  for (const name of NUMBER_SETTINGS) {
    const v: unknown = settings[name];
    if (v !== undefined && typeof v !== "number") {
      throw new ConfigError(name, `must be a number, got ${describe(v)}`);
    }
  }
}

/** A short description of an unexpected value's type, for error messages (never its bytes). */
function describe(v: unknown): string {
  return v === null
    ? "null"
    : Array.isArray(v)
    ? "a list"
    : typeof v === "string"
    ? `the string ${JSON.stringify(v.slice(0, 32))}`
    : `a ${typeof v}`;
}

// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Refuses (ConfigError) a member's name or addresses outside the limits {@link Member} states. */
function checkDescription(m: Member): void {
  if (m.name !== undefined) {
    if (
      typeof m.name !== "string" || m.name.length > MAX_NAME_LENGTH ||
      CONTROL.test(m.name)
    ) {
      throw new ConfigError(
        "members",
        `member ${m.id}: name must be at most ${MAX_NAME_LENGTH} characters without control characters`,
      );
    }
  }
  if (m.addresses !== undefined) {
    const a = m.addresses;
    if (
      !Array.isArray(a) || a.length > MAX_ADDRESSES ||
      !a.every((x) => typeof x === "string" && x.length >= 1 && x.length <= 256) ||
      new Set(a).size !== a.length
    ) {
      throw new ConfigError(
        "members",
        `member ${m.id}: addresses must be at most ${MAX_ADDRESSES} distinct strings of 1..256 characters`,
      );
    }
  }
}

/** The members sorted by id, each checked (see {@link createRoster}). */
function checkedMembers(list: readonly Member[], mode: Mode): Member[] {
  const members = [...list].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const n = members.length;
  if (n < 3 || n > MAX_MEMBERS) {
    throw new ConfigError("members", `a roster needs 3 to ${MAX_MEMBERS} members, got ${n}`);
  }
  const seenKeys = new Set<string>();
  members.forEach((m, i) => {
    if (typeof m.id !== "string" || m.id.length < 1 || m.id.length > 128) {
      throw new ConfigError("members", `member ${i} has an id that is not 1..128 characters`);
    }
    if (i > 0 && members[i - 1].id === m.id) {
      throw new ConfigError("members", `duplicate member id ${m.id}`);
    }
    if (!(m.signingKey instanceof Uint8Array) || m.signingKey.length !== 32) {
      throw new ConfigError("members", `member ${m.id}: signingKey must be 32 bytes (Ed25519)`);
    }
    const key = Array.from(m.signingKey).join(",");
    if (seenKeys.has(key)) throw new ConfigError("members", `member ${m.id} reuses a signing key`);
    seenKeys.add(key);
    checkDescription(m);
    if (
      mode === "post-quantum" &&
      (!(m.pqSigningKey instanceof Uint8Array) ||
        m.pqSigningKey.length !== ML_DSA65_PUBLIC_KEY_LENGTH)
    ) {
      throw new ConfigError(
        "members",
        `member ${m.id}: post-quantum mode needs a ${ML_DSA65_PUBLIC_KEY_LENGTH}-byte ML-DSA-65 key`,
      );
    }
  });
  return members;
}

/**
 * The group plan, checked for a roster of `n` (`checkedGroupPlan`), or undefined without groups
 * (a Harary graph then applies inside every group larger than its degree + 1, `groups.ts`).
 */
function checkedGroups(
  settings: RosterSettings,
  graph: GraphSettings,
  n: number,
): GroupPlan | undefined {
  if (settings.groups === undefined) return undefined;
  if (graph.kind === "harary" && graph.committee !== undefined) {
    throw new ConfigError(
      "graph.committee",
      "an approval committee is for rosters without groups (a round with groups runs on its " +
        "groups' graphs): drop the committee or the groups",
    );
  }
  return checkedGroupPlan(settings.groups, n, graph);
}

/**
 * The robust rule (`parseRobustRule`), or undefined without one. Refuses (ConfigError `robust…`
 * naming the field): an invalid rule; a rule without `groups`; groups whose `minGroups` (the
 * fewest group means a round may publish) is below what the rule needs (`minimumGroups`, e.g.
 * multi-Krum's g > 2f + 2) or leave it no poisoned group to tolerate (`tolerates` = 0: the rule
 * would then promise nothing plain averaging does not).
 */
function checkedRobust(
  settings: RosterSettings,
  groups: GroupPlan | undefined,
): RobustRule | undefined {
  if (settings.robust === undefined) return undefined;
  const rule = parseRobustRule(settings.robust);
  if (groups === undefined) {
    throw new ConfigError(
      "robust",
      "a robust rule combines group means: it needs groups (--groups G or --group-size M)",
    );
  }
  const name = describeRobustRule(rule);
  try {
    checkGroupCount(rule, groups.minGroups);
  } catch (err) {
    throw new ConfigError(
      "robust",
      `${name} cannot run on the ${groups.minGroups} groups a round may be left with ` +
        `(groups.minGroups): ${(err as Error).message}`,
    );
  }
  if (tolerates(rule, groups.minGroups) < 1) {
    throw new ConfigError(
      "robust",
      `${name} tolerates no poisoned group among the ${groups.minGroups} groups a round may be ` +
        `left with (groups.minGroups): raise the group count or minGroups`,
    );
  }
  return rule;
}

/** The graph, checked for a roster of `n` (see {@link createRoster}). */
function checkedGraph(graph: GraphSettings, n: number): GraphSettings {
  if (graph.kind === "complete") return graph;
  if (graph.kind !== "harary") {
    throw new ConfigError(
      "graph",
      `unknown graph kind ${String((graph as { kind: unknown }).kind)}`,
    );
  }
  const { degree, threshold: tk } = graph;
  if (!Number.isSafeInteger(degree) || degree < 2 || degree % 2 !== 0 || degree >= n - 1) {
    throw new ConfigError(
      "graph.degree",
      `must be an even integer in [2, n − 2] = [2, ${n - 2}] (use the complete graph ` +
        `otherwise), got ${degree}`,
    );
  }
  if (!Number.isSafeInteger(tk) || tk <= (degree + 1) / 2 || tk > degree + 1) {
    throw new ConfigError(
      "graph.threshold",
      `must be a strict majority of a closed neighbourhood: in (${(degree + 1) / 2}, ${
        degree + 1
      }], got ${tk}`,
    );
  }
  const committee = graph.committee;
  if (committee === undefined) return graph;
  const { size, quorum } = committee;
  if (!Number.isSafeInteger(size) || size < 1 || size > n) {
    throw new ConfigError(
      "graph.committee.size",
      `must be an integer in [1, n] = [1, ${n}], got ${size}`,
    );
  }
  if (!Number.isSafeInteger(quorum) || quorum <= size / 2 || quorum > size) {
    throw new ConfigError(
      "graph.committee.quorum",
      `must be a strict majority of the committee: in (${size / 2}, ${size}], got ${quorum}`,
    );
  }
  return graph;
}

/**
 * The timeouts and the round deadline, defaulted ({@link defaultTimeouts},
 * {@link defaultRoundDeadlineMs}) and checked.
 */
function checkedTimeouts(
  settings: RosterSettings,
  members: number,
): Pick<Roster, "stageTimeoutMs" | "advertiseTimeoutMs" | "viewTimeoutMs" | "roundDeadlineMs"> {
  const stageTimeoutMs = settings.stageTimeoutMs ?? DEFAULT_STAGE_TIMEOUT_MS;
  const defaults = defaultTimeouts(stageTimeoutMs);
  const advertiseTimeoutMs = settings.advertiseTimeoutMs ?? defaults.advertiseTimeoutMs;
  const viewTimeoutMs = settings.viewTimeoutMs ?? defaults.viewTimeoutMs;
  const roundDeadlineMs = settings.roundDeadlineMs ??
    defaultRoundDeadlineMs(members, { viewTimeoutMs, advertiseTimeoutMs });
  for (
    const [name, v] of [
      ["stageTimeoutMs", stageTimeoutMs],
      ["advertiseTimeoutMs", advertiseTimeoutMs],
      ["viewTimeoutMs", viewTimeoutMs],
      ["roundDeadlineMs", roundDeadlineMs],
    ] as const
  ) {
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new ConfigError(name, `must be a positive integer number of milliseconds`);
    }
  }
  if (viewTimeoutMs <= stageTimeoutMs) {
    throw new ConfigError(
      "viewTimeoutMs",
      `must exceed stageTimeoutMs (${stageTimeoutMs}) or members abandon a leader that is ` +
        `still waiting for stragglers`,
    );
  }
  if (roundDeadlineMs <= viewTimeoutMs) {
    throw new ConfigError(
      "roundDeadlineMs",
      `must exceed viewTimeoutMs (${viewTimeoutMs}): a round needs at least one view`,
    );
  }
  return { stageTimeoutMs, advertiseTimeoutMs, viewTimeoutMs, roundDeadlineMs };
}

/**
 * A graph's part of the roster hash: `["complete"]`, `["harary", k, t_k]`, or with an approval
 * committee `["harary", k, t_k, size, quorum]` (a roster without one hashes as before committees).
 */
function graphCanonical(graph: GraphSettings): Value[] {
  if (graph.kind === "complete") return ["complete"];
  const base: Value[] = ["harary", graph.degree, graph.threshold];
  const c = graph.committee;
  return c === undefined ? base : [...base, c.size, c.quorum];
}

/**
 * The roster hash: the domain-separated SHA-256 of the canonical CBOR array
 * `["fedagg/v1/roster", federation, mode, [member…], d, t, graph, clip, scale, maxWeight,
 * stageTimeoutMs, viewTimeoutMs, advertiseTimeoutMs, roundDeadlineMs]`, floats as IEEE-754 bytes,
 * then `["groups", by, value, minGroupSize, minGroups, allowSmallGroups]` when the roster has
 * groups (a roster without them hashes as before groups existed), then `["robust", rule]` (the
 * rule's canonical value, `robustRuleValue`) when it has a robust rule, followed by the layout
 * hash (`layout.ts`) unless the layout is the flat layout of d (a roster without a layout keeps the
 * hash it had before layouts; any other layout changes it), then the DP parameters
 * ({@link dpCanonical}) in DP mode (a roster without DP keeps its hash). A member
 * is `[id, key, pqKey | null]`, or `[id, key, pqKey | null, name, [address…]]` when it has a
 * non-empty name or addresses (so a roster without them hashes as before they existed).
 */
function rosterHash(r: Omit<Roster, "hash" | "indexOf">): Uint8Array<ArrayBuffer> {
  const canonical: Value[] = [
    "fedagg/v1/roster",
    r.federation,
    r.mode,
    r.members.map((m): Value => {
      const base = [m.id, m.signingKey, m.pqSigningKey ?? null];
      const name = m.name ?? "";
      const addresses = m.addresses ?? [];
      return name === "" && addresses.length === 0 ? base : [...base, name, [...addresses]];
    }),
    r.dim,
    r.threshold,
    graphCanonical(r.graph),
    float64Bytes(r.quantization.clip),
    float64Bytes(r.quantization.scale),
    r.quantization.maxWeight,
    r.stageTimeoutMs,
    r.viewTimeoutMs,
    r.advertiseTimeoutMs,
    r.roundDeadlineMs,
  ];
  if (r.groups !== undefined) {
    const g = r.groups;
    canonical.push(["groups", g.by, g.value, g.minGroupSize, g.minGroups, g.allowSmallGroups]);
  }
  if (r.robust !== undefined) canonical.push(["robust", robustRuleValue(r.robust)]);
  if (!isFlatLayout(r.layout)) canonical.push(layoutHash(r.layout));
  if (r.dp !== undefined) canonical.push(dpCanonical(r.dp));
  return taggedHash(HASH.roster, encode(canonical));
}

/**
 * A DP roster's parameters as the roster hash binds them: `["ddgauss", ε, δ, rounds, C, bits, c,
 * β, p, γ, σ_ℓ²num, σ_ℓ²den]`, floats as IEEE-754 bytes and the variance's rational as decimal
 * strings. The derived γ and variance are bound too: members whose arithmetic differed get
 * different hashes and never run a round together with noise of different scales.
 */
function dpCanonical(dp: DpParameters): Value {
  return [
    dp.mechanism,
    float64Bytes(dp.epsilon),
    float64Bytes(dp.delta),
    dp.rounds,
    float64Bytes(dp.clip),
    dp.bits,
    dp.corrupt,
    float64Bytes(dp.beta),
    float64Bytes(dp.modclipProb),
    float64Bytes(dp.gamma),
    dp.localVariance.num.toString(),
    dp.localVariance.den.toString(),
  ];
}

/**
 * The longest a member waits in one view for its leader to make progress: `viewTimeoutMs`, plus
 * `advertiseTimeoutMs` while the leader may still be collecting adverts. A frame still
 * undelivered this long after it was produced belongs to a view its recipient has left or
 * finished, so a transport may stop retrying it.
 */
export function viewPatienceMs(
  roster: Pick<Roster, "viewTimeoutMs" | "advertiseTimeoutMs">,
): number {
  return roster.viewTimeoutMs + roster.advertiseTimeoutMs;
}

/**
 * How many shares of a member's secrets reconstruct them (its closed neighbourhood holds them):
 * the global threshold t on the complete graph, the Harary graph's own threshold t_k otherwise.
 */
export function shareThreshold(roster: Pick<Roster, "graph" | "threshold">): number {
  return roster.graph.kind === "complete" ? roster.threshold : roster.graph.threshold;
}

/**
 * How many shares of `owner`'s secrets reconstruct them in a session with `graph`: its group's
 * threshold on a group graph, else {@link shareThreshold}.
 */
export function ownerShareThreshold(
  roster: Pick<Roster, "graph" | "threshold">,
  graph: NeighbourGraph,
  owner: number,
): number {
  return graph instanceof GroupGraph ? graph.thresholdOf(owner) : shareThreshold(roster);
}

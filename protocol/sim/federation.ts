/**
 * Simulated federations: members' identities and the roster, derived from a seed, for the
 * simulator, the tests and the examples. Every key comes from {@link labelledRng} under the
 * domain `fedagg-sim`, so a seed names one federation on every machine.
 *
 * @module
 */
import type { RobustRule } from "../robust/rule.ts";
import { labelledRng } from "../crypto/mod.ts";
import { createRoster, type Member, type Roster } from "../federation/roster.ts";
import { MemberSigner } from "../federation/signer.ts";
import type { DpSettings } from "../dp/parameters.ts";
import type { GraphSettings } from "../graph/graphs.ts";
import type { GroupSettings } from "../graph/groups.ts";
import { defaultHararyThreshold, secAggPlusGraph } from "../graph/secagg_plus.ts";

/** What a simulated federation is made of; omitted fields take the documented defaults. */
export interface SimulatedFederationSettings {
  /** Members (at least 3). */
  readonly nodes: number;
  /** Update length d. */
  readonly dim: number;
  /** Seed of every member's identity. */
  readonly seed: number;
  /** Post-quantum mode (default classical). */
  readonly pq?: boolean;
  /** `complete` (default), or `sparse`: a SecAgg+ Harary graph. */
  readonly graph?: "complete" | "sparse";
  /** The sparse graph's degree (default: from Bell et al.'s bounds for the dropout rate). */
  readonly degree?: number;
  /** The dropout fraction the sparse graph's parameters assume (clamped to [0.05, 0.3]). */
  readonly dropout?: number;
  /** Clipping radius (default 1). */
  readonly clip?: number;
  /** Largest weight (default 100). */
  readonly maxWeight?: number;
  /** Group-wise aggregation (`graph/groups.ts`); default none. */
  readonly groups?: GroupSettings;
  /** Distributed DP settings for the roster (needs `maxWeight` 1). */
  readonly rosterDp?: DpSettings;
  /** The robust rule over the group means (`robust/rule.ts`); needs `groups`; default none. */
  readonly robust?: RobustRule;
}

/** A federation's signers (index = roster index) and its roster. */
export interface SimulatedFederation {
  /** The roster. */
  readonly roster: Roster;
  /** Each member's long-term keys, by roster index. */
  readonly signers: readonly MemberSigner[];
}

/**
 * The identities (`node-000`, `node-001`, …, padded to one width so that roster order is creation
 * order and `signers[i]` signs for roster index i at any n) and the roster of a simulated
 * federation named `sim`: stage timeout 1 s, advertise timeout 1 s, view timeout 3 s,
 * t = ⌊2n/3⌋ + 1, a sparse graph's degree and threshold per Bell et al. for 5 % corrupt members
 * and the dropout rate (or the given degree with a strict-majority threshold).
 */
export async function simulatedFederation(
  settings: SimulatedFederationSettings,
): Promise<SimulatedFederation> {
  const { nodes: n, seed } = settings;
  const signers: MemberSigner[] = [];
  const members: Member[] = [];
  // Ids are zero-padded to one width (at least 3 digits) so that sorting them by id, as the
  // roster does, keeps creation order: `signers[i]` must sign for roster index i.
  const width = Math.max(3, String(n - 1).length);
  for (let i = 0; i < n; i++) {
    const rng = labelledRng("fedagg-sim", seed, "identity", i);
    const signer = await MemberSigner.fromSeeds(rng(32), settings.pq ? rng(32) : undefined);
    signers.push(signer);
    members.push({
      id: `node-${String(i).padStart(width, "0")}`,
      signingKey: signer.signingKey,
      pqSigningKey: signer.pqSigningKey,
    });
  }
  let graph: GraphSettings = { kind: "complete" };
  if (settings.graph === "sparse") {
    graph = settings.degree !== undefined
      ? {
        kind: "harary",
        degree: settings.degree,
        threshold: defaultHararyThreshold(settings.degree),
      }
      : secAggPlusGraph({
        n,
        corruptFraction: 0.05,
        dropoutFraction: Math.min(Math.max(settings.dropout ?? 0, 0.05), 0.3),
        committee: settings.groups === undefined,
      });
  }
  const roster = createRoster({
    federation: "sim",
    members,
    mode: settings.pq ? "post-quantum" : "classical",
    dim: settings.dim,
    clip: settings.clip ?? 1,
    maxWeight: settings.maxWeight ?? 100,
    graph,
    ...(settings.groups === undefined ? {} : { groups: settings.groups }),
    ...(settings.robust === undefined ? {} : { robust: settings.robust }),
    stageTimeoutMs: 1000,
    advertiseTimeoutMs: 1000,
    viewTimeoutMs: 3000,
    ...(settings.rosterDp === undefined ? {} : { dp: settings.rosterDp }),
  });
  return { roster, signers };
}

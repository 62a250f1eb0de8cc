/**
 * The neighbour graph of a round.
 *
 * The graph is public and derived from the roster and the round alone (never from who showed
 * up, nor from the view), so a leader cannot shape anyone's neighbourhood by choosing U1, and a
 * forced view change draws no new graph: for a Harary roster the random relabelling is the
 * ChaCha20 stream of a key derived from the round's graph seed (`docs/protocol.md` §6).
 *
 * @module
 */
import { u64be, utf8 } from "../encoding/bytes.ts";
import { deriveKey, HASH, KDF, seededRng, taggedHash } from "../crypto/mod.ts";
import { completeGraph, type GraphSettings, hararyGraph, type NeighbourGraph } from "./graphs.ts";
import { groupGraph, type GroupPlan } from "./groups.ts";

const cache = new Map<string, NeighbourGraph>();
const CACHE_LIMIT = 16;

/** What names a round's graph: the roster (federation and hash) and the round; the view is ignored. */
export interface GraphRound {
  /** The federation's name. */
  readonly federation: string;
  /** The roster hash of the round's roster version. */
  readonly rosterHash: Uint8Array;
  /** The round number. */
  readonly round: number;
}

/**
 * The round's graph seed: `taggedHash("graph-seed", federation, rosterHash, round)` — the same
 * in every view of the round.
 */
export function graphSeed(round: GraphRound): Uint8Array<ArrayBuffer> {
  return taggedHash(HASH.graphSeed, utf8(round.federation), round.rosterHash, u64be(round.round));
}

/**
 * The neighbour graph of the round a session belongs to, under a roster (its member count and
 * graph settings): the complete graph, or the Harary graph relabelled by the permutation drawn
 * from `HKDF(graphSeed(round), "graph-prg")` (see `hararyGraph`). Every view of a round has the
 * same graph, so view changes add no draws to the privacy bound. A roster with groups gets the
 * `GroupGraph` of the round's partition instead (`groups.ts`: no edge between groups; cliques,
 * or the roster's Harary graph inside groups larger than its degree + 1). Refuses
 * (ConfigError) what `hararyGraph` and `partition` refuse.
 */
export function sessionGraph(
  roster: {
    readonly members: readonly unknown[];
    readonly graph: GraphSettings;
    readonly groups?: GroupPlan;
  },
  session: GraphRound,
): NeighbourGraph {
  const n = roster.members.length;
  const graph = roster.graph;
  if (roster.groups !== undefined) {
    return groupGraph(n, roster.groups.count, graph, session);
  }
  if (graph.kind === "complete") return completeGraph(n);
  const seed = graphSeed(session);
  const id = `${n}/${graph.degree}/${Array.from(seed).join(".")}`;
  let g = cache.get(id);
  if (g === undefined) {
    const key = deriveKey(seed, KDF.graphPrg);
    g = hararyGraph(n, graph.degree, seededRng(key));
    key.fill(0);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(id, g);
  }
  return g;
}

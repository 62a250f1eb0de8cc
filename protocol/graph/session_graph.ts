/**
 * The neighbour graph of a session.
 *
 * The graph is public and derived from the session alone (never from who showed up), so a
 * leader cannot shape anyone's neighbourhood by choosing U1: for a Harary roster the random
 * relabelling is the ChaCha20 stream of a key derived from the session hash.
 *
 * @module
 */
import { deriveKey, KDF, seededRng } from "../crypto/mod.ts";
import { completeGraph, type GraphSettings, hararyGraph, type NeighbourGraph } from "./graphs.ts";

const cache = new Map<string, NeighbourGraph>();
const CACHE_LIMIT = 16;

/**
 * The neighbour graph of the session with hash `sessionHash` under a roster (its member count
 * and graph settings): the complete graph, or the Harary graph relabelled by the permutation
 * drawn from `HKDF(sessionHash, "graph-prg")` (see `hararyGraph`). Refuses (ConfigError) what
 * `hararyGraph` refuses.
 */
export function sessionGraph(
  roster: { readonly members: readonly unknown[]; readonly graph: GraphSettings },
  sessionHash: Uint8Array,
): NeighbourGraph {
  const n = roster.members.length;
  const graph = roster.graph;
  if (graph.kind === "complete") return completeGraph(n);
  const id = `${n}/${graph.degree}/${Array.from(sessionHash).join(".")}`;
  let g = cache.get(id);
  if (g === undefined) {
    const key = deriveKey(sessionHash, KDF.graphPrg);
    g = hararyGraph(n, graph.degree, seededRng(key));
    key.fill(0);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(id, g);
  }
  return g;
}

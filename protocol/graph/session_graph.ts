/**
 * The neighbour graph of a session and the Shamir threshold its neighbourhoods use.
 *
 * The graph is public and derived from the session alone (never from who showed up), so a
 * leader cannot shape anyone's neighbourhood by choosing U1: for a Harary roster the random
 * relabelling is the ChaCha20 stream of a key derived from the session hash.
 *
 * @module
 */
import { deriveKey, KDF, seededRng } from "../crypto/mod.ts";
import { completeGraph, hararyGraph, type NeighbourGraph } from "./graphs.ts";
import type { Roster } from "../federation/roster.ts";

export type { NeighbourGraph };

const cache = new Map<string, NeighbourGraph>();
const CACHE_LIMIT = 16;

/** The neighbour graph of the session with hash `sessionHash` under `roster`. */
export function sessionGraph(roster: Roster, sessionHash: Uint8Array): NeighbourGraph {
  const n = roster.members.length;
  if (roster.graph.kind === "complete") return completeGraph(n);
  const id = Array.from(sessionHash).join(".");
  let graph = cache.get(id);
  if (graph === undefined) {
    const key = deriveKey(sessionHash, KDF.graphPrg);
    graph = hararyGraph(n, roster.graph.degree, seededRng(key));
    key.fill(0);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(id, graph);
  }
  return graph;
}

/** Shares of a member's secrets needed to reconstruct them (held by its closed neighbourhood). */
export function shareThreshold(roster: Roster): number {
  return roster.graph.kind === "complete" ? roster.threshold : roster.graph.threshold;
}

/**
 * The rotating leader schedule. For round r the members are ordered by
 * `taggedHash("schedule", rosterHash, r, id)`; the leader of view v is the (v mod n)-th in that
 * order. Every member computes it locally: there are no election messages, and no member can
 * choose its position (it would need to grind its id, which the roster fixes).
 *
 * @module
 */
import { u64be, utf8 } from "../encoding/bytes.ts";
import { HASH, taggedHash } from "../crypto/mod.ts";
import type { Roster } from "./roster.ts";

const cache = new Map<string, readonly number[]>();
const CACHE_LIMIT = 64;

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** The roster indices of all members in their leader order for `round`. */
export function leaderOrder(roster: Roster, round: number): readonly number[] {
  const key = `${Array.from(roster.hash.subarray(0, 8)).join(".")}:${round}`;
  let order = cache.get(key);
  if (order === undefined) {
    const r = u64be(round);
    const keyed = roster.members.map((m, i) => ({
      i,
      h: taggedHash(HASH.schedule, roster.hash, r, utf8(m.id)),
    }));
    keyed.sort((a, b) => compareBytes(a.h, b.h));
    order = Object.freeze(keyed.map((k) => k.i));
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(key, order);
  }
  return order;
}

/** The roster index of the leader of (`round`, `view`). */
export function leaderOf(roster: Roster, round: number, view: number): number {
  const order = leaderOrder(roster, round);
  return order[view % order.length];
}

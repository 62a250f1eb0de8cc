/**
 * Session binding (protocol/session.ts): construction and range checks, the session hash's
 * dependence on every component, and session equality.
 */
import { assert, assertEquals, assertNotEquals, assertThrows } from "../../_assert.ts";
import { toHex } from "../../../protocol/encoding/bytes.ts";
import { createRoster, type Roster } from "../../../protocol/federation/roster.ts";
import {
  MAX_ROUND,
  sameSession,
  type Session,
  sessionHash,
  sessionOf,
} from "../../../protocol/federation/session.ts";
import { rngFor } from "../_fixtures.ts";

function roster(federation = "fed", label = "session"): Roster {
  const rng = rngFor(label);
  const members = ["a", "b", "c", "d"].map((id) => ({ id, signingKey: rng(32) }));
  return createRoster({ federation, members, dim: 3 });
}

Deno.test("session: sessionOf carries the roster's federation and hash", () => {
  const r = roster();
  const s = sessionOf(r, 5, 2);
  assertEquals(s.federation, "fed");
  assertEquals(s.rosterHash, r.hash);
  assertEquals([s.round, s.view], [5, 2]);
  assert(Object.isFrozen(s));
  assertEquals(sessionOf(r, MAX_ROUND - 1, MAX_ROUND - 1).round, 2 ** 48 - 1);
  assertEquals(sessionOf(r, 0, 0).view, 0);
});

Deno.test("session: sessionOf refuses rounds and views outside [0, 2^48)", () => {
  const r = roster();
  for (const bad of [-1, 0.5, MAX_ROUND, 2 ** 53, NaN, Infinity]) {
    assertThrows(() => sessionOf(r, bad, 0), RangeError, "round");
    assertThrows(() => sessionOf(r, 0, bad), RangeError, "view");
  }
});

Deno.test("session: the hash is deterministic and depends on every component", () => {
  const r = roster();
  const base = sessionOf(r, 3, 1);
  assertEquals(toHex(sessionHash(base)), toHex(sessionHash(sessionOf(roster(), 3, 1))));
  assertEquals(sessionHash(base).length, 32);
  const variants: Session[] = [
    base,
    sessionOf(r, 4, 1),
    sessionOf(r, 3, 0),
    sessionOf(r, 1, 3), // round and view swapped
    sessionOf(roster("feg"), 3, 1),
    sessionOf(roster("fed", "other-keys"), 3, 1),
    { ...base, federation: "fed2" },
    { ...base, rosterHash: new Uint8Array(32) },
    sessionOf(r, 2 ** 32 + 3, 1), // no truncation of the 48-bit numbers
    sessionOf(r, 3, 2 ** 32 + 1),
  ];
  const hashes = variants.map((s) => toHex(sessionHash(s)));
  assertEquals(new Set(hashes).size, variants.length);
});

Deno.test("session: sameSession compares every component", () => {
  const r = roster();
  const s = sessionOf(r, 3, 1);
  assert(sameSession(s, s));
  assert(sameSession(s, { ...s, rosterHash: new Uint8Array(r.hash) }));
  assert(sameSession(s, sessionOf(roster(), 3, 1)));
  const others: Session[] = [
    sessionOf(r, 4, 1),
    sessionOf(r, 3, 2),
    { ...s, federation: "other" },
    { ...s, rosterHash: new Uint8Array(32) },
    { ...s, rosterHash: r.hash.subarray(0, 31) },
    { ...s, rosterHash: new Uint8Array([...r.hash, 0]) },
  ];
  for (const o of others) {
    assert(!sameSession(s, o));
    assert(!sameSession(o, s));
  }
  assertNotEquals(toHex(sessionHash(s)), toHex(sessionHash(others[0])));
});

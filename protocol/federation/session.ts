/**
 * Session binding. A session is one (federation, roster, round, view); every signed message
 * carries it, and every key, PRG stream and commitment of a round is derived under its hash,
 * so nothing produced in one session is accepted or reproducible in another.
 *
 * @module
 */
import { u64be, utf8 } from "../encoding/bytes.ts";
import { HASH, taggedHash } from "../crypto/mod.ts";
import type { Roster } from "./roster.ts";

/** One (federation, roster, round, view). */
export interface Session {
  /** The roster's federation name. */
  readonly federation: string;
  /** The roster's hash: a frame of another roster version is another session. */
  readonly rosterHash: Uint8Array;
  /** The round (< 2^48). */
  readonly round: number;
  /** The view within the round, i.e. which scheduled leader runs it (< 2^48). */
  readonly view: number;
}

/** Largest round or view number accepted (2^48: never reached, keeps arithmetic exact). */
export const MAX_ROUND = 2 ** 48;

/** The session of `roster` at (`round`, `view`). Refuses (RangeError) out-of-range numbers. */
export function sessionOf(roster: Roster, round: number, view: number): Session {
  for (const [name, v] of [["round", round], ["view", view]] as const) {
    if (!Number.isSafeInteger(v) || v < 0 || v >= MAX_ROUND) {
      throw new RangeError(`${name} must be an integer in [0, 2^48), got ${v}`);
    }
  }
  return Object.freeze({ federation: roster.federation, rosterHash: roster.hash, round, view });
}

/** Domain-separated hash identifying the session; the context of every per-round derivation. */
export function sessionHash(session: Session): Uint8Array<ArrayBuffer> {
  return taggedHash(
    HASH.session,
    utf8(session.federation),
    session.rosterHash,
    u64be(session.round),
    u64be(session.view),
  );
}

/** True when two sessions are the same (federation, roster, round, view). */
export function sameSession(a: Session, b: Session): boolean {
  if (a.federation !== b.federation || a.round !== b.round || a.view !== b.view) return false;
  if (a.rosterHash.length !== b.rosterHash.length) return false;
  for (let i = 0; i < a.rosterHash.length; i++) {
    if (a.rosterHash[i] !== b.rosterHash[i]) return false;
  }
  return true;
}

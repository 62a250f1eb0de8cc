/**
 * Walking a federation's roster chain: from version 0 (a roster every member signed, which the
 * walker trusts) through the amendments it is given, in any order, to the newest version they
 * validly reach (`amendment.ts` states what makes an amendment valid).
 *
 * At each version the walker looks at every amendment of it. Copies of one amendment (same
 * resulting version, signatures gathered separately) count together. One valid successor: the
 * chain moves on. None: the amendments of that version are pending (the tally says what they
 * lack). Two different valid successors: a **fork** — the walker refuses both, stops at the
 * version they both amend and returns both, with the members who approved both (each broke the
 * no-fork rule), as evidence. Amendments that fit nowhere (another chain, a version already
 * superseded, changes that make no valid roster) are returned as refused, with the reason.
 *
 * @module
 */
import { equalBytes, toHex } from "../encoding/bytes.ts";
import { ProtocolError } from "../errors.ts";
import {
  type AmendmentTally,
  genesisVersion,
  proposeVersion,
  type RosterVersion,
  type SignedAmendment,
  tallyAmendment,
} from "./amendment.ts";
import type { Roster } from "./roster.ts";

/** Amendments of one version that make the same successor, counted together. */
export interface CandidateVersion {
  /** The version they would make. */
  readonly next: RosterVersion;
  /** The copies (each with the signatures it carries). */
  readonly copies: readonly SignedAmendment[];
  /** Approvals that verified in any copy (distinct members of the amended version). */
  readonly approvedBy: readonly string[];
  /** Approvals needed: the amended version's threshold. */
  readonly needed: number;
  /** Joining members without a valid signature of their own in any copy. */
  readonly joinersMissing: readonly string[];
  /** Signatures that did not count, with why. */
  readonly ignored: readonly { readonly id: string; readonly reason: string }[];
  /** Enough approvals and every joiner signed. */
  readonly valid: boolean;
}

/** Two valid, different successors of one version: both refused, kept as evidence. */
export interface ForkEvidence {
  /** The version both amend (the chain stops here). */
  readonly amended: RosterVersion;
  /** The two successors. */
  readonly successors: readonly [CandidateVersion, CandidateVersion];
  /** Members of the amended version who approved both. */
  readonly equivocators: readonly string[];
}

/** An amendment that extends no version of the chain, and why. */
export interface RefusedAmendment {
  /** The amendment as given. */
  readonly signed: SignedAmendment;
  /** Why it extends no version (`wrong-chain`, or `malformed` changes). */
  readonly error: ProtocolError;
}

/** What {@link walkChain} found. */
export interface RosterChain {
  /** Valid versions, version 0 first; each amends the one before. */
  readonly versions: readonly RosterVersion[];
  /** How each version after 0 was approved: `steps[k - 1]` made version k. */
  readonly steps: readonly CandidateVersion[];
  /** The newest valid version (the last of `versions`). */
  readonly tip: RosterVersion;
  /** Amendments of the tip that are not valid yet (no fork), as counted. */
  readonly pending: readonly CandidateVersion[];
  /** Amendments that extend no version of the chain, with the reason. */
  readonly refused: readonly RefusedAmendment[];
  /** Set when two valid successors of the tip were found: neither was taken. */
  readonly fork?: ForkEvidence;
}

/**
 * Walks from `genesis` (trusted: the caller checked every member signed it) through
 * `amendments` (any order, duplicates and copies allowed) as the module doc says. Never
 * throws for a bad amendment: it is pending, refused or part of a fork in the result.
 */
export async function walkChain(
  genesis: Roster,
  amendments: readonly SignedAmendment[],
): Promise<RosterChain> {
  const versions: RosterVersion[] = [genesisVersion(genesis)];
  const steps: CandidateVersion[] = [];
  const refused: RefusedAmendment[] = [];
  let remaining = [...amendments];
  for (;;) {
    const tip = versions[versions.length - 1];
    const here = remaining.filter((s) => sameBytes(s.amendment.previous, tip.hash));
    remaining = remaining.filter((s) => !here.includes(s));
    const candidates = await candidatesOf(tip, here, refused);
    const valid = candidates.filter((c) => c.valid);
    if (valid.length >= 2) {
      const [a, b] = valid;
      const equivocators = a.approvedBy.filter((id) => b.approvedBy.includes(id));
      return {
        versions,
        steps,
        tip,
        pending: [],
        refused: [...refused, ...stale(remaining, versions)],
        fork: { amended: tip, successors: [a, b], equivocators },
      };
    }
    if (valid.length === 0) {
      return {
        versions,
        steps,
        tip,
        pending: candidates,
        refused: [...refused, ...stale(remaining, versions)],
      };
    }
    for (const c of candidates) {
      if (c === valid[0]) continue;
      for (const signed of c.copies) {
        refused.push({
          signed,
          error: new ProtocolError(
            "wrong-chain",
            `version ${tip.version} already has a valid successor; this amendment did not reach ` +
              `t and is superseded`,
          ),
        });
      }
    }
    versions.push(valid[0].next);
    steps.push(valid[0]);
  }
}

/** The successors `here` (amendments of `tip`) propose, copies counted together. */
async function candidatesOf(
  tip: RosterVersion,
  here: readonly SignedAmendment[],
  refused: RefusedAmendment[],
): Promise<CandidateVersion[]> {
  const groups = new Map<
    string,
    { next: RosterVersion; tallies: AmendmentTally[]; copies: SignedAmendment[] }
  >();
  for (const signed of here) {
    let tally: AmendmentTally;
    try {
      proposeVersion(tip, signed.amendment);
      tally = await tallyAmendment(tip, signed);
    } catch (err) {
      if (err instanceof ProtocolError) {
        refused.push({ signed, error: err });
        continue;
      }
      throw err;
    }
    const key = toHex(tally.next.hash);
    const group = groups.get(key) ?? { next: tally.next, tallies: [], copies: [] };
    group.tallies.push(tally);
    group.copies.push(signed);
    groups.set(key, group);
  }
  return [...groups.values()].map(({ next, tallies, copies }) => {
    const approvedBy = [...new Set(tallies.flatMap((t) => t.approvedBy))];
    const joinersMissing = tallies[0].joinersMissing.filter((id) =>
      tallies.every((t) => t.joinersMissing.includes(id))
    );
    const ignored = tallies.flatMap((t) => t.ignored).filter((x) => !approvedBy.includes(x.id));
    const needed = tallies[0].needed;
    return {
      next,
      copies,
      approvedBy,
      needed,
      joinersMissing,
      ignored,
      valid: approvedBy.length >= needed && joinersMissing.length === 0,
    };
  });
}

/** The amendments left over: each amends no version of the chain, or one already superseded. */
function stale(remaining: readonly SignedAmendment[], versions: readonly RosterVersion[]) {
  return remaining.map((signed) => {
    const amended = versions.find((v) => sameBytes(signed.amendment.previous, v.hash));
    return {
      signed,
      error: new ProtocolError(
        "wrong-chain",
        amended === undefined
          ? "the amendment amends no version of this chain (another federation's, or a version " +
            "this chain does not reach)"
          : `version ${amended.version} already has a valid successor; this amendment is superseded`,
      ),
    };
  });
}

function sameBytes(a: unknown, b: Uint8Array): boolean {
  return a instanceof Uint8Array && equalBytes(a, b);
}

/**
 * The version rounds numbered `round` run under: the newest of `versions` (ordered, as
 * {@link walkChain} returns them) whose first round is ≤ `round`. A round in flight when a
 * later version starts keeps its own version: the version depends on the round number alone.
 */
export function versionAt(versions: readonly RosterVersion[], round: number): RosterVersion {
  let found = versions[0];
  for (const v of versions) if (v.firstRound <= round) found = v;
  return found;
}

/**
 * The ids of the members of every version of `versions` (ordered, as {@link walkChain} returns
 * them) that governs round `since` or a later one: those a running member keeps connections
 * with while rounds from `since` on may still be in progress. A member removed by a version
 * whose first round is ≤ `since` is not among them; a member joining at a later round already
 * is (it is dialled ahead of its first round).
 */
export function admittedMembers(
  versions: readonly RosterVersion[],
  since: number,
): Set<string> {
  const ids = new Set<string>();
  versions.forEach((v, k) => {
    const next = versions[k + 1];
    if (next !== undefined && next.firstRound <= since) return;
    for (const m of v.roster.members) ids.add(m.id);
  });
  return ids;
}

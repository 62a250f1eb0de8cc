/**
 * The leader's recovery of the secrets it needs to unmask (stage 5, `docs/protocol.md` §3): the
 * self-mask seed of every member of U3 and the mask seed of every member of U2 \ U3, each
 * reconstructed from the shares the holders revealed and **checked** — against the owner's
 * commitment, or by re-deriving its advertised mask key — before it is used.
 *
 * It first interpolates from the t_k shares of lowest index (Lagrange coefficients cached per
 * set of holders); when that fails the check and more shares arrived, it decodes them all
 * (Reed–Solomon, `shamir.ts`'s `reconstruct`, correcting up to ⌊(m − t_k)/2⌋ wrong ones) and
 * names every holder whose share disagrees with a secret that then checks out (`bad-share`).
 * Shares it did not need are not examined, so a wrong share that was never used goes unnamed
 * (checking them all costs O(m·t) per secret).
 *
 * **The framing rule.** When all m shares of a secret agree on one that fails the check, the
 * owner is named (`commitment-mismatch`) only if the holders cannot have framed it. Fewer than
 * 2t − n members are corrupt (the threat model's t > (n + c)/2) and fewer than t_k corrupt
 * members hold shares of one owner (or they could reconstruct its secrets), so at most
 * c = min(2t − n − 1, t_k − 1) of the shares are corrupt. If m − t_k ≥ c, at least t_k are
 * honest; they fix the owner's polynomial, and agreeing shares whose secret fails the check prove
 * the owner shared something else. Otherwise m − t_k + 1 ≤ c colluding holders can shift their
 * shares by a polynomial of degree < t_k that vanishes at the honest holders' (public) x
 * coordinates — a consistent sharing of another secret, which frames an honest owner — so nobody
 * is named and the round fails.
 *
 * @module
 */
import { wipe } from "../encoding/bytes.ts";
import { constantTimeEqual } from "../crypto/mod.ts";
import { ProtocolError } from "../errors.ts";
import { ownerShareThreshold, type Roster, shareThreshold } from "../federation/roster.ts";
import type { NeighbourGraph } from "../graph/graphs.ts";
import type { MemberSet } from "../math/member_set.ts";
import { combine, lagrangeAtZero, reconstruct, type Share } from "../math/shamir.ts";
import type { AdvertiseKeys } from "../wire/messages.ts";
import { maskSeedMatches, selfMaskCommitment } from "./keys.ts";

/** The revealed shares of one session, by owner. */
export interface RevealedShares {
  /** Shares of the self-mask seeds of the members of U3. */
  readonly self: ReadonlyMap<number, Share[]>;
  /** Shares of the mask seeds of the members of U2 \ U3. */
  readonly mask: ReadonlyMap<number, Share[]>;
}

/** What {@link recoverSecrets} found. */
export interface RecoveredSecrets {
  /** Checked self-mask seeds, by member of U3. */
  readonly selfSeeds: Map<number, Uint8Array>;
  /** Checked mask seeds, by member of U2 \ U3. */
  readonly maskSeeds: Map<number, Uint8Array>;
  /** Members whose secret could not be recovered (the round cannot be unmasked). */
  readonly missing: readonly number[];
  /** Holders named for bad shares and owners proven to have shared the wrong secret. */
  readonly refused: readonly ProtocolError[];
}

/**
 * Recovers and checks the self-mask seed of every member of `alive` and the mask seed of every
 * member of `dropped` from `shares`, given each member's verified advertised keys (`advertOf`)
 * in the session of `sessionHash`. The caller owns (and must wipe) the seeds returned. With the
 * session's `graph`, each owner's threshold is its own (`ownerShareThreshold`: its group's on a
 * group graph); without it, the roster's `shareThreshold`.
 */
export function recoverSecrets(
  roster: Roster,
  sessionHash: Uint8Array,
  alive: MemberSet,
  dropped: MemberSet,
  shares: RevealedShares,
  advertOf: (member: number) => AdvertiseKeys,
  graph?: NeighbourGraph,
): RecoveredSecrets {
  const recovery = new Recovery(roster, graph);
  const selfSeeds = new Map<number, Uint8Array>();
  const maskSeeds = new Map<number, Uint8Array>();
  const missing: number[] = [];
  for (const u of alive) {
    const commitment = advertOf(u).commitment;
    const seed = recovery.recover(
      shares.self.get(u),
      u,
      (s) => constantTimeEqual(selfMaskCommitment(sessionHash, u, s), commitment),
    );
    if (seed === undefined) missing.push(u);
    else selfSeeds.set(u, seed);
  }
  for (const v of dropped) {
    const maskKey = advertOf(v).maskKey;
    const seed = recovery.recover(
      shares.mask.get(v),
      v,
      (s) => maskSeedMatches(roster.mode, s, maskKey),
    );
    if (seed === undefined) missing.push(v);
    else maskSeeds.set(v, seed);
  }
  if (missing.length > 0) {
    wipe(...selfSeeds.values(), ...maskSeeds.values());
    selfSeeds.clear();
    maskSeeds.clear();
  }
  return { selfSeeds, maskSeeds, missing, refused: recovery.refused };
}

/** One session's reconstructions: the Lagrange coefficient cache and the refusals made. */
class Recovery {
  readonly refused: ProtocolError[] = [];
  readonly #roster: Roster;
  readonly #graph: NeighbourGraph | undefined;
  readonly #coefficients = new Map<string, Uint16Array>();

  constructor(roster: Roster, graph: NeighbourGraph | undefined) {
    this.#roster = roster;
    this.#graph = graph;
  }

  /** The owner's Shamir threshold. */
  #threshold(owner: number): number {
    return this.#graph === undefined
      ? shareThreshold(this.#roster)
      : ownerShareThreshold(this.#roster, this.#graph, owner);
  }

  /** The most corrupt holders one owner's shares can have (the framing rule of the module doc). */
  #framers(tk: number): number {
    return Math.min(2 * this.#roster.threshold - this.#roster.members.length - 1, tk - 1);
  }

  /** The owner's checked secret from `shares`, or undefined (refusals recorded). */
  recover(
    shares: Share[] | undefined,
    owner: number,
    check: (secret: Uint8Array) => boolean,
  ): Uint8Array | undefined {
    const tk = this.#threshold(owner);
    if (shares === undefined || shares.length < tk) return undefined;
    shares.sort((a, b) => a.x - b.x);
    const first = shares.slice(0, tk);
    const id = first.map((s) => s.x).join(",");
    let c = this.#coefficients.get(id);
    if (c === undefined) this.#coefficients.set(id, c = lagrangeAtZero(first.map((s) => s.x)));
    const fast = combine(first, c);
    if (check(fast)) return fast;
    fast.fill(0);
    const result = reconstruct(shares, tk, check);
    if (result.secret === undefined) {
      if (result.consistent && shares.length - tk >= this.#framers(tk)) {
        this.refused.push(
          new ProtocolError(
            "commitment-mismatch",
            "the member's shared secret does not match its advertised commitment or key",
            owner,
          ),
        );
      }
      return undefined;
    }
    for (const x of result.bad) {
      this.refused.push(
        new ProtocolError("bad-share", `share of member ${owner}'s secret is inconsistent`, x - 1),
      );
    }
    return result.secret;
  }
}

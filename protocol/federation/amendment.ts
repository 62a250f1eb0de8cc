/**
 * Roster amendments: how a federation changes its roster (adds a member, removes one, rotates a
 * member's keys, changes a parameter) by a threshold decision instead of everyone re-signing a
 * new roster.
 *
 * Roster versions form a hash chain. Version 0 is the roster every member signed (its version
 * hash is its roster hash). Version k + 1 is made by an {@link Amendment} that names version k's
 * hash, its own number k + 1, the first round it applies to (after version k's) and the changes;
 * applying the changes to version k's roster gives the next roster ({@link applyAmendment}).
 * What members sign is the statement `[SIGN.rosterAmendment, previousHash, k + 1, firstRound,
 * nextRosterHash]` ({@link amendmentPayload}): the resulting roster, and where it sits in the
 * chain. The new version's hash is the tagged hash (`HASH.rosterVersion`) of the same fields, so
 * each version binds the whole history before it.
 *
 * An amendment is valid ({@link verifyAmendment}) when at least t (version k's threshold)
 * members of version k approve it, and every joining key (a member entry whose id and keys are
 * not in version k: a new member, or a member's rotated keys) signs the same statement itself,
 * proving it holds the key. Signatures are hybrid in post-quantum mode. A member removed in an
 * earlier version is not a member of version k and its signature does not count; an amendment
 * of another chain names another previous hash and is refused as `wrong-chain`.
 *
 * No forks: a member approves at most one successor of each version ({@link successorDecision},
 * which the driver consults and persists before a signature leaves). Two different approved
 * successors of one version are a fork (`roster_chain.ts` refuses both and keeps them).
 *
 * @module
 */
import { encode } from "../encoding/codec.ts";
import { equalBytes, toHex } from "../encoding/bytes.ts";
import { ConfigError, ProtocolError } from "../errors.ts";
import { HASH, taggedHash } from "../crypto/mod.ts";
import { SIGN } from "../crypto/domains.ts";
import type { GraphSettings } from "../graph/graphs.ts";
import { defaultThreshold } from "../graph/secagg_plus.ts";
import { quantizationParameters } from "../math/quantize.ts";
import { createRoster, type Member, type Roster, type RosterSettings } from "./roster.ts";
import { type MemberSigner, type Signature, verifyMemberSignature } from "./signer.ts";

/** The parameters an amendment may change (the federation's name and mode never change). */
export const AMENDABLE_PARAMETERS = [
  "dim",
  "clip",
  "maxWeight",
  "scale",
  "threshold",
  "graph",
  "stageTimeoutMs",
  "advertiseTimeoutMs",
  "viewTimeoutMs",
] as const;

/** A parameter an amendment may change. */
export type AmendableParameter = typeof AMENDABLE_PARAMETERS[number];

/** One change of an amendment. */
export type Change =
  /** A new member (its id and keys must be new to the roster). */
  | { readonly kind: "add"; readonly member: Member }
  /** Member `id` leaves. */
  | { readonly kind: "remove"; readonly id: string }
  /**
   * Member `id`'s entry is replaced by `member`: new keys (a rotation; in a deployment the id,
   * derived from the key, changes too), or the same keys with a new name or addresses.
   */
  | { readonly kind: "rotate"; readonly id: string; readonly member: Member }
  /**
   * A parameter takes `value`. `null` for `threshold` or `scale` means the default for the new
   * member count (⌊2n/3⌋ + 1; the largest scale that cannot overflow).
   */
  | {
    readonly kind: "set";
    readonly parameter: AmendableParameter;
    readonly value: number | GraphSettings | null;
  };

/** A proposed successor of a roster version (unsigned). */
export interface Amendment {
  /** The version hash of the version it amends. */
  readonly previous: Uint8Array;
  /** The previous version's number + 1. */
  readonly version: number;
  /** The first round run under the new version: after the previous version's first round. */
  readonly firstRound: number;
  /** The changes, applied in order (1 to {@link MAX_CHANGES}). */
  readonly changes: readonly Change[];
}

/** An amendment with the signatures collected for it. */
export interface SignedAmendment {
  /** What is signed. */
  readonly amendment: Amendment;
  /** Approvals by members of the previous version, by member id. */
  readonly approvals: ReadonlyMap<string, Signature>;
  /** Signatures of joining keys over the same statement, by their (new) member id. */
  readonly joiners: ReadonlyMap<string, Signature>;
}

/** One version of a federation's roster. */
export interface RosterVersion {
  /** 0 for the roster every member signed, then one more per amendment. */
  readonly version: number;
  /** The first round run under this version (0 for version 0). */
  readonly firstRound: number;
  /** The roster rounds of this version run with. */
  readonly roster: Roster;
  /** Version 0: the roster hash; later versions: the hash of their place in the chain. */
  readonly hash: Uint8Array;
}

/** The most changes one amendment may carry. */
export const MAX_CHANGES = 64;
/** The largest round number a version may start at (the protocol's rounds are < 2^48). */
const MAX_FIRST_ROUND = 2 ** 48 - 1;

/** Version 0 of a federation: `roster`, which every member signed, from round 0. */
export function genesisVersion(roster: Roster): RosterVersion {
  return { version: 0, firstRound: 0, roster, hash: roster.hash };
}

/**
 * The settings `roster` was made with, resolved (the threshold and scale it has, not their
 * defaults): the starting point of {@link applyAmendment}. Settings another part of the code
 * adds to the roster carry over as long as the roster keeps them under their settings' names.
 */
export function settingsOf(roster: Roster): RosterSettings {
  const { hash: _h, indexOf: _i, quantization, members, ...rest } = roster;
  return {
    ...rest,
    members,
    clip: quantization.clip,
    maxWeight: quantization.maxWeight,
    scale: quantization.scale,
  };
}

/** Whether `a` and `b` hold the same id and keys (so `b` needs no proof of possession). */
function sameKeys(a: Member, b: Member): boolean {
  return a.id === b.id && equalBytes(a.signingKey, b.signingKey) &&
    (a.pqSigningKey === undefined
      ? b.pqSigningKey === undefined
      : b.pqSigningKey !== undefined && equalBytes(a.pqSigningKey, b.pqSigningKey));
}

/**
 * The roster `amendment`'s changes make of `previous`: the changes applied in order to
 * {@link settingsOf}(previous) — where a threshold or scale equal to its default for
 * `previous`'s member count follows the default for the new count (neither is recorded as
 * "default" in a roster, so equality is the rule) — then every check of `createRoster` (≥ 3 members, threshold,
 * graph, quantization, unique ids and keys, names and addresses). Refuses (ConfigError naming
 * the change, e.g. `changes[1]`) an empty or too long change list, a change of no known kind or
 * an add or rotate without a member, adding an id already there,
 * removing or rotating an id not there, a parameter that cannot be amended, and a result
 * `createRoster` refuses. Does not look at signatures or the chain fields.
 */
export function applyAmendment(previous: Roster, amendment: Pick<Amendment, "changes">): Roster {
  const changes = amendment.changes;
  if (!Array.isArray(changes) || changes.length < 1 || changes.length > MAX_CHANGES) {
    throw new ConfigError("changes", `an amendment has 1 to ${MAX_CHANGES} changes`);
  }
  const settings: Record<string, unknown> = { ...settingsOf(previous) };
  // A threshold or scale at its default for the previous member count follows the default for
  // the new count (as a roster file's null does), unless a change sets it.
  const n = previous.members.length;
  if (previous.threshold === defaultThreshold(n)) settings.threshold = undefined;
  const q = previous.quantization;
  if (
    q.scale === quantizationParameters({ members: n, clip: q.clip, maxWeight: q.maxWeight }).scale
  ) {
    settings.scale = undefined;
  }
  const members = [...previous.members];
  changes.forEach((change, i) => {
    const at = `changes[${i}]`;
    const index = (id: string) => {
      const k = members.findIndex((m) => m.id === id);
      if (k < 0) throw new ConfigError(at, `${id} is not a member of the roster being amended`);
      return k;
    };
    if ((change?.kind === "add" || change?.kind === "rotate") && !isMember(change.member)) {
      throw new ConfigError(at, `${change.kind} needs a member (an id and a signing key)`);
    }
    switch (change?.kind) {
      case "add":
        if (members.some((m) => m.id === change.member?.id)) {
          throw new ConfigError(at, `${change.member.id} is already a member`);
        }
        members.push(change.member);
        break;
      case "remove":
        members.splice(index(change.id), 1);
        break;
      case "rotate": {
        const k = index(change.id);
        if (change.member?.id !== change.id && members.some((m) => m.id === change.member?.id)) {
          throw new ConfigError(at, `${change.member.id} is already a member`);
        }
        members[k] = change.member;
        break;
      }
      case "set":
        if (!(AMENDABLE_PARAMETERS as readonly string[]).includes(change.parameter)) {
          throw new ConfigError(
            at,
            `${String(change.parameter)} cannot be amended (amendable: ${
              AMENDABLE_PARAMETERS.join(", ")
            })`,
          );
        }
        if (
          change.value === null && change.parameter !== "threshold" && change.parameter !== "scale"
        ) {
          throw new ConfigError(
            at,
            `${change.parameter} has no default to return to: give a value`,
          );
        }
        settings[change.parameter] = change.value ?? undefined;
        break;
      default:
        throw new ConfigError(at, "a change is add, remove, rotate or set");
    }
  });
  return createRoster({ ...settings, members } as unknown as RosterSettings);
}

function isMember(m: unknown): m is Member {
  return typeof m === "object" && m !== null && typeof (m as Member).id === "string" &&
    (m as Member).signingKey instanceof Uint8Array;
}

/** The members of `next` whose id and keys `previous` does not have: they sign themselves. */
export function joiningMembers(previous: Roster, next: Roster): Member[] {
  return next.members.filter((m) => {
    const i = previous.indexOf(m.id);
    return i === undefined || !sameKeys(previous.members[i], m);
  });
}

/** Refuses (ProtocolError `wrong-chain`) an amendment that does not follow `previous`. */
function checkPlace(previous: RosterVersion, amendment: Amendment): void {
  if (
    !(amendment.previous instanceof Uint8Array) || !equalBytes(amendment.previous, previous.hash)
  ) {
    throw new ProtocolError(
      "wrong-chain",
      `the amendment amends version ${short(amendment.previous)}…, not version ` +
        `${previous.version} (${short(previous.hash)}…) of this chain`,
    );
  }
  if (amendment.version !== previous.version + 1) {
    throw new ProtocolError(
      "wrong-chain",
      `the amendment is numbered ${amendment.version}, the successor of version ` +
        `${previous.version} is ${previous.version + 1}`,
    );
  }
  const r = amendment.firstRound;
  if (!Number.isSafeInteger(r) || r <= previous.firstRound || r > MAX_FIRST_ROUND) {
    throw new ProtocolError(
      "wrong-chain",
      `the first round ${r} must be an integer after version ${previous.version}'s first round ` +
        `(${previous.firstRound})`,
    );
  }
}

function short(hash: unknown): string {
  return hash instanceof Uint8Array ? toHex(hash).slice(0, 16) : String(hash);
}

/**
 * The bytes every signer of `amendment` signs, given the roster it results in:
 * `[SIGN.rosterAmendment, previous, version, firstRound, next.hash]`.
 */
export function amendmentPayload(amendment: Amendment, next: Pick<Roster, "hash">): Uint8Array {
  return encode([
    SIGN.rosterAmendment,
    amendment.previous,
    amendment.version,
    amendment.firstRound,
    next.hash,
  ]);
}

/** The version hash of the version `amendment` makes, given the roster it results in. */
export function versionHash(amendment: Amendment, next: Pick<Roster, "hash">): Uint8Array {
  return taggedHash(
    HASH.rosterVersion,
    encode([amendment.previous, amendment.version, amendment.firstRound, next.hash]),
  );
}

/** A proposal checked against the version it amends, before any signature is looked at. */
export interface ProposedVersion {
  /** The version the amendment would make (valid once signed). */
  readonly next: RosterVersion;
  /** The bytes to sign. */
  readonly payload: Uint8Array;
  /** Joining keys that must sign themselves. */
  readonly joiners: readonly Member[];
}

/**
 * Checks `amendment` against `previous` (its place in the chain, then its changes) and says
 * what it would make. Refuses (ProtocolError `wrong-chain`) an amendment of another version,
 * numbered out of sequence or starting no later than `previous`, and (ProtocolError `malformed`,
 * carrying the ConfigError's message) changes that do not make a valid roster.
 */
export function proposeVersion(previous: RosterVersion, amendment: Amendment): ProposedVersion {
  checkPlace(previous, amendment);
  let roster: Roster;
  try {
    roster = applyAmendment(previous.roster, amendment);
  } catch (err) {
    if (err instanceof ConfigError) {
      throw new ProtocolError(
        "malformed",
        `the amendment's result is no valid roster: ${err.message}`,
      );
    }
    throw err;
  }
  const next: RosterVersion = {
    version: amendment.version,
    firstRound: amendment.firstRound,
    roster,
    hash: versionHash(amendment, roster),
  };
  return {
    next,
    payload: amendmentPayload(amendment, roster),
    joiners: joiningMembers(previous.roster, roster),
  };
}

/** What {@link verifyAmendment} found. */
export interface VerifiedAmendment {
  /** The version the amendment makes. */
  readonly next: RosterVersion;
  /** Members of the previous version whose approval verified. */
  readonly approvedBy: readonly string[];
  /** Signatures that did not count, with why (a non-member, a bad signature). */
  readonly ignored: readonly { readonly id: string; readonly reason: string }[];
}

/** How far a signed amendment is from valid (see {@link tallyAmendment}). */
export interface AmendmentTally extends VerifiedAmendment {
  /** The previous version's threshold: approvals needed. */
  readonly needed: number;
  /** Joining members whose own signature is missing or does not verify. */
  readonly joinersMissing: readonly string[];
  /** True when ≥ needed approvals verified and no joiner is missing. */
  readonly valid: boolean;
}

/**
 * Counts `signed`'s signatures against `previous` without deciding: approvals by previous
 * members (verified with their keys, hybrid in post-quantum mode), joiners' own signatures
 * (verified with their new keys). Refuses (ProtocolError) as {@link proposeVersion} does;
 * signatures that do not count are listed in `ignored`, never thrown.
 */
export async function tallyAmendment(
  previous: RosterVersion,
  signed: SignedAmendment,
): Promise<AmendmentTally> {
  const { next, payload, joiners } = proposeVersion(previous, signed.amendment);
  const prev = previous.roster;
  const hybrid = prev.mode === "post-quantum";
  const approvedBy: string[] = [];
  const ignored: { id: string; reason: string }[] = [];
  for (const [id, signature] of signed.approvals) {
    const index = prev.indexOf(id);
    if (index === undefined) {
      ignored.push({ id, reason: `not a member of version ${previous.version}` });
    } else if (await verifyMemberSignature(prev, index, payload, signature, hybrid)) {
      approvedBy.push(id);
    } else {
      ignored.push({ id, reason: "the signature does not verify" });
    }
  }
  const joinersMissing: string[] = [];
  for (const member of joiners) {
    const signature = signed.joiners.get(member.id);
    const index = next.roster.indexOf(member.id)!;
    if (
      signature === undefined ||
      !await verifyMemberSignature(next.roster, index, payload, signature, hybrid)
    ) joinersMissing.push(member.id);
  }
  for (const id of signed.joiners.keys()) {
    if (!joiners.some((m) => m.id === id)) ignored.push({ id, reason: "not a joining member" });
  }
  return {
    next,
    approvedBy,
    ignored,
    needed: prev.threshold,
    joinersMissing,
    valid: approvedBy.length >= prev.threshold && joinersMissing.length === 0,
  };
}

/**
 * The version `signed` makes of `previous`, when it is valid: at least t (`previous`'s
 * threshold) members of `previous` approved it and every joining key signed it. Refuses
 * (ProtocolError) an amendment of another chain or out of sequence (`wrong-chain`), changes that
 * make no valid roster (`malformed`), fewer than t valid approvals (`insufficient-approvals`,
 * naming who counted and why the others did not, e.g. a removed member) and a missing or
 * invalid joiner signature (`bad-signature`, naming the joiner).
 */
export async function verifyAmendment(
  previous: RosterVersion,
  signed: SignedAmendment,
): Promise<VerifiedAmendment> {
  const tally = await tallyAmendment(previous, signed);
  if (tally.approvedBy.length < tally.needed) {
    const ignored = tally.ignored.map((x) => `${x.id}: ${x.reason}`).join("; ");
    throw new ProtocolError(
      "insufficient-approvals",
      `version ${tally.next.version} has ${tally.approvedBy.length} valid approvals of ` +
        `version ${previous.version}'s members, it needs t = ${tally.needed}` +
        (tally.approvedBy.length > 0 ? ` (approved by ${tally.approvedBy.join(", ")})` : "") +
        (ignored === "" ? "" : `; not counted: ${ignored}`),
    );
  }
  if (tally.joinersMissing.length > 0) {
    throw new ProtocolError(
      "bad-signature",
      `the joining member(s) ${tally.joinersMissing.join(", ")} did not sign their own entry ` +
        `(a valid signature with the new key over the same statement)`,
    );
  }
  return { next: tally.next, approvedBy: tally.approvedBy, ignored: tally.ignored };
}

/**
 * Signs `amendment` as `signer`, the holder of a key of `previous` (an approval) or of a joining
 * entry (its proof of possession): hybrid in post-quantum mode. Refuses (ProtocolError) what
 * {@link proposeVersion} refuses. Does not apply the no-fork rule: the caller consults
 * {@link successorDecision} and persists its choice first.
 */
export async function signAmendment(
  previous: RosterVersion,
  amendment: Amendment,
  signer: MemberSigner,
): Promise<Signature> {
  const { payload } = proposeVersion(previous, amendment);
  return await signer.sign(payload, previous.roster.mode === "post-quantum");
}

/**
 * The no-fork rule for a member about to approve `candidate` (a version hash) as the successor
 * of a version, given the successor it approved of that version before (`approvedBefore`, from
 * its persistent record, undefined if none): `"first"` (record it, durably, then sign),
 * `"again"` (the same successor: signing again is harmless). Refuses (ProtocolError `fork`) a
 * different successor: a member's second approval of one version could let two amendments
 * both reach t.
 */
export function successorDecision(
  approvedBefore: Uint8Array | undefined,
  candidate: Uint8Array,
): "first" | "again" {
  if (approvedBefore === undefined) return "first";
  if (equalBytes(approvedBefore, candidate)) return "again";
  throw new ProtocolError(
    "fork",
    `this member already approved another successor (${short(approvedBefore)}…) of this ` +
      `version; approving ${short(candidate)}… too could fork the roster`,
  );
}

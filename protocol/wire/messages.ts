/**
 * The fields of each round message, one builder (`*Fields`) and one reader (`read*`) per type, in
 * the order of the spec's stages (`docs/protocol.md` §3). The frame around them is `frame.ts`'s;
 * share entries are `share_entry.ts`'s.
 *
 * @module
 */
import { decode, encode, Fields, type Value } from "../encoding/codec.ts";
import { memberBitmap } from "../encoding/member_bitmap.ts";
import {
  ED25519_SIGNATURE_LENGTH,
  ML_DSA65_SIGNATURE_LENGTH,
  X25519_LENGTH,
  XWING_PUBLIC_KEY_LENGTH,
} from "../crypto/mod.ts";
import { ensure } from "../errors.ts";
import { memberSetHash, toMemberSet } from "../math/member_set.ts";
import { type Roster, vectorLength } from "../federation/roster.ts";
import { type Session, sessionHash } from "../federation/session.ts";
import { type Envelope, expectType, hybridSigned, TAG } from "./frame.ts";
import { entryFields, readEntries, SHARE_LENGTH, type ShareEntry } from "./share_entry.ts";

/** Public key lengths of the round's ephemeral keys in each mode. */
export function ephemeralKeyLengths(mode: Roster["mode"]): { share: number; mask: number } {
  return mode === "post-quantum"
    ? { share: X25519_LENGTH + XWING_PUBLIC_KEY_LENGTH, mask: XWING_PUBLIC_KEY_LENGTH }
    : { share: X25519_LENGTH, mask: X25519_LENGTH };
}

/** AdvertiseKeys: a member's ephemeral public keys and its self-mask commitment. */
export interface AdvertiseKeys {
  readonly shareKey: Uint8Array;
  readonly maskKey: Uint8Array;
  readonly commitment: Uint8Array;
}

/** Fields of an AdvertiseKeys message. */
export function advertiseKeysFields(a: AdvertiseKeys): Value[] {
  return [a.shareKey, a.maskKey, a.commitment];
}

/** Parses AdvertiseKeys fields (key lengths per the roster's mode). */
export function readAdvertiseKeys(env: Envelope, roster: Roster): AdvertiseKeys {
  expectType(env, "advertiseKeys");
  const f = new Fields(env.fields, 3, "advertise-keys", env.sender);
  const lengths = ephemeralKeyLengths(roster.mode);
  return {
    shareKey: f.bytes(0, "share key", lengths.share),
    maskKey: f.bytes(1, "mask key", lengths.mask),
    commitment: f.bytes(2, "self-mask commitment", 32),
  };
}

/**
 * KeyList: the signed AdvertiseKeys frames the leader collected (U1). On the complete graph it is
 * `[adverts]`, every member's advert. On a sparse graph it is `[U1, adverts]`: U1 as a member set
 * and only the adverts of the recipient's closed neighbourhood in U1 (the only keys it uses and
 * the only signatures it checks), so the leader's traffic is linear in n (`docs/protocol.md` §3).
 */
export interface KeyList {
  /** U1 as the leader states it: on a sparse graph its own field, else the adverts' senders. */
  readonly u1?: readonly number[];
  readonly adverts: readonly Uint8Array[];
}

/**
 * Whether a roster's KeyLists take the sparse form `[U1, adverts]`: a sparse graph, or groups (a
 * round's graph is then its groups' cliques or SecAgg+ graphs, never the complete graph).
 */
export function sparseKeyList(roster: Pick<Roster, "graph" | "groups">): boolean {
  return roster.graph.kind !== "complete" || roster.groups !== undefined;
}

/** Fields of a KeyList under the roster's graph (`u1` only in the sparse form). */
export function keyListFields(k: KeyList, roster: Roster): Value[] {
  if (!sparseKeyList(roster)) return [[...k.adverts]];
  return [membersValue(k.u1 ?? [], roster), [...k.adverts]];
}

/** Parses KeyList fields (the inner frames are checked by the receiver). */
export function readKeyList(env: Envelope, roster: Roster): KeyList {
  expectType(env, "keyList");
  const n = roster.members.length;
  const sparse = sparseKeyList(roster);
  const f = new Fields(env.fields, sparse ? 2 : 1, "key-list", env.sender);
  const u1 = sparse ? readMembers(f, 0, "U1", roster) : undefined;
  const list = f.list(sparse ? 1 : 0, "adverts", n);
  const adverts = list.map((a, i) => {
    ensure(a instanceof Uint8Array, "malformed", `key-list advert ${i} is not bytes`, env.sender);
    return a;
  });
  return u1 === undefined ? { adverts } : { u1, adverts };
}

/**
 * ShareKeys: the sender's encrypted shares, one entry per recipient, and in post-quantum mode the
 * sender's ML-DSA-65 signature of its share tree's root (`signature`; empty in classical mode).
 */
export interface ShareKeys {
  readonly entries: readonly ShareEntry[];
  readonly signature: Uint8Array;
}

/**
 * Fields of a ShareKeys message under the roster's mode: classical `[entries]`, post-quantum
 * `[entries, rootSignature]`.
 */
export function shareKeysFields(s: ShareKeys, mode: Roster["mode"]): Value[] {
  const entries = s.entries.map((e) => entryFields(e, mode, true));
  return mode === "classical" ? [entries] : [entries, s.signature];
}

/**
 * Parses ShareKeys fields: entries in increasing recipient order, lengths per the mode; in
 * post-quantum mode each entry's leaf index is its position and its `signature` the message's
 * root signature (checked by the holders, not here).
 */
export function readShareKeys(env: Envelope, roster: Roster): ShareKeys {
  expectType(env, "shareKeys");
  const n = roster.members.length;
  const pq = roster.mode === "post-quantum";
  const f = new Fields(env.fields, pq ? 2 : 1, "share-keys", env.sender);
  const list = f.list(0, "entries", n);
  const signature = pq
    ? f.bytes(1, "root signature", ML_DSA65_SIGNATURE_LENGTH)
    : new Uint8Array(0);
  return {
    entries: readEntries(
      list,
      roster.mode,
      n,
      env.sender,
      true,
      true,
      "share-keys",
      env.sender,
      signature,
    ),
    signature,
  };
}

/** ShareDelivery: U2 and the entries addressed to one recipient. */
export interface ShareDelivery {
  readonly u2: readonly number[];
  readonly entries: readonly ShareEntry[];
}

/**
 * Fields of a ShareDelivery message under the roster's mode (without the leader-only wraps) and
 * member-set form ({@link compactMemberSets}).
 */
export function shareDeliveryFields(
  d: ShareDelivery,
  roster: MemberSetForm & Pick<Roster, "mode">,
): Value[] {
  return [membersValue(d.u2, roster), d.entries.map((e) => entryFields(e, roster.mode, false))];
}

/** Parses ShareDelivery fields for `recipient`. */
export function readShareDelivery(env: Envelope, roster: Roster, recipient: number): ShareDelivery {
  expectType(env, "shareDelivery");
  const n = roster.members.length;
  const f = new Fields(env.fields, 2, "share-delivery", env.sender);
  const u2 = readMembers(f, 0, "U2", roster);
  const list = f.list(1, "entries", n);
  return {
    u2,
    entries: readEntries(
      list,
      roster.mode,
      n,
      recipient,
      false,
      false,
      "share-delivery",
      env.sender,
    ),
  };
}

/** MaskedInput: commits to U2 and to the masked vector carried as the body. */
export interface MaskedInput {
  readonly u2Hash: Uint8Array;
  readonly vectorHash: Uint8Array;
}

/** Fields of a MaskedInput message. */
export function maskedInputFields(m: MaskedInput): Value[] {
  return [m.u2Hash, m.vectorHash];
}

/** Parses MaskedInput fields and checks the body's length (4 · (d + 1) bytes). */
export function readMaskedInput(env: Envelope, roster: Roster): MaskedInput & { body: Uint8Array } {
  expectType(env, "maskedInput");
  const f = new Fields(env.fields, 2, "masked-input", env.sender);
  const body = env.body;
  ensure(body !== null, "malformed", "masked-input carries no vector", env.sender);
  ensure(
    body.length === 4 * vectorLength(roster),
    "wrong-length",
    `masked vector is ${body.length} bytes, expected ${4 * vectorLength(roster)}`,
    env.sender,
  );
  return { u2Hash: f.bytes(0, "U2 hash", 32), vectorHash: f.bytes(1, "vector hash", 32), body };
}

/** ConsistencyRequest: the survivor lists the leader asks the members of U3 to approve. */
export interface ConsistencyRequest {
  readonly u2: readonly number[];
  readonly u3: readonly number[];
}

/** Fields of a ConsistencyRequest message (member sets in the roster's form). */
export function consistencyRequestFields(c: ConsistencyRequest, roster: MemberSetForm): Value[] {
  return [membersValue(c.u2, roster), membersValue(c.u3, roster)];
}

/** Parses ConsistencyRequest fields. */
export function readConsistencyRequest(env: Envelope, roster: Roster): ConsistencyRequest {
  expectType(env, "consistencyRequest");
  const f = new Fields(env.fields, 2, "consistency-request", env.sender);
  return { u2: readMembers(f, 0, "U2", roster), u3: readMembers(f, 1, "U3", roster) };
}

/** Approval: a member's signature on (session, H(U2), H(U3)). */
export interface Approval {
  readonly u2Hash: Uint8Array;
  readonly u3Hash: Uint8Array;
}

/** Fields of an Approval message. */
export function approvalFields(a: Approval): Value[] {
  return [a.u2Hash, a.u3Hash];
}

/** Parses Approval fields. */
export function readApproval(env: Envelope): Approval {
  expectType(env, "approval");
  const f = new Fields(env.fields, 2, "approval", env.sender);
  return { u2Hash: f.bytes(0, "U2 hash", 32), u3Hash: f.bytes(1, "U3 hash", 32) };
}

/**
 * UnmaskRequest: who is alive (U3) and dropped (U2 \ U3), with ≥ t approvals of U3 (with an
 * approval committee, t_C of its members').
 */
export interface UnmaskRequest {
  readonly alive: readonly number[];
  readonly dropped: readonly number[];
  readonly approvals: readonly Uint8Array[];
}

/**
 * Whether a roster's UnmaskRequests and Certificates carry their approvals in the compact form:
 * a roster whose graph has an approval committee (`graph/committee.ts`). An approval is then
 * `[signer, ed25519Signature, mlDsa65Signature | null]`: its tag, session and the two list hashes
 * are those of the message that carries it, so only the signer and the signature travel (≈ 70
 * bytes classical instead of ≈ 200). Otherwise each approval is the signer's whole frame.
 */
export function compactApprovals(roster: Pick<Roster, "graph">): boolean {
  return roster.graph.kind === "harary" && roster.graph.committee !== undefined;
}

/** What a message's member sets are encoded by: the roster's graph and its size. */
export type MemberSetForm = Pick<Roster, "graph" | "members">;

/**
 * Whether a roster's messages carry member sets (U1, U2, U3, dropped) as bitmaps
 * (`encoding/member_bitmap.ts`, ⌈n/8⌉ bytes) instead of lists of indices (≈ 3 bytes per member
 * past 255 members): the rosters with an approval committee, as for {@link compactApprovals}.
 * There every member receives several sets of up to n members per round, which made the leader's
 * bytes grow as n² (≈ 5 lists of 27 KB to each of 10⁴ members). Other rosters keep the lists,
 * byte for byte. Either way a set has one encoding, so signatures and hashes over frames are
 * unaffected by the choice.
 */
export function compactMemberSets(roster: Pick<Roster, "graph">): boolean {
  return compactApprovals(roster);
}

/** A member set as the roster's messages carry it ({@link compactMemberSets}). */
function membersValue(set: readonly number[], roster: MemberSetForm): Value {
  return compactMemberSets(roster) ? memberBitmap(set, roster.members.length) : [...set];
}

/** Member set field `i` in the roster's form ({@link compactMemberSets}). */
function readMembers(f: Fields, i: number, name: string, roster: MemberSetForm): readonly number[] {
  const n = roster.members.length;
  return compactMemberSets(roster) ? f.memberBitmap(i, name, n) : f.members(i, name, n);
}

/** The approvals field: the frames themselves, or (compact form) `[signer, ed25519, mlDsa65]`. */
function approvalsValue(frames: readonly Uint8Array[], roster: Pick<Roster, "graph">): Value {
  if (!compactApprovals(roster)) return [...frames];
  return frames.map((frame): Value => {
    // The frame is one the caller checked (an Approval it accepted): [payload, ed25519, mlDsa65].
    const [payload, ed25519, mlDsa65] = decode(frame, frame.length, "approval") as [
      Uint8Array,
      Uint8Array,
      Uint8Array | null,
    ];
    const sender = (decode(payload, payload.length, "approval payload") as unknown[])[5];
    return [sender as number, ed25519, mlDsa65];
  });
}

/**
 * The approvals field `i` as approval frames. Full form: the byte strings as they are (each
 * checked by the receiver). Compact form: at most the committee's size of
 * `[signer, ed25519, mlDsa65 | null]` entries, each rebuilt into the frame its signer would have
 * sent had it approved `u2Hash` and `u3Hash` in `session` (byte-identical to the real one, since
 * the encoding is canonical): a signature over other lists or another session then fails to
 * verify. Refuses `malformed` (an entry of the wrong shape), `wrong-length`, `not-member`.
 */
function readApprovals(
  f: Fields,
  i: number,
  roster: Roster,
  session: Session,
  hashes: () => { u2Hash: Uint8Array; u3Hash: Uint8Array },
  peer: number,
): Uint8Array[] {
  const n = roster.members.length;
  if (!compactApprovals(roster)) return readFrameList(f, i, "approvals", n, peer);
  const size = roster.graph.kind === "harary" ? roster.graph.committee!.size : n;
  const entries = f.list(i, "approvals", size);
  if (entries.length === 0) return [];
  const { u2Hash, u3Hash } = hashes();
  const pq = hybridSigned(roster, "approval");
  return entries.map((raw, j) => {
    const e = new Fields(raw, 3, `approval ${j}`, peer);
    const signer = e.uint(0, "signer");
    ensure(
      signer < n,
      "not-member",
      `approval ${j} names signer ${signer}, not in the roster`,
      peer,
    );
    const ed25519 = e.bytes(1, "ed25519 signature", ED25519_SIGNATURE_LENGTH);
    let mlDsa65: Uint8Array | null = null;
    if (pq) mlDsa65 = e.bytes(2, "ML-DSA-65 signature", ML_DSA65_SIGNATURE_LENGTH);
    else {
      ensure(
        (raw as unknown[])[2] === null,
        "malformed",
        `approval ${j} carries an ML-DSA-65 part in classical mode`,
        peer,
      );
    }
    const payload = encode([
      TAG.approval,
      session.federation,
      session.rosterHash,
      session.round,
      session.view,
      signer,
      u2Hash,
      u3Hash,
    ]);
    return encode([payload, ed25519, mlDsa65]);
  });
}

/**
 * Fields of an UnmaskRequest message under `roster` (approvals compact when it has a committee,
 * {@link compactApprovals}).
 */
export function unmaskRequestFields(u: UnmaskRequest, roster: MemberSetForm): Value[] {
  return [
    membersValue(u.alive, roster),
    membersValue(u.dropped, roster),
    approvalsValue(u.approvals, roster),
  ];
}

function readFrameList(
  f: Fields,
  i: number,
  name: string,
  max: number,
  peer: number,
): Uint8Array[] {
  return f.list(i, name, max).map((a, j) => {
    ensure(a instanceof Uint8Array, "malformed", `${name} ${j} is not bytes`, peer);
    return a;
  });
}

/**
 * Parses UnmaskRequest fields. Compact approvals ({@link compactApprovals}) are rebuilt as
 * approvals of H(alive ∪ dropped) and H(alive): the lists this request states.
 */
export function readUnmaskRequest(env: Envelope, roster: Roster): UnmaskRequest {
  expectType(env, "unmaskRequest");
  const f = new Fields(env.fields, 3, "unmask-request", env.sender);
  const alive = readMembers(f, 0, "alive", roster);
  const dropped = readMembers(f, 1, "dropped", roster);
  const hashes = () => {
    const h = sessionHash(env.session);
    return {
      u2Hash: memberSetHash(h, toMemberSet([...alive, ...dropped])),
      u3Hash: memberSetHash(h, alive),
    };
  };
  return {
    alive,
    dropped,
    approvals: readApprovals(f, 2, roster, env.session, hashes, env.sender),
  };
}

/** Unmask: shares of self-mask seeds (owners alive) and of mask seeds (owners dropped). */
export interface Unmask {
  readonly selfShares: readonly (readonly [owner: number, share: Uint8Array])[];
  readonly maskShares: readonly (readonly [owner: number, share: Uint8Array])[];
}

/** Fields of an Unmask message. */
export function unmaskFields(u: Unmask): Value[] {
  return [u.selfShares.map(([o, s]) => [o, s]), u.maskShares.map(([o, s]) => [o, s])];
}

/** Parses Unmask fields: owners strictly increasing within each list. */
export function readUnmask(env: Envelope, roster: Roster): Unmask {
  expectType(env, "unmask");
  const n = roster.members.length;
  const f = new Fields(env.fields, 2, "unmask", env.sender);
  const read = (i: number, name: string) => {
    let previous = -1;
    return f.list(i, name, n).map((raw, j) => {
      const e = new Fields(raw, 2, `unmask ${name} ${j}`, env.sender);
      const owner = e.uint(0, "owner", n - 1);
      ensure(owner > previous, "malformed", `unmask ${name} not in increasing order`, env.sender);
      previous = owner;
      return [owner, e.bytes(1, "share", SHARE_LENGTH)] as const;
    });
  };
  return { selfShares: read(0, "self shares"), maskShares: read(1, "mask shares") };
}

/** Certificate: the leader's signed statement of the aggregate (body) of a session. */
export interface Certificate {
  /** The U2 hash every approval signed. */
  readonly u2Hash: Uint8Array;
  readonly u3: readonly number[];
  readonly approvals: readonly Uint8Array[];
  readonly aggregateHash: Uint8Array;
  readonly totalWeight: number;
  /**
   * With group-wise aggregation only (a roster with groups): the round's partition seed and the
   * groups whose sums the body holds after the total, ascending. Absent otherwise.
   */
  readonly groups?: CertifiedGroups;
}

/** The group part of a Certificate (`federation/round_groups.ts`). */
export interface CertifiedGroups {
  /** The round's partition seed (`graph/groups.ts`'s `partitionSeed`). */
  readonly seed: Uint8Array;
  /** The groups whose sums follow the total in the body, strictly ascending. */
  readonly included: readonly number[];
  /**
   * With a robust rule only (a roster with `robust`): the hash of the round's robust result
   * (`certificate/robust_result.ts`). Absent otherwise.
   */
  readonly robustHash?: Uint8Array;
}

/**
 * Fields of a Certificate message: `[u2Hash, u3, approvals, aggregateHash, totalWeight]` (the
 * approvals compact when the roster has a committee, {@link compactApprovals}), and
 * with groups a sixth, `[seed, [included group…]]`, or `[seed, [included group…], robustHash]`
 * under a robust rule.
 */
export function certificateFields(c: Certificate, roster: MemberSetForm): Value[] {
  const approvals = approvalsValue(c.approvals, roster);
  const u3 = membersValue(c.u3, roster);
  const fields: Value[] = [c.u2Hash, u3, approvals, c.aggregateHash, c.totalWeight];
  if (c.groups !== undefined) {
    const { seed, included, robustHash } = c.groups;
    fields.push(
      robustHash === undefined ? [seed, [...included]] : [seed, [...included], robustHash],
    );
  }
  return fields;
}

/**
 * Parses Certificate fields (the body, if present, is checked by the receiver). Compact approvals
 * are rebuilt as approvals of its U2 hash and H(U3).
 */
export function readCertificate(env: Envelope, roster: Roster): Certificate {
  expectType(env, "certificate");
  const grouped = roster.groups !== undefined;
  const f = new Fields(env.fields, grouped ? 6 : 5, "certificate", env.sender);
  const u2Hash = f.bytes(0, "U2 hash", 32);
  const u3 = readMembers(f, 1, "U3", roster);
  const hashes = () => ({ u2Hash, u3Hash: memberSetHash(sessionHash(env.session), u3) });
  const certificate = {
    u2Hash,
    u3,
    approvals: readApprovals(f, 2, roster, env.session, hashes, env.sender),
    aggregateHash: f.bytes(3, "aggregate hash", 32),
    totalWeight: f.uint(4, "total weight", 2 ** 32 - 1),
  };
  if (!grouped) return certificate;
  const robust = roster.robust !== undefined;
  const size = robust ? 3 : 2;
  const g = new Fields(f.list(5, "groups", size), size, "certificate groups", env.sender);
  return {
    ...certificate,
    groups: {
      seed: g.bytes(0, "partition seed", 32),
      // Group indices are read like member indices: strictly increasing, each below g.
      included: g.members(1, "included groups", roster.groups!.count),
      ...(robust ? { robustHash: g.bytes(2, "robust result hash", 32) } : {}),
    },
  };
}

/** Cosign: a member's signature on the hash of a certificate's payload. */
export interface Cosign {
  readonly certificateHash: Uint8Array;
}

/** Fields of a Cosign message. */
export function cosignFields(c: Cosign): Value[] {
  return [c.certificateHash];
}

/** Parses Cosign fields. */
export function readCosign(env: Envelope): Cosign {
  expectType(env, "cosign");
  const f = new Fields(env.fields, 1, "cosign", env.sender);
  return { certificateHash: f.bytes(0, "certificate hash", 32) };
}

/**
 * Outcome: a round's final certificate (`certificate/final.ts`), which the sender holds, sent to
 * a member that is still working on the round or asked for it (`docs/protocol.md` §4). The
 * aggregate travels as the frame's body. Its session is the certified one. Everything in it is
 * public; its authority is the final certificate's, checked by the receiver against the body.
 */
export interface Outcome {
  /** The encoded final certificate. */
  readonly finalCertificate: Uint8Array;
}

/** Fields of an Outcome message. */
export function outcomeFields(o: Outcome): Value[] {
  return [o.finalCertificate];
}

/** Parses Outcome fields (the final certificate is checked by the receiver, with the body). */
export function readOutcome(env: Envelope): Outcome {
  expectType(env, "outcome");
  const f = new Fields(env.fields, 1, "outcome", env.sender);
  return { finalCertificate: f.bytes(0, "final certificate", [1, env.frame.length]) };
}

/** Fields of an OutcomeRequest message: none (its session names the certificate it asks about). */
export function outcomeRequestFields(): Value[] {
  return [];
}

/** Checks an OutcomeRequest: it has no fields. */
export function readOutcomeRequest(env: Envelope): void {
  expectType(env, "outcomeRequest");
  new Fields(env.fields, 0, "outcome request", env.sender);
}

/**
 * Leave(r, w; promised): "the signer has left every view ≤ w of this round without committing
 * there, and will never commit in a view < `promised`" (`docs/protocol.md` §4), where w is the
 * frame's view (its session names the round and w) and `promised` ≤ w + 1 its one field. The
 * views in [promised, w] are views the signer approved and left without committing: it may still
 * go back to one of them, only to reveal there (a rescue). A give-up (w = the last view) promises
 * every view: `promised` = w + 1. The header binds it to the federation, the roster hash, the
 * round, w and the signer, and its tag separates it from every other signed statement.
 * Hybrid-signed in post-quantum mode (see `frame.ts`): a quorum of promises ends an update as
 * failed. A member sends it to every other member when it leaves a view (w = that view, or the
 * view the evidence moved it past) and when it gives the round up; signatures are checked by the
 * receiver.
 *
 * One more promise exists, only with w = n − 1 (the last view): `promised` = n + 1
 * ({@link renouncePromise}), the **renouncement** — "the signer will never co-sign any
 * certificate of this round" — signed by a member bound to a view (committed, or given up after
 * its masked input left) that reached its round deadline without a certificate. It says nothing
 * about where the signer committed (it may have).
 */
export function leaveFields(promised: number): Value[] {
  return [promised];
}

/**
 * The promise of a renouncement (see {@link leaveFields}) in a federation of `members` members:
 * n + 1, one past the promise of any plain Leave (at most w + 1 ≤ n).
 */
export function renouncePromise(members: number): number {
  return members + 1;
}

/**
 * Parses a Leave of a federation of `members` members: its one field, `promised`, at most
 * w + 1 (w the frame's view) — or, for w = n − 1 only, the renouncement n + 1
 * ({@link renouncePromise}). Refuses anything else as `malformed`.
 */
export function readLeave(env: Envelope, members: number): { readonly promised: number } {
  expectType(env, "leave");
  const f = new Fields(env.fields, 1, "leave", env.sender);
  const w = env.session.view;
  // w + 1 = n for the last view, so the renouncement is the only value past w + 1 there.
  return { promised: f.uint(0, "promised", w === members - 1 ? renouncePromise(members) : w + 1) };
}

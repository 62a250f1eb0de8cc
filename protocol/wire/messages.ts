/**
 * The wire messages of a round and their canonical encoding.
 *
 * A **frame** is the CBOR array `[payload, ed25519Signature, mlDsa65Signature | null]` (the
 * ML-DSA-65 part present exactly for the hybrid-signed types, see {@link hybridSigned}), plus a
 * fourth element, a byte-string body, for the two messages that carry a vector (masked input,
 * published aggregate). The **payload** is itself canonical CBOR and is exactly the signed
 * bytes: `[tag, federation, rosterHash, round, view, sender, ...fields]`. The tag is one per
 * message type (domain separation), the next four fields are the session, and `sender` is the
 * signer's roster index, so a signature is bound to one type, one session and one signer. The
 * body is covered by a hash inside the payload.
 *
 * {@link openFrame} decodes and checks the structure of any frame (sizes, types, lengths,
 * membership) and returns an {@link Envelope}; the typed `read*` functions then parse the
 * fields of one message type. Signature checks are separate ({@link verifyEnvelope}) because
 * they are the expensive part and callers batch them.
 *
 * @module
 */
import { equalBytes } from "../encoding/bytes.ts";
import { decode, encode, Fields, type Value } from "../encoding/codec.ts";
import {
  AEAD_TAG_LENGTH,
  ED25519_SIGNATURE_LENGTH,
  ML_DSA65_SIGNATURE_LENGTH,
  X25519_LENGTH,
  XWING_CIPHERTEXT_LENGTH,
  XWING_PUBLIC_KEY_LENGTH,
} from "../crypto/mod.ts";
import { SIGN } from "../crypto/domains.ts";
import { ensure, ProtocolError } from "../errors.ts";
import type { Roster } from "../federation/roster.ts";
import { MAX_ROUND, sameSession, type Session } from "../federation/session.ts";
import {
  type MemberSigner,
  type Signature,
  verifyMemberPostQuantumSignature,
  verifyMemberSignature,
} from "../federation/signer.ts";

/** The message types. */
export type MessageType =
  | "advertise"
  | "keyList"
  | "shares"
  | "shareDelivery"
  | "maskedInput"
  | "consistencyRequest"
  | "approval"
  | "unmaskRequest"
  | "unmask"
  | "certificate"
  | "cosign";

/** Domain tags, one per message type. */
export const TAG: Readonly<Record<MessageType, string>> = {
  advertise: "fedagg/v1/msg/advertise-keys",
  keyList: "fedagg/v1/msg/key-list",
  shares: "fedagg/v1/msg/share-keys",
  shareDelivery: "fedagg/v1/msg/share-delivery",
  maskedInput: "fedagg/v1/msg/masked-input",
  consistencyRequest: "fedagg/v1/msg/consistency-request",
  approval: "fedagg/v1/msg/approval",
  unmaskRequest: "fedagg/v1/msg/unmask-request",
  unmask: "fedagg/v1/msg/unmask",
  certificate: "fedagg/v1/msg/certificate",
  cosign: "fedagg/v1/msg/cosign",
};

const TYPE_OF_TAG = new Map<string, MessageType>(
  Object.entries(TAG).map(([type, tag]) => [tag, type as MessageType]),
);

/**
 * Types whose signature is a hybrid (Ed25519 + ML-DSA-65) in post-quantum mode: those whose
 * authenticity protects privacy or must outlive the round — the advertised ephemeral keys
 * (a forged key would let an active attacker decrypt shares), approvals (they bind every
 * member to one survivor set), certificates and co-signatures (checked offline for years).
 * Confidentiality is post-quantum for everything (X-Wing), see `round_keys.ts`: recorded
 * traffic stays secret from a later quantum computer.
 *
 * The share entries inside ShareKeys and ShareDelivery carry, in post-quantum mode, their own
 * ML-DSA-65 signature by their sender ({@link shareEntryPayload}), which each holder checks. An
 * entry's AEAD key derives from the members' X25519 agreement and an X-Wing secret the sender
 * chooses, so it authenticates the sender only through X25519. Without that signature an
 * attacker with a quantum computer during the round — notably the leader, which relays the
 * entries inside its own frame — could seal entries, with mask ciphertexts of its choice, as any
 * member, and so choose the pair secrets a member decapsulates from its lower-indexed neighbours:
 * for a member whose neighbours in U2 all have lower indices that is every pair mask, and with
 * the member's self-mask seed (reconstructed for U3) the leader would learn its input.
 *
 * Every member statement a leader relays to other members is thus post-quantum authenticated
 * (adverts, approvals, share entries). The rest is Ed25519-signed in both modes, so an attacker
 * with a quantum computer during the round can forge it; that costs the round, not privacy:
 * a forged masked input falsifies the aggregate (or fails the round on its weight); forged
 * unmask shares fail the leader's checks against the commitments and advertised keys (at worst
 * an honest holder is named or the round fails); a forged ShareKeys fails at the holders (its
 * entries' signatures) or at unmasking (its wraps); and forged leader messages (key lists,
 * deliveries' U2, consistency and unmask requests) give no more than a corrupt leader has, what
 * they relay being checked against the hybrid-signed adverts and approvals and the entries'
 * signatures.
 */
const HYBRID_TYPES: ReadonlySet<MessageType> = new Set([
  "advertise",
  "approval",
  "certificate",
  "cosign",
]);

/** True when frames of `type` carry a hybrid signature under `roster`. */
export function hybridSigned(roster: Pick<Roster, "mode">, type: MessageType): boolean {
  return roster.mode === "post-quantum" && HYBRID_TYPES.has(type);
}

/** Types sent by members to the leader of the session. */
export const TO_LEADER: ReadonlySet<MessageType> = new Set([
  "advertise",
  "shares",
  "maskedInput",
  "approval",
  "unmask",
]);

/** A decoded frame whose structure and header have been checked (not yet its signature). */
export interface Envelope {
  /** The message type, from the payload's tag. */
  readonly type: MessageType;
  /** The session the payload names (checked against the roster, not against a round). */
  readonly session: Session;
  /** Roster index of the signer. */
  readonly sender: number;
  /** The signed bytes. */
  readonly payload: Uint8Array;
  /** The signature over `payload`, in the form the type and mode require. */
  readonly signature: Signature;
  /** The vector body, for masked inputs and published aggregates; else null. */
  readonly body: Uint8Array | null;
  /** The message-specific fields after the header (parse with a `read*` function). */
  readonly fields: readonly unknown[];
  /** The whole frame, for relaying it verbatim. */
  readonly frame: Uint8Array;
}

const HEADER_FIELDS = 6;
const SMALL = 16 * 1024;

/** Size limits of each frame type for a roster, in bytes. */
export function frameLimit(roster: Roster, type: MessageType): number {
  const n = roster.members.length;
  const pq = roster.mode === "post-quantum";
  const sig = ED25519_SIGNATURE_LENGTH + (pq ? ML_DSA65_SIGNATURE_LENGTH : 0);
  const advert = SMALL + sig + (pq ? 2 * XWING_PUBLIC_KEY_LENGTH : 0);
  const vector = 4 * (roster.dim + 1);
  const entry = 16 + SEALED_SHARES_LENGTH +
    (pq ? 2 * XWING_CIPHERTEXT_LENGTH + WRAP_LENGTH + ML_DSA65_SIGNATURE_LENGTH : 0);
  switch (type) {
    case "advertise":
      return advert;
    case "keyList":
      return SMALL + sig + n * (advert + 8);
    case "shares":
    case "shareDelivery":
      return SMALL + sig + n * (entry + 4);
    case "maskedInput":
      return SMALL + sig + vector;
    case "consistencyRequest":
      return SMALL + sig + 2 * 4 * n;
    case "approval":
    case "cosign":
      return SMALL + sig;
    case "unmaskRequest":
      return SMALL + sig + 2 * 4 * n + n * (SMALL + sig + 8);
    case "unmask":
      return SMALL + sig + n * (SHARE_LENGTH + 16);
    case "certificate":
      return SMALL + sig + 4 * n + n * (SMALL + sig + 8) + vector;
  }
}

/** Largest frame of any type for a roster (the transport's per-message cap). */
export function maxFrameSize(roster: Roster): number {
  return Math.max(...(Object.keys(TAG) as MessageType[]).map((t) => frameLimit(roster, t)));
}

/**
 * Builds and signs a frame. `fields` are the message-specific fields (see the `*Fields`
 * builders); `body` is the vector for masked inputs and certificates.
 */
export async function sealFrame(
  type: MessageType,
  session: Session,
  sender: number,
  fields: readonly Value[],
  signer: MemberSigner,
  mode: Roster["mode"],
  body?: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  const payload = encode([
    TAG[type],
    session.federation,
    session.rosterHash,
    session.round,
    session.view,
    sender,
    ...fields,
  ]);
  const signature = await signer.sign(payload, hybridSigned({ mode }, type));
  const frame: Value[] = [payload, signature.ed25519, signature.mlDsa65];
  if (body !== undefined) frame.push(body);
  return encode(frame);
}

/**
 * Decodes an untrusted frame and checks its header: size within the type's limit, a known tag,
 * this roster's federation and hash, a sender in the roster (and equal to `peer`, the transport
 * identity it arrived from, when given), signatures of the right lengths for the roster's mode,
 * and a body exactly where the type has one. Refuses with a {@link ProtocolError}.
 */
export function openFrame(frame: Uint8Array, roster: Roster, peer?: number): Envelope {
  const outer = decode(frame, maxFrameSize(roster), "frame", peer);
  ensure(
    Array.isArray(outer) && (outer.length === 3 || outer.length === 4),
    "malformed",
    "frame is not [payload, signature, signature, body?]",
    peer,
  );
  const top = new Fields(outer, outer.length, "frame", peer);
  const payloadBytes = top.bytes(0, "payload", [1, frame.length]);
  const ed25519 = top.bytes(1, "ed25519 signature", ED25519_SIGNATURE_LENGTH);
  const payload = decode(payloadBytes, payloadBytes.length, "payload", peer);
  ensure(
    Array.isArray(payload) && payload.length >= HEADER_FIELDS,
    "malformed",
    "payload is not [tag, federation, roster hash, round, view, sender, ...]",
    peer,
  );
  const header = new Fields(payload.slice(0, HEADER_FIELDS), HEADER_FIELDS, "header", peer);
  const tag = header.text(0, "tag", 64);
  const type = TYPE_OF_TAG.get(tag);
  ensure(type !== undefined, "wrong-type", `unknown message tag ${JSON.stringify(tag)}`, peer);
  ensure(
    frame.length <= frameLimit(roster, type),
    "oversized",
    `${type} frame is ${frame.length} bytes, limit ${frameLimit(roster, type)}`,
    peer,
  );
  let mlDsa65: Uint8Array | null = null;
  if (hybridSigned(roster, type)) {
    ensure(outer[2] !== null, "bad-signature", `${type} lacks its ML-DSA-65 signature`, peer);
    mlDsa65 = top.bytes(2, "ML-DSA-65 signature", ML_DSA65_SIGNATURE_LENGTH);
  } else {
    ensure(
      outer[2] === null,
      "bad-signature",
      `${type} carries an unexpected ML-DSA-65 part`,
      peer,
    );
  }
  const federation = header.text(1, "federation", 64);
  const rosterHash = header.bytes(2, "roster hash", 32);
  const round = header.uint(3, "round", MAX_ROUND - 1);
  const view = header.uint(4, "view", MAX_ROUND - 1);
  const sender = header.uint(5, "sender", Number.MAX_SAFE_INTEGER);
  ensure(
    sender < roster.members.length,
    "not-member",
    `sender ${sender} is not in the roster`,
    peer,
  );
  ensure(
    peer === undefined || peer === sender,
    "not-member",
    `frame signed as member ${sender} arrived from member ${peer}`,
    peer,
  );
  const session: Session = { federation, rosterHash, round, view };
  ensure(
    federation === roster.federation && equalBytes(rosterHash, roster.hash),
    "wrong-session",
    `${type} is for federation ${JSON.stringify(federation)} / another roster`,
    sender,
  );
  const hasBody = type === "maskedInput" || type === "certificate";
  let body: Uint8Array | null = null;
  if (outer.length === 4) {
    ensure(hasBody, "malformed", `${type} frame must not carry a body`, sender);
    body = top.bytes(3, "body", [0, frame.length]);
  }
  return {
    type,
    session,
    sender,
    payload: payloadBytes,
    signature: { ed25519, mlDsa65 },
    body,
    fields: payload.slice(HEADER_FIELDS),
    frame,
  };
}

/** True when the envelope's signature(s) verify under its sender's roster keys. */
export function verifyEnvelope(roster: Roster, env: Envelope): Promise<boolean> {
  return verifyMemberSignature(
    roster,
    env.sender,
    env.payload,
    env.signature,
    hybridSigned(roster, env.type),
  );
}

/** Refuses with `wrong-type` unless the envelope is of `type`. */
export function expectType(env: Envelope, type: MessageType): void {
  ensure(env.type === type, "wrong-type", `expected ${type}, got ${env.type}`, env.sender);
}

/** Refuses with `wrong-session` unless the envelope belongs to `session`. */
export function expectSession(env: Envelope, session: Session): void {
  ensure(
    sameSession(env.session, session),
    "wrong-session",
    `${env.type} is for round ${env.session.round} view ${env.session.view}, ` +
      `expected round ${session.round} view ${session.view}`,
    env.sender,
  );
}

// ---------------------------------------------------------------------------------------------
// Field layouts.

/** Plaintext of an encrypted share pair: share of the self-mask seed ‖ of the mask seed. */
export const SHARE_LENGTH = 32;
/** Sealed share pair: 2 × 32 bytes plus the AEAD tag. */
export const SEALED_SHARES_LENGTH = 2 * SHARE_LENGTH + AEAD_TAG_LENGTH;
/** A wrapped pair secret (post-quantum mode): 32 bytes plus the AEAD tag. */
export const WRAP_LENGTH = 32 + AEAD_TAG_LENGTH;

/** Public key lengths of the round's ephemeral keys in each mode. */
export function ephemeralKeyLengths(mode: Roster["mode"]): { share: number; mask: number } {
  return mode === "post-quantum"
    ? { share: X25519_LENGTH + XWING_PUBLIC_KEY_LENGTH, mask: XWING_PUBLIC_KEY_LENGTH }
    : { share: X25519_LENGTH, mask: X25519_LENGTH };
}

/** AdvertiseKeys: a member's ephemeral public keys and its self-mask commitment. */
export interface Advertise {
  readonly shareKey: Uint8Array;
  readonly maskKey: Uint8Array;
  readonly commitment: Uint8Array;
}

/** Fields of an AdvertiseKeys message. */
export function advertiseFields(a: Advertise): Value[] {
  return [a.shareKey, a.maskKey, a.commitment];
}

/** Parses AdvertiseKeys fields (key lengths per the roster's mode). */
export function readAdvertise(env: Envelope, roster: Roster): Advertise {
  expectType(env, "advertise");
  const f = new Fields(env.fields, 3, "advertise-keys", env.sender);
  const lengths = ephemeralKeyLengths(roster.mode);
  return {
    shareKey: f.bytes(0, "share key", lengths.share),
    maskKey: f.bytes(1, "mask key", lengths.mask),
    commitment: f.bytes(2, "self-mask commitment", 32),
  };
}

/** KeyList: the signed AdvertiseKeys frames the leader collected (U1). */
export interface KeyList {
  readonly adverts: readonly Uint8Array[];
}

/** Parses KeyList fields (the inner frames are checked by the receiver). */
export function readKeyList(env: Envelope, roster: Roster): KeyList {
  expectType(env, "keyList");
  const f = new Fields(env.fields, 1, "key-list", env.sender);
  const list = f.list(0, "adverts", roster.members.length);
  const adverts = list.map((a, i) => {
    ensure(a instanceof Uint8Array, "malformed", `key-list advert ${i} is not bytes`, env.sender);
    return a;
  });
  return { adverts };
}

/**
 * One encrypted share pair with its post-quantum attachments. `peer` is the recipient in a
 * ShareKeys message and the sender in a ShareDelivery. Empty byte strings stand for absent
 * attachments (always absent in classical mode, where the wire entry has no signature element).
 */
export interface ShareEntry {
  readonly peer: number;
  readonly sealed: Uint8Array;
  /** X-Wing ciphertext to the recipient's share key. */
  readonly shareKemCt: Uint8Array;
  /** X-Wing ciphertext to the recipient's mask key (only from the lower to the higher index). */
  readonly maskKemCt: Uint8Array;
  /** The encapsulated pair secret wrapped under the sender's mask seed (leader-only). */
  readonly wrap: Uint8Array;
  /**
   * Post-quantum mode: the sender's ML-DSA-65 signature of {@link shareEntryPayload}, relayed to
   * the recipient, who checks it with {@link verifyShareEntry}.
   */
  readonly signature: Uint8Array;
}

/** Lengths an entry from `sender` to `recipient` must have under the roster's mode. */
export function entryLengths(
  mode: Roster["mode"],
  sender: number,
  recipient: number,
): { shareKemCt: number; maskKemCt: number; wrap: number; signature: number } {
  if (mode === "classical") return { shareKemCt: 0, maskKemCt: 0, wrap: 0, signature: 0 };
  const encapsulates = sender < recipient;
  return {
    shareKemCt: XWING_CIPHERTEXT_LENGTH,
    maskKemCt: encapsulates ? XWING_CIPHERTEXT_LENGTH : 0,
    wrap: encapsulates ? WRAP_LENGTH : 0,
    signature: ML_DSA65_SIGNATURE_LENGTH,
  };
}

/**
 * The bytes `sender` signs (ML-DSA-65, post-quantum mode) for its entry to `recipient`: the
 * canonical CBOR array `[SIGN.shareEntry, sessionHash, sender, recipient, sealed, shareKemCt,
 * maskKemCt]` — everything of the entry that reaches the recipient, bound to the session and the
 * direction. The leader relays entries inside its own frame, whose Ed25519 signature vouches for
 * nothing of the sender's; this signature does, also against a quantum computer.
 */
export function shareEntryPayload(
  sessionHash: Uint8Array,
  sender: number,
  recipient: number,
  entry: Pick<ShareEntry, "sealed" | "shareKemCt" | "maskKemCt">,
): Uint8Array {
  return encode([
    SIGN.shareEntry,
    sessionHash,
    sender,
    recipient,
    entry.sealed,
    entry.shareKemCt,
    entry.maskKemCt,
  ]);
}

/**
 * True when `entry` (from `sender` to `recipient` in the session of `sessionHash`) carries the
 * signature the roster's mode requires: in post-quantum mode `sender`'s valid ML-DSA-65
 * signature of {@link shareEntryPayload}, in classical mode none (the AEAD under the members'
 * signed X25519 keys authenticates the sender). Never rejects.
 */
export async function verifyShareEntry(
  roster: Roster,
  sessionHash: Uint8Array,
  sender: number,
  recipient: number,
  entry: Pick<ShareEntry, "sealed" | "shareKemCt" | "maskKemCt" | "signature">,
): Promise<boolean> {
  if (roster.mode === "classical") return entry.signature.length === 0;
  return await verifyMemberPostQuantumSignature(
    roster,
    sender,
    shareEntryPayload(sessionHash, sender, recipient, entry),
    entry.signature,
  );
}

function readEntries(
  list: readonly unknown[],
  mode: Roster["mode"],
  n: number,
  self: number,
  selfIsSender: boolean,
  withWrap: boolean,
  what: string,
  peer: number,
): ShareEntry[] {
  let previous = -1;
  // Classical entries have no signature element (their frames are unchanged from before it).
  const signed = mode === "post-quantum";
  const signatureAt = withWrap ? 5 : 4;
  return list.map((raw, i) => {
    const f = new Fields(raw, signatureAt + (signed ? 1 : 0), `${what} entry ${i}`, peer);
    const other = f.uint(0, "member", n - 1);
    ensure(other > previous, "malformed", `${what} entries are not in increasing order`, peer);
    ensure(other !== self, "inconsistent-lists", `${what} has an entry for its own sender`, peer);
    previous = other;
    const [s, r] = selfIsSender ? [self, other] : [other, self];
    const len = entryLengths(mode, s, r);
    return {
      peer: other,
      sealed: f.bytes(1, "sealed shares", SEALED_SHARES_LENGTH),
      shareKemCt: f.bytes(2, "share ciphertext", len.shareKemCt),
      maskKemCt: f.bytes(3, "mask ciphertext", len.maskKemCt),
      wrap: withWrap ? f.bytes(4, "wrapped pair secret", len.wrap) : new Uint8Array(0),
      signature: signed
        ? f.bytes(signatureAt, "entry signature", len.signature)
        : new Uint8Array(0),
    };
  });
}

/** ShareKeys: the sender's encrypted shares, one entry per recipient. */
export interface Shares {
  readonly entries: readonly ShareEntry[];
}

/** The wire form of an entry: its signature is an element in post-quantum mode only. */
function entryFields(e: ShareEntry, mode: Roster["mode"], withWrap: boolean): Value[] {
  const fields: Value[] = [e.peer, e.sealed, e.shareKemCt, e.maskKemCt];
  if (withWrap) fields.push(e.wrap);
  if (mode === "post-quantum") fields.push(e.signature);
  return fields;
}

/** Fields of a ShareKeys message under the roster's mode. */
export function sharesFields(s: Shares, mode: Roster["mode"]): Value[] {
  return [s.entries.map((e) => entryFields(e, mode, true))];
}

/** Parses ShareKeys fields: entries in increasing recipient order, lengths per the mode. */
export function readShares(env: Envelope, roster: Roster): Shares {
  expectType(env, "shares");
  const n = roster.members.length;
  const f = new Fields(env.fields, 1, "share-keys", env.sender);
  const list = f.list(0, "entries", n);
  return {
    entries: readEntries(list, roster.mode, n, env.sender, true, true, "share-keys", env.sender),
  };
}

/** ShareDelivery: U2 and the entries addressed to one recipient. */
export interface ShareDelivery {
  readonly u2: readonly number[];
  readonly entries: readonly ShareEntry[];
}

/** Fields of a ShareDelivery message under the roster's mode (without the leader-only wraps). */
export function shareDeliveryFields(d: ShareDelivery, mode: Roster["mode"]): Value[] {
  return [d.u2, d.entries.map((e) => entryFields(e, mode, false))];
}

/** Parses ShareDelivery fields for `recipient`. */
export function readShareDelivery(env: Envelope, roster: Roster, recipient: number): ShareDelivery {
  expectType(env, "shareDelivery");
  const n = roster.members.length;
  const f = new Fields(env.fields, 2, "share-delivery", env.sender);
  const u2 = f.members(0, "U2", n);
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
    body.length === 4 * (roster.dim + 1),
    "wrong-length",
    `masked vector is ${body.length} bytes, expected ${
      4 * (roster.dim + 1)
    } (d = ${roster.dim} + 1)`,
    env.sender,
  );
  return { u2Hash: f.bytes(0, "U2 hash", 32), vectorHash: f.bytes(1, "vector hash", 32), body };
}

/** ConsistencyRequest: the survivor lists the leader asks the members of U3 to approve. */
export interface ConsistencyRequest {
  readonly u2: readonly number[];
  readonly u3: readonly number[];
}

/** Fields of a ConsistencyRequest message. */
export function consistencyRequestFields(c: ConsistencyRequest): Value[] {
  return [c.u2, c.u3];
}

/** Parses ConsistencyRequest fields. */
export function readConsistencyRequest(env: Envelope, roster: Roster): ConsistencyRequest {
  expectType(env, "consistencyRequest");
  const n = roster.members.length;
  const f = new Fields(env.fields, 2, "consistency-request", env.sender);
  return { u2: f.members(0, "U2", n), u3: f.members(1, "U3", n) };
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

/** UnmaskRequest: who is alive (U3) and dropped (U2 \ U3), with ≥ t approvals of U3. */
export interface UnmaskRequest {
  readonly alive: readonly number[];
  readonly dropped: readonly number[];
  readonly approvals: readonly Uint8Array[];
}

/** Fields of an UnmaskRequest message. */
export function unmaskRequestFields(u: UnmaskRequest): Value[] {
  return [u.alive, u.dropped, u.approvals];
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

/** Parses UnmaskRequest fields. */
export function readUnmaskRequest(env: Envelope, roster: Roster): UnmaskRequest {
  expectType(env, "unmaskRequest");
  const n = roster.members.length;
  const f = new Fields(env.fields, 3, "unmask-request", env.sender);
  return {
    alive: f.members(0, "alive", n),
    dropped: f.members(1, "dropped", n),
    approvals: readFrameList(f, 2, "approvals", n, env.sender),
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
}

/** Fields of a Certificate message. */
export function certificateFields(c: Certificate): Value[] {
  return [c.u2Hash, c.u3, c.approvals, c.aggregateHash, c.totalWeight];
}

/** Parses Certificate fields (the body, if present, is checked by the receiver). */
export function readCertificate(env: Envelope, roster: Roster): Certificate {
  expectType(env, "certificate");
  const n = roster.members.length;
  const f = new Fields(env.fields, 5, "certificate", env.sender);
  return {
    u2Hash: f.bytes(0, "U2 hash", 32),
    u3: f.members(1, "U3", n),
    approvals: readFrameList(f, 2, "approvals", n, env.sender),
    aggregateHash: f.bytes(3, "aggregate hash", 32),
    totalWeight: f.uint(4, "total weight", 2 ** 32 - 1),
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

/** Re-throws anything that is not a ProtocolError as `malformed` (defensive boundary helper). */
export function asProtocolError(err: unknown, peer?: number): ProtocolError {
  if (err instanceof ProtocolError) return err;
  return new ProtocolError("malformed", (err as Error)?.message ?? String(err), peer);
}

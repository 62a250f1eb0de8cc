/**
 * The frame: the signed envelope every round message travels in.
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
 * membership) and returns an {@link Envelope}; the typed `read*` functions of `messages.ts` then
 * parse the fields of one message type. Signature checks are separate ({@link verifyEnvelope})
 * because they are the expensive part and callers batch them.
 *
 * @module
 */
import { equalBytes } from "../encoding/bytes.ts";
import {
  byteStringArray,
  decode,
  encode,
  Fields,
  itemHead,
  itemText,
  type Value,
} from "../encoding/codec.ts";
import {
  ED25519_SIGNATURE_LENGTH,
  ML_DSA65_SIGNATURE_LENGTH,
  XWING_CIPHERTEXT_LENGTH,
  XWING_PUBLIC_KEY_LENGTH,
} from "../crypto/mod.ts";
import { ensure } from "../errors.ts";
import { type Roster, vectorLength } from "../federation/roster.ts";
import { MAX_ROUND, sameSession, type Session } from "../federation/session.ts";
import { type MemberSigner, type Signature, verifyMemberSignature } from "../federation/signer.ts";
import { SEALED_SHARES_LENGTH, SHARE_LENGTH, WRAP_LENGTH } from "./share_entry.ts";
import { maxPathLength, SHARE_NODE_LENGTH } from "./share_tree.ts";

/** The message types. */
export type MessageType =
  | "advertiseKeys"
  | "keyList"
  | "shareKeys"
  | "shareDelivery"
  | "maskedInput"
  | "consistencyRequest"
  | "approval"
  | "unmaskRequest"
  | "unmask"
  | "certificate"
  | "cosign"
  | "outcome"
  | "outcomeRequest"
  | "leave";

/** Domain tags, one per message type. */
export const TAG: Readonly<Record<MessageType, string>> = {
  advertiseKeys: "fedagg/v1/msg/advertise-keys",
  keyList: "fedagg/v1/msg/key-list",
  shareKeys: "fedagg/v1/msg/share-keys",
  shareDelivery: "fedagg/v1/msg/share-delivery",
  maskedInput: "fedagg/v1/msg/masked-input",
  consistencyRequest: "fedagg/v1/msg/consistency-request",
  approval: "fedagg/v1/msg/approval",
  unmaskRequest: "fedagg/v1/msg/unmask-request",
  unmask: "fedagg/v1/msg/unmask",
  certificate: "fedagg/v1/msg/certificate",
  cosign: "fedagg/v1/msg/cosign",
  outcome: "fedagg/v1/msg/outcome",
  outcomeRequest: "fedagg/v1/msg/outcome-request",
  leave: "fedagg/v1/msg/leave",
};

const TYPE_OF_TAG = new Map<string, MessageType>(
  Object.entries(TAG).map(([type, tag]) => [tag, type as MessageType]),
);

/**
 * Types whose signature is a hybrid (Ed25519 + ML-DSA-65) in post-quantum mode: those whose
 * authenticity protects privacy or must outlive the round — the advertised ephemeral keys
 * (a forged key would let an active attacker decrypt shares), approvals (they bind every
 * member to one survivor set), certificates and co-signatures (checked offline for years).
 * Confidentiality is post-quantum for everything (X-Wing), see `round/keys.ts`: recorded
 * traffic stays secret from a later quantum computer.
 *
 * The share entries inside ShareKeys and ShareDelivery are, in post-quantum mode, signed by their
 * sender: one ML-DSA-65 signature over the root of a Merkle tree of its entries, each entry with
 * its path (`share_tree.ts`), which each holder checks. An
 * entry's AEAD key derives from the members' X25519 agreement and an X-Wing secret the sender
 * chooses, so it authenticates the sender only through X25519. Without that signature an
 * attacker with a quantum computer during the round — notably the leader, which relays the
 * entries inside its own frame — could seal entries, with mask ciphertexts of its choice, as any
 * member, and so choose the pair secrets a member decapsulates from its lower-indexed neighbours:
 * for a member whose neighbours in U2 all have lower indices that is every pair mask, and with
 * the member's self-mask seed (reconstructed for U3) the leader would learn its input.
 *
 * Every member statement a leader relays to other members is thus post-quantum authenticated
 * (adverts, approvals, share entries). Leaves are hybrid-signed too: t of them end a committed
 * member's update as failed (`docs/protocol.md` §4, abandonment), so a forged quorum could have a
 * trainer resubmit an update that is in a certified aggregate. The rest is Ed25519-signed in both
 * modes, so an attacker
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
  "advertiseKeys",
  "approval",
  "certificate",
  "cosign",
  "leave",
]);

/** True when frames of `type` carry a hybrid signature under `roster`. */
export function hybridSigned(roster: Pick<Roster, "mode">, type: MessageType): boolean {
  return roster.mode === "post-quantum" && HYBRID_TYPES.has(type);
}

/** Types sent by members to the leader of the session. */
export const TO_LEADER: ReadonlySet<MessageType> = new Set([
  "advertiseKeys",
  "shareKeys",
  "maskedInput",
  "approval",
  "unmask",
]);

/**
 * A decoded frame whose structure and header have been checked (not yet its signature). Its
 * `payload`, `signature` bytes and `body` are views of `frame` (no copies, see {@link openFrame}):
 * the frame must not change while they are in use.
 */
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
  const vector = 4 * vectorLength(roster);
  // A certificate's body: the total, then with groups up to g group sums (and g group indices).
  const groups = roster.groups?.count ?? 0;
  const body = vector * (1 + groups) + 8 * groups;
  // Post-quantum: a ShareDelivery entry carries its sender's root signature, a leaf index and a
  // path (a ShareKeys one signature for all its entries, within the same bound).
  const path = 16 + (SHARE_NODE_LENGTH + 2) * maxPathLength(n);
  const entry = 16 + SEALED_SHARES_LENGTH +
    (pq ? 2 * XWING_CIPHERTEXT_LENGTH + WRAP_LENGTH + ML_DSA65_SIGNATURE_LENGTH + path : 0);
  switch (type) {
    case "advertiseKeys":
      return advert;
    case "keyList": // a sparse graph's list adds U1 (≤ 5 bytes a member)
      return SMALL + sig + n * (advert + 8) + (roster.graph.kind === "complete" ? 0 : 5 * n);
    case "shareKeys":
    case "shareDelivery":
      return SMALL + sig + n * (entry + 4);
    case "maskedInput":
      return SMALL + sig + vector;
    case "consistencyRequest":
      return SMALL + sig + 2 * 4 * n;
    case "approval":
    case "cosign":
    case "outcomeRequest":
    case "leave":
      return SMALL + sig;
    case "unmaskRequest":
      return SMALL + sig + 2 * 4 * n + n * (SMALL + sig + 8);
    case "unmask":
      return SMALL + sig + n * (SHARE_LENGTH + 16);
    case "certificate":
      return SMALL + sig + 4 * n + n * (SMALL + sig + 8) + body;
    case "outcome":
      // A final certificate (the certificate without its body, the co-signatures) and the body.
      return SMALL + sig + frameLimit(roster, "certificate") +
        n * (frameLimit(roster, "cosign") + 8) + body;
  }
}

/**
 * Largest frame of any type for a roster (the transport's per-message cap). Remembered per
 * roster object (rosters are frozen): every {@link openFrame} asks for it first.
 */
export function maxFrameSize(roster: Roster): number {
  let max = maxFrameSizes.get(roster);
  if (max === undefined) {
    max = Math.max(...(Object.keys(TAG) as MessageType[]).map((t) => frameLimit(roster, t)));
    maxFrameSizes.set(roster, max);
  }
  return max;
}

const maxFrameSizes = new WeakMap<Roster, number>();

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
  const { payload, signature } = await signPayload(type, session, sender, fields, signer, mode);
  return frameBytes(payload, signature, body);
}

/**
 * Builds and signs a frame with a body (a certificate), returning it both with its body and
 * without: certificates travel by gossip without the aggregate, which is fetched by hash.
 */
export async function sealFrameWithBody(
  type: MessageType,
  session: Session,
  sender: number,
  fields: readonly Value[],
  signer: MemberSigner,
  mode: Roster["mode"],
  body: Uint8Array,
): Promise<
  { readonly frame: Uint8Array<ArrayBuffer>; readonly withoutBody: Uint8Array<ArrayBuffer> }
> {
  const { payload, signature } = await signPayload(type, session, sender, fields, signer, mode);
  return {
    frame: frameBytes(payload, signature, body),
    withoutBody: frameBytes(payload, signature),
  };
}

async function signPayload(
  type: MessageType,
  session: Session,
  sender: number,
  fields: readonly Value[],
  signer: MemberSigner,
  mode: Roster["mode"],
): Promise<{ payload: Uint8Array; signature: Signature }> {
  const payload = encode([
    TAG[type],
    session.federation,
    session.rosterHash,
    session.round,
    session.view,
    sender,
    ...fields,
  ]);
  return { payload, signature: await signer.sign(payload, hybridSigned({ mode }, type)) };
}

/** The frame `[payload, ed25519, mlDsa65 | null, body?]`. */
function frameBytes(
  payload: Uint8Array,
  signature: Signature,
  body?: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const frame: Value[] = [payload, signature.ed25519, signature.mlDsa65];
  if (body !== undefined) frame.push(body);
  return encode(frame);
}

/**
 * Decodes an untrusted frame and checks its header: size within the type's limit, a known tag,
 * this roster's federation and hash, a sender in the roster (and equal to `peer`, the transport
 * identity it arrived from, when given), signatures of the right lengths for the roster's mode,
 * and a body exactly where the type has one. Refuses with a {@link ProtocolError}. The
 * envelope's payload, signatures and body may be views of `frame` (not copies): `frame` must not
 * change while they are in use.
 */
export function openFrame(frame: Uint8Array, roster: Roster, peer?: number): Envelope {
  // The usual frame, read as views of `frame` (a masked input's or certificate's body is not
  // copied); anything else through the strict decoder, which refuses it or reads it the same.
  const limit = maxFrameSize(roster);
  const outer = (frame.length <= limit ? byteStringArray(frame, [3, 4], 2) : undefined) ??
    decode(frame, limit, "frame", peer);
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
  const mlDsa65 = readMlDsa65(top, outer[2], roster, type, peer);
  const { session, sender } = readHeader(header, roster, type, peer);
  let body: Uint8Array | null = null;
  if (outer.length === 4) {
    ensure(BODY_TYPES.has(type), "malformed", `${type} frame must not carry a body`, sender);
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

/**
 * The round a frame names in its header, read without checking anything else (no roster is
 * needed: a driver running several roster versions picks by it the version that opens the
 * frame in full, with {@link openFrame}); undefined for bytes whose header does not read as far
 * (read in place as {@link frameHeader} reads it, but whatever its tag: an unknown one is
 * {@link openFrame}'s to refuse; so neither the payload's fields nor the signatures nor
 * the body, 4·(d + 1) bytes in a masked input or certificate, are decoded or copied) or whose
 * round is not below `MAX_ROUND`.
 */
export function frameRound(frame: Uint8Array): number | undefined {
  const round = headerInPlace(frame)?.session.round;
  return round !== undefined && round < MAX_ROUND ? round : undefined;
}

/** What {@link frameHeader} reads of a frame: its type, session and signed sender. */
export interface FrameHeader {
  /** The message type its tag names. */
  readonly type: MessageType;
  /** The session its header names (unchecked against any roster). */
  readonly session: Session;
  /** The roster index it names as signer (unchecked). */
  readonly sender: number;
}

/**
 * The type, session and sender a frame's header names, read in place without decoding (or
 * copying) the rest of the frame and without checking anything beyond the header's own shape:
 * for bookkeeping about frames that are opened in full ({@link openFrame}) where they are
 * received, such as a simulator labelling the frames it carries. Undefined for bytes whose
 * header does not read so far (a frame whose header reads may still be refused by
 * {@link openFrame}).
 */
export function frameHeader(frame: Uint8Array): FrameHeader | undefined {
  const header = headerInPlace(frame);
  if (header === undefined) return undefined;
  const type = TYPE_OF_TAG.get(header.tag);
  return type === undefined ? undefined : { type, session: header.session, sender: header.sender };
}

/** {@link frameHeader}'s reading, with the tag as written (known or not). */
function headerInPlace(
  frame: Uint8Array,
): { tag: string; session: Session; sender: number } | undefined {
  const outer = itemHead(frame, 0);
  if (outer?.major !== 4 || (outer.value !== 3 && outer.value !== 4)) return undefined;
  const bytes = itemHead(frame, outer.next);
  if (bytes?.major !== 2 || bytes.next + bytes.value > frame.length) return undefined;
  const payload = frame.subarray(bytes.next, bytes.next + bytes.value);
  const list = itemHead(payload, 0);
  if (list?.major !== 4 || list.value < HEADER_FIELDS) return undefined;
  const tag = itemText(payload, list.next);
  const federation = tag && itemText(payload, tag.next);
  const hash = federation && itemHead(payload, federation.next);
  if (hash?.major !== 2 || hash.next + hash.value > payload.length) return undefined;
  const round = itemHead(payload, hash.next + hash.value);
  const view = round && itemHead(payload, round.next);
  const sender = view && itemHead(payload, view.next);
  if (
    tag === undefined || federation === undefined || round?.major !== 0 ||
    view?.major !== 0 || sender?.major !== 0
  ) {
    return undefined;
  }
  return {
    tag: tag.text,
    session: {
      federation: federation.text,
      rosterHash: payload.slice(hash.next, hash.next + hash.value),
      round: round.value,
      view: view.value,
    },
    sender: sender.value,
  };
}

/**
 * The types whose frames carry a body (a vector): masked inputs and published aggregates (in a
 * certificate, or in an outcome beside its final certificate).
 */
const BODY_TYPES: ReadonlySet<MessageType> = new Set(["maskedInput", "certificate", "outcome"]);

/** The ML-DSA-65 part of a frame: present exactly when `type` is hybrid-signed under `roster`. */
function readMlDsa65(
  top: Fields,
  raw: unknown,
  roster: Roster,
  type: MessageType,
  peer: number | undefined,
): Uint8Array | null {
  if (!hybridSigned(roster, type)) {
    ensure(raw === null, "bad-signature", `${type} carries an unexpected ML-DSA-65 part`, peer);
    return null;
  }
  ensure(raw !== null, "bad-signature", `${type} lacks its ML-DSA-65 signature`, peer);
  return top.bytes(2, "ML-DSA-65 signature", ML_DSA65_SIGNATURE_LENGTH);
}

/**
 * The session and sender of a header: a sender in the roster (and equal to `peer`, when given),
 * and this roster's federation and hash.
 */
function readHeader(
  header: Fields,
  roster: Roster,
  type: MessageType,
  peer: number | undefined,
): { session: Session; sender: number } {
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
  ensure(
    federation === roster.federation && equalBytes(rosterHash, roster.hash),
    "wrong-session",
    `${type} is for federation ${JSON.stringify(federation)} / another roster`,
    sender,
  );
  return { session: { federation, rosterHash, round, view }, sender };
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

/** Refuses with `wrong-session` unless the envelope is for `round` (any view of it). */
export function expectRound(env: Envelope, round: number): void {
  ensure(
    env.session.round === round,
    "wrong-session",
    `${env.type} is for round ${env.session.round}, this participant runs round ${round}`,
    env.sender,
  );
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

/** The frame of `env` without its body, as certificates travel by gossip and in final certificates. */
export function withoutBody(env: Envelope): Uint8Array<ArrayBuffer> {
  return frameBytes(env.payload, env.signature);
}

/** The frame of `env` (a certificate that came without body) with `body` attached. */
export function withBody(env: Envelope, body: Uint8Array): Uint8Array<ArrayBuffer> {
  return frameBytes(env.payload, env.signature, body);
}

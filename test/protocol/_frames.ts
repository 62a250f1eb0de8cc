/**
 * Frames on the wire, for the protocol tests and both network drivers: a {@link Wire} (a frame
 * between two members, with the type and session of its header), where an output goes, unchecked
 * peeks into headers, and frame surgery ({@link rawFrame}, {@link reframe}, {@link reseal},
 * {@link craftFrame}, ...) to build forged, replayed or hand-made frames with the right or wrong
 * signer.
 *
 * @module
 */
import { decode, encode, type Value } from "../../protocol/encoding/codec.ts";
import { type MessageType, sealFrame, TAG } from "../../protocol/wire/frame.ts";
import type { Roster } from "../../protocol/federation/roster.ts";
import type { Session } from "../../protocol/federation/session.ts";
import type { MemberSigner, Signature } from "../../protocol/federation/signer.ts";
import { flipBit } from "./crypto/_helpers.ts";
import { peekHeader, type Wire } from "../../protocol/sim/mod.ts";

export { peekHeader, peekSender, recipients, type Wire } from "../../protocol/sim/mod.ts";

/** A wire carrying `frame` from `from` to `to` (type and session from its unchecked header). */
export function wireOf(from: number, to: number, frame: Uint8Array): Wire {
  return { from, to, frame, ...peekHeader(frame) };
}

// -------------------------------------------------------------------------------------------------
// Reading frames without checks.

/** The parts of a frame, decoded without any check. */
export interface RawFrame {
  readonly payload: Uint8Array;
  readonly ed25519: Uint8Array;
  readonly mlDsa65: Uint8Array | null;
  readonly body?: Uint8Array;
  /** The decoded payload: [tag, federation, rosterHash, round, view, sender, ...fields]. */
  readonly fields: Value[];
}

const BIG = 1 << 26;

/** Decodes a frame into its parts (no checks beyond CBOR). */
export function rawFrame(frame: Uint8Array): RawFrame {
  const outer = decode(frame, BIG, "frame") as Value[];
  const payload = outer[0] as Uint8Array;
  return {
    payload,
    ed25519: outer[1] as Uint8Array,
    mlDsa65: outer[2] as Uint8Array | null,
    body: outer[3] as Uint8Array | undefined,
    fields: decode(payload, BIG, "payload") as Value[],
  };
}

/** The message-specific fields of a frame's payload. */
export function fieldsOf(frame: Uint8Array): Value[] {
  return rawFrame(frame).fields.slice(6);
}

// -------------------------------------------------------------------------------------------------
// Building and altering frames.

/** The payload header of a message of `type` in `session` from `sender` (see {@link RawFrame}). */
export function header(type: MessageType, session: Session, sender: number): Value[] {
  return [
    TAG[type],
    session.federation,
    session.rosterHash,
    session.round,
    session.view,
    sender,
  ];
}

/** Encodes frame parts. */
export function frameOf(parts: Omit<RawFrame, "fields">): Uint8Array {
  const outer: Value[] = [parts.payload, parts.ed25519, parts.mlDsa65];
  if (parts.body !== undefined) outer.push(parts.body);
  return encode(outer);
}

/**
 * Signs arbitrary payload values with `signer` (a hybrid signature when `hybrid`) and wraps them
 * as a frame `[payload, ed25519, mlDsa65, body?]`, for frames the typed builders would never
 * produce. `signature` replaces the two signature elements.
 */
export async function craftFrame(
  payload: readonly Value[],
  signer: MemberSigner,
  hybrid: boolean,
  options: {
    body?: Uint8Array;
    signature?: (s: Signature) => [Uint8Array, Uint8Array | null];
  } = {},
): Promise<Uint8Array> {
  const bytes = encode(payload);
  const sig = await signer.sign(bytes, hybrid);
  const [ed25519, mlDsa65] = options.signature?.(sig) ?? [sig.ed25519, sig.mlDsa65];
  return frameOf({ payload: bytes, ed25519, mlDsa65, body: options.body });
}

/** A copy of `frame` with its parts changed (the signature is kept unless replaced). */
export function reframe(frame: Uint8Array, change: (p: RawFrame) => Partial<RawFrame>): Uint8Array {
  const parts = rawFrame(frame);
  return frameOf({ ...parts, ...change(parts) });
}

/** A copy of `frame` whose payload is re-encoded after `mutate` (signature kept: now invalid). */
export function rewritePayload(
  frame: Uint8Array,
  mutate: (fields: Value[]) => Value[],
): Uint8Array {
  return reframe(frame, (p) => ({ payload: encode(mutate([...p.fields])) }));
}

/** A copy of `frame` with one bit of its Ed25519 (or ML-DSA-65) signature flipped. */
export function forgeSignature(frame: Uint8Array, part: "ed25519" | "mlDsa65" = "ed25519") {
  return reframe(
    frame,
    (p) =>
      part === "ed25519"
        ? { ed25519: flipBit(p.ed25519, 77) }
        : { mlDsa65: flipBit(p.mlDsa65!, 1001) },
  );
}

/**
 * Re-signs a frame with `signer` after applying changes: new message fields, session, sender,
 * type or body. The result carries a valid signature of `signer` over the new payload.
 */
export async function reseal(
  frame: Uint8Array,
  signer: MemberSigner,
  mode: Roster["mode"],
  change: {
    type?: MessageType;
    session?: Session;
    sender?: number;
    fields?: (fields: Value[]) => Value[];
    body?: Uint8Array | null;
  } = {},
): Promise<Uint8Array> {
  const raw = rawFrame(frame);
  const head = peekHeader(frame);
  const type = change.type ?? head.type;
  const session = change.session ?? head.session;
  const sender = raw.fields[5] as number;
  const fields = change.fields ? change.fields(raw.fields.slice(6)) : raw.fields.slice(6);
  const body = change.body === null ? undefined : change.body ?? raw.body;
  return await sealFrame(type, session, change.sender ?? sender, fields, signer, mode, body);
}

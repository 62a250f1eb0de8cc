/**
 * Member signatures: Ed25519 with the member's long-term key, or a **hybrid** of Ed25519 and
 * ML-DSA-65 over the same bytes, valid only when both verify (forging it needs both schemes
 * broken). Which messages carry the hybrid is a protocol rule stated in `wire/frame.ts`
 * (`hybridSigned`); this module only produces and checks the two forms. A third form, ML-DSA-65
 * alone, is for statements inside another member's frame whose classical authentication comes
 * from elsewhere (post-quantum share entries, see `wire/share_entry.ts`).
 *
 * Signed bytes always begin with a domain tag — a message payload's tag and session (see
 * `wire/frame.ts`), or a `SIGN` tag of `crypto/domains.ts` — so a signature is bound to one purpose.
 *
 * @module
 */
import { Ed25519Signer, ed25519Verify, MlDsa65Signer, mlDsa65Verify } from "../crypto/mod.ts";
import type { Roster } from "./roster.ts";

/** A signature pair: Ed25519 always, ML-DSA-65 for hybrid signatures (else null). */
export interface Signature {
  /** The Ed25519 signature (64 bytes). */
  readonly ed25519: Uint8Array;
  /** The ML-DSA-65 signature (3309 bytes) of a hybrid signature, else null. */
  readonly mlDsa65: Uint8Array | null;
}

/** A member's long-term signing keys. */
export class MemberSigner {
  readonly #ed: Ed25519Signer;
  readonly #pq: MlDsa65Signer | undefined;

  private constructor(ed: Ed25519Signer, pq: MlDsa65Signer | undefined) {
    this.#ed = ed;
    this.#pq = pq;
  }

  /**
   * Loads a member's keys from their 32-byte seeds. `pqSeed` is required for post-quantum
   * rosters. Refuses (RangeError) seeds of the wrong length.
   */
  static async fromSeeds(edSeed: Uint8Array, pqSeed?: Uint8Array): Promise<MemberSigner> {
    const ed = new Ed25519Signer(edSeed);
    const pq = pqSeed === undefined ? undefined : await MlDsa65Signer.fromSeed(pqSeed);
    return new MemberSigner(ed, pq);
  }

  /** The Ed25519 public key (32 bytes). */
  get signingKey(): Uint8Array {
    return this.#ed.publicKey;
  }

  /** The ML-DSA-65 public key, if this signer has one. */
  get pqSigningKey(): Uint8Array | undefined {
    return this.#pq?.publicKey;
  }

  /** Signs `payload`, with the hybrid when `hybrid` is set (Error without an ML-DSA key). */
  async sign(payload: Uint8Array, hybrid: boolean): Promise<Signature> {
    if (hybrid) {
      if (this.#pq === undefined) throw new Error("a hybrid signature needs an ML-DSA-65 key");
      const mlDsa65 = await this.#pq.sign(payload);
      return { ed25519: this.#ed.sign(payload), mlDsa65 };
    }
    return { ed25519: this.#ed.sign(payload), mlDsa65: null };
  }

  /** Signs `payload` with ML-DSA-65 alone (Error without an ML-DSA key). */
  async signPostQuantum(payload: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    if (this.#pq === undefined) throw new Error("an ML-DSA-65 signature needs an ML-DSA-65 key");
    return await this.#pq.sign(payload);
  }
}

/**
 * True when `signature` is a valid signature by roster member `index` over `payload`: Ed25519
 * always, plus ML-DSA-65 when `hybrid` is set. A hybrid signature where a plain one is due,
 * or a plain one where a hybrid is due, is refused (no downgrade, no ambiguity).
 */
export async function verifyMemberSignature(
  roster: Roster,
  index: number,
  payload: Uint8Array,
  signature: Signature,
  hybrid: boolean,
): Promise<boolean> {
  const member = roster.members[index];
  if (member === undefined) return false;
  if (!ed25519Verify(member.signingKey, payload, signature.ed25519)) return false;
  if (!hybrid) return signature.mlDsa65 === null;
  return signature.mlDsa65 !== null &&
    await verifyMemberPostQuantumSignature(roster, index, payload, signature.mlDsa65);
}

/**
 * True when `signature` is a valid ML-DSA-65 signature (alone) by roster member `index` over
 * `payload`. False for an index outside the roster, a member without an ML-DSA-65 key, or a
 * signature of the wrong length; never rejects.
 */
export async function verifyMemberPostQuantumSignature(
  roster: Roster,
  index: number,
  payload: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  const key = roster.members[index]?.pqSigningKey;
  return key !== undefined && await mlDsa65Verify(key, payload, signature);
}

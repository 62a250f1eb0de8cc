/**
 * Final certificates: a certificate with ≥ t co-signatures (t_C of the round's approval committee
 * on a roster with one, `graph/committee.ts`), encoded as the canonical CBOR
 * `["fedagg/v1/final-certificate", certificateFrame, [cosignFrame, ...]]` (the certificate frame
 * without its body). {@link verifyFinalCertificate} checks one offline against the roster and the
 * aggregate: a pure function of its inputs, what `fedagg verify` runs.
 *
 * @module
 */
import { decode, encode, Fields } from "../encoding/codec.ts";
import { ensure } from "../errors.ts";
import type { MemberSet } from "../math/member_set.ts";
import type { Roster } from "../federation/roster.ts";
import { approvalQuorum } from "../graph/committee.ts";
import {
  type Envelope,
  frameLimit,
  openFrame,
  verifyEnvelope,
  withoutBody,
} from "../wire/frame.ts";
import { checkCertificate, checkCosignFields } from "./certificate.ts";
import type { CertifiedGroupSums } from "./group_sums.ts";

const FINAL_TAG = "fedagg/v1/final-certificate";

/** Encodes a final certificate from a certificate envelope and its co-signature frames. */
export function encodeFinalCertificate(
  certificate: Envelope,
  cosigns: readonly Uint8Array[],
): Uint8Array<ArrayBuffer> {
  return encode([FINAL_TAG, withoutBody(certificate), [...cosigns]]);
}

/**
 * The parts of an encoded final certificate: the certificate frame (without body) and the
 * co-signature frames, neither checked. Refuses (`malformed`, `wrong-type`, `too-large`) bytes
 * that are not a final certificate's encoding under `roster`'s size limits.
 */
export function splitFinalCertificate(
  roster: Roster,
  bytes: Uint8Array,
): { readonly certificate: Uint8Array; readonly cosignFrames: readonly unknown[] } {
  const limit = frameLimit(roster, "certificate") +
    roster.members.length * (frameLimit(roster, "cosign") + 8);
  const f = new Fields(decode(bytes, limit, "final certificate"), 3, "final certificate");
  ensure(f.text(0, "tag", 64) === FINAL_TAG, "wrong-type", "not a final certificate");
  return {
    certificate: f.bytes(1, "certificate", [1, bytes.length]),
    cosignFrames: f.list(2, "co-signatures", roster.members.length),
  };
}

/** What a verified final certificate states. */
export interface VerifiedCertificate {
  /** The certified round. */
  readonly round: number;
  /** The view whose leader certified it. */
  readonly view: number;
  /** That leader's roster index. */
  readonly leader: number;
  /** Members whose inputs the aggregate contains (U3; with groups, U3 ∩ the included groups). */
  readonly members: MemberSet;
  /** The U3 the approvals signed (equal to `members` without groups). */
  readonly u3: MemberSet;
  /** With groups: the certified group sums and the groups left out (`group_sums.ts`). */
  readonly groups?: CertifiedGroupSums;
  /** Members whose co-signatures are valid. */
  readonly cosigners: MemberSet;
  /**
   * The exact integer aggregate: d sums mod 2^32, then the total weight; with groups the
   * included groups' sums follow (the whole body).
   */
  readonly aggregate: Uint32Array;
}

/**
 * Verifies a final certificate offline against `roster` and the aggregate `body`: the
 * certificate checks of {@link checkCertificate}, plus ≥ t valid co-signatures of its hash by
 * distinct members — on a roster with an approval committee, ≥ t_C by distinct members of the
 * round's committee (a co-signature off it is refused, `inconsistent-lists`). Resolves only when everything holds; refuses with a {@link ProtocolError}
 * whose code and message name the first failed check.
 *
 * @example Verify a final certificate offline, as `fedagg verify` does, and refuse a forged body
 * ```ts
 * import {
 *   Endpoint,
 *   inlineExpander,
 *   labelledRng,
 *   ProtocolError,
 *   quantize,
 *   SimNetwork,
 *   simulatedFederation,
 *   verifyFinalCertificate,
 * } from "../../mod.ts";
 *
 * const { roster, signers } = await simulatedFederation({ nodes: 4, dim: 3, seed: 2 });
 * const endpoints = signers.map((signer, self) =>
 *   new Endpoint({ roster, self, signer, rng: labelledRng("v", self), expander: inlineExpander })
 * );
 * const net = new SimNetwork(roster, endpoints);
 * for (const [i, e] of endpoints.entries()) {
 *   const q = quantize(new Float32Array([0.1, 0.2, 0.3]), 1 + i, roster.quantization, labelledRng("w", i));
 *   await net.call(i, () => e.submit(0, q, net.now));
 * }
 * await net.run({ until: () => net.events("final").length === 4 });
 * const [final] = net.events("final");
 * const body = new Uint8Array(final.aggregate.buffer);
 * const verified = await verifyFinalCertificate(roster, final.certificate, body);
 * if (verified.cosigners.length < roster.threshold) throw new Error("not final");
 * const forged = body.slice();
 * forged[0] ^= 1;
 * const refusal = await verifyFinalCertificate(roster, final.certificate, forged).catch((e) => e);
 * if (!(refusal instanceof ProtocolError)) throw new Error("a forged body passed");
 * ```
 */
export async function verifyFinalCertificate(
  roster: Roster,
  bytes: Uint8Array,
  body: Uint8Array,
): Promise<VerifiedCertificate> {
  const { certificate, cosignFrames } = splitFinalCertificate(roster, bytes);
  const env = openFrame(certificate, roster);
  const checked = await checkCertificate(roster, env, body);
  const { committee, quorum } = approvalQuorum(roster, checked.session);
  const cosigns: Envelope[] = [];
  const cosigners = new Set<number>();
  for (const [i, frame] of cosignFrames.entries()) {
    ensure(frame instanceof Uint8Array, "malformed", `co-signature ${i} is not bytes`);
    const cosign = openFrame(frame, roster);
    checkCosignFields(cosign, checked.session, checked.hash); // a Cosign of this certificate
    ensure(!cosigners.has(cosign.sender), "equivocation", "two co-signatures", cosign.sender);
    ensure(
      committee === undefined || committee.includes(cosign.sender),
      "inconsistent-lists",
      `co-signature from a member not on round ${checked.session.round}'s approval committee`,
      cosign.sender,
    );
    cosigners.add(cosign.sender);
    cosigns.push(cosign);
  }
  const valid = await Promise.all(cosigns.map((c) => verifyEnvelope(roster, c)));
  const forged = cosigns.find((_, i) => !valid[i]);
  ensure(forged === undefined, "bad-signature", "co-signature", forged?.sender);
  ensure(
    cosigners.size >= quorum,
    "insufficient-approvals",
    committee === undefined
      ? `${cosigners.size} co-signatures, threshold ${quorum}`
      : `${cosigners.size} co-signatures of the ${committee.length}-member approval committee, ` +
        `quorum ${quorum}`,
  );
  return {
    round: checked.session.round,
    view: checked.session.view,
    leader: checked.leader,
    members: checked.members,
    u3: checked.certificate.u3,
    ...(checked.groups === undefined ? {} : { groups: checked.groups }),
    cosigners: [...cosigners].sort((a, b) => a - b),
    aggregate: checked.aggregate,
  };
}

/**
 * Certificates. The leader of a session signs a Certificate: (session, H(U2), U3, the ≥ t
 * approvals, H(aggregate), total weight). Members check it against the aggregate body and
 * co-sign its hash; a certificate with ≥ t co-signatures is **final**. The final form is the
 * canonical CBOR `["fedagg/v1/final-certificate", certificateFrame, [cosignFrame, ...]]`, and
 * {@link verifyFinalCertificate} checks it offline against the roster and the aggregate: a pure
 * function of its inputs.
 *
 * @module
 */
import { bytesToU32, equalBytes } from "../encoding/bytes.ts";
import { checkApprovals } from "./approvals.ts";
import { decode, encode, Fields } from "../encoding/codec.ts";
import { HASH, taggedHash } from "../crypto/mod.ts";
import { ensure, ProtocolError } from "../errors.ts";
import type { MemberSet } from "../math/member_set.ts";
import {
  type Certificate,
  type Envelope,
  expectSession,
  expectType,
  frameLimit,
  openFrame,
  readCertificate,
  readCosign,
  verifyEnvelope,
} from "../wire/messages.ts";
import type { Roster } from "../federation/roster.ts";
import { leaderOf } from "../federation/schedule.ts";
import { type Session, sessionHash } from "../federation/session.ts";

const FINAL_TAG = "fedagg/v1/final-certificate";

/** Hash of an aggregate body within a session. */
export function aggregateHash(session: Session, body: Uint8Array): Uint8Array<ArrayBuffer> {
  return taggedHash(HASH.aggregate, sessionHash(session), body);
}

/** The hash members co-sign: of the certificate's signed payload. */
export function certificateHash(env: Envelope): Uint8Array<ArrayBuffer> {
  return taggedHash(HASH.certificate, env.payload);
}

/** The certificate frame without its body (what final certificates embed). */
export function withoutBody(env: Envelope): Uint8Array<ArrayBuffer> {
  return encode([env.payload, env.signature.ed25519, env.signature.mlDsa65]);
}

/** A certificate whose every check passed. */
export interface CheckedCertificate {
  readonly session: Session;
  readonly leader: number;
  readonly certificate: Certificate;
  /** Members whose approvals are valid. */
  readonly approvers: MemberSet;
  /** The exact integer aggregate (d sums, then the total weight). */
  readonly aggregate: Uint32Array;
  /** The hash co-signers sign. */
  readonly hash: Uint8Array;
  /** Refusals of individual approvals that did not count. */
  readonly refused: readonly ProtocolError[];
}

/**
 * The certificate `env` carries, refused (`wrong-type`, `not-leader`, `malformed`) unless it is a
 * well-formed Certificate from the scheduled leader of its session. Cheap: no signature is
 * checked; pair with {@link verifyCertificateSignatures}.
 */
export function readLeaderCertificate(
  roster: Roster,
  env: Envelope,
): { readonly leader: number; readonly certificate: Certificate } {
  expectType(env, "certificate");
  const { round, view } = env.session;
  const leader = leaderOf(roster, round, view);
  ensure(
    env.sender === leader,
    "not-leader",
    `certificate for round ${round} view ${view} is not from its leader ${leader}`,
    env.sender,
  );
  return { leader, certificate: readCertificate(env, roster) };
}

/**
 * Verifies the leader's signature on a certificate read by {@link readLeaderCertificate} and
 * that ≥ t valid approvals of its U3 and U2 hash back it; refuses (`bad-signature`,
 * `insufficient-approvals`, …) otherwise. `verifiedApprovals` is the optional cache of
 * `checkApprovals`.
 */
export async function verifyCertificateSignatures(
  roster: Roster,
  env: Envelope,
  certificate: Certificate,
  verifiedApprovals?: Set<string>,
): Promise<{ readonly approvers: MemberSet; readonly refused: readonly ProtocolError[] }> {
  ensure(await verifyEnvelope(roster, env), "bad-signature", "certificate signature", env.sender);
  return await checkApprovals(
    roster,
    env.session,
    certificate.approvals,
    certificate.u3,
    certificate.u2Hash,
    env.sender,
    verifiedApprovals,
  );
}

/**
 * Checks a Certificate envelope and its aggregate body: signed by the scheduled leader of its
 * session, ≥ t valid approvals of its U3 and U2 hash, body of length 4·(d + 1) hashing to the
 * certified hash, and a total weight that equals the body's last word and lies in
 * [|U3|, |U3| · maxWeight]. Refuses with a {@link ProtocolError} naming the failed check.
 * `verifiedApprovals` is the optional cache of `checkApprovals`.
 */
export async function checkCertificate(
  roster: Roster,
  env: Envelope,
  body: Uint8Array,
  verifiedApprovals?: Set<string>,
): Promise<CheckedCertificate> {
  const { leader, certificate } = readLeaderCertificate(roster, env);
  // The cheap check first: a body of the wrong length costs no signature verification.
  ensure(
    body.length === 4 * (roster.dim + 1),
    "wrong-length",
    `aggregate is ${body.length} bytes, expected ${4 * (roster.dim + 1)}`,
    env.sender,
  );
  const { approvers, refused } = await verifyCertificateSignatures(
    roster,
    env,
    certificate,
    verifiedApprovals,
  );
  ensure(
    equalBytes(aggregateHash(env.session, body), certificate.aggregateHash),
    "commitment-mismatch",
    "aggregate body does not match the certified hash",
    env.sender,
  );
  const aggregate = bytesToU32(body);
  const k = certificate.u3.length;
  ensure(
    aggregate[roster.dim] === certificate.totalWeight &&
      certificate.totalWeight >= k &&
      certificate.totalWeight <= k * roster.quantization.maxWeight,
    "commitment-mismatch",
    `total weight ${certificate.totalWeight} is not the aggregate's (${aggregate[roster.dim]}) ` +
      `or outside [${k}, ${k * roster.quantization.maxWeight}]`,
    env.sender,
  );
  return {
    session: env.session,
    leader,
    certificate,
    approvers,
    aggregate,
    hash: certificateHash(env),
    refused,
  };
}

/**
 * Checks everything about a Cosign envelope but its signature: it belongs to `session` and signs
 * the certificate hash `hash`. Refuses `wrong-session` or `commitment-mismatch` (a co-signature
 * of a different certificate). Pair with `verifyEnvelope` (callers batch those).
 */
export function checkCosignFields(env: Envelope, session: Session, hash: Uint8Array): void {
  expectSession(env, session);
  const cosign = readCosign(env);
  ensure(
    equalBytes(cosign.certificateHash, hash),
    "commitment-mismatch",
    "co-signature of a different certificate",
    env.sender,
  );
}

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
  /** Members whose inputs the aggregate contains (U3). */
  readonly members: MemberSet;
  /** Members whose co-signatures are valid. */
  readonly cosigners: MemberSet;
  /** The exact integer aggregate: d sums mod 2^32, then the total weight. */
  readonly aggregate: Uint32Array;
}

/**
 * Verifies a final certificate offline against `roster` and the aggregate `body`: the
 * certificate checks of {@link checkCertificate}, plus ≥ t valid co-signatures of its hash by
 * distinct members. Resolves only when everything holds; refuses with a {@link ProtocolError}
 * whose code and message name the first failed check.
 */
export async function verifyFinalCertificate(
  roster: Roster,
  bytes: Uint8Array,
  body: Uint8Array,
): Promise<VerifiedCertificate> {
  const { certificate, cosignFrames } = splitFinalCertificate(roster, bytes);
  const env = openFrame(certificate, roster);
  const checked = await checkCertificate(roster, env, body);
  const cosigns: Envelope[] = [];
  const cosigners = new Set<number>();
  for (const [i, frame] of cosignFrames.entries()) {
    ensure(frame instanceof Uint8Array, "malformed", `co-signature ${i} is not bytes`);
    const cosign = openFrame(frame, roster);
    checkCosignFields(cosign, checked.session, checked.hash); // a Cosign of this certificate
    ensure(!cosigners.has(cosign.sender), "equivocation", "two co-signatures", cosign.sender);
    cosigners.add(cosign.sender);
    cosigns.push(cosign);
  }
  const valid = await Promise.all(cosigns.map((c) => verifyEnvelope(roster, c)));
  const forged = cosigns.find((_, i) => !valid[i]);
  ensure(forged === undefined, "bad-signature", "co-signature", forged?.sender);
  ensure(
    cosigners.size >= roster.threshold,
    "insufficient-approvals",
    `${cosigners.size} co-signatures, threshold ${roster.threshold}`,
  );
  return {
    round: checked.session.round,
    view: checked.session.view,
    leader: checked.leader,
    members: checked.certificate.u3,
    cosigners: [...cosigners].sort((a, b) => a - b),
    aggregate: checked.aggregate,
  };
}

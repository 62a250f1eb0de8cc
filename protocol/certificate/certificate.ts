/**
 * The leader's certificate. The leader of a session signs a Certificate: (session, H(U2), U3,
 * the ≥ t approvals — t_C of the round's committee with one, `graph/committee.ts` —, H(aggregate),
 * total weight). Members check it against the aggregate body
 * ({@link checkCertificate}) and co-sign its hash ({@link certificateHash}); co-signatures are
 * checked by {@link checkCosignFields} and a batch signature check. With ≥ t co-signatures a
 * certificate is final (`final.ts`).
 *
 * @module
 */
import { bytesToU32, equalBytes } from "../encoding/bytes.ts";
import { HASH, taggedHash } from "../crypto/mod.ts";
import { ensure, type ProtocolError } from "../errors.ts";
import type { MemberSet } from "../math/member_set.ts";
import { type Roster, vectorLength } from "../federation/roster.ts";
import { leaderOf } from "../federation/schedule.ts";
import { type Session, sessionHash } from "../federation/session.ts";
import type { MemberSigner } from "../federation/signer.ts";
import {
  type Envelope,
  expectSession,
  expectType,
  sealFrameWithBody,
  verifyEnvelope,
} from "../wire/frame.ts";
import {
  type Certificate,
  certificateFields,
  readCertificate,
  readCosign,
} from "../wire/messages.ts";
import { checkApprovals } from "./approvals.ts";
import { type CertifiedGroupSums, checkGroupSums, groupBodyLength } from "./group_sums.ts";

/** Hash of an aggregate body within a session. */
export function aggregateHash(session: Session, body: Uint8Array): Uint8Array<ArrayBuffer> {
  return taggedHash(HASH.aggregate, sessionHash(session), body);
}

/** The hash members co-sign: of the certificate's signed payload. */
export function certificateHash(env: Envelope): Uint8Array<ArrayBuffer> {
  return taggedHash(HASH.certificate, env.payload);
}

/** A certificate whose every check passed. */
export interface CheckedCertificate {
  readonly session: Session;
  readonly leader: number;
  readonly certificate: Certificate;
  /** Members whose approvals are valid. */
  readonly approvers: MemberSet;
  /**
   * The whole certified body: the exact integer aggregate (d sums, then the total weight), and
   * with groups each included group's sum after it (see `group_sums.ts`).
   */
  readonly aggregate: Uint32Array;
  /** Members whose inputs the aggregate holds: U3, or with groups U3 ∩ the included groups. */
  readonly members: MemberSet;
  /** With groups: the certified group sums and the groups left out. */
  readonly groups?: CertifiedGroupSums;
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
 * that ≥ t valid approvals (t_C of the committee) of its U3 and U2 hash back it; refuses (`bad-signature`,
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
 * session, ≥ t valid approvals (t_C of the committee) of its U3 and U2 hash, body of length 4·(d + 1) (4·(D + 1) in DP mode; more with groups) hashing to the
 * certified hash, and a total weight that equals the body's last word and lies in
 * [k, k · maxWeight] for its k inputs (|U3|; with groups, the members of the included groups,
 * after the group checks of `checkGroupSums`). Refuses with a {@link ProtocolError} naming the failed check.
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
  const length = certificateBodyLength(roster, certificate);
  ensure(
    body.length === length,
    "wrong-length",
    `aggregate is ${body.length} bytes, expected ${length}`,
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
  const grouped = roster.groups === undefined
    ? undefined
    : checkGroupSums(roster, env.session, certificate, aggregate, env.sender);
  const members = grouped?.members ?? certificate.u3;
  const k = members.length;
  ensure(
    aggregate[vectorLength(roster) - 1] === certificate.totalWeight &&
      certificate.totalWeight >= k &&
      certificate.totalWeight <= k * roster.quantization.maxWeight,
    "commitment-mismatch",
    `total weight ${certificate.totalWeight} is not the aggregate's (${
      aggregate[vectorLength(roster) - 1]
    }) ` +
      `or outside [${k}, ${k * roster.quantization.maxWeight}]`,
    env.sender,
  );
  return {
    session: env.session,
    leader,
    certificate,
    approvers,
    aggregate,
    members,
    ...(grouped === undefined ? {} : { groups: grouped.groups }),
    hash: certificateHash(env),
    refused,
  };
}

/**
 * The length in bytes of a certificate's body: 4 · (d + 1), and with groups 4 · (d + 1) more
 * per included group. Reads only the certificate's fields (no signature is checked).
 */
export function certificateBodyLength(
  roster: Roster,
  certificate: Pick<Certificate, "groups">,
): number {
  return roster.groups === undefined
    ? 4 * vectorLength(roster)
    : groupBodyLength(roster.dim, certificate.groups?.included.length ?? 0);
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

/**
 * The leader's Certificate of `session` over the aggregate `body` (d sums then the total weight):
 * signed by `signer` as roster member `leader`, with its body and without it (the form gossip
 * carries), and the certified hash of the body. The caller has checked the total weight.
 */
export async function sealCertificate(
  roster: Roster,
  session: Session,
  leader: number,
  signer: MemberSigner,
  parts: Pick<Certificate, "u2Hash" | "u3" | "approvals" | "totalWeight" | "groups">,
  body: Uint8Array,
): Promise<{ frame: Uint8Array; withoutBody: Uint8Array; aggregateHash: Uint8Array }> {
  const hash = aggregateHash(session, body);
  const fields = certificateFields({ ...parts, aggregateHash: hash }, roster);
  const sealed = await sealFrameWithBody(
    "certificate",
    session,
    leader,
    fields,
    signer,
    roster.mode,
    body,
  );
  return { ...sealed, aggregateHash: hash };
}

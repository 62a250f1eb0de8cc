/**
 * Final certificates of a federation whose roster changed: a round runs under exactly one
 * roster version, the one in effect at its number (`versionAt`), and its certificate is valid
 * only under that version's roster (the roster hash is bound into every frame, so a
 * certificate made under another version's roster fails there).
 *
 * @module
 */
import { equalBytes } from "../encoding/bytes.ts";
import { ProtocolError } from "../errors.ts";
import type { RosterVersion } from "../federation/amendment.ts";
import { versionAt } from "../federation/roster_chain.ts";
import { type VerifiedCertificate, verifyFinalCertificate } from "./final.ts";

/** A final certificate verified against a roster chain, and the version it ran under. */
export interface VersionedCertificate extends VerifiedCertificate {
  /** The roster version in effect at the certificate's round. */
  readonly version: RosterVersion;
}

/**
 * Verifies a final certificate against `versions` (a valid chain, version 0 first, as
 * `walkChain` returns it): it must verify under the roster of the version in effect at its
 * round. Refuses (ProtocolError) a certificate no version's roster accepts (the refusal of the
 * newest version's roster, or of the one in effect at its round when another accepts the frame
 * but not the rest), and (`wrong-session`) one made under a roster not in effect at its round,
 * e.g. by a member that kept running an old version, or a removed member's view.
 */
export async function verifyFinalCertificateInChain(
  versions: readonly RosterVersion[],
  bytes: Uint8Array,
  body: Uint8Array,
): Promise<VersionedCertificate> {
  let firstError: unknown;
  for (const candidate of [...versions].reverse()) {
    let verified: VerifiedCertificate;
    try {
      verified = await verifyFinalCertificate(candidate.roster, bytes, body);
    } catch (err) {
      firstError ??= err;
      continue;
    }
    const inEffect = versionAt(versions, verified.round);
    if (!equalBytes(inEffect.roster.hash, candidate.roster.hash)) {
      throw new ProtocolError(
        "wrong-session",
        `round ${verified.round} runs under roster version ${inEffect.version} (from round ` +
          `${inEffect.firstRound}); this certificate was made under version ${candidate.version}'s roster`,
      );
    }
    return { ...verified, version: inEffect };
  }
  throw firstError;
}

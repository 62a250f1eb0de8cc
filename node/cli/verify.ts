/**
 * `fedagg verify`: checks a published aggregate and its final certificate offline, against a
 * roster every member signed (the trust anchor), and optionally the weighted mean a trainer
 * downloaded. Needs no node: only the three (or four) files.
 *
 * @module
 */
import {
  dequantizeMean,
  equalBytes,
  ProtocolError,
  type Roster,
  type VerifiedCertificate,
  verifyFinalCertificateInChain,
  type VersionedCertificate,
} from "../../protocol/mod.ts";
import { loadChain } from "../amendment_file.ts";
import { checkRosterFile, readRosterFile } from "../roster_file.ts";
import { detectFormat, FormatError, parseUpdate } from "../tensor_formats/mod.ts";
import { list, parse, print, required, usage } from "./_args.ts";

/**
 * Verifies `--certificate` and `--aggregate` (and `--mean`) against `--roster` and the
 * `--amendment`s made since (the certificate must verify under the roster version in effect at
 * its round); resolves to 0 only if all hold, else 1 with the reason (`{valid: false, reason}`
 * with `--json`): a roster not every member signed, a roster chain that forks, a certificate or
 * aggregate the protocol refuses (or made under another version than its round's), a mean that
 * is not the one the aggregate determines. Refuses (throws) missing options, unreadable files
 * and amendment files that do not parse.
 */
export async function verify(argv: string[]): Promise<number> {
  const args = parse(argv, "verify", {
    string: ["certificate", "aggregate", "roster", "mean", "amendment"],
    collect: ["amendment"],
  });
  if (args.help) usage("verify");
  const rosterPath = required(args, "roster", "verify");
  // The roster is the trust anchor: only one that every member signed is used.
  const check = await checkRosterFile(await readRosterFile(rosterPath));
  if (!check.complete) {
    const reason = `the roster ${rosterPath} is not signed by every member (missing: ` +
      `${check.missing.join(", ") || "none"}; invalid: ${check.invalid.join(", ") || "none"})`;
    print(args.json, { valid: false, reason }, `INVALID: ${reason}`);
    return 1;
  }
  const amendments = list(args.amendment);
  const { chain } = await loadChain(rosterPath, amendments);
  if (chain.fork !== undefined) {
    const reason = `the roster chain forks at version ${chain.fork.amended.version} ` +
      `(\`fedagg roster status\` shows the two successors)`;
    print(args.json, { valid: false, reason }, `INVALID: ${reason}`);
    return 1;
  }
  const certificate = await Deno.readFile(required(args, "certificate", "verify"));
  const body = await Deno.readFile(required(args, "aggregate", "verify"));
  try {
    const v = await verifyFinalCertificateInChain(chain.versions, certificate, body);
    const roster = v.version.roster;
    const meanOk = args.mean !== undefined ? await meanMatches(args.mean, roster, v) : undefined;
    return printVerdict(args.json, args.mean, roster, v, meanOk);
  } catch (err) {
    if (err instanceof ProtocolError || err instanceof FormatError) {
      print(args.json, { valid: false, reason: err.message }, `INVALID: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

/**
 * Whether the float32 weighted mean in file `path` is bit for bit the one the verified aggregate
 * determines. Refuses (`FormatError`) a file that is no update of the roster's length.
 */
async function meanMatches(path: string, roster: Roster, v: VerifiedCertificate): Promise<boolean> {
  const bytes = await Deno.readFile(path);
  const given = parseUpdate(bytes, roster.dim, detectFormat(bytes)).values;
  const expected = dequantizeMean(v.aggregate, roster.quantization, v.members.length);
  // Bit for bit (a float compare would call -0 and 0 equal, and NaN unequal to itself).
  return equalBytes(
    new Uint8Array(given.buffer, given.byteOffset, given.byteLength),
    new Uint8Array(expected.buffer, expected.byteOffset, expected.byteLength),
  );
}

/** Prints the verdict on a verified certificate (and mean); returns its exit code, 0 or 1. */
function printVerdict(
  json: boolean,
  mean: string | undefined,
  roster: Roster,
  v: VersionedCertificate,
  meanOk: boolean | undefined,
): number {
  const ok = meanOk !== false;
  const result = {
    valid: ok,
    rosterVersion: v.version.version,
    round: v.round,
    view: v.view,
    leader: roster.members[v.leader].id,
    members: v.members.map((i) => roster.members[i].id),
    cosigners: v.cosigners.length,
    threshold: roster.threshold,
    meanMatches: meanOk,
  };
  print(
    json,
    result,
    ok
      ? `valid: round ${v.round} view ${v.view} (roster version ${v.version.version}), ` +
        `leader ${result.leader}, ` +
        `${v.members.length} members, ${v.cosigners.length} co-signatures (t = ${roster.threshold})` +
        (meanOk ? ", mean matches" : "")
      : `INVALID: the mean in ${mean} is not the one the certified aggregate determines`,
  );
  return ok ? 0 : 1;
}

/**
 * `fedagg verify`: checks a published aggregate and its final certificate offline, against a
 * roster every member signed (the trust anchor), and every file a trainer downloaded of it.
 * Needs no node: only the files.
 *
 * The certificate certifies the exact integer sum (the API's `format=sum`: d + 1 little-endian
 * uint32 words, the last the total weight). Every other download is a float32 weighted mean (raw,
 * `.npy` or safetensors): it is checked bit for bit against the mean recomputed from the
 * certified sum (`aggregateMean`, deterministic float64 then float32), and safetensors must hold
 * the roster's layout. Each file is recognised by its bytes, so the options do not have to say
 * which is which; a mean alone cannot be checked (it does not determine the sum). With
 * `--amendment` files (the roster's hash-chained amendments since), the certificate must verify
 * under the roster version in effect at its round.
 *
 * @module
 */
import {
  aggregateMean,
  type CertifiedGroupSums,
  describeRobustRule,
  type DpGuarantee,
  dpGuarantee,
  FLAT_TENSOR_NAME,
  isGroupBodyLength,
  ProtocolError,
  type Roster,
  type RosterVersion,
  tensorSize,
  toHex,
  vectorLength,
  verifyFinalCertificateInChain,
  type VersionedCertificate,
} from "../../protocol/mod.ts";
import { loadChain } from "../amendment_file.ts";
import { checkRosterFile, readRosterFile } from "../roster_file.ts";
import { FormatError, parseUpdate, type TensorFormat } from "../tensor_formats/mod.ts";
import { hasNpyMagic } from "../tensor_formats/npy.ts";
import { looksLikeSafetensors } from "../tensor_formats/safetensors.ts";
import { HELP } from "./help.ts";
import { list, parse, print, required, usage, usageError } from "./_args.ts";

/** A file given to `verify`, as its bytes say it is. */
type Kind =
  | { readonly kind: "sum" }
  | { readonly kind: "mean"; readonly format: TensorFormat }
  | { readonly kind: "unknown" };

/** What `verify` found of one file (the `files` of its JSON result). */
interface FileVerdict {
  readonly path: string;
  /** `"sum"` (the certified sum) or `"mean"`. */
  readonly kind: "sum" | "mean";
  /** The mean's format (`raw`, `npy`, `safetensors`); absent for the sum. */
  readonly format?: TensorFormat;
  /** Whether it is exactly what the certificate determines. */
  readonly matches: boolean;
  /**
   * Under a robust rule, which mean it is: the published `robust` result, or the `plain`
   * weighted mean of the total (both are determined by the certificate).
   */
  readonly of?: "robust" | "plain";
  /** What is wrong with it, when it does not match. */
  readonly reason?: string;
}

/** A refusal that names the file and says what it is and what was expected. */
class Invalid extends Error {}

/**
 * Verifies `--certificate` against `--roster` with the files of `--aggregate` and `--mean` (each
 * repeatable; see the module doc); resolves to 0 only if the roster is signed by every member,
 * the certificate is valid for the certified sum among the files, and every mean file is exactly
 * the mean it determines (and safetensors in the roster's layout); else 1 with the reason
 * (`{valid: false, reason}` with `--json`), which names the file, what it is and what was
 * expected. Refuses (throws) missing options and unreadable files.
 */
export async function verify(argv: string[]): Promise<number> {
  const args = parse(argv, "verify", {
    string: ["certificate", "aggregate", "roster", "mean", "amendment"],
    collect: ["aggregate", "mean", "amendment"],
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
  const { chain } = await loadChain(rosterPath, list(args.amendment));
  if (chain.fork !== undefined) {
    const reason = `the roster chain forks at version ${chain.fork.amended.version} ` +
      `(\`fedagg roster status\` shows the two successors)`;
    print(args.json, { valid: false, reason }, `INVALID: ${reason}`);
    return 1;
  }
  const versions = chain.versions;
  // The files are recognised against the newest version's roster; the certificate then names
  // the version in effect at its round, whose roster judges the means.
  let roster = versions.at(-1)?.roster ?? check.roster;
  const certificatePath = required(args, "certificate", "verify");
  const paths = [...list(args.aggregate), ...list(args.mean)].filter((p) => p !== "");
  if (list(args.aggregate).length === 0) {
    throw usageError(`--aggregate is required\n\n${HELP.verify}`);
  }
  const certificate = await Deno.readFile(certificatePath);
  const files = await Promise.all(paths.map(async (path) => {
    const bytes = await Deno.readFile(path);
    return { path, bytes, kind: kindOf(bytes, roster) };
  }));
  try {
    const unknown = files.find((f) => f.kind.kind === "unknown");
    if (unknown !== undefined) throw new Invalid(unrecognised(unknown.path, unknown.bytes, roster));
    const sums = files.filter((f) => f.kind.kind === "sum");
    if (sums.length === 0) throw new Invalid(noSum(files[0].path, files[0].bytes, roster));
    let v: VersionedCertificate | undefined;
    for (const sum of sums) {
      v = await verifySum(versions, roster, certificatePath, certificate, sum);
    }
    roster = v!.version.roster;
    const plain = aggregateMean(roster, v!.round, v!.aggregate, v!.members.length);
    // Under a robust rule the published mean is the rule's result, recomputed (and checked
    // against the certificate) by the verification above; the plain mean of the total matches
    // too (a node serves it with mean=plain).
    const robust = v!.groups?.robust;
    const expected = robust === undefined ? plain : Float32Array.from(robust.result);
    const verdicts: FileVerdict[] = [];
    for (const f of files) {
      if (f.kind.kind === "sum") {
        verdicts.push({ path: f.path, kind: "sum", matches: true });
        continue;
      }
      const format = (f.kind as { format: TensorFormat }).format;
      const reason = meanDifference(f.path, f.bytes, format, roster, expected);
      const isPlain = robust !== undefined && reason !== undefined &&
        meanDifference(f.path, f.bytes, format, roster, plain) === undefined;
      verdicts.push({
        path: f.path,
        kind: "mean",
        format,
        matches: reason === undefined || isPlain,
        ...(robust === undefined ? {} : { of: isPlain ? "plain" : "robust" }),
        ...(reason === undefined || isPlain ? {} : { reason }),
      });
    }
    return printVerdict(args.json, roster, v!, verdicts, list(args.amendment).length > 0);
  } catch (err) {
    if (err instanceof Invalid) {
      print(args.json, { valid: false, reason: err.message }, `INVALID: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

/**
 * What `bytes` is for `roster`: an `.npy` or safetensors mean (by their magic and header, checked
 * first), the certified sum (4·(d + 1) bytes, 4·(D + 1) in DP mode, or a grouped body), a raw
 * mean (exactly 4·d bytes), or unknown. Lengths alone could collide: an `.npy` mean of d = 30
 * values is 248 bytes, as long as a grouped body with one group sum, and in DP mode an `.npy`
 * mean of d = D − 31 values is as long as the sum. A raw mean never collides with a sum (4·d is
 * no multiple of 4·(d + 1), and D ≥ d).
 */
function kindOf(bytes: Uint8Array, roster: Roster): Kind {
  const d = roster.dim;
  if (hasNpyMagic(bytes)) return { kind: "mean", format: "npy" };
  if (looksLikeSafetensors(bytes)) return { kind: "mean", format: "safetensors" };
  if (bytes.length === 4 * vectorLength(roster)) return { kind: "sum" };
  if (isGroupBodyLength(roster, bytes.length)) return { kind: "sum" };
  if (bytes.length === 4 * d) return { kind: "mean", format: "raw" };
  return { kind: "unknown" };
}

/** What a file looks like by its bytes, before its contents are checked. */
const FILE_KIND: Readonly<Record<TensorFormat, string>> = {
  raw: "a raw file",
  npy: "a .npy file",
  safetensors: "a safetensors file",
};

const FORMAT_NAME: Readonly<Record<TensorFormat, string>> = {
  raw: "raw float32",
  npy: "float32 .npy",
  safetensors: "safetensors",
};

/** Where the certified sum comes from and how long it is, for refusals. */
function sumHint(roster: Roster): string {
  const words = vectorLength(roster);
  return `the certified sum is downloaded with format=sum (\`fedagg aggregate --format sum\`, ` +
    `GET /v1/rounds/R/aggregate?format=sum): ${words} uint32 words, ${4 * words} bytes`;
}

function unrecognised(path: string, bytes: Uint8Array, roster: Roster): string {
  const d = roster.dim;
  const words = vectorLength(roster);
  const of = roster.dp === undefined ? "d + 1" : "D + 1 (DP: the padded dimension)";
  return `${path} has ${bytes.length} bytes: it is neither the certified sum of ${of} = ${words} ` +
    `uint32 words (${4 * words} bytes) nor a float32 mean of d = ${d} values (raw: ${4 * d} ` +
    `bytes, or .npy, or safetensors) for the roster's d = ${d}`;
}

function noSum(path: string, bytes: Uint8Array, roster: Roster): string {
  const kind = kindOf(bytes, roster) as { format: TensorFormat };
  return `${path} is a ${FORMAT_NAME[kind.format]} mean, and no file given is the certified ` +
    `sum: a mean cannot be checked against the certificate alone (it does not determine the ` +
    `sum). Pass the sum with --aggregate as well; ${sumHint(roster)}`;
}

/**
 * The certificate verified with the sum in `sum`; refuses (Invalid) naming the file to blame:
 * the sum when it is not the certified one, else the certificate.
 */
async function verifySum(
  versions: readonly RosterVersion[],
  roster: Roster,
  certificatePath: string,
  certificate: Uint8Array,
  sum: { path: string; bytes: Uint8Array },
): Promise<VersionedCertificate> {
  try {
    return await verifyFinalCertificateInChain(versions, certificate, sum.bytes);
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    // The detail without "from member N" (the protocol's blame of a peer), with the member's id.
    const detail = err.message.replace(
      /^(\S+) from member (\d+):/,
      (_, code: string, index: string) =>
        `${code} (signed by member ${roster.members[Number(index)]?.id ?? index}):`,
    );
    if (err.code === "commitment-mismatch" && /aggregate/.test(err.message)) {
      throw new Invalid(
        `${sum.path} is a sum of ${vectorLength(roster)} uint32 words, but not the one the ` +
          `certificate ${certificatePath} certifies (${detail.replace(/^[^:]*: /, "")})`,
      );
    }
    throw new Invalid(`the certificate ${certificatePath} is not valid: ${detail}`);
  }
}

/**
 * Why the mean in `bytes` (of `format`) is not exactly `expected`, or undefined when it is bit for
 * bit. Names what the file is, and the first differing index (with the tensor and element for a
 * layout of several tensors).
 */
function meanDifference(
  path: string,
  bytes: Uint8Array,
  format: TensorFormat,
  roster: Roster,
  expected: Float32Array,
): string | undefined {
  const d = roster.dim;
  let given: Float32Array;
  try {
    // A raw or .npy download is the flat vector in the layout's order; safetensors name theirs.
    given = parseUpdate(bytes, d, {
      format,
      layout: roster.layout,
      flat: format !== "safetensors",
    }).values;
  } catch (err) {
    if (!(err instanceof FormatError)) throw err;
    // The parser's advice is for uploads ("upload the tensors …"); a download is judged only.
    const detail = err.message.replace(/\. Upload the tensors .*$/s, "");
    return `${path} looks like ${FILE_KIND[format]} but is not a float32 mean of the roster's ` +
      `d = ${d} values in its layout: ${detail}`;
  }
  const a = new Uint32Array(given.buffer, given.byteOffset, given.length);
  const b = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  // Bit for bit (a float compare would call -0 and 0 equal, and NaN unequal to itself).
  let i = 0;
  while (i < d && a[i] === b[i]) i++;
  if (i === d) return undefined;
  return `${path} is a ${FORMAT_NAME[format]} mean of ${d} values; it differs from the ` +
    `certified mean at index ${i}${where(roster, i)} (${given[i]} in the file, ${
      expected[i]
    } certified)`;
}

/** ` (tensor 'name', element k)` for index `i` of a layout of several tensors or a named one. */
function where(roster: Roster, i: number): string {
  const tensors = roster.layout.tensors;
  if (tensors.length === 1 && tensors[0].name === FLAT_TENSOR_NAME) return "";
  let start = 0;
  for (const t of tensors) {
    const size = tensorSize(t.shape);
    if (i < start + size) return ` (tensor ${JSON.stringify(t.name)}, element ${i - start})`;
    start += size;
  }
  return "";
}

/** Prints the verdict on a verified certificate and its files; returns its exit code, 0 or 1. */
function printVerdict(
  json: boolean,
  roster: Roster,
  v: VersionedCertificate,
  files: readonly FileVerdict[],
  chained: boolean,
): number {
  const means = files.filter((f) => f.kind === "mean");
  const bad = files.find((f) => !f.matches);
  const guarantee = dpGuarantee(roster, v.round, v.members.length);
  const result = {
    valid: bad === undefined,
    rosterVersion: v.version.version,
    round: v.round,
    view: v.view,
    leader: roster.members[v.leader].id,
    members: v.members.map((i) => roster.members[i].id),
    cosigners: v.cosigners.length,
    threshold: roster.threshold,
    meanMatches: means.length === 0 ? undefined : means.every((f) => f.matches),
    ...(v.groups === undefined ? {} : { groups: groupsResult(roster, v.groups) }),
    ...(guarantee === undefined ? {} : { dp: guarantee }),
    files,
    ...(bad === undefined ? {} : { reason: bad.reason }),
  };
  print(
    json,
    result,
    bad === undefined
      ? `valid: round ${v.round} view ${v.view}${
        !chained ? "" : ` (roster version ${v.version.version})`
      }, leader ${result.leader}, ` +
        `${v.members.length} members, ${v.cosigners.length} co-signatures (t = ${roster.threshold})` +
        (means.length > 0
          ? `, ${means.length === 1 ? "the mean matches" : `all ${means.length} means match`} (${
            means.map((f) => f.format).join(", ")
          })`
          : "") +
        (result.groups === undefined ? "" : `\n${groupsLines(result.groups)}`) +
        (guarantee === undefined ? "" : `\n${dpGuaranteeText(guarantee)}`)
      : `INVALID: ${bad.reason}`,
  );
  return bad === undefined ? 0 : 1;
}

/** The certified groups for the JSON result: each included group's members, weight and hash. */
function groupsResult(roster: Roster, groups: CertifiedGroupSums) {
  return {
    partitionSeed: toHex(groups.seed),
    included: groups.included.map((g) => ({
      group: g.group,
      members: g.members.map((i) => roster.members[i].id),
      weight: g.weight,
      // The group sum's tagged hash (`group_sums.ts`), to compare group sums at a glance.
      sumHash: toHex(g.hash),
    })),
    excluded: groups.excluded,
    ...(groups.robust === undefined ? {} : {
      robust: {
        rule: describeRobustRule(groups.robust.rule),
        resultHash: toHex(groups.robust.hash),
        kept: groups.robust.kept,
        discarded: groups.robust.discarded,
        filtered: groups.robust.filtered,
        downWeighted: groups.robust.downWeighted,
      },
    }),
  };
}

/** A list of group indices, or "none". */
function groupList(groups: readonly number[]): string {
  return groups.length === 0 ? "none" : groups.join(", ");
}

/** One line per included group, one for the groups left out, one for the robust result. */
function groupsLines(groups: ReturnType<typeof groupsResult>): string {
  return [
    ...groups.included.map((g) =>
      `group ${g.group}: ${g.members.length} inputs, weight ${g.weight}, sum hash ` +
      `${g.sumHash.slice(0, 16)}…`
    ),
    `groups left out: ${groups.excluded.length === 0 ? "none" : groups.excluded.join(", ")}`,
    ...(groups.robust === undefined ? [] : [
      `robust result: ${groups.robust.rule}, recomputed bit for bit (hash ` +
      `${groups.robust.resultHash.slice(0, 16)}…); groups kept: ${
        groupList(groups.robust.kept)
      }, ` +
      `discarded: ${groupList(groups.robust.discarded)} (by the norm filter: ` +
      `${groupList(groups.robust.filtered)}), down-weighted: ${
        groupList(groups.robust.downWeighted)
      }`,
    ]),
  ].join("\n");
}

/** The DP guarantee of a verified aggregate, in lines (see `dpGuarantee`). */
function dpGuaranteeText(g: DpGuarantee): string {
  const p = (x: number) => Number(x.toPrecision(4));
  return [
    `differential privacy: ${g.mechanism} (distributed discrete Gaussian), L2 clip C = ${g.clip}, ` +
    `${g.bits}-bit sum, ${g.rotation} rotation`,
    `  noise: central σ = ${p(g.sigma)} assumed from ${g.noisersAssumed} noising members ` +
    `(t = ${g.threshold}, up to c = ${g.corrupt} withholding); this aggregate sums ` +
    `${g.members}, whose noise std is ${p(g.noiseStdMin)} to ${p(g.noiseStdMax)} (σ_ℓ = ` +
    `${p(g.localStd)} each, γ = ${g.gamma.toPrecision(4)})`,
    `  privacy: ρ = ${g.rhoPerRound.toPrecision(4)} zCDP per round (zero-out neighbours); ` +
    `after ${g.round + 1} rounds: ε = ${p(g.epsilonSpent)} at δ = ${g.delta} (budget ε = ` +
    `${g.epsilonBudget} over ${g.roundsBudget} rounds)`,
  ].join("\n");
}

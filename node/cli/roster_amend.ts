/**
 * `fedagg roster propose|status`, `roster sign --proposal` and `roster merge` of amendment
 * files: changing a federation's roster by a threshold decision (`amendment_file.ts`; the
 * rules are the protocol's). `roster.ts` dispatches here.
 *
 * @module
 */
import {
  AMENDABLE_PARAMETERS,
  type AmendableParameter,
  type CandidateVersion,
  ConfigError,
  proposeVersion,
  ProtocolError,
  type RosterChain,
  type RosterVersion,
  toHex,
} from "../../protocol/mod.ts";
import {
  type AmendmentFile,
  type ChangeEntry,
  loadChain,
  type LoadedChain,
  mergeAmendmentFiles,
  newAmendmentFile,
  readAmendmentFile,
  type SetValue,
  signAmendmentFile,
  signedAmendmentOf,
  writeAmendmentFile,
} from "../amendment_file.ts";
import { NodeError } from "../errors.ts";
import { loadIdentity, type MemberCard } from "../identity.ts";
import { entryOfCard } from "../roster_file.ts";
import { HELP } from "./help.ts";
import {
  integer,
  list,
  parse,
  print,
  refuseOverwrite,
  required,
  usage,
  usageError,
} from "./_args.ts";

/** The chain options every amendment command takes: the signed roster, the amendments. */
const CHAIN = ["roster", "amendment"];

/** The chain `--roster` and `--amendment`s make (see `loadChain`). */
async function chainOf(args: Record<string, unknown>): Promise<LoadedChain> {
  return await loadChain(required(args, "roster", "roster"), list(args.amendment));
}

/** Refuses (`amendment-invalid`) a chain with a fork: nothing is built on it. */
function refuseFork(chain: RosterChain): void {
  if (chain.fork === undefined) return;
  throw new NodeError(
    "amendment-invalid",
    `the chain forks at version ${chain.fork.amended.version} (two valid successors; ` +
      `\`fedagg roster status\` shows them): nothing can be built on it`,
  );
}

/** The `--amendment` options again, for the commands a message suggests. */
function chainArgs(args: Record<string, unknown>): string {
  return [`--roster ${args.roster}`, ...list(args.amendment).map((a) => `--amendment ${a}`)].join(
    " ",
  );
}

/**
 * `roster propose`: writes an unsigned amendment of the chain's newest version to `--out`;
 * resolves to 0. Changes: `--add CARD.json`, `--remove ID`, `--rotate ID=CARD.json` (ID's
 * entry becomes the card's: new keys, or the same keys with new addresses or name), `--set
 * NAME=VALUE` (a number, `default` for threshold and scale, `complete` or `harary:K:TK` for the
 * graph), each repeatable, applied in that order: removals, rotations, additions, settings.
 * Refuses (nothing written) no change, a missing `--first-round`, a chain with a fork, changes
 * that make no valid roster or a first round not after the newest version's
 * (`amendment-invalid`), and an existing `--out` without `--force`.
 */
export async function propose(argv: string[]): Promise<number> {
  const options = ["out", "first-round", "add", "remove", "rotate", "set"];
  const args = parse(argv, "roster", {
    string: [...CHAIN, ...options],
    collect: ["amendment", "add", "remove", "rotate", "set"],
    boolean: ["force"],
  });
  if (args.help) usage("roster");
  const out = required(args, "out", "roster");
  const firstRound = integer(required(args, "first-round", "roster"), "first-round", 1);
  const changes: ChangeEntry[] = [
    ...list(args.remove).map((id) => ({ remove: id })),
    ...await Promise.all(list(args.rotate).map(rotation)),
    ...await Promise.all(
      list(args.add).map(async (c) => ({ add: entryOfCard(await readCard(c)) })),
    ),
    ...list(args.set).map(setting),
  ];
  if (changes.length === 0) {
    throw usageError(
      `roster propose needs a change (--add, --remove, --rotate or --set)\n\n${HELP.roster}`,
    );
  }
  const { genesis, chain } = await chainOf(args);
  refuseFork(chain);
  const file = newAmendmentFile(genesis.federation, chain.tip, firstRound, changes);
  const proposal = checked(chain.tip, file);
  await refuseOverwrite(out, args.force);
  await writeAmendmentFile(out, file);
  const result = {
    out,
    version: proposal.next.version,
    amends: chain.tip.version,
    firstRound,
    hash: toHex(proposal.next.hash),
    needed: chain.tip.roster.threshold,
    approvers: chain.tip.roster.members.map((m) => m.id),
    joiners: proposal.joiners.map((m) => m.id),
  };
  print(
    args.json,
    result,
    `wrote ${out}: version ${result.version} of ${genesis.federation}, from round ${firstRound}\n` +
      `it needs ${result.needed} approvals of version ${result.amends}'s members` +
      (result.joiners.length > 0 ? ` and the own signature of ${result.joiners.join(", ")}` : "") +
      `; each runs\n  fedagg roster sign ${chainArgs(args)} --proposal ${out} --dir DIR`,
  );
  return 0;
}

/** The proposal `file` makes of `tip`. Refuses (`amendment-invalid`) what the protocol refuses. */
function checked(tip: RosterVersion, file: AmendmentFile) {
  try {
    return proposeVersion(tip, signedAmendmentOf(file).amendment);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof ProtocolError) {
      throw new NodeError("amendment-invalid", err.message);
    }
    throw err;
  }
}

/** `--rotate ID=CARD.json` as a change. Refuses (usage error) another form. */
async function rotation(value: string): Promise<ChangeEntry> {
  const at = value.indexOf("=");
  if (at < 1 || at === value.length - 1) {
    throw usageError(`--rotate must be ID=CARD.json (the member's id, its new card), got ${value}`);
  }
  return { rotate: value.slice(0, at), member: entryOfCard(await readCard(value.slice(at + 1))) };
}

/** `--set NAME=VALUE` as a change. Refuses (usage error) an unknown name or a bad value. */
function setting(value: string): ChangeEntry {
  const at = value.indexOf("=");
  const name = value.slice(0, at) as AmendableParameter;
  const text = value.slice(at + 1);
  if (at < 1 || !AMENDABLE_PARAMETERS.includes(name)) {
    throw usageError(
      `--set must be NAME=VALUE with NAME one of ${AMENDABLE_PARAMETERS.join(", ")}; got ${value}`,
    );
  }
  let v: SetValue;
  if (name === "graph") {
    const harary = /^harary:(\d+):(\d+)$/.exec(text);
    if (text === "complete") v = { kind: "complete" };
    else if (harary) {
      v = { kind: "harary", degree: Number(harary[1]), threshold: Number(harary[2]) };
    } else throw usageError(`--set graph= must be complete or harary:K:TK, got ${text}`);
  } else if (text === "default") {
    v = null;
  } else {
    v = Number(text);
    if (text.trim() === "" || !Number.isFinite(v)) {
      throw usageError(`--set ${name}= must be a number (or default), got ${text}`);
    }
  }
  return { set: name, value: v };
}

/** The member card in file `path`. Refuses (`card-invalid`) a file that is not readable JSON. */
async function readCard(path: string): Promise<MemberCard> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch {
    throw new NodeError("card-invalid", `${path} is not a readable JSON member card`);
  }
}

/**
 * `roster sign --proposal FILE` (with the chain's `--roster` and `--amendment`s): adds the
 * signature of the member of `--dir` to the amendment in FILE; resolves to 0. A member of the
 * newest version approves (once per version: `amendment_file.ts` records it first); a joining
 * member signs its own entry. Refuses what `signAmendmentFile` refuses.
 */
export async function signProposal(argv: string[]): Promise<number> {
  const args = parse(argv, "roster", {
    string: [...CHAIN, "proposal", "dir"],
    collect: ["amendment"],
  });
  if (args.help) usage("roster");
  const path = required(args, "proposal", "roster");
  const dir = required(args, "dir", "roster");
  const loaded = await chainOf(args);
  const identity = await loadIdentity(dir);
  const signed = await signAmendmentFile(loaded, await readAmendmentFile(path), identity, dir);
  await writeAmendmentFile(path, signed.file);
  print(
    args.json,
    { proposal: path, signer: identity.peerId, role: signed.role, version: signed.next.version },
    `${path}: ${signed.role === "approval" ? "approved" : "signed as joining member"} by ` +
      `${identity.peerId} (version ${signed.next.version})`,
  );
  return 0;
}

/**
 * `roster merge` of amendment files: one file with the signatures of copies signed in
 * parallel, written to `out`. Refuses copies of different amendments (`roster-mismatch`).
 */
export async function mergeAmendments(paths: readonly string[]): Promise<AmendmentFile> {
  const files = [];
  for (const path of paths) files.push({ path, file: await readAmendmentFile(path) });
  return mergeAmendmentFiles(files);
}

/** A candidate (or an accepted step) as `roster status` shows it. */
function candidateView(c: CandidateVersion, loaded: LoadedChain) {
  return {
    version: c.next.version,
    firstRound: c.next.firstRound,
    hash: toHex(c.next.hash),
    files: c.copies.map((s) => loaded.pathOf.get(s)!),
    approvedBy: c.approvedBy,
    needed: c.needed,
    joinersMissing: c.joinersMissing,
    notCounted: c.ignored,
  };
}

/**
 * `roster status`: the chain from `--roster` through the `--amendment`s — each version (when it
 * takes effect, its members with their names, t, who approved it), the pending proposals (who
 * signed, how many are missing), the amendments that fit nowhere and why, and a fork with both
 * successors and the members who approved both. Resolves to 0, or 1 when the chain forks.
 */
export async function status(argv: string[]): Promise<number> {
  const args = parse(argv, "roster", { string: CHAIN, collect: ["amendment"] });
  if (args.help) usage("roster");
  const loaded = await chainOf(args);
  const result = statusView(loaded);
  print(args.json, result, statusText(result));
  return loaded.chain.fork === undefined ? 0 : 1;
}

/** What `roster status` reports of a loaded chain. */
function statusView(loaded: LoadedChain) {
  const { chain } = loaded;
  return {
    federation: loaded.genesis.federation,
    versions: chain.versions.map((v, i) => ({
      version: v.version,
      firstRound: v.firstRound,
      hash: toHex(v.hash),
      threshold: v.roster.threshold,
      members: v.roster.members.map((m) => ({ id: m.id, name: m.name ?? "" })),
      ...(i === 0 ? {} : { approval: candidateView(chain.steps[i - 1], loaded) }),
    })),
    current: chain.tip.version,
    pending: chain.pending.map((c) => candidateView(c, loaded)),
    refused: chain.refused.map((r) => ({
      file: loaded.pathOf.get(r.signed)!,
      code: r.error.code,
      reason: r.error.message,
    })),
    fork: chain.fork === undefined ? null : {
      version: chain.fork.amended.version,
      successors: chain.fork.successors.map((c) => candidateView(c, loaded)),
      equivocators: chain.fork.equivocators,
    },
  };
}

type Status = ReturnType<typeof statusView>;

function statusText(s: Status): string {
  const lines = [`federation ${s.federation}: current version ${s.current}`];
  for (const v of s.versions) {
    lines.push(
      `version ${v.version} (${v.hash.slice(0, 16)}…) from round ${v.firstRound}: ` +
        `${v.members.length} members, t = ${v.threshold}` +
        (v.approval
          ? `, approved by ${v.approval.approvedBy.join(", ")} (${v.approval.files.join(", ")})`
          : ""),
    );
    for (const m of v.members) lines.push(`  ${m.id}${m.name ? `  ${m.name}` : ""}`);
  }
  for (const p of s.pending) {
    lines.push(
      `pending: version ${p.version} from round ${p.firstRound} (${p.files.join(", ")}): ` +
        `${p.approvedBy.length} of ${p.needed} approvals` +
        (p.approvedBy.length > 0 ? ` (${p.approvedBy.join(", ")})` : "") +
        (p.joinersMissing.length > 0
          ? `; joiners still to sign: ${p.joinersMissing.join(", ")}`
          : ""),
    );
  }
  for (const r of s.refused) lines.push(`refused: ${r.file}: ${r.reason}`);
  if (s.fork) {
    lines.push(
      `FORK at version ${s.fork.version}: ${
        s.fork.successors.map((c) => c.files.join("+")).join(" and ")
      } are both approved by t members; neither is taken. Approved both: ` +
        `${s.fork.equivocators.join(", ") || "nobody"}`,
    );
  }
  return lines.join("\n");
}

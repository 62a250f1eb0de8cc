/**
 * Roster amendments as files operators propose, sign, merge and pass around:
 *
 * ```json
 * {
 *   "fedagg": "fedagg/amendment/v1",
 *   "federation": "hospitals-2026",
 *   "previous": "<hex version hash of the version it amends>",
 *   "version": 1,
 *   "firstRound": 120,
 *   "changes": [
 *     { "add": { "id": "12D3Koo…", "name": "Hospital D", "signingKey": "…", "pqSigningKey": "…",
 *                "addresses": ["…"] } },
 *     { "remove": "12D3Koo…" },
 *     { "rotate": "12D3Koo…(old)", "member": { "id": "12D3Koo…(new)", … } },
 *     { "set": "threshold", "value": 3 }
 *   ],
 *   "signatures": { "12D3Koo…": { "ed25519": "…", "mlDsa65": null } },
 *   "joinerSignatures": { "12D3Koo…": { "ed25519": "…", "mlDsa65": null } }
 * }
 * ```
 *
 * The rules (who must sign, the chain, forks) are the protocol's (`protocol/federation/
 * amendment.ts`, `roster_chain.ts`); this module reads files strictly, turns them into the
 * protocol's values, loads a chain from a signed roster and amendment files, and signs — after
 * recording, durably in the node directory, which successor of the version this member
 * approved, so it never approves two ({@link signAmendmentFile}).
 *
 * @module
 */
import {
  AMENDABLE_PARAMETERS,
  type Amendment,
  type Change,
  ConfigError,
  fromHex,
  type GraphSettings,
  MAX_CHANGES,
  type Member,
  proposeVersion,
  ProtocolError,
  type Roster,
  type RosterChain,
  type RosterVersion,
  signAmendment,
  type SignedAmendment,
  successorDecision,
  toBase64,
  toHex,
  walkChain,
} from "../protocol/mod.ts";
import { readFileIfExists, writeFileAtomic } from "./atomic_file.ts";
import { NodeError } from "./errors.ts";
import type { NodeIdentity } from "./identity.ts";
import {
  count,
  listOf,
  mapOf,
  nullable,
  number,
  object,
  oneOf,
  type Shape,
  string,
} from "./json_shape.ts";
import {
  checkRosterFile,
  MEMBER_ENTRY,
  memberOfEntry,
  readRosterFile,
  readStrictJsonFile,
  type RosterFile,
  type RosterMemberEntry,
  SIGNATURE,
  type SignatureEntry,
  signatureEntry,
  signatureOfEntry,
  writePublicJsonFile,
} from "./roster_file.ts";

const FORMAT = "fedagg/amendment/v1";

/** A value `set` gives a parameter: a number, null (the default), or a graph. */
export type SetValue = number | null | GraphSettings;

/** One change as the file states it. */
export type ChangeEntry =
  | { readonly add: RosterMemberEntry }
  | { readonly remove: string }
  | { readonly rotate: string; readonly member: RosterMemberEntry }
  | { readonly set: typeof AMENDABLE_PARAMETERS[number]; readonly value: SetValue };

/** The amendment file's JSON shape. */
export interface AmendmentFile {
  readonly fedagg: typeof FORMAT;
  /** The federation's name, for people (the chain is bound by `previous`). */
  readonly federation: string;
  /** Hex version hash of the version amended. */
  readonly previous: string;
  readonly version: number;
  readonly firstRound: number;
  readonly changes: readonly ChangeEntry[];
  /** Approvals by members of the amended version, by id. */
  readonly signatures: Readonly<Record<string, SignatureEntry>>;
  /** Joining keys' own signatures, by their id. */
  readonly joinerSignatures: Readonly<Record<string, SignatureEntry>>;
}

const GRAPH_VALUE: Shape<GraphSettings> = (v, path) => {
  const kind = object({ kind: string }, { degree: number, threshold: number })(v, path).kind;
  return oneOf("complete", "harary")(kind, `${path}.kind`) === "complete"
    ? object({ kind: oneOf("complete") })(v, path)
    : object({ kind: oneOf("harary"), degree: number, threshold: number })(v, path);
};

const CHANGE: Shape<ChangeEntry> = (v, path) => {
  const keys = typeof v === "object" && v !== null ? Object.keys(v) : [];
  if (keys.includes("add")) return object({ add: MEMBER_ENTRY })(v, path);
  if (keys.includes("remove")) return object({ remove: string })(v, path);
  if (keys.includes("rotate")) return object({ rotate: string, member: MEMBER_ENTRY })(v, path);
  if (keys.includes("set")) {
    const { set } = object({ set: oneOf(...AMENDABLE_PARAMETERS) }, { value: () => null })(v, path);
    const value: Shape<SetValue> = set === "graph" ? GRAPH_VALUE : nullable(number);
    return object({ set: oneOf(set), value })(v, path);
  }
  throw new ConfigError(
    path,
    'must be one change: {"add": …}, {"remove": …}, {"rotate": …, ' +
      '"member": …} or {"set": …, "value": …}',
  );
};

const AMENDMENT_FILE = object({
  fedagg: oneOf(FORMAT),
  federation: string,
  previous: string,
  version: count,
  firstRound: count,
  changes: listOf(CHANGE, MAX_CHANGES),
  signatures: mapOf(SIGNATURE),
  joinerSignatures: mapOf(SIGNATURE),
});

/**
 * The amendment file of a parsed JSON value, read strictly (see `json_shape.ts`): every key
 * present with a value of its type, no other key; each change exactly one of add, remove,
 * rotate, set. Refuses (ConfigError naming the key's path, e.g. `changes[1].value`).
 */
export function parseAmendmentFile(value: unknown): AmendmentFile {
  return AMENDMENT_FILE(value, "") as AmendmentFile;
}

/** Reads and strictly parses an amendment file. Refuses (NodeError `amendment-invalid`). */
export async function readAmendmentFile(path: string): Promise<AmendmentFile> {
  return await readStrictJsonFile(path, "amendment file", {
    missing: "no-file",
    invalid: "amendment-invalid",
  }, parseAmendmentFile);
}

/** Writes an amendment file atomically (0644: amendments are public). */
export async function writeAmendmentFile(path: string, file: AmendmentFile): Promise<void> {
  await writePublicJsonFile(path, file);
}

/** The protocol change of a file's change (`at` names it in errors). */
function changeOf(entry: ChangeEntry, at: string): Change {
  if ("add" in entry) return { kind: "add", member: memberOfEntry(entry.add, `${at}.add`) };
  if ("remove" in entry) return { kind: "remove", id: entry.remove };
  if ("rotate" in entry) {
    return {
      kind: "rotate",
      id: entry.rotate,
      member: memberOfEntry(entry.member, `${at}.member`),
    };
  }
  return { kind: "set", parameter: entry.set, value: entry.value };
}

/**
 * The protocol's signed amendment of a file. Refuses (ConfigError naming the key) a `previous`
 * that is not hex, keys that do not match their PeerIds, signatures that are not base64.
 */
export function signedAmendmentOf(file: AmendmentFile): SignedAmendment {
  let previous: Uint8Array;
  try {
    previous = fromHex(file.previous);
  } catch {
    throw new ConfigError("previous", "must be a hex version hash");
  }
  const amendment: Amendment = {
    previous,
    version: file.version,
    firstRound: file.firstRound,
    changes: file.changes.map((c, i) => changeOf(c, `changes[${i}]`)),
  };
  const signatures = (entries: Readonly<Record<string, SignatureEntry>>, key: string) =>
    new Map(Object.entries(entries).map(([id, s]) => [id, signatureOfEntry(s, `${key}.${id}`)]));
  return {
    amendment,
    approvals: signatures(file.signatures, "signatures"),
    joiners: signatures(file.joinerSignatures, "joinerSignatures"),
  };
}

/** A new, unsigned amendment file of `changes` to `previous`, from round `firstRound`. */
export function newAmendmentFile(
  federation: string,
  previous: RosterVersion,
  firstRound: number,
  changes: readonly ChangeEntry[],
): AmendmentFile {
  return {
    fedagg: FORMAT,
    federation,
    previous: toHex(previous.hash),
    version: previous.version + 1,
    firstRound,
    changes,
    signatures: {},
    joinerSignatures: {},
  };
}

/** The member entry of a protocol member (for files). */
export function memberEntry(m: Member): RosterMemberEntry {
  return {
    id: m.id,
    ...(m.name ? { name: m.name } : {}),
    signingKey: toBase64(m.signingKey),
    pqSigningKey: m.pqSigningKey === undefined ? null : toBase64(m.pqSigningKey),
    addresses: [...(m.addresses ?? [])],
  };
}

/** A chain loaded from files, and which file each amendment came from. */
export interface LoadedChain {
  readonly genesis: RosterFile;
  readonly chain: RosterChain;
  /** The file of each amendment the chain saw. */
  readonly pathOf: ReadonlyMap<SignedAmendment, string>;
}

/**
 * The chain from the roster file `rosterPath` (version 0, which must be signed by every member:
 * the trust anchor) through the amendment files `amendmentPaths` (any order). Refuses
 * (NodeError) a roster that is invalid or not signed by every member (`roster-unsigned`), an
 * amendment file that does not parse or names another federation (`amendment-invalid`).
 * Amendments that are not valid are not refused here: the chain reports them (pending,
 * refused, fork).
 */
export async function loadChain(
  rosterPath: string,
  amendmentPaths: readonly string[],
): Promise<LoadedChain> {
  const genesis = await readRosterFile(rosterPath);
  let roster: Roster;
  try {
    const check = await checkRosterFile(genesis);
    if (!check.complete) {
      throw new NodeError(
        "roster-unsigned",
        `${rosterPath} is not signed by every member (missing: ${
          check.missing.join(", ") || "none"
        }; invalid: ${check.invalid.join(", ") || "none"}): a chain starts at a roster ` +
          `every member signed`,
      );
    }
    roster = check.roster;
  } catch (err) {
    if (err instanceof ConfigError) {
      throw new NodeError("roster-invalid", `${rosterPath}: ${err.message}`);
    }
    throw err;
  }
  const pathOf = new Map<SignedAmendment, string>();
  for (const path of amendmentPaths) {
    const file = await readAmendmentFile(path);
    if (file.federation !== roster.federation) {
      throw new NodeError(
        "amendment-invalid",
        `${path} amends federation ${file.federation}, the roster ${rosterPath} is ${roster.federation}`,
      );
    }
    try {
      pathOf.set(signedAmendmentOf(file), path);
    } catch (err) {
      if (err instanceof ConfigError) {
        throw new NodeError("amendment-invalid", `${path}: ${err.message}`);
      }
      throw err;
    }
  }
  return { genesis, chain: await walkChain(roster, [...pathOf.keys()]), pathOf };
}

/** Where a member records the successor it approved of the version whose hash is `previous`. */
export function approvalRecordPath(dir: string, previous: Uint8Array): string {
  return `${dir}/roster-approvals/${toHex(previous)}.json`;
}

/**
 * Adds `identity`'s signature to `file`, an amendment of the chain's newest version: an
 * approval if `identity` is a member of that version, its own signature if it holds a joining
 * entry. An approval obeys the no-fork rule: the successor approved is recorded in
 * `DIR/roster-approvals/` (written durably before the signature exists) and a second, different
 * successor of the same version is refused. Refuses (NodeError) a chain with a fork
 * (`amendment-invalid`), an amendment of another version or whose changes make no valid roster
 * (`amendment-invalid`), a signer that is neither a member nor a joiner (`not-a-member`), and a
 * second successor (`would-fork`).
 */
export async function signAmendmentFile(
  loaded: LoadedChain,
  file: AmendmentFile,
  identity: NodeIdentity,
  dir: string,
): Promise<{ file: AmendmentFile; role: "approval" | "joiner"; next: RosterVersion }> {
  const { chain } = loaded;
  if (chain.fork !== undefined) {
    throw new NodeError(
      "amendment-invalid",
      `the chain forks at version ${chain.fork.amended.version}: resolve the fork before signing`,
    );
  }
  const tip = chain.tip;
  let signed: SignedAmendment;
  let proposal: ReturnType<typeof proposeVersion>;
  try {
    signed = signedAmendmentOf(file);
    proposal = proposeVersion(tip, signed.amendment);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof ProtocolError) {
      throw new NodeError(
        "amendment-invalid",
        `${err.message} (the chain's newest version is ${tip.version})`,
      );
    }
    throw err;
  }
  const isMember = tip.roster.indexOf(identity.peerId) !== undefined;
  const isJoiner = proposal.joiners.some((m) => m.id === identity.peerId);
  if (!isMember && !isJoiner) {
    throw new NodeError(
      "not-a-member",
      `${identity.peerId} is neither a member of version ${tip.version} nor joining in this amendment`,
    );
  }
  if (isMember) await recordApproval(dir, tip, proposal.next);
  const signature = signatureEntry(await signAmendment(tip, signed.amendment, identity.signer));
  const out: AmendmentFile = isMember
    ? { ...file, signatures: { ...file.signatures, [identity.peerId]: signature } }
    : { ...file, joinerSignatures: { ...file.joinerSignatures, [identity.peerId]: signature } };
  return { file: out, role: isMember ? "approval" : "joiner", next: proposal.next };
}

/**
 * Applies the no-fork rule for this member approving `next` as the successor of `previous`:
 * writes the record durably the first time, accepts the same successor again, refuses
 * (`would-fork`) another. Refuses a record that does not parse (`amendment-invalid`): the
 * member must not guess what it signed.
 */
async function recordApproval(dir: string, previous: RosterVersion, next: RosterVersion) {
  const path = approvalRecordPath(dir, previous.hash);
  const raw = await readFileIfExists(path);
  let before: Uint8Array | undefined;
  if (raw !== undefined) {
    try {
      const record = object({
        previous: string,
        version: count,
        successor: string,
        firstRound: count,
      })(
        JSON.parse(new TextDecoder().decode(raw)),
        "",
      );
      before = fromHex(record.successor);
    } catch {
      throw new NodeError(
        "amendment-invalid",
        `${path} (the record of what this member approved) does not parse: it is not overwritten`,
      );
    }
  }
  try {
    if (successorDecision(before, next.hash) === "again") return;
  } catch (err) {
    if (err instanceof ProtocolError && err.code === "fork") {
      throw new NodeError(
        "would-fork",
        `this member already approved another successor of version ${previous.version} ` +
          `(recorded in ${path}); approving a second could fork the roster`,
      );
    }
    throw err;
  }
  await writeFileAtomic(
    path,
    JSON.stringify({
      previous: toHex(previous.hash),
      version: next.version,
      firstRound: next.firstRound,
      successor: toHex(next.hash),
    }) + "\n",
    0o600,
  );
}

/**
 * One amendment file with the signatures of `files`, copies of one amendment signed in
 * parallel: the first file with the union of the signatures (the first copy's signature where
 * two differ). Refuses (NodeError `roster-mismatch`, naming both files and the field) copies
 * of different amendments. Signatures are not checked here (`roster status` counts them).
 */
export function mergeAmendmentFiles(
  files: readonly { readonly path: string; readonly file: AmendmentFile }[],
): AmendmentFile {
  const body = ({ signatures: _s, joinerSignatures: _j, ...rest }: AmendmentFile) => rest;
  const first = body(files[0].file);
  let signatures = {};
  let joinerSignatures = {};
  for (const { path, file } of files) {
    const other = body(file);
    for (const key of Object.keys(first) as (keyof typeof first)[]) {
      if (JSON.stringify(first[key]) !== JSON.stringify(other[key])) {
        throw new NodeError(
          "roster-mismatch",
          `${path} is not the same amendment as ${files[0].path}: they differ in "${key}"; only ` +
            `signatures of one amendment can be merged`,
        );
      }
    }
    signatures = { ...file.signatures, ...signatures };
    joinerSignatures = { ...file.joinerSignatures, ...joinerSignatures };
  }
  return { ...files[0].file, signatures, joinerSignatures };
}

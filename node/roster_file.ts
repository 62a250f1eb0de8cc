/**
 * The federation's roster as a file operators read, build and sign:
 *
 * ```json
 * {
 *   "fedagg": "fedagg/roster/v2",
 *   "federation": "hospitals-2026",
 *   "mode": "classical",
 *   "dim": 100000, "clip": 8, "maxWeight": 1000, "scale": null, "threshold": null,
 *   "layout": { "tensors": [{ "name": "fc.weight", "shape": [1000, 99] }, …] },
 *   "graph": { "kind": "complete" },
 *   "stageTimeoutMs": 10000, "advertiseTimeoutMs": 60000, "viewTimeoutMs": 30000,
 *   "roundDeadlineMs": null,
 *   "dp": { "mechanism": "ddgauss", "epsilon": 3, "delta": 1e-6, "rounds": 100, "clip": 1,
 *           "bits": 32, "corrupt": 0, "beta": null, "modclipProb": null },
 *   "members": [{ "id": "12D3Koo…", "name": "Hospital A", "signingKey": "…", "pqSigningKey": "…",
 *                 "addresses": ["…"] }],
 *   "signatures": { "12D3Koo…": { "ed25519": "…", "mlDsa65": null } }
 * }
 * ```
 *
 * `layout` (optional; absent or `null` is the flat layout of `dim`) is the model's tensors in the
 * federation's order (`protocol/federation/layout.ts`); `dim` is then its size. `dp` (optional;
 * absent or `null`: no DP) is the federation's distributed-DP budget and mechanism settings
 * (`protocol/dp/parameters.ts`); it requires `maxWeight` 1.
 *
 * Every member signs the roster hash, which covers the parameters and every member's keys,
 * display name and addresses (a mistyped address is caught when the roster is signed, not as a
 * missing peer later). The file is read strictly ({@link parseRosterFile}): an unknown key or a
 * value of the wrong type is refused with the key's name. A node
 * runs only a roster that every member has signed, so nobody can be enrolled, dropped or have
 * its key swapped without all members agreeing. In post-quantum mode the signatures are hybrid.
 * The signed bytes and their checks are the protocol's (`protocol/federation/roster_approval.ts`).
 *
 * @module
 */
import { publicKeyFromRaw } from "npm:@libp2p/crypto@5.1.23/keys";
import { peerIdFromPublicKey } from "npm:@libp2p/peer-id@6.0.15";
import {
  approveRoster,
  ConfigError,
  createRoster,
  DEFAULT_CLIP,
  defaultThreshold,
  defaultTimeouts,
  equalBytes,
  fromBase64,
  type GraphSettings,
  type GroupSettings,
  MAX_MEMBERS,
  type Member,
  ML_DSA65_PUBLIC_KEY_LENGTH,
  type Mode,
  type ModelLayout,
  type Roster,
  SAFE_GROUP_SIZE,
  secAggPlusGraph,
  type Signature,
  toBase64,
  toHex,
  verifyRosterApproval,
} from "../protocol/mod.ts";
import { readFileIfExists, writeFileAtomic } from "./atomic_file.ts";
import { NodeError, type NodeErrorCode } from "./errors.ts";
import {
  boolean,
  listOf,
  mapOf,
  nullable,
  number,
  object,
  oneOf,
  opaqueObject,
  type Shape,
  string,
} from "./json_shape.ts";
import type { MemberCard, NodeIdentity } from "./identity.ts";

const FORMAT = "fedagg/roster/v2";
/** The format before names and addresses were signed: refused with how to move on. */
const OLD_FORMAT = "fedagg/roster/v1";

/**
 * The graph as the file states it: a protocol graph, or `secagg+` with the corrupt and dropout
 * fractions, resolved to a Harary graph (or the complete one) by Bell et al.'s bounds once the
 * member count is known. The resolution is deterministic, so every member gets the same roster.
 */
export type RosterGraph =
  | GraphSettings
  | {
    readonly kind: "secagg+";
    readonly corruptFraction: number;
    readonly dropoutFraction: number;
  };

/** One member entry of the file. */
export interface RosterMemberEntry {
  readonly id: string;
  /** Display name (organisation); absent or "" for none. */
  readonly name?: string;
  readonly signingKey: string;
  readonly pqSigningKey: string | null;
  readonly addresses: readonly string[];
}

/** The roster file's JSON shape. */
export interface RosterFile {
  readonly fedagg: typeof FORMAT;
  readonly federation: string;
  readonly mode: Mode;
  readonly dim: number;
  /** The model's tensor layout; absent or null: the flat layout of `dim`. */
  readonly layout?: ModelLayout | null;
  readonly clip: number;
  readonly maxWeight: number;
  readonly scale: number | null;
  readonly threshold: number | null;
  readonly graph: RosterGraph;
  readonly stageTimeoutMs: number;
  readonly advertiseTimeoutMs: number;
  readonly viewTimeoutMs: number;
  /**
   * The round deadline (ms); null or absent: `defaultRoundDeadlineMs` of the member count (a
   * file written before the deadline existed has none, and takes the default).
   */
  readonly roundDeadlineMs?: number | null;
  /**
   * Group-wise aggregation (`protocol/graph/groups.ts`); absent or null: one sum over everyone
   * (the default, plain weighted FedAvg).
   */
  readonly groups?: RosterGroups | null;
  /**
   * The robust rule over the group means, the JSON object `parseRobustRule` reads (checked with
   * the groups where rosters are built); absent or null: the plain weighted mean of the total.
   */
  readonly robust?: Readonly<Record<string, unknown>> | null;
  /**
   * Distributed differential privacy (`protocol/dp/parameters.ts`): absent or null for none.
   * `beta` and `modclipProb` may be null (their defaults); `corrupt` is required.
   */
  readonly dp?: RosterDpEntry | null;
  readonly members: readonly RosterMemberEntry[];
  readonly signatures: Readonly<Record<string, { ed25519: string; mlDsa65: string | null }>>;
}

/**
 * The file's `groups`: exactly one of `count` and `size`; null or absent minimums take their
 * defaults (`checkedGroupPlan`).
 */
export interface RosterGroups {
  readonly count?: number;
  readonly size?: number;
  readonly minGroupSize?: number | null;
  readonly minGroups?: number | null;
  readonly allowSmallGroups?: boolean;
}

/** A roster file's `dp` section (see `DpSettings`; null `beta`/`modclipProb`: their defaults). */
export interface RosterDpEntry {
  readonly mechanism: "ddgauss";
  readonly epsilon: number;
  readonly delta: number;
  readonly rounds: number;
  readonly clip: number;
  readonly bits: number;
  readonly corrupt: number;
  readonly beta: number | null;
  readonly modclipProb: number | null;
}

/** The parameters `fedagg roster create` takes. */
export type RosterParameters = Omit<RosterFile, "fedagg" | "members" | "signatures">;

/** Default parameters (the CLI overrides what the operator gives). */
export const DEFAULT_PARAMETERS: Omit<RosterParameters, "federation" | "dim"> = {
  mode: "classical",
  clip: DEFAULT_CLIP,
  maxWeight: 1,
  scale: null,
  threshold: null,
  graph: { kind: "complete" },
  ...defaultTimeouts(),
  roundDeadlineMs: null,
};

/**
 * The fractions a `secagg+` graph assumes when the operator names none (`fedagg roster create
 * --graph sparse` without `--degree`): up to 5 % corrupt members and 10 % dropouts per round.
 */
export const DEFAULT_SECAGG_PLUS = { corruptFraction: 0.05, dropoutFraction: 0.1 } as const;

/** A new, empty, unsigned roster file. Parameters are checked when members are added. */
export function newRosterFile(parameters: RosterParameters): RosterFile {
  return { fedagg: FORMAT, ...parameters, members: [], signatures: {} };
}

function bytes(value: string | null, what: string, length: number): Uint8Array {
  let out: Uint8Array | undefined;
  try {
    out = value === null ? undefined : fromBase64(value);
  } catch {
    out = undefined;
  }
  if (out === undefined || out.length !== length) {
    throw new ConfigError(what, `must be ${length} bytes of base64`);
  }
  return out;
}

/**
 * The protocol member of a file's member entry (`at` names it in errors, e.g. `members[2]`).
 * Refuses (ConfigError) malformed keys and an id that is not the PeerId of its Ed25519 key.
 */
export function memberOfEntry(entry: RosterMemberEntry, at: string): Member {
  if (typeof entry?.id !== "string") throw new ConfigError(`${at}.id`, "must be a string");
  const signingKey = bytes(entry.signingKey, `${at}.signingKey`, 32);
  const derived = peerIdFromPublicKey(publicKeyFromRaw(signingKey)).toString();
  if (derived !== entry.id) {
    throw new ConfigError(
      `${at}.id`,
      `${entry.id} does not match its signing key (which is ${derived})`,
    );
  }
  if (!Array.isArray(entry.addresses) || !entry.addresses.every((a) => typeof a === "string")) {
    throw new ConfigError(`${at}.addresses`, "must be a list of multiaddr strings");
  }
  return {
    id: entry.id,
    signingKey,
    name: entry.name ?? "",
    addresses: entry.addresses,
    pqSigningKey: entry.pqSigningKey === null
      ? undefined
      : bytes(entry.pqSigningKey, `${at}.pqSigningKey`, ML_DSA65_PUBLIC_KEY_LENGTH),
  };
}

/**
 * The protocol roster the file describes. Refuses (ConfigError naming the field) anything
 * invalid: see `createRoster`, plus PeerIds that do not match their keys.
 */
export function rosterOf(file: RosterFile): Roster {
  return rosterWith(file, checkedMembers(file));
}

/** The file's member entries as protocol members (see {@link memberOfEntry}). */
function checkedMembers(file: RosterFile): Member[] {
  if (file.fedagg !== FORMAT) throw new ConfigError("fedagg", `must be "${FORMAT}"`);
  if (!Array.isArray(file.members)) throw new ConfigError("members", "must be a list");
  return file.members.map((m, i) => memberOfEntry(m, `members[${i}]`));
}

/** The protocol roster of the file's parameters with `members` (`createRoster`'s checks). */
function rosterWith(file: RosterFile, members: Member[]): Roster {
  const graph = file.graph?.kind === "secagg+"
    ? secAggPlusGraph({
      n: members.length,
      corruptFraction: file.graph.corruptFraction,
      dropoutFraction: file.graph.dropoutFraction,
      committee: file.groups == null,
    })
    : file.graph as GraphSettings;
  return createRoster({
    federation: file.federation,
    members,
    mode: file.mode,
    dim: file.dim,
    layout: file.layout ?? undefined,
    clip: file.clip,
    maxWeight: file.maxWeight,
    scale: file.scale ?? undefined,
    threshold: file.threshold ?? undefined,
    graph,
    stageTimeoutMs: file.stageTimeoutMs,
    advertiseTimeoutMs: file.advertiseTimeoutMs,
    viewTimeoutMs: file.viewTimeoutMs,
    roundDeadlineMs: file.roundDeadlineMs ?? undefined,
    ...(file.groups == null ? {} : { groups: groupSettingsOf(file.groups) }),
    ...(file.robust == null ? {} : { robust: file.robust }),
    dp: file.dp == null ? undefined : {
      epsilon: file.dp.epsilon,
      delta: file.dp.delta,
      rounds: file.dp.rounds,
      clip: file.dp.clip,
      bits: file.dp.bits,
      corrupt: file.dp.corrupt,
      beta: file.dp.beta ?? undefined,
      modclipProb: file.dp.modclipProb ?? undefined,
    },
  });
}

/** The protocol's group settings of the file's `groups` (null minimums: the defaults). */
function groupSettingsOf(g: RosterGroups): GroupSettings {
  return {
    ...(g.count === undefined ? {} : { count: g.count }),
    ...(g.size === undefined ? {} : { size: g.size }),
    ...(g.minGroupSize == null ? {} : { minGroupSize: g.minGroupSize }),
    ...(g.minGroups == null ? {} : { minGroups: g.minGroups }),
    ...(g.allowSmallGroups === undefined ? {} : { allowSmallGroups: g.allowSmallGroups }),
  };
}

/**
 * Refuses (ConfigError naming the setting) a roster file whose parameters can never run with the
 * members it has, as early as `roster create` (no members yet) and `roster add` can tell:
 *
 * - an explicit threshold above the member count, once there are members: a round needs t
 *   members at every stage (t > n is the protocol's own refusal; it is reported here with the
 *   member count, before anyone signs);
 * - on a DP roster without an explicit threshold, checked with at least as many members as the
 *   withholding setting c needs (a default threshold above c);
 * - everything `createRoster` refuses (a threshold ≤ n/2, graph, quantization, timeouts, …),
 *   checked on the file's members — completed, while there are fewer, with placeholder members
 *   up to the smallest count the parameters allow (3, the threshold, a Harary degree + 2, g
 *   groups of their minimum size), so
 *   `roster create` already refuses what no member list could fix.
 *
 * Accepts a file that only lacks members (fewer than 3, with no explicit threshold above them):
 * `roster sign` and `fedagg run` refuse that one.
 */
export function checkRosterParameters(file: RosterFile): void {
  const members = checkedMembers(file);
  const n = members.length;
  const t = file.threshold;
  if (n > 0 && typeof t === "number" && t > n) {
    throw new ConfigError(
      "threshold",
      `${t} is more than the roster's ${n} members: a round needs t members at every stage. ` +
        `Add the cards together (at least ${t} in one \`roster add\`), or create the roster ` +
        `with --threshold ≤ ${n} or without it (t then follows n)`,
    );
  }
  const degree = file.graph?.kind === "harary" ? file.graph.degree : 0;
  const minimum = Math.min(
    MAX_MEMBERS,
    Math.max(
      3,
      n,
      Number.isSafeInteger(t) ? t! : 0,
      Number.isSafeInteger(degree) ? degree + 2 : 0,
      groupsMinimum(file.groups),
      withholdingMinimum(file),
    ),
  );
  if (minimum === n) {
    rosterWith(file, members);
    return;
  }
  const placeholders = Array.from({ length: minimum - n }, (_, i) => placeholder(i, file.mode));
  try {
    rosterWith(file, [...members, ...placeholders]);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError(
      err.setting,
      `${err.message.slice(err.setting.length + 2)} (checked for the smallest roster these ` +
        `parameters allow: n = ${minimum})`,
    );
  }
}

/**
 * The fewest members the file's groups allow: g groups (or one group of M) of the larger of the
 * minimum group size and, without the override, the safe size.
 */
function groupsMinimum(groups: RosterGroups | null | undefined): number {
  if (groups == null) return 0;
  const each = Math.max(
    Number.isSafeInteger(groups.minGroupSize) ? groups.minGroupSize! : 1,
    groups.allowSmallGroups === true ? 1 : SAFE_GROUP_SIZE,
    Number.isSafeInteger(groups.size) ? groups.size! : 1,
  );
  const count = Number.isSafeInteger(groups.count) ? groups.count! : 1;
  return Math.min(MAX_MEMBERS, count * each);
}

/**
 * The fewest members whose default threshold exceeds a DP roster's withholding members c (a
 * round must keep t − c ≥ 1 noisers), so `roster create --dp-corrupt c` is checked on a roster
 * that could have it; 0 without DP or with an explicit threshold (which must then exceed c).
 */
function withholdingMinimum(file: RosterFile): number {
  const c = file.dp?.corrupt;
  if (typeof c !== "number" || !Number.isSafeInteger(c) || file.threshold !== null) return 0;
  let n = 3;
  while (n < MAX_MEMBERS && defaultThreshold(n) <= c) n++;
  return n;
}

/**
 * Placeholder member `i` for {@link checkRosterParameters}: an id no PeerId has, and keys of the
 * right lengths that no real member has (they are never used to verify anything).
 */
function placeholder(i: number, mode: Mode): Member {
  const signingKey = new Uint8Array(32).fill(0xff);
  signingKey[0] = i >>> 8;
  signingKey[1] = i & 0xff;
  return {
    id: `placeholder-${i}`,
    signingKey,
    pqSigningKey: mode === "post-quantum" ? new Uint8Array(ML_DSA65_PUBLIC_KEY_LENGTH) : undefined,
  };
}

/** The addresses of each member, by roster index (the roster sorts members by id). */
export function addressesOf(file: RosterFile, roster: Roster): readonly (readonly string[])[] {
  const byId = new Map(file.members.map((m) => [m.id, m.addresses]));
  return roster.members.map((m) => byId.get(m.id) ?? []);
}

/** A member card's keys and their types (`identity.ts`). */
const CARD = object({
  fedagg: string,
  id: string,
  signingKey: string,
  pqSigningKey: string,
  addresses: listOf(string),
}, { name: string });

/**
 * Adds a member from its card (as printed by `fedagg init`), read strictly (an unknown key or a
 * value of the wrong type is refused with its name). Refuses a duplicate id or a card
 * whose PeerId does not match its key. Existing signatures are dropped: they covered the old
 * member list.
 */
export function addMember(file: RosterFile, card: MemberCard): RosterFile {
  if (card?.fedagg !== "fedagg/member/v1") {
    throw new ConfigError("card", 'not a fedagg member card (expected "fedagg/member/v1")');
  }
  if (file.members.some((m) => m.id === card.id)) {
    throw new ConfigError("card", `member ${card.id} is already in the roster`);
  }
  const entry = entryOfCard(card);
  memberOfEntry(entry, `members[${file.members.length}]`);
  return { ...file, members: [...file.members, entry], signatures: {} };
}

/**
 * The member entry of a card (as printed by `fedagg init`), read strictly. Refuses
 * (ConfigError) what is not a member card, unknown keys and values of the wrong type; the keys
 * themselves are checked when the entry is used ({@link memberOfEntry}).
 */
export function entryOfCard(card: MemberCard): RosterMemberEntry {
  if (card?.fedagg !== "fedagg/member/v1") {
    throw new ConfigError("card", 'not a fedagg member card (expected "fedagg/member/v1")');
  }
  CARD(card, "card");
  return {
    id: card.id,
    ...(card.name === undefined ? {} : { name: card.name }),
    signingKey: card.signingKey,
    pqSigningKey: card.pqSigningKey ?? null,
    addresses: card.addresses,
  };
}

/**
 * Adds `identity`'s signature over the roster hash. Refuses (NodeError) when the identity is
 * not a member, or (ConfigError) when the roster is invalid.
 */
export async function signRoster(file: RosterFile, identity: NodeIdentity): Promise<RosterFile> {
  const roster = rosterOf(file);
  if (roster.indexOf(identity.peerId) === undefined) {
    throw new NodeError("not-a-member", `${identity.peerId} is not in this roster: add it first`);
  }
  const sig = await approveRoster(roster, identity.signer);
  return {
    ...file,
    signatures: {
      ...file.signatures,
      [identity.peerId]: {
        ed25519: toBase64(sig.ed25519),
        mlDsa65: sig.mlDsa65 === null ? null : toBase64(sig.mlDsa65),
      },
    },
  };
}

/** The outcome of checking a roster file's signatures. */
export interface RosterCheck {
  readonly roster: Roster;
  /** Members with a valid signature. */
  readonly signed: readonly string[];
  /** Members without a signature. */
  readonly missing: readonly string[];
  /** Ids with a signature that does not verify, or that are not members. */
  readonly invalid: readonly string[];
  /** True when every member signed validly and nothing else is there. */
  readonly complete: boolean;
}

/** Checks the file (ConfigError when invalid) and every signature in it. */
export async function checkRosterFile(file: RosterFile): Promise<RosterCheck> {
  const roster = rosterOf(file);
  const signed: string[] = [];
  const invalid: string[] = [];
  for (const [id, sig] of Object.entries(file.signatures ?? {})) {
    const index = roster.indexOf(id);
    let signature: Signature | undefined;
    try {
      signature = {
        ed25519: fromBase64(sig.ed25519),
        mlDsa65: sig.mlDsa65 === null ? null : fromBase64(sig.mlDsa65),
      };
    } catch {
      signature = undefined;
    }
    if (
      index !== undefined && signature !== undefined &&
      await verifyRosterApproval(roster, index, signature)
    ) signed.push(id);
    else invalid.push(id);
  }
  const missing = roster.members.map((m) => m.id).filter((id) => !signed.includes(id));
  return {
    roster,
    signed,
    missing,
    invalid,
    complete: missing.length === 0 && invalid.length === 0,
  };
}

/** A member entry's keys and their types (roster files and amendments). */
export const MEMBER_ENTRY: Shape<RosterMemberEntry> = object({
  id: string,
  signingKey: string,
  pqSigningKey: nullable(string),
  addresses: listOf(string),
}, { name: string });

/** A signature's keys and their types. */
export const SIGNATURE: Shape<SignatureEntry> = object({
  ed25519: string,
  mlDsa65: nullable(string),
});

/** A signature as files hold it (base64). */
export interface SignatureEntry {
  readonly ed25519: string;
  readonly mlDsa65: string | null;
}

/** The signature of a file's entry. Refuses (ConfigError at `at`) bytes that are not base64. */
export function signatureOfEntry(entry: SignatureEntry, at: string): Signature {
  try {
    return {
      ed25519: fromBase64(entry.ed25519),
      mlDsa65: entry.mlDsa65 === null ? null : fromBase64(entry.mlDsa65),
    };
  } catch {
    throw new ConfigError(at, "is not base64");
  }
}

/** A signature as files hold it. */
export function signatureEntry(signature: Signature): SignatureEntry {
  return {
    ed25519: toBase64(signature.ed25519),
    mlDsa65: signature.mlDsa65 === null ? null : toBase64(signature.mlDsa65),
  };
}

/** The graph: its `kind` decides which other keys it has. */
const GRAPH: Shape<RosterGraph> = (v, path) => {
  const kind = object({ kind: string }, {
    degree: number,
    threshold: number,
    corruptFraction: number,
    dropoutFraction: number,
  })(v, path).kind;
  switch (oneOf("complete", "harary", "secagg+")(kind, `${path}.kind`)) {
    case "complete":
      return object({ kind: oneOf("complete") })(v, path);
    case "harary":
      return object({ kind: oneOf("harary"), degree: number, threshold: number })(v, path);
    case "secagg+":
      return object({
        kind: oneOf("secagg+"),
        corruptFraction: number,
        dropoutFraction: number,
      })(v, path);
  }
};

/** The file's keys and the type of each (see {@link parseRosterFile}). */
const ROSTER_FILE = object({
  fedagg: oneOf(FORMAT),
  federation: string,
  mode: oneOf("classical", "post-quantum"),
  dim: number,
  clip: number,
  maxWeight: number,
  scale: nullable(number),
  threshold: nullable(number),
  graph: GRAPH,
  stageTimeoutMs: number,
  advertiseTimeoutMs: number,
  viewTimeoutMs: number,
  members: listOf(MEMBER_ENTRY, MAX_MEMBERS),
  signatures: mapOf(SIGNATURE),
}, {
  // Optional: absent or null is the flat layout of dim / the default deadline.
  layout: nullable(
    object({ tensors: listOf(object({ name: string, shape: listOf(number) })) }),
  ) as Shape<ModelLayout | null>,
  roundDeadlineMs: nullable(number),
  groups: nullable(object({}, {
    count: number,
    size: number,
    minGroupSize: nullable(number),
    minGroups: nullable(number),
    allowSmallGroups: boolean,
  })),
  robust: nullable(opaqueObject),
  // Optional: absent or null is no DP.
  dp: nullable(object({
    mechanism: oneOf("ddgauss"),
    epsilon: number,
    delta: number,
    rounds: number,
    clip: number,
    bits: number,
    corrupt: number,
    beta: nullable(number),
    modclipProb: nullable(number),
  })),
});

/**
 * The roster file of a parsed JSON value, checked strictly: every key of {@link RosterFile}
 * present with a value of its type, and no other key. Refuses (ConfigError whose `setting` is
 * the key's path, e.g. `treshold` or `members[1].name`) an unknown key (naming the key it most
 * likely misspells), a missing one, a value of the wrong type (`"threshold": "2"`), and a file
 * of the earlier format (whose signatures did not cover names and addresses). Ranges are
 * checked later, by `createRoster` ({@link rosterOf}).
 */
export function parseRosterFile(value: unknown): RosterFile {
  const format = (value as { fedagg?: unknown } | null)?.fedagg;
  if (format === OLD_FORMAT) {
    throw new ConfigError(
      "fedagg",
      `${OLD_FORMAT} is the format of an earlier fedagg, whose signatures did not cover member ` +
        `names and addresses: create the roster again (\`fedagg roster create\`, \`add\`, ` +
        `\`sign\`)`,
    );
  }
  return ROSTER_FILE(value, "") as RosterFile;
}

/** The parsed JSON of file `path`. Refuses (NodeError `missing`/`invalid`) otherwise. */
export async function readJsonFile(
  path: string,
  what: string,
  codes: { missing: NodeErrorCode; invalid: NodeErrorCode },
): Promise<unknown> {
  const raw = await readFileIfExists(path);
  if (raw === undefined) throw new NodeError(codes.missing, `${what} ${path} not found`);
  try {
    return JSON.parse(new TextDecoder().decode(raw));
  } catch {
    throw new NodeError(codes.invalid, `${path} is not valid JSON`);
  }
}

/**
 * Reads and strictly parses a roster file ({@link parseRosterFile}). Refuses (NodeError) a
 * missing file (`no-roster`), one that is not JSON or not a roster file (`roster-invalid`,
 * naming the path and the key at fault).
 */
export async function readRosterFile(path: string): Promise<RosterFile> {
  return await readStrictJsonFile(path, "roster file", {
    missing: "no-roster",
    invalid: "roster-invalid",
  }, parseRosterFile);
}

/** Writes a roster file atomically (mode 0644: rosters are public). */
export async function writeRosterFile(path: string, file: RosterFile): Promise<void> {
  await writePublicJsonFile(path, file);
}

/**
 * The file `path` read as JSON and checked by `parse` (which throws ConfigError naming the key
 * at fault). Refuses (NodeError) a missing file (`codes.missing`) and one that is not JSON or
 * that `parse` refuses (`codes.invalid`, naming the path and the key).
 */
export async function readStrictJsonFile<T>(
  path: string,
  what: string,
  codes: { missing: NodeErrorCode; invalid: NodeErrorCode },
  parse: (value: unknown) => T,
): Promise<T> {
  const parsed = await readJsonFile(path, what, codes);
  try {
    return parse(parsed);
  } catch (err) {
    if (err instanceof ConfigError) throw new NodeError(codes.invalid, `${path}: ${err.message}`);
    throw err;
  }
}

/** Writes `value` as indented JSON to `path` atomically, mode 0644 (public files). */
export async function writePublicJsonFile(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n", 0o644);
}

/**
 * Loads a roster a node can run: complete and validly signed by every member, with `self` in it
 * (with `joining`, `self` may be missing: a member that an amendment adds runs from the roster
 * every member signed, and the node checks it is in some version of the chain). Refuses
 * (NodeError) with the list of missing or invalid signatures otherwise.
 */
export async function loadRunnableRoster(
  path: string,
  self: string,
  options: { readonly joining?: boolean } = {},
): Promise<{ file: RosterFile; roster: Roster; index: number | undefined }> {
  const file = await readRosterFile(path);
  let check: RosterCheck;
  try {
    check = await checkRosterFile(file);
  } catch (err) {
    if (err instanceof ConfigError) {
      throw new NodeError("roster-invalid", `${path}: ${err.message}`);
    }
    throw err;
  }
  if (!check.complete) {
    const parts = [];
    if (check.missing.length > 0) parts.push(`missing signatures: ${check.missing.join(", ")}`);
    if (check.invalid.length > 0) parts.push(`invalid signatures: ${check.invalid.join(", ")}`);
    throw new NodeError(
      "roster-unsigned",
      `${path} is not signed by every member (${parts.join("; ")}); ` +
        `each member runs \`fedagg roster sign --roster ${path} --dir <its dir>\``,
    );
  }
  const index = check.roster.indexOf(self);
  if (index === undefined && !options.joining) {
    throw new NodeError("not-a-member", `this node (${self}) is not in the roster ${path}`);
  }
  return { file, roster: check.roster, index };
}

/** A roster file and where it was read from (for error messages). */
export interface NamedRosterFile {
  readonly path: string;
  readonly file: RosterFile;
}

/**
 * One roster file carrying every signature of `files`, which members signed in parallel: the
 * first file with the union of the signatures. Refuses (NodeError) fewer than two files,
 * files that describe different rosters (`roster-mismatch`, naming both files and their hashes),
 * and a signature that does not verify (`roster-invalid`, naming the file and the signer): a
 * merge never launders a bad signature into a good file.
 */
export async function mergeRosterFiles(files: readonly NamedRosterFile[]): Promise<RosterFile> {
  if (files.length < 2) throw new NodeError("usage", "roster merge needs at least two files");
  const checks: RosterCheck[] = [];
  for (const { path, file } of files) {
    try {
      checks.push(await checkRosterFile(file));
    } catch (err) {
      if (err instanceof ConfigError) {
        throw new NodeError("roster-invalid", `${path}: ${err.message}`);
      }
      throw err;
    }
  }
  const first = checks[0].roster.hash;
  const signatures: Record<string, RosterFile["signatures"][string]> = {};
  for (const [i, { path, file }] of files.entries()) {
    const hash = checks[i].roster.hash;
    if (!equalBytes(hash, first)) {
      throw new NodeError(
        "roster-mismatch",
        `${path} is not the same roster as ${files[0].path} (hash ${toHex(hash).slice(0, 16)}… ` +
          `vs ${toHex(first).slice(0, 16)}…): only signatures of one roster can be merged; ` +
          `compare the two files (a member, a parameter, an address differs)`,
      );
    }
    if (checks[i].invalid.length > 0) {
      throw new NodeError(
        "roster-invalid",
        `${path}: the signatures of ${checks[i].invalid.join(", ")} do not verify (or are not ` +
          `members'); remove them or ask for a new one before merging`,
      );
    }
    for (const id of checks[i].signed) signatures[id] ??= file.signatures[id];
  }
  return { ...files[0].file, signatures };
}

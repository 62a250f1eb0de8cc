/**
 * `fedagg roster create|add|sign|verify|merge|propose|status`: the federation's roster file, from
 * its parameters to every member's signature, and its amendments (`roster_amend.ts`).
 * {@link roster} dispatches to one function per subcommand; they share one help text
 * (`HELP.roster`).
 *
 * @module
 */
import {
  defaultHararyThreshold,
  defaultTimeouts,
  describeRobustRule,
  layoutSize,
  MAX_MEMBERS,
  MAX_RELATIVE_ERROR,
  maxMembersWithinPrecision,
  minimumGroups,
  type Mode,
  type ModelLayout,
  parseRobustRule,
  type QuantizationParameters,
  quantizationParameters,
  tolerates,
  withinPrecision,
} from "../../protocol/mod.ts";
import { NodeError } from "../errors.ts";
import { loadIdentity, type MemberCard } from "../identity.ts";
import {
  addMember,
  checkRosterFile,
  checkRosterParameters,
  DEFAULT_PARAMETERS,
  DEFAULT_SECAGG_PLUS,
  mergeRosterFiles,
  newRosterFile,
  readRosterFile,
  type RosterDpEntry,
  type RosterGraph,
  type RosterGroups,
  type RosterParameters,
  signRoster,
  writeRosterFile,
} from "../roster_file.ts";
import { readLayoutFile } from "../tensor_formats/layout_file.ts";
import { HELP } from "./help.ts";
import { mergeAmendments, propose, signProposal, status } from "./roster_amend.ts";
import { adopt } from "./api.ts";
import { writeAmendmentFile } from "../amendment_file.ts";
import {
  type Args,
  integer,
  list,
  number,
  parse,
  print,
  refuseOverwrite,
  required,
  usage,
  usageError,
} from "./_args.ts";

/**
 * Runs `fedagg roster <sub> ...`; resolves to the subcommand's exit code. Refuses (usage error)
 * a missing or unknown subcommand.
 */
export async function roster(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h") usage("roster");
  if (!Object.hasOwn(SUBCOMMANDS, sub)) {
    throw usageError(`unknown roster command ${sub}\n\n${HELP.roster}`);
  }
  return await SUBCOMMANDS[sub](rest);
}

/** The subcommands, by name. */
const SUBCOMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  create,
  add,
  sign,
  verify,
  merge,
  propose,
  status,
  adopt,
};

// ---- create -------------------------------------------------------------------------------------

/** The DP options of `roster create`: `fedagg dp plan`'s names with a `dp-` prefix. */
const DP_OPTIONS = [
  "dp-epsilon",
  "dp-delta",
  "dp-rounds",
  "dp-clip",
  "dp-bits",
  "dp-corrupt",
  "dp-beta",
  "dp-modclip-prob",
];

/** The options of `roster create`, all strings (each step that reads a number checks it). */
const CREATE_OPTIONS = [
  "out",
  "federation",
  "dim",
  "layout",
  "mode",
  "clip",
  "max-weight",
  "scale",
  "threshold",
  "graph",
  "degree",
  "graph-threshold",
  "corrupt",
  "dropout",
  "stage-timeout",
  "advertise-timeout",
  "view-timeout",
  "round-deadline",
  "groups",
  "group-size",
  "min-group-size",
  "min-groups",
  ...DP_OPTIONS,
  "robust",
  "norm-filter",
];

/**
 * `roster create`: writes a new roster file with no members to `--out`; resolves to 0. Refuses
 * (usage error) missing or malformed options, the first one found in a fixed order: `--out`,
 * the mode, the stage timeout, the graph, then the others in the order of {@link parametersOf};
 * a `--layout` file that is not a layout (`layout-invalid`); then (ConfigError, nothing written)
 * parameters no member list could run with, such as a threshold of 1, a view timeout not above
 * the stage timeout or a `--dim` other than the layout's size (`checkRosterParameters`); then,
 * unless `--force`, quantization whose error bound exceeds {@link MAX_RELATIVE_ERROR} × the clip
 * already for the smallest roster (`imprecise`); then (`file-exists`) an existing `--out`
 * without `--force`: a signed roster is never lost to a repeated command. Prints the layout and
 * the quantization.
 */
async function create(argv: string[]): Promise<number> {
  const args = parse(argv, "roster", {
    string: CREATE_OPTIONS,
    boolean: ["force", "allow-small-groups"],
  });
  if (args.help) usage("roster");
  const out = required(args, "out", "roster");
  const source = args.layout === undefined ? undefined : await readLayoutFile(args.layout);
  const file = newRosterFile(parametersOf(args, source?.layout));
  checkRosterParameters(file);
  const smallest = Math.max(3, file.threshold ?? 0);
  const q = quantizationOf(file, smallest);
  const most = maxMembersWithinPrecision(
    { clip: file.clip, maxWeight: file.maxWeight, scale: file.scale ?? undefined },
    MAX_MEMBERS,
  );
  if (source !== undefined) {
    const t = source.layout.tensors;
    console.log(
      `layout from ${args.layout} (${
        source.kind === "json" ? "layout.json" : "safetensors header"
      }` +
        `): ${t.length} float32 tensor(s), d = ${file.dim}, in this order: ` +
        t.slice(0, 4).map((x) => `${x.name} [${x.shape.join(", ")}]`).join(", ") +
        (t.length > 4 ? `, … ${t.at(-1)!.name} [${t.at(-1)!.shape.join(", ")}]` : ""),
    );
  }
  console.log(`${quantizationText(q)} (for n = ${smallest} members)`);
  console.log(
    most >= smallest
      ? `the error bound stays within ${MAX_RELATIVE_ERROR} × the clip for up to ${most} members`
      : `the error bound exceeds ${MAX_RELATIVE_ERROR} × the clip already for n = ${smallest}`,
  );
  if (most < smallest && !args.force) throw imprecise(q);
  await refuseOverwrite(out, args.force);
  await writeRosterFile(out, file);
  if (file.groups != null) console.log(groupsText(file.groups));
  if (file.robust != null) console.log(robustText(file));
  console.log(
    `wrote ${out}: add members with \`fedagg roster add --roster ${out} --card CARD.json\``,
  );
  return 0;
}

/**
 * The quantization of the roster file's parameters for `n` members (the file is checked). Refuses
 * what `quantizationParameters` refuses.
 */
function quantizationOf(file: RosterParameters, n: number): QuantizationParameters {
  return quantizationParameters({
    members: n,
    clip: file.clip,
    maxWeight: file.maxWeight,
    scale: file.scale ?? undefined,
  });
}

/** One line: scale, levels, clipping range and the proven error bound (absolute, of the clip). */
export function quantizationText(q: QuantizationParameters): string {
  return `quantization: scale ${round(q.scale, 6)} (${q.levels} levels), clipping range ` +
    `[-${q.clip}, ${q.clip}], proven error bound of the mean ${round(q.errorBound, 3)} ` +
    `(${round(q.errorBound / q.clip, 3)} × the clip; the limit is ${MAX_RELATIVE_ERROR})`;
}

/** `x` to `digits` significant digits, without trailing zeros. */
function round(x: number, digits: number): string {
  return String(Number(x.toPrecision(digits)));
}

/** The refusal of imprecise parameters (`imprecise`), saying what to change. */
function imprecise(q: QuantizationParameters): NodeError {
  return new NodeError(
    "imprecise",
    `the proven error bound of the mean, ${round(q.errorBound, 3)}, exceeds ` +
      `${MAX_RELATIVE_ERROR} × the clip (${MAX_RELATIVE_ERROR * q.clip}) for ${q.members} ` +
      `members with maxWeight ${q.maxWeight}: only ${q.levels} quantization levels remain. ` +
      "Lower --max-weight (weights are relative: scale every member's num_samples down alike), " +
      "or pass --force to accept the coarse mean",
  );
}

/**
 * The roster's parameters: the options given, the defaults the help states for the others. With
 * a layout, `--dim` is optional (d is the layout's size; a `--dim` that differs is refused by
 * `checkRosterParameters`).
 */
function parametersOf(args: Args, layout?: ModelLayout): RosterParameters {
  const mode = modeOf(args);
  const timeouts = defaultTimeouts(optional(args, "stage-timeout", positive, undefined));
  const graph = graphOf(args);
  const federation = required(args, "federation", "roster");
  const dim = layout !== undefined && args.dim === undefined
    ? layoutSize(layout)
    : integer(required(args, "dim", "roster"), "dim", 1);
  return {
    federation,
    dim,
    ...(layout === undefined ? {} : { layout }),
    mode,
    clip: optional(args, "clip", number, DEFAULT_PARAMETERS.clip),
    maxWeight: optional(args, "max-weight", positive, DEFAULT_PARAMETERS.maxWeight),
    scale: optional(args, "scale", number, null),
    threshold: optional(args, "threshold", positive, null),
    graph,
    stageTimeoutMs: timeouts.stageTimeoutMs,
    advertiseTimeoutMs: optional(args, "advertise-timeout", positive, timeouts.advertiseTimeoutMs),
    viewTimeoutMs: optional(args, "view-timeout", positive, timeouts.viewTimeoutMs),
    roundDeadlineMs: optional(args, "round-deadline", positive, null),
    ...groupsOf(args),
    ...dpOf(args),
    ...robustOf(args),
  };
}

/**
 * The `dp` section when any `--dp-*` option is given: `--dp-epsilon`, `--dp-delta`,
 * `--dp-rounds`, `--dp-clip` and `--dp-corrupt` are then required (`--dp-bits` defaults to 32,
 * β and the wrap probability to the planner's defaults). Refuses (usage error) a missing or
 * malformed one; ranges are checked with the roster (`createRoster`).
 */
function dpOf(args: Args): { dp?: RosterDpEntry } {
  if (!DP_OPTIONS.some((name) => args[name] !== undefined)) return {};
  const need = (name: string) => required(args, name, "roster");
  return {
    dp: {
      mechanism: "ddgauss",
      epsilon: number(need("dp-epsilon"), "dp-epsilon"),
      delta: number(need("dp-delta"), "dp-delta"),
      rounds: integer(need("dp-rounds"), "dp-rounds", 1),
      clip: number(need("dp-clip"), "dp-clip"),
      bits: optional(args, "dp-bits", (v, n) => integer(v, n, 1), 32),
      corrupt: integer(need("dp-corrupt"), "dp-corrupt"),
      beta: optional(args, "dp-beta", number, null),
      modclipProb: optional(args, "dp-modclip-prob", number, null),
    },
  };
}

/**
 * `--robust RULE[,NAME=VALUE…]` and `--norm-filter TAU`: the roster's `robust` rule as its JSON
 * object, e.g. `--robust multi-krum,f=1,m=3` is `{"kind": "multi-krum", "f": 1, "m": 3}`; the
 * values are numbers and the rule's own checks (`parseRobustRule`, then the group checks of
 * `createRoster`) name what is wrong. Nothing without `--robust` (the plain weighted mean).
 * Refuses (usage error) `--norm-filter` without `--robust`, a parameter that is not NAME=NUMBER,
 * a parameter given twice.
 */
function robustOf(args: Args): Pick<RosterParameters, "robust"> {
  if (args.robust === undefined) {
    if (args["norm-filter"] !== undefined) throw usageError("--norm-filter needs --robust RULE");
    return {};
  }
  const [kind, ...params] = String(args.robust).split(",");
  const rule: Record<string, unknown> = { kind };
  for (const p of params) {
    const m = /^([a-z]+)=(.+)$/.exec(p);
    if (m === null) throw usageError(`--robust: ${p} is not NAME=NUMBER (e.g. beta=0.2)`);
    if (m[1] in rule) throw usageError(`--robust: ${m[1]} is given twice`);
    rule[m[1]] = number(m[2], `robust ${m[1]}`);
  }
  if (args["norm-filter"] !== undefined) {
    rule.normFilter = { tau: number(String(args["norm-filter"]), "norm-filter") };
  }
  return { robust: rule };
}

/** The roster's rule and what it tolerates, in one line for the operator. */
function robustText(file: RosterParameters): string {
  const rule = parseRobustRule(file.robust);
  const plan = file.groups!;
  const head = `robust: each round publishes ${describeRobustRule(rule)} of the group means ` +
    `(the raw total stays certified alongside)`;
  // Groups given by size: their count (and so the default minimum) follows the member count,
  // which is not known here; say what it tolerates only when a count is.
  const fewest = plan.minGroups ??
    (plan.count === undefined ? undefined : Math.ceil((2 * plan.count) / 3));
  if (fewest === undefined) {
    return `${head}; what it tolerates follows the group count (members ÷ group size)`;
  }
  return `${head}; with ${fewest} or more groups it tolerates ` +
    `${tolerates(rule, Math.max(fewest, minimumGroups(rule)))} poisoned group(s)`;
}

/**
 * `--groups G` or `--group-size M` (not both), with `--min-group-size`, `--min-groups` and
 * `--allow-small-groups`; nothing without either (one sum over everyone, the default). Refuses
 * (usage error) both, the minimums or the override without a group option, and non-integers.
 */
function groupsOf(args: Args): Pick<RosterParameters, "groups"> {
  const count = optional(args, "groups", positive, undefined);
  const size = optional(args, "group-size", positive, undefined);
  if (count !== undefined && size !== undefined) {
    throw usageError("give --groups G or --group-size M, not both");
  }
  const extras = ["min-group-size", "min-groups"].filter((k) => args[k] !== undefined);
  if (count === undefined && size === undefined) {
    if (extras.length > 0 || args["allow-small-groups"]) {
      throw usageError(
        `--${extras[0] ?? "allow-small-groups"} needs --groups G or --group-size M`,
      );
    }
    return {};
  }
  return {
    groups: {
      ...(count === undefined ? {} : { count }),
      ...(size === undefined ? {} : { size }),
      minGroupSize: optional(args, "min-group-size", positive, null),
      minGroups: optional(args, "min-groups", positive, null),
      allowSmallGroups: args["allow-small-groups"] === true,
    },
  };
}

/** What a roster's groups reveal and tolerate, in one line for the operator. */
function groupsText(g: RosterGroups): string {
  const how = g.count !== undefined ? `${g.count} groups` : `groups of at least ${g.size}`;
  return `groups: ${how} per round; each group's sum is revealed to the leader and the members ` +
    `(an input is hidden only among its group's), a group sum needs at least ` +
    `${g.minGroupSize ?? "its threshold of"} inputs, a round ${g.minGroups ?? "⌈2g/3⌉"} groups` +
    (g.allowSmallGroups ? "; small groups explicitly allowed" : "");
}

/** `--mode`, classical unless given. Refuses any other mode. */
function modeOf(args: Args): Mode {
  const mode = (args.mode ?? DEFAULT_PARAMETERS.mode) as Mode;
  if (mode !== "classical" && mode !== "post-quantum") {
    throw usageError(`--mode must be classical or post-quantum, got ${mode}`);
  }
  return mode;
}

/**
 * The neighbour graph: complete unless `--graph sparse`; sparse is Harary with `--degree`, else
 * SecAgg+ whose degree and threshold follow from n when the roster is loaded.
 */
function graphOf(args: Args): RosterGraph {
  if (args.graph === "sparse") {
    if (args.degree !== undefined) {
      const degree = integer(args.degree, "degree", 2);
      return {
        kind: "harary",
        degree,
        threshold: optional(args, "graph-threshold", positive, defaultHararyThreshold(degree)),
      };
    }
    return {
      kind: "secagg+",
      corruptFraction: optional(args, "corrupt", number, DEFAULT_SECAGG_PLUS.corruptFraction),
      dropoutFraction: optional(args, "dropout", number, DEFAULT_SECAGG_PLUS.dropoutFraction),
    };
  }
  if (args.graph !== undefined && args.graph !== "complete") {
    throw usageError(`--graph must be complete or sparse, got ${args.graph}`);
  }
  return { kind: "complete" };
}

/** `--name` read by `read` when given, else `fallback`. */
function optional<T, F>(
  args: Args,
  name: string,
  read: (value: string, name: string) => T,
  fallback: F,
): T | F {
  const value = args[name];
  return value !== undefined ? read(value, name) : fallback;
}

/** An integer ≥ 1 (counts and milliseconds). */
function positive(value: string, name: string): number {
  return integer(value, name, 1);
}

// ---- add, sign, verify --------------------------------------------------------------------------

/**
 * `roster add`: adds each `--card` to the roster file (which resets its signatures); resolves
 * to 0. Refuses a missing roster file, no `--card`, a card that is not readable JSON or not a
 * valid member card, and a roster whose parameters cannot run with its new member list, such as
 * an explicit threshold above the member count or at most half of it (`checkRosterParameters`),
 * and, unless `--force`, quantization whose error bound for the new member count exceeds
 * {@link MAX_RELATIVE_ERROR} × the clip (`imprecise`); nothing is written then. Prints the
 * quantization.
 */
async function add(argv: string[]): Promise<number> {
  const args = parse(argv, "roster", {
    string: ["roster", "card"],
    collect: ["card"],
    boolean: ["force"],
  });
  if (args.help) usage("roster");
  const path = required(args, "roster", "roster");
  let file = await readRosterFile(path);
  const cards = list(args.card);
  if (cards.length === 0) throw usageError("--card CARD.json is required (repeatable)");
  for (const c of cards) file = addMember(file, await readCard(c));
  checkRosterParameters(file);
  const q = quantizationOf(file, Math.max(3, file.members.length));
  console.log(`${quantizationText(q)} (for n = ${q.members} members)`);
  if (!withinPrecision(q) && !args.force) throw imprecise(q);
  await writeRosterFile(path, file);
  console.log(
    `${path}: ${file.members.length} members (signatures reset: every member signs again)`,
  );
  return 0;
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
 * `roster sign`: adds the signature of the member of `--dir` to the roster file; resolves to 0.
 * Refuses a missing roster file or identity, and a signer that is not a member. With
 * `--proposal FILE`, signs that amendment instead (`signProposal`).
 */
async function sign(argv: string[]): Promise<number> {
  if (argv.some((a) => a === "--proposal" || a.startsWith("--proposal="))) {
    return await signProposal(argv);
  }
  const args = parse(argv, "roster", { string: ["roster", "dir"] });
  if (args.help) usage("roster");
  const path = required(args, "roster", "roster");
  const identity = await loadIdentity(required(args, "dir", "roster"));
  const signed = await signRoster(await readRosterFile(path), identity);
  await writeRosterFile(path, signed);
  console.log(`${path}: signed by ${identity.peerId}`);
  return 0;
}

/**
 * `roster verify`: checks the roster file and its signatures and prints its layout and
 * quantization; resolves to 0 only when it is valid, every member signed it and its error bound
 * is within {@link MAX_RELATIVE_ERROR} × the clip (or `--force`), else 1 (saying who is missing
 * or signed invalidly, or how imprecise the mean is). Refuses (throws) a file that is missing or
 * not a valid roster.
 */
async function verify(argv: string[]): Promise<number> {
  const args = parse(argv, "roster", { string: ["roster"], boolean: ["force"] });
  if (args.help) usage("roster");
  const path = required(args, "roster", "roster");
  const check = await checkRosterFile(await readRosterFile(path));
  const r = check.roster;
  const q = r.quantization;
  const precise = withinPrecision(q);
  const result = {
    roster: path,
    federation: r.federation,
    members: r.members.length,
    threshold: r.threshold,
    mode: r.mode,
    dim: r.dim,
    tensors: r.layout.tensors.length,
    quantization: {
      scale: q.scale,
      levels: q.levels,
      clip: q.clip,
      maxWeight: q.maxWeight,
      errorBound: q.errorBound,
      relativeError: q.errorBound / q.clip,
      maxRelativeError: MAX_RELATIVE_ERROR,
      withinPrecision: precise,
    },
    signed: check.signed,
    missing: check.missing,
    invalid: check.invalid,
    complete: check.complete,
  };
  const ok = check.complete && (precise || args.force);
  const lines = [
    check.complete
      ? `${path}: valid, signed by all ${result.members} members (t = ${result.threshold})`
      : `${path}: NOT complete — missing: ${check.missing.join(", ") || "none"}; ` +
        `invalid: ${check.invalid.join(", ") || "none"}`,
    `layout: ${result.tensors} float32 tensor(s), d = ${r.dim}`,
    quantizationText(q),
  ];
  if (!precise) {
    lines.push(
      `${args.force ? "accepted with --force" : "NOT precise enough"}: ` +
        imprecise(q).message,
    );
  }
  print(args.json, result, lines.join("\n"));
  return ok ? 0 : 1;
}

/**
 * `roster merge A B … --out FILE [--force]`: one file with the signatures of files signed in
 * parallel (roster files, or amendment files: `mergeAmendments`); resolves to 0. Refuses (throws, nothing written) fewer than two files, files of
 * different rosters (`roster-mismatch`), a signature that does not verify, and an existing
 * `--out` without `--force`.
 */
async function merge(argv: string[]): Promise<number> {
  const args = parse(argv, "roster", { string: ["out"], boolean: ["force"], positional: true });
  if (args.help) usage("roster");
  const out = required(args, "out", "roster");
  const paths = args._.map(String);
  if (paths.length < 2) throw usageError(`roster merge needs at least two files\n\n${HELP.roster}`);
  if (await isAmendment(paths[0])) {
    const merged = await mergeAmendments(paths);
    await refuseOverwrite(out, args.force);
    await writeAmendmentFile(out, merged);
    const signers = Object.keys(merged.signatures);
    print(
      args.json,
      { out, signed: signers, joinersSigned: Object.keys(merged.joinerSignatures) },
      `wrote ${out}: approvals of ${signers.join(", ") || "nobody"} (\`fedagg roster status\` ` +
        `counts them)`,
    );
    return 0;
  }
  const files = [];
  for (const path of paths) files.push({ path, file: await readRosterFile(path) });
  const merged = await mergeRosterFiles(files);
  await refuseOverwrite(out, args.force);
  await writeRosterFile(out, merged);
  const check = await checkRosterFile(merged);
  print(
    args.json,
    { out, signed: check.signed, missing: check.missing, complete: check.complete },
    `wrote ${out}: signed by ${check.signed.length} of ${check.roster.members.length} members` +
      (check.complete ? " (complete)" : ` (missing: ${check.missing.join(", ")})`),
  );
  return 0;
}

/** Whether the JSON file `path` says it is an amendment (else it is read as a roster). */
async function isAmendment(path: string): Promise<boolean> {
  try {
    return JSON.parse(await Deno.readTextFile(path))?.fedagg === "fedagg/amendment/v1";
  } catch {
    return false;
  }
}

/**
 * The `fedagg` command line. Exit codes: 0 success; 1 the operation ran and failed (a check did
 * not pass, or the node refused the request or has no answer yet); 2 the operation could not
 * run: a usage or configuration error, a missing or unreadable file, or no node to talk to (not
 * running, or unreachable). Messages say what is wrong and how to fix it; `--json` prints
 * machine-readable output where a program reads it.
 *
 * @module
 */
import "./shims.ts";
import { parseArgs } from "@std/cli/parse-args";
import {
  ConfigError,
  defaultHararyThreshold,
  defaultTimeouts,
  dequantizeMean,
  equalBytes,
  type Mode,
  ProtocolError,
  verifyFinalCertificate,
} from "../protocol/mod.ts";
import { readFileIfExists, writeFileAtomic } from "./atomic_file.ts";
import { NodeError } from "./errors.ts";
import { loadIdentity, type MemberCard } from "./identity.ts";
import { serveApi } from "./http_api.ts";
import { FedaggNode } from "./node.ts";
import { DEFAULT_LISTEN, initNodeDir } from "./node_dir.ts";
import {
  addMember,
  checkRosterFile,
  DEFAULT_PARAMETERS,
  DEFAULT_SECAGG_PLUS,
  loadRunnableRoster,
  newRosterFile,
  readRosterFile,
  type RosterGraph,
  signRoster,
  writeRosterFile,
} from "./roster_file.ts";
import { closeUnrefdChannels } from "./shims.ts";
import { detectFormat, FormatError, parseUpdate } from "./tensor_formats/mod.ts";

/** Usage error: exit 2. */
/** A command line the CLI cannot run: printed as is (no prefix), exit 2. */
function usageError(message: string): NodeError {
  return new NodeError("usage", message);
}

// The defaults the help states are the ones the commands apply.
const defaults = DEFAULT_PARAMETERS;
const sparse = DEFAULT_SECAGG_PLUS;

const HELP: Record<string, string> = {
  "": `fedagg — peer-to-peer secure aggregation for federated learning

Usage: fedagg <command> [options]      (fedagg <command> --help for details)

Commands:
  init       create this node's identity and API token
  roster     create, extend, sign and verify the federation's roster
  run        join the mesh and serve the local trainer API
  submit     hand the trainer's update for a round to the local node
  aggregate  download a round's aggregate from the local node
  status     show the local node's status
  verify     check a published aggregate and its final certificate offline
`,
  init: `Usage: fedagg init --dir DIR [--listen MULTIADDR]... [--announce MULTIADDR]... [--json]

Creates DIR (mode 0700) with a new identity (identity.json, mode 0600) and an API token
(api.token, mode 0600), and prints this member's card (also written to DIR/card.json) for the
roster. --listen defaults to ${DEFAULT_LISTEN.join(" ")}; --announce (the addresses others dial)
defaults to the listen addresses.
`,
  roster: `Usage:
  fedagg roster create --out FILE --federation NAME --dim D [options]
  fedagg roster add    --roster FILE --card CARD.json [--card ...]
  fedagg roster sign   --roster FILE --dir DIR
  fedagg roster verify --roster FILE [--json]

create options:
  --mode classical|post-quantum   (default ${defaults.mode})
  --clip C                        clipping radius (default ${defaults.clip})
  --max-weight W                  largest num_samples one may claim (default ${defaults.maxWeight})
  --scale S                       quantization scale (default: the largest that cannot overflow)
  --threshold T                   global threshold (default ⌊2n/3⌋ + 1)
  --graph complete|sparse         neighbour graph (default ${defaults.graph.kind})
  --degree K                      sparse graph degree (even), with
  --graph-threshold TK            its share threshold (default ⌊(K+1)/2⌋ + 1, a strict majority
                                  of the K+1 holders: ${defaultHararyThreshold(4)} for K = 4)
  or, instead of --degree, K and TK chosen per Bell et al. (sparse only) for:
  --corrupt F                     fraction of corrupt members (default ${sparse.corruptFraction})
  --dropout F                     per-round dropout fraction (default ${sparse.dropoutFraction})
  --stage-timeout MS              (default ${defaults.stageTimeoutMs})
  --advertise-timeout MS          submission deadline after the first update: 6 × the
                                  stage timeout unless given (default ${defaults.advertiseTimeoutMs})
  --view-timeout MS               3 × the stage timeout unless given (default ${defaults.viewTimeoutMs})

verify exits 0 only when the roster is valid and every member signed it.
`,
  run: `Usage: fedagg run --dir DIR --roster FILE [--api HOST:PORT] [--listen MULTIADDR]...

Joins the mesh with DIR's identity (listening on the addresses given at init unless --listen
is given) and serves the trainer API (default 127.0.0.1:8421; port 0 picks a free one; the URL
is written to DIR/api.json). The roster must be signed by every member. Logs JSON lines to
stderr. Stops cleanly on SIGINT or SIGTERM.
`,
  submit: `Usage: fedagg submit --dir DIR --round R --file FILE --num-samples N [--api URL] [--json]

Sends FILE (raw little-endian float32, .npy or safetensors) as this member's update for round R.
`,
  aggregate:
    `Usage: fedagg aggregate --dir DIR --round R --out FILE [--format npy|raw|safetensors|sum]
                        [--certificate FILE] [--api URL] [--json]

Downloads round R's aggregate (default: the weighted mean as .npy; "sum" is the exact integer
aggregate the certificate covers) and, with --certificate, its final certificate.
`,
  status: `Usage: fedagg status --dir DIR [--api URL] [--json]
`,
  verify:
    `Usage: fedagg verify --certificate FILE --aggregate FILE --roster FILE [--mean FILE.npy] [--json]

Checks a final certificate offline against a roster every member signed: the scheduled
leader's signature, at least t approvals of
one survivor set, at least t co-signatures, and that FILE (the exact integer aggregate, as
downloaded with --format sum) is the certified one. With --mean, also checks that the float32
weighted mean in FILE.npy is exactly the one the aggregate determines. Exits 0 only if all hold.
`,
};

function usage(command: string): never {
  throw usageError(HELP[command] ?? HELP[""]);
}

function required(args: Record<string, unknown>, name: string, command: string): string {
  const v = args[name];
  if (typeof v !== "string" || v === "") {
    throw usageError(`--${name} is required\n\n${HELP[command] ?? ""}`);
  }
  return v;
}

function integer(value: string, name: string, min = 0): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw usageError(`--${name} must be an integer ≥ ${min}, got ${value}`);
  }
  return n;
}

function number(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw usageError(`--${name} must be a number, got ${value}`);
  return n;
}

function list(v: unknown): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
}

function parse(
  argv: string[],
  command: string,
  spec: { string?: string[]; boolean?: string[]; collect?: string[] },
) {
  return parseArgs(argv, {
    string: spec.string ?? [],
    boolean: ["help", "json", ...(spec.boolean ?? [])],
    collect: spec.collect ?? [],
    unknown: (flag: string) => {
      throw usageError(`unknown option ${flag}\n\n${HELP[command] ?? HELP[""]}`);
    },
  });
}

function print(json: boolean, value: unknown, text: string): void {
  console.log(json ? JSON.stringify(value) : text);
}

// ---- commands ----------------------------------------------------------------------------------

async function init(argv: string[]): Promise<number> {
  const args = parse(argv, "init", {
    string: ["dir", "listen", "announce"],
    collect: ["listen", "announce"],
  });
  if (args.help) usage("init");
  const dir = required(args, "dir", "init");
  const { identity, card } = await initNodeDir(dir, {
    listen: list(args.listen),
    announce: list(args.announce),
  });
  print(
    args.json,
    card,
    `created ${dir}: member ${identity.peerId}\n${JSON.stringify(card, null, 2)}`,
  );
  return 0;
}

async function roster(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h") usage("roster");
  if (sub === "create") {
    const args = parse(rest, "roster", {
      string: [
        "out",
        "federation",
        "dim",
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
      ],
    });
    if (args.help) usage("roster");
    const out = required(args, "out", "roster");
    const mode = (args.mode ?? DEFAULT_PARAMETERS.mode) as Mode;
    if (mode !== "classical" && mode !== "post-quantum") {
      throw usageError(`--mode must be classical or post-quantum, got ${mode}`);
    }
    const timeouts = defaultTimeouts(
      args["stage-timeout"] !== undefined
        ? integer(args["stage-timeout"], "stage-timeout", 1)
        : undefined,
    );
    let graph: RosterGraph = { kind: "complete" };
    if (args.graph === "sparse") {
      if (args.degree !== undefined) {
        const degree = integer(args.degree, "degree", 2);
        graph = {
          kind: "harary",
          degree,
          threshold: args["graph-threshold"] !== undefined
            ? integer(args["graph-threshold"], "graph-threshold", 1)
            : defaultHararyThreshold(degree),
        };
      } else {
        // Degree and threshold follow from n, chosen when the roster is loaded.
        graph = {
          kind: "secagg+",
          corruptFraction: args.corrupt !== undefined
            ? number(args.corrupt, "corrupt")
            : DEFAULT_SECAGG_PLUS.corruptFraction,
          dropoutFraction: args.dropout !== undefined
            ? number(args.dropout, "dropout")
            : DEFAULT_SECAGG_PLUS.dropoutFraction,
        };
      }
    } else if (args.graph !== undefined && args.graph !== "complete") {
      throw usageError(`--graph must be complete or sparse, got ${args.graph}`);
    }
    const file = newRosterFile({
      federation: required(args, "federation", "roster"),
      dim: integer(required(args, "dim", "roster"), "dim", 1),
      mode,
      clip: args.clip !== undefined ? number(args.clip, "clip") : DEFAULT_PARAMETERS.clip,
      maxWeight: args["max-weight"] !== undefined
        ? integer(args["max-weight"], "max-weight", 1)
        : DEFAULT_PARAMETERS.maxWeight,
      scale: args.scale !== undefined ? number(args.scale, "scale") : null,
      threshold: args.threshold !== undefined ? integer(args.threshold, "threshold", 1) : null,
      graph,
      stageTimeoutMs: timeouts.stageTimeoutMs,
      advertiseTimeoutMs: args["advertise-timeout"] !== undefined
        ? integer(args["advertise-timeout"], "advertise-timeout", 1)
        : timeouts.advertiseTimeoutMs,
      viewTimeoutMs: args["view-timeout"] !== undefined
        ? integer(args["view-timeout"], "view-timeout", 1)
        : timeouts.viewTimeoutMs,
    });
    await writeRosterFile(out, file);
    console.log(
      `wrote ${out}: add members with \`fedagg roster add --roster ${out} --card CARD.json\``,
    );
    return 0;
  }
  if (sub === "add") {
    const args = parse(rest, "roster", { string: ["roster", "card"], collect: ["card"] });
    if (args.help) usage("roster");
    const path = required(args, "roster", "roster");
    let file = await readRosterFile(path);
    const cards = list(args.card);
    if (cards.length === 0) throw usageError("--card CARD.json is required (repeatable)");
    for (const c of cards) {
      let card: MemberCard;
      try {
        card = JSON.parse(await Deno.readTextFile(c));
      } catch {
        throw new NodeError("card-invalid", `${c} is not a readable JSON member card`);
      }
      file = addMember(file, card);
    }
    await writeRosterFile(path, file);
    console.log(
      `${path}: ${file.members.length} members (signatures reset: every member signs again)`,
    );
    return 0;
  }
  if (sub === "sign") {
    const args = parse(rest, "roster", { string: ["roster", "dir"] });
    if (args.help) usage("roster");
    const path = required(args, "roster", "roster");
    const identity = await loadIdentity(required(args, "dir", "roster"));
    const signed = await signRoster(await readRosterFile(path), identity);
    await writeRosterFile(path, signed);
    console.log(`${path}: signed by ${identity.peerId}`);
    return 0;
  }
  if (sub === "verify") {
    const args = parse(rest, "roster", { string: ["roster"] });
    if (args.help) usage("roster");
    const path = required(args, "roster", "roster");
    const check = await checkRosterFile(await readRosterFile(path));
    const result = {
      roster: path,
      federation: check.roster.federation,
      members: check.roster.members.length,
      threshold: check.roster.threshold,
      mode: check.roster.mode,
      signed: check.signed,
      missing: check.missing,
      invalid: check.invalid,
      complete: check.complete,
    };
    print(
      args.json,
      result,
      check.complete
        ? `${path}: valid, signed by all ${result.members} members (t = ${result.threshold})`
        : `${path}: NOT complete — missing: ${check.missing.join(", ") || "none"}; ` +
          `invalid: ${check.invalid.join(", ") || "none"}`,
    );
    return check.complete ? 0 : 1;
  }
  throw usageError(`unknown roster command ${sub}\n\n${HELP.roster}`);
}

function log(level: string, message: string, fields: object = {}): void {
  console.error(JSON.stringify({ t: new Date().toISOString(), level, msg: message, ...fields }));
}

async function run(argv: string[]): Promise<number> {
  const args = parse(argv, "run", {
    string: ["dir", "roster", "api", "listen"],
    collect: ["listen"],
  });
  if (args.help) usage("run");
  const dir = required(args, "dir", "run");
  const identity = await loadIdentity(dir);
  const { file, roster, index } = await loadRunnableRoster(
    required(args, "roster", "run"),
    identity.peerId,
  );
  const nodeConfig = JSON.parse(new TextDecoder().decode(
    await readFileIfExists(`${dir}/node.json`) ?? new TextEncoder().encode("{}"),
  )) as { listen?: string[] };
  const listen = list(args.listen).length > 0
    ? list(args.listen)
    : nodeConfig.listen ?? [...DEFAULT_LISTEN];
  const token = (await Deno.readTextFile(`${dir}/api.token`)).trim();
  const [hostname, portText] = (args.api ?? "127.0.0.1:8421").split(/:(?=\d+$)/);
  if (portText === undefined) throw usageError(`--api must be HOST:PORT, got ${args.api}`);
  const node = await FedaggNode.start({
    dir,
    identity,
    rosterFile: file,
    roster,
    index,
    listen,
    log,
  });
  const api = await serveApi(node, { hostname, port: integer(portText, "api port"), token });
  await writeFileAtomic(
    `${dir}/api.json`,
    JSON.stringify({ url: api.url, pid: Deno.pid }) + "\n",
    0o600,
  );
  log("info", "trainer API listening", { url: api.url });
  const stopped = new Promise<void>((resolve) => {
    const stop = () => resolve();
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  });
  await stopped;
  log("info", "stopping");
  await api.shutdown();
  await node.stop();
  closeUnrefdChannels();
  return 0;
}

async function apiOf(args: { dir?: string; api?: string }, command: string) {
  const dir = required(args, "dir", command);
  const token = (await Deno.readTextFile(`${dir}/api.token`).catch(() => {
    throw new NodeError("no-token", `${dir}/api.token not found: is ${dir} a node directory?`);
  })).trim();
  let url = args.api;
  if (url === undefined) {
    const raw = await readFileIfExists(`${dir}/api.json`);
    if (raw === undefined) {
      throw new NodeError(
        "not-running",
        `${dir}/api.json not found: is \`fedagg run --dir ${dir}\` running?`,
      );
    }
    url = (JSON.parse(new TextDecoder().decode(raw)) as { url: string }).url;
  }
  const call = async (path: string, init: RequestInit = {}) => {
    try {
      return await fetch(`${url}${path}`, {
        ...init,
        headers: { ...init.headers, authorization: `Bearer ${token}` },
      });
    } catch (err) {
      throw new NodeError(
        "unreachable",
        `cannot reach the node at ${url} (${(err as Error).message}): ` +
          `is \`fedagg run --dir ${dir}\` running?`,
      );
    }
  };
  return call;
}

async function failure(res: Response): Promise<string> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { message?: string };
    return `HTTP ${res.status}: ${body.message ?? text}`;
  } catch {
    return `HTTP ${res.status}: ${text}`;
  }
}

async function submit(argv: string[]): Promise<number> {
  const args = parse(argv, "submit", { string: ["dir", "round", "file", "num-samples", "api"] });
  if (args.help) usage("submit");
  const round = integer(required(args, "round", "submit"), "round");
  const samples = integer(required(args, "num-samples", "submit"), "num-samples", 1);
  const file = required(args, "file", "submit");
  const body = await Deno.readFile(file).catch(() => {
    throw new NodeError("no-file", `cannot read ${file}`);
  });
  const call = await apiOf(args, "submit");
  const res = await call(`/v1/rounds/${round}/update?num_samples=${samples}`, {
    method: "POST",
    body,
  });
  if (!res.ok) {
    console.error(`submit refused: ${await failure(res)}`);
    return 1;
  }
  const result = await res.json();
  print(
    args.json,
    result,
    `round ${round}: update accepted (${result.format}, ${result.values} values)`,
  );
  return 0;
}

async function aggregate(argv: string[]): Promise<number> {
  const args = parse(argv, "aggregate", {
    string: ["dir", "round", "out", "format", "certificate", "api"],
  });
  if (args.help) usage("aggregate");
  const round = integer(required(args, "round", "aggregate"), "round");
  const out = required(args, "out", "aggregate");
  const call = await apiOf(args, "aggregate");
  const res = await call(`/v1/rounds/${round}/aggregate?format=${args.format ?? "npy"}`);
  if (!res.ok) {
    console.error(`aggregate unavailable: ${await failure(res)}`);
    return 1;
  }
  await writeFileAtomic(out, new Uint8Array(await res.arrayBuffer()), 0o644);
  const result: Record<string, unknown> = {
    round,
    out,
    view: Number(res.headers.get("x-fedagg-view")),
    final: res.headers.get("x-fedagg-final") === "true",
    members: (res.headers.get("x-fedagg-members") ?? "").split(",").filter((s) => s !== ""),
  };
  if (args.certificate !== undefined) {
    const cert = await call(`/v1/rounds/${round}/certificate`);
    if (!cert.ok) {
      console.error(`certificate unavailable: ${await failure(cert)}`);
      return 1;
    }
    await writeFileAtomic(args.certificate, new Uint8Array(await cert.arrayBuffer()), 0o644);
    result.certificate = args.certificate;
  }
  print(args.json, result, `round ${round}: wrote ${out}${result.final ? " (final)" : ""}`);
  return 0;
}

async function status(argv: string[]): Promise<number> {
  const args = parse(argv, "status", { string: ["dir", "api"] });
  if (args.help) usage("status");
  const call = await apiOf(args, "status");
  const res = await call("/v1/status");
  if (!res.ok) {
    console.error(`status unavailable: ${await failure(res)}`);
    return 1;
  }
  const s = await res.json();
  print(
    args.json,
    s,
    [
      `member     ${s.peerId} (index ${s.index}, federation ${s.federation})`,
      `peers      ${s.peers.connected}/${s.peers.members} connected`,
      `round      ${s.round ?? "-"} view ${s.view ?? "-"} stage ${s.stage ?? "-"} leader ${
        s.leader ?? "-"
      }`,
      `final      last final round ${s.lastFinalRound ?? "-"}`,
      `last error ${s.lastError ?? "-"}`,
    ].join("\n"),
  );
  return 0;
}

async function verify(argv: string[]): Promise<number> {
  const args = parse(argv, "verify", { string: ["certificate", "aggregate", "roster", "mean"] });
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
  const roster = check.roster;
  const certificate = await Deno.readFile(required(args, "certificate", "verify"));
  const body = await Deno.readFile(required(args, "aggregate", "verify"));
  try {
    const v = await verifyFinalCertificate(roster, certificate, body);
    let meanOk: boolean | undefined;
    if (args.mean !== undefined) {
      const bytes = await Deno.readFile(args.mean);
      const given = parseUpdate(bytes, roster.dim, detectFormat(bytes)).values;
      const expected = dequantizeMean(v.aggregate, roster.quantization, v.members.length);
      // Bit for bit (a float compare would call -0 and 0 equal, and NaN unequal to itself).
      meanOk = equalBytes(
        new Uint8Array(given.buffer, given.byteOffset, given.byteLength),
        new Uint8Array(expected.buffer, expected.byteOffset, expected.byteLength),
      );
    }
    const ok = meanOk !== false;
    const result = {
      valid: ok,
      round: v.round,
      view: v.view,
      leader: roster.members[v.leader].id,
      members: v.members.map((i) => roster.members[i].id),
      cosigners: v.cosigners.length,
      threshold: roster.threshold,
      meanMatches: meanOk,
    };
    print(
      args.json,
      result,
      ok
        ? `valid: round ${v.round} view ${v.view}, leader ${result.leader}, ` +
          `${v.members.length} members, ${v.cosigners.length} co-signatures (t = ${roster.threshold})` +
          (meanOk ? ", mean matches" : "")
        : `INVALID: the mean in ${args.mean} is not the one the certified aggregate determines`,
    );
    return ok ? 0 : 1;
  } catch (err) {
    if (err instanceof ProtocolError || err instanceof FormatError) {
      print(args.json, { valid: false, reason: err.message }, `INVALID: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  init,
  roster,
  run,
  submit,
  aggregate,
  status,
  verify,
};

/** Runs the CLI on `argv`; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === "--help" || command === "-h" || command === "help") {
      console.log(HELP[""]);
      return command === undefined ? 2 : 0;
    }
    const fn = COMMANDS[command];
    if (fn === undefined) throw usageError(`unknown command ${command}\n\n${HELP[""]}`);
    return await fn(rest);
  } catch (err) {
    if (err instanceof NodeError && err.code === "usage") {
      const helpRequested = rest.includes("--help") || rest.includes("-h");
      (helpRequested ? console.log : console.error)(err.message.trimEnd());
      return helpRequested ? 0 : 2;
    }
    if (err instanceof NodeError || err instanceof ConfigError) {
      console.error(`fedagg ${command}: ${err.message}`);
      return 2;
    }
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied) {
      console.error(`fedagg ${command}: ${(err as Error).message}`);
      return 2;
    }
    throw err;
  }
}

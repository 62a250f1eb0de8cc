/**
 * `fedagg submit|aggregate|status` and `fedagg roster adopt`: the commands that talk to the running
 * node of a node directory over its trainer API (`http_api.ts`), found through `DIR/api.json` (written by
 * `fedagg run`) or `--api`, and authorized with `DIR/api.token`.
 *
 * No node to talk to (no token, no `api.json`, nothing listening) is a `NodeError` (exit 2); a
 * node that answers with an error status makes the command print the node's reason on stderr
 * and resolve to 1.
 *
 * @module
 */
import { readFileIfExists, writeFileAtomic } from "../atomic_file.ts";
import { NodeError } from "../errors.ts";
import { integer, parse, print, required, usage, usageError } from "./_args.ts";

/** Calls one path of the node's API, with its token. */
type Call = (path: string, init?: RequestInit) => Promise<Response>;

/**
 * The caller of the API of `--dir`'s node (at `--api` if given). Refuses (`NodeError`) a
 * directory without `api.token` (`no-token`) or, without `--api`, without `api.json`
 * (`not-running`); the caller refuses a node it cannot reach (`unreachable`).
 */
async function apiOf(args: { dir?: string; api?: string }, command: string): Promise<Call> {
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
  return async (path: string, init: RequestInit = {}) => {
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
}

/**
 * Whether the node answered `res` with an error status; if so, prints `what` and the node's
 * reason (its status and JSON `message`, else the body) on stderr.
 */
async function failed(res: Response, what: string): Promise<boolean> {
  if (res.ok) return false;
  console.error(`${what}: ${await reasonOf(res)}`);
  return true;
}

/** The node's reason: its status and JSON `message`, else the body as is. */
async function reasonOf(res: Response): Promise<string> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { message?: string };
    return `HTTP ${res.status}: ${body.message ?? text}`;
  } catch {
    return `HTTP ${res.status}: ${text}`;
  }
}

/**
 * `fedagg submit`: sends `--file` as this member's update for `--round`; resolves to 0 when the
 * node accepted it, 1 when it refused it. Refuses (throws) bad options, an unreadable file and no
 * node to talk to.
 */
export async function submit(argv: string[]): Promise<number> {
  const args = parse(argv, "submit", {
    string: ["dir", "round", "file", "num-samples", "api"],
    boolean: ["flat"],
  });
  if (args.help) usage("submit");
  const round = integer(required(args, "round", "submit"), "round");
  const samples = integer(required(args, "num-samples", "submit"), "num-samples", 1);
  const file = required(args, "file", "submit");
  const body = await Deno.readFile(file).catch(() => {
    throw new NodeError("no-file", `cannot read ${file}`);
  });
  const call = await apiOf(args, "submit");
  const flat = args.flat ? "&layout=flat" : "";
  const res = await call(`/v1/rounds/${round}/update?num_samples=${samples}${flat}`, {
    method: "POST",
    body,
  });
  if (await failed(res, "submit refused")) return 1;
  const result = await res.json();
  print(
    args.json,
    result,
    `round ${round}: update accepted (${result.format}, ${result.values} values` +
      (result.clipped > 0
        ? `; ${result.clipped} clipped to [-${result.clip}, ${result.clip}])`
        : `, none clipped)`),
  );
  return 0;
}

/**
 * `fedagg aggregate`: writes round `--round`'s aggregate to `--out` (and, with `--certificate`,
 * its final certificate); with `--plain`, the plain weighted mean of the total even under a
 * robust rule (`mean=plain`). Resolves to 0, or 1 when the node has neither yet (a certificate
 * it lacks leaves the aggregate written). Refuses (throws) bad options (`--plain` with
 * `--format sum`, which is no mean) and no node to talk to.
 */
export async function aggregate(argv: string[]): Promise<number> {
  const args = parse(argv, "aggregate", {
    string: ["dir", "round", "out", "format", "certificate", "api"],
    boolean: ["plain"],
  });
  if (args.help) usage("aggregate");
  const round = integer(required(args, "round", "aggregate"), "round");
  const out = required(args, "out", "aggregate");
  const format = args.format ?? "npy";
  if (args.plain && format === "sum") {
    throw usageError("aggregate: --plain picks a mean, and --format sum is the certified body");
  }
  const call = await apiOf(args, "aggregate");
  const res = await call(
    `/v1/rounds/${round}/aggregate?format=${format}${args.plain ? "&mean=plain" : ""}`,
  );
  if (await failed(res, "aggregate unavailable")) return 1;
  await writeFileAtomic(out, new Uint8Array(await res.arrayBuffer()), 0o644);
  const result: Record<string, unknown> = {
    round,
    out,
    view: Number(res.headers.get("x-fedagg-view")),
    final: res.headers.get("x-fedagg-final") === "true",
    members: (res.headers.get("x-fedagg-members") ?? "").split(",").filter((s) => s !== ""),
    ...(res.headers.has("x-fedagg-mean") ? { mean: res.headers.get("x-fedagg-mean") } : {}),
  };
  if (args.certificate !== undefined) {
    const cert = await call(`/v1/rounds/${round}/certificate`);
    if (await failed(cert, "certificate unavailable")) return 1;
    await writeFileAtomic(args.certificate, new Uint8Array(await cert.arrayBuffer()), 0o644);
    result.certificate = args.certificate;
  }
  print(args.json, result, `round ${round}: wrote ${out}${result.final ? " (final)" : ""}`);
  return 0;
}

/**
 * `fedagg status`: prints the node's status; resolves to 0, or 1 when the node answers with an
 * error. Refuses (throws) a missing `--dir` and no node to talk to.
 */
export async function status(argv: string[]): Promise<number> {
  const args = parse(argv, "status", { string: ["dir", "api"] });
  if (args.help) usage("status");
  const call = await apiOf(args, "status");
  const res = await call("/v1/status");
  if (await failed(res, "status unavailable")) return 1;
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
      ...(s.journal === undefined ? [] : [
        `journal    ${(s.journal.bytes / 1e6).toFixed(1)} MB in ${s.journal.rounds} rounds ` +
        `(keeps ${s.journal.keepRounds} rounds, ${(s.journal.keepBytes / 1e6).toFixed(0)} MB${
          s.journal.archiveDir === null ? "" : `; archive ${s.journal.archiveDir}`
        })`,
      ]),
      ...(s.dp === undefined ? [] : [
        `privacy    ε ${Number(s.dp.epsilonSpent.toPrecision(4))} of ${s.dp.epsilonBudget} ` +
        `spent at δ ${s.dp.delta} (${s.dp.roundsCharged} rounds charged, ${s.dp.roundsLeft} left)`,
      ]),
      `roster     ${s.rosterHash ?? "-"} (fedagg ${s.version ?? "-"})`,
      `last error ${s.lastError ?? "-"}`,
    ].join("\n"),
  );
  return 0;
}

/**
 * `fedagg roster adopt`: hands the amendment file `--amendment` to the running node of `--dir`
 * (`POST /v1/roster/amendments`): resolves to 0 when the node adopted it (or keeps it as
 * pending, which it says with what is missing), 1 when it refused it (the node's reason on
 * stderr). Refuses (throws) bad options, an unreadable file and no node to talk to.
 */
export async function adopt(argv: string[]): Promise<number> {
  const args = parse(argv, "roster", { string: ["dir", "amendment", "api"] });
  if (args.help) usage("roster");
  const file = required(args, "amendment", "roster");
  const body = await Deno.readFile(file).catch(() => {
    throw new NodeError("no-file", `cannot read ${file}`);
  });
  const call = await apiOf(args, "roster");
  const res = await call("/v1/roster/amendments", {
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
  });
  if (await failed(res, "amendment refused")) return 1;
  const r = await res.json();
  print(
    args.json,
    r,
    r.status === "adopted"
      ? `adopted: the node runs roster version ${r.version} from round ${r.firstRound}`
      : `pending: version ${r.version} has ${r.approvedBy.length} of ${r.needed} approvals` +
        (r.joinersMissing.length > 0
          ? `; joiners still to sign: ${r.joinersMissing.join(", ")}`
          : ""),
  );
  return 0;
}

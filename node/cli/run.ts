/**
 * `fedagg run`: the long-running node. Starts a {@link FedaggNode} for a member of a roster every
 * member signed, serves the trainer API next to it and stops both on SIGINT or SIGTERM.
 *
 * @module
 */
import { readFileIfExists, writeFileAtomic } from "../atomic_file.ts";
import { serveApi } from "../http_api.ts";
import { loadIdentity } from "../identity.ts";
import { FedaggNode } from "../node.ts";
import { DEFAULT_LISTEN } from "../node_dir.ts";
import { loadRunnableRoster } from "../roster_file.ts";
import { closeUnrefdChannels } from "../shims.ts";
import { integer, list, parse, required, usage, usageError } from "./_args.ts";

/** One JSON log line on stderr. */
function log(level: string, message: string, fields: object = {}): void {
  console.error(JSON.stringify({ t: new Date().toISOString(), level, msg: message, ...fields }));
}

/**
 * Runs the node of `--dir` until SIGINT or SIGTERM, writing the API's URL to `DIR/api.json`;
 * resolves to 0 once the API and the node have stopped. Refuses (throws, before anything starts)
 * missing options, a malformed `--api`, a node directory without identity or token, and a
 * roster this node is not a member of or that not every member signed.
 */
export async function run(argv: string[]): Promise<number> {
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
  const listenAtInit = await initListen(dir);
  const listen = list(args.listen).length > 0 ? list(args.listen) : listenAtInit;
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
  await signalled();
  log("info", "stopping");
  await api.shutdown();
  await node.stop();
  closeUnrefdChannels();
  return 0;
}

/**
 * The listen addresses given at init (`DIR/node.json`), else the default ones. Read even when
 * `--listen` overrides them: a malformed `node.json` fails the start either way.
 */
async function initListen(dir: string): Promise<string[]> {
  const nodeConfig = JSON.parse(new TextDecoder().decode(
    await readFileIfExists(`${dir}/node.json`) ?? new TextEncoder().encode("{}"),
  )) as { listen?: string[] };
  return nodeConfig.listen ?? [...DEFAULT_LISTEN];
}

/** Resolves on the first SIGINT or SIGTERM. */
function signalled(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => resolve();
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  });
}

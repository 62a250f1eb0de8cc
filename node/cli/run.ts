/**
 * `fedagg run`: the long-running node. Checks everything it needs before it joins the mesh —
 * options, identity, the lock on the node directory, the API token, `node.json`, the roster, and
 * that the API and libp2p ports are free, alone and together — then starts a
 * {@link FedaggNode} for a member of a roster every member signed, serves the trainer API next to
 * it and stops both on SIGINT or SIGTERM. Every start-up failure is a `NodeError` (or `ConfigError`) that `mod.ts` prints as one
 * line and maps to exit 2.
 *
 * @module
 */
import { ConfigError } from "../../protocol/mod.ts";
import { writeFileAtomic } from "../atomic_file.ts";
import { lockNodeDir } from "../dir_lock.ts";
import { NodeError } from "../errors.ts";
import { type ApiServer, serveApi } from "../http_api.ts";
import { loadIdentity } from "../identity.ts";
import {
  firstLine,
  type ListenAddress,
  type ListenMultiaddr,
  parseHostPort,
  parseListenMultiaddrs,
  probeListenAll,
  showAddress,
} from "../listen_address.ts";
import { FedaggNode } from "../node.ts";
import { readApiToken, readNodeConfig } from "../node_dir.ts";
import { loadRunnableRoster } from "../roster_file.ts";
import { closeUnrefdChannels } from "../shims.ts";
import { DEFAULT_LOG_LEVEL, jsonLog, parseLogLevel } from "../json_log.ts";
import { DEFAULT_RETENTION, parseByteSize, type RetentionPolicy } from "../journal_retention.ts";
import type { Log } from "../mesh.ts";
import { type MetricsListener, serveMetrics } from "../metrics_listener.ts";
import { integer, list, parse, required, usage } from "./_args.ts";

/** The trainer API's address unless `--api` names one. */
const DEFAULT_API = "127.0.0.1:8421";

/** What `fedagg run` serves and how it logs and keeps its journal, from its options. */
interface RunSettings {
  readonly log: Log;
  /** The token-free scrape listener's address, when `--metrics` asks for one. */
  readonly metrics: ListenAddress | undefined;
  readonly retention: RetentionPolicy;
}

/**
 * Runs the node of `--dir` until SIGINT or SIGTERM, writing the API's URL to `DIR/api.json`;
 * resolves to 0 once the API and the node have stopped and `api.json` is removed. Holds
 * `DIR/lock` (see `dir_lock.ts`) from before anything is read that a running node writes until
 * it returns.
 *
 * Refuses (throws, before the node starts): missing options or a malformed `--api` or
 * `--listen`; a node directory without a valid identity; a directory another process runs
 * (`dir-locked`, naming its PID); a missing or unusable API token (`no-token`, `api-token`); an
 * invalid `node.json` (`node-config-invalid`); a roster this node cannot run; an API or listen
 * address that is taken (`port-in-use`) or cannot be bound, alone or next to the others
 * (`address-invalid`). After the node started, a failure to start or to bind the API (another
 * process took the port after the probe), or to write `api.json`, stops what was started and
 * throws (`port-in-use`, `start-failed`). A SIGINT or SIGTERM that arrives while the node
 * starts stops it cleanly as soon as it has started.
 */
export async function run(argv: string[]): Promise<number> {
  const args = parse(argv, "run", {
    string: [
      "dir",
      "roster",
      "api",
      "listen",
      "metrics",
      "log-level",
      "keep-rounds",
      "keep-bytes",
      "archive",
      "peer-loss-grace",
    ],
    collect: ["listen"],
  });
  if (args.help) usage("run");
  const peerLossGraceMs = args["peer-loss-grace"] === undefined
    ? undefined
    : integer(args["peer-loss-grace"], "peer-loss-grace");
  const dir = required(args, "dir", "run");
  const rosterPath = required(args, "roster", "run");
  const apiAddress = parseHostPort(args.api ?? DEFAULT_API, "--api");
  const settings: RunSettings = {
    log: jsonLog(parseLogLevel(args["log-level"] ?? DEFAULT_LOG_LEVEL)),
    metrics: args.metrics === undefined ? undefined : parseHostPort(args.metrics, "--metrics"),
    retention: {
      keepRounds: args["keep-rounds"] === undefined
        ? DEFAULT_RETENTION.keepRounds
        : integer(args["keep-rounds"], "keep-rounds", 1),
      keepBytes: args["keep-bytes"] === undefined
        ? DEFAULT_RETENTION.keepBytes
        : parseByteSize(args["keep-bytes"], "--keep-bytes"),
      archiveDir: args.archive === "" ? undefined : args.archive,
    },
  };
  const { log } = settings;
  const listenOption = list(args.listen);
  const listenOverride = listenOption.length > 0
    ? parseListenMultiaddrs(listenOption, "--listen", "address-invalid")
    : undefined;
  const identity = await loadIdentity(dir);
  const lock = await lockNodeDir(dir);
  try {
    const token = await readApiToken(dir);
    // Read even when --listen overrides it: a malformed node.json fails the start either way.
    const config = await readNodeConfig(dir);
    const listen = listenOverride ?? config.listen;
    const { file, roster, index } = await loadRunnableRoster(rosterPath, identity.peerId, {
      joining: true, // a member added by an amendment in DIR/amendments/ (checked at start)
    });
    checkFree(apiAddress, listen, settings.metrics);
    // Listened for from here on: a SIGTERM while the node starts stops it cleanly once started.
    const stop = signalled();
    try {
      return await serve(dir, token, apiAddress, settings, () =>
        FedaggNode.start({
          dir,
          identity,
          rosterFile: file,
          roster,
          index,
          listen: listen.map((l) => l.multiaddr),
          log,
          retention: settings.retention,
          peerLossGraceMs,
        }), stop.signal);
    } finally {
      stop.dispose();
    }
  } finally {
    lock.release();
  }
}

/**
 * Starts the node (`start`), then the trainer API on `apiAddress`, writes `DIR/api.json` and
 * runs until `signal` resolves; resolves to 0 once both have stopped and `api.json` is removed.
 * When `api.json` cannot be written, stops the API and the node, then throws `start-failed`
 * naming the file. See {@link run} for what else it throws.
 */
async function serve(
  dir: string,
  token: string,
  apiAddress: ListenAddress,
  settings: RunSettings,
  start: () => Promise<FedaggNode>,
  signal: Promise<void>,
): Promise<number> {
  const { log } = settings;
  const node = await startNode(start);
  let api: ApiServer;
  let scrape: MetricsListener | undefined;
  try {
    api = await serveApi(node, { ...apiAddress, token, log });
  } catch (err) {
    // Taken between the probe and now (or refused for another reason): the node has joined
    // the mesh already, so it leaves it cleanly before the process reports and exits.
    await node.stop().catch(() => {});
    closeUnrefdChannels();
    throw bindFailure(err, `the trainer API address ${showAddress(apiAddress)} (--api)`);
  }
  if (settings.metrics !== undefined) {
    try {
      scrape = serveMetrics(node, settings.metrics);
    } catch (err) {
      await api.shutdown().catch(() => {});
      await node.stop().catch(() => {});
      closeUnrefdChannels();
      throw bindFailure(
        err,
        `the metrics address ${showAddress(settings.metrics)} (--metrics)`,
      );
    }
    log("info", "metrics listening (no token, GET /metrics only)", {
      url: `${scrape.url}/metrics`,
    });
  }
  const stopBoth = async () => {
    await scrape?.shutdown().catch(() => {});
    await api.shutdown().catch(() => {});
    await node.stop().catch(() => {});
    closeUnrefdChannels();
  };
  const apiJson = `${dir}/api.json`;
  try {
    await writeFileAtomic(apiJson, JSON.stringify({ url: api.url, pid: Deno.pid }) + "\n", 0o600);
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    log("error", "cannot write api.json; stopping", { error: firstLine(text) });
    await stopBoth();
    throw new NodeError("start-failed", `cannot write ${apiJson}: ${firstLine(text)}`);
  }
  log("info", "trainer API listening", { url: api.url });
  await signal;
  log("info", "stopping");
  await stopBoth();
  // The URL names a server that is gone: a client reading it must not find it.
  await Deno.remove(apiJson).catch(() => {});
  return 0;
}

/**
 * Refuses (see `probeListenAll`) a libp2p listen or API address that cannot be bound now, and
 * two of them that cannot be bound together (in the order the node binds them: libp2p first).
 */
function checkFree(
  api: ListenAddress,
  listen: readonly ListenMultiaddr[],
  metrics: ListenAddress | undefined,
): void {
  probeListenAll([
    ...listen.map((l): [ListenAddress, string] => [l, `the libp2p listen address ${l.multiaddr}`]),
    [api, `the trainer API address ${showAddress(api)} (--api)`],
    ...(metrics === undefined
      ? []
      : [[metrics, `the metrics address ${showAddress(metrics)} (--metrics)`] as [
        ListenAddress,
        string,
      ]]),
  ]);
}

/**
 * The node `start` resolves to. A failure is rethrown as a one-line NodeError (a NodeError or
 * ConfigError is rethrown as it is): `port-in-use` when a listen port was taken after the probe,
 * else `start-failed` with the error's name and first line. `FedaggNode.start` has stopped
 * whatever it had started by then.
 */
async function startNode(start: () => Promise<FedaggNode>): Promise<FedaggNode> {
  try {
    return await start();
  } catch (err) {
    if (err instanceof NodeError || err instanceof ConfigError) throw err;
    closeUnrefdChannels();
    throw bindFailure(err, "a libp2p listen address");
  }
}

/** `err`, a failure to bind `what` or to start, as a one-line NodeError. */
function bindFailure(err: unknown, what: string): NodeError {
  if (err instanceof NodeError) return err;
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  if (err instanceof Deno.errors.AddrInUse || /EADDRINUSE|address already in use/i.test(text)) {
    return new NodeError(
      "port-in-use",
      `${what} is in use by another process (taken after the start-up check): stop it or ` +
        `choose another port`,
    );
  }
  return new NodeError("start-failed", `the node could not start: ${firstLine(text)}`);
}

/**
 * `signal` resolves on the first SIGINT or SIGTERM from now on (which then no longer end the
 * process by themselves); `dispose` removes the listeners.
 */
function signalled(): { signal: Promise<void>; dispose(): void } {
  let stop = () => {};
  const signal = new Promise<void>((resolve) => stop = resolve);
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  return {
    signal,
    dispose() {
      Deno.removeSignalListener("SIGINT", stop);
      Deno.removeSignalListener("SIGTERM", stop);
    },
  };
}

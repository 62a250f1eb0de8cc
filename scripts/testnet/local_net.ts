/**
 * A local federation of real `fedagg run` processes on loopback, for the test network
 * (`scripts/testnet.ts`) and the multi-process tests. Each process runs the entry point under
 * `deno run` with exactly the compiled binary's permissions (`scripts/permissions.ts`).
 *
 * @module
 */
import type { NodeIdentity } from "../../node/identity.ts";
import { initNodeDir } from "../../node/node_dir.ts";
import {
  addMember,
  checkRosterFile,
  DEFAULT_PARAMETERS,
  newRosterFile,
  type RosterParameters,
  signRoster,
  writeRosterFile,
} from "../../node/roster_file.ts";
import { labelledRng, leaderOf, type Roster } from "../../protocol/mod.ts";
import { encodeNpy, parseUpdate } from "../../node/tensor_formats/mod.ts";
import { nodeCommand } from "../permissions.ts";

/** The repository root (where `mod.ts` is). */
export const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/** One member's process. */
export interface LocalNode {
  /** Its PeerId (roster member id). */
  readonly id: string;
  /** `node-<k>` in creation order. */
  readonly name: string;
  readonly dir: string;
  readonly apiPort: number;
  /** The TCP port its process listens on for members (its `node.json`). */
  readonly listenPort: number;
  /**
   * The TCP port the roster lists for it (its card): {@link listenPort}, or a proxy's port
   * that forwards there when the network was created with `proxied`.
   */
  readonly rosterPort: number;
  readonly token: string;
  readonly url: string;
  child: Deno.ChildProcess | undefined;
}

/** What the status endpoint returns (the fields the drivers use). */
export interface NodeStatusJson {
  peerId: string;
  peers: { connected: number; members: number };
  round: number | null;
  view: number | null;
  stage: string | null;
  lastFinalRound: number | null;
  lastError: string | null;
  leading: { round: number; view: number; stage: string } | null;
  traffic: { bytesSent: number; bytesReceived: number };
  peakRssBytes: number;
  peakHeapUsedBytes: number;
  peakExternalBytes: number;
}

/** Ports this process handed out already (never handed out twice). */
const handedOut = new Set<number>();

/** The lowest port of the kernel's ephemeral range (outgoing connections take theirs from it). */
function ephemeralLow(): number {
  try {
    const low = Number(
      Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range").split(/\s+/)[0],
    );
    if (Number.isSafeInteger(low) && low > 12_000) return low;
  } catch {
    // no /proc: the Linux default
  }
  return 32_768;
}

/**
 * A TCP port of 127.0.0.1 free right now, chosen at random *below* the kernel's ephemeral range.
 * A port the system picks for `port: 0` comes from the ephemeral range, the same range outgoing
 * connections take their source ports from: between handing such a port out and the node binding
 * it, a dial of another node can take it, and that node then never listens (the flake that
 * stalled a CI run at "waiting for node-0 to connect to every member"). Ports below the range are
 * never taken by outgoing connections. Never returns the same port twice in one process.
 */
export function freePort(): number {
  const low = 10_000;
  const high = ephemeralLow();
  for (let attempt = 0; attempt < 1000; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (handedOut.has(port)) continue;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
    } catch {
      continue; // held by someone else
    }
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port found in ${low}–${high - 1}`);
}

/** Seeded synthetic updates (values in [−1, 1)) and weights (1–100), one per roster index. */
export interface SyntheticInputs {
  readonly values: readonly Float32Array[];
  readonly weights: readonly number[];
}

/**
 * The updates and weights of one round, deterministic for (`label`, `seed`, `round`): `count`
 * vectors of length `dim` with values in [−1, 1) and weights in 1–100.
 */
export function syntheticInputs(
  label: string,
  seed: number,
  round: number,
  count: number,
  dim: number,
): SyntheticInputs {
  const rng = labelledRng(label, seed, round);
  const values: Float32Array[] = [];
  const weights: number[] = [];
  for (let i = 0; i < count; i++) {
    const raw = new Uint32Array(rng(4 * dim).buffer);
    values.push(new Float32Array(dim).map((_, j) => raw[j] / 2 ** 32 * 2 - 1));
    weights.push(1 + (rng(1)[0] % 100));
  }
  return { values, weights };
}

/** A final certificate as checked by {@link LocalNet.checkFinal}: its view and member ids. */
export interface CheckedFinal {
  readonly view: number;
  readonly members: readonly string[];
}

/** A set of member processes sharing one signed roster. */
export class LocalNet {
  readonly out: string;
  readonly roster: Roster;
  readonly nodes: readonly LocalNode[];
  readonly rosterPath: string;
  /** Nodes stopped with SIGSTOP by {@link pause} and not yet continued. */
  readonly paused: Set<LocalNode> = new Set();

  private constructor(out: string, roster: Roster, nodes: LocalNode[]) {
    this.out = out;
    this.roster = roster;
    this.nodes = nodes;
    this.rosterPath = `${out}/roster.json`;
  }

  /**
   * Creates `count` node directories (through `initNodeDir`, as `fedagg init` does) and a roster
   * signed by every member in `out` (as `fedagg roster` would), without starting anything. With
   * `proxied`, each member's card (and so the roster) announces a port of its own other than the
   * one the member listens on, for a proxy to forward (see {@link routes}).
   */
  static async create(
    out: string,
    count: number,
    parameters: Partial<RosterParameters> & Pick<RosterParameters, "dim">,
    options: { proxied?: boolean } = {},
  ): Promise<LocalNet> {
    await Deno.mkdir(out, { recursive: true });
    const identities: NodeIdentity[] = [];
    const nodes: LocalNode[] = [];
    let file = newRosterFile({ ...DEFAULT_PARAMETERS, federation: "testnet", ...parameters });
    for (let i = 0; i < count; i++) {
      const name = `node-${i}`;
      const dir = `${out}/${name}`;
      const listenPort = freePort();
      const rosterPort = options.proxied ? freePort() : listenPort;
      const { identity, token, card } = await initNodeDir(dir, {
        listen: [`/ip4/127.0.0.1/tcp/${listenPort}`],
        announce: [`/ip4/127.0.0.1/tcp/${rosterPort}`],
      });
      file = addMember(file, card);
      identities.push(identity);
      const apiPort = freePort();
      nodes.push({
        id: identity.peerId,
        name,
        dir,
        apiPort,
        listenPort,
        rosterPort,
        token,
        url: `http://127.0.0.1:${apiPort}`,
        child: undefined,
      });
    }
    for (const identity of identities) file = await signRoster(file, identity);
    await writeRosterFile(`${out}/roster.json`, file);
    const check = await checkRosterFile(file);
    if (!check.complete) throw new Error("the roster is not signed by every member");
    return new LocalNet(out, check.roster, nodes);
  }

  /**
   * Where a proxy must forward for the roster's addresses to reach the members: one route per
   * node whose roster port differs from its listen port (all of them when created `proxied`).
   */
  routes(): { listenPort: number; targetPort: number }[] {
    return this.nodes.filter((n) => n.rosterPort !== n.listenPort).map((n) => ({
      listenPort: n.rosterPort,
      targetPort: n.listenPort,
    }));
  }

  /** The process of roster member `index`. */
  node(index: number): LocalNode {
    const id = this.roster.members[index].id;
    return this.nodes.find((n) => n.id === id)!;
  }

  /** Roster index of a node. */
  index(node: LocalNode): number {
    return this.roster.indexOf(node.id)!;
  }

  /**
   * Starts a member's `fedagg run` process (its stderr goes to `DIR/node.log`). The child gets
   * this process's environment without any `FEDAGG_CRASH_*` variable (crash points are armed
   * only on purpose), plus `options.env`; `options.args` are more options of `fedagg run`, and
   * `options.denoFlags` more flags of `deno run` itself (e.g. `--cpu-prof`), placed before the
   * entry point.
   */
  async start(
    node: LocalNode,
    options: {
      env?: Record<string, string>;
      args?: readonly string[];
      denoFlags?: readonly string[];
    } = {},
  ): Promise<void> {
    if (node.child !== undefined) return;
    await Deno.remove(`${node.dir}/api.json`).catch(() => {});
    const log = await Deno.open(`${node.dir}/node.log`, { create: true, append: true });
    const env = Object.fromEntries(
      Object.entries(Deno.env.toObject()).filter(([k]) => !k.startsWith("FEDAGG_CRASH_")),
    );
    const [run, ...rest] = nodeCommand(ROOT);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        run,
        ...options.denoFlags ?? [],
        ...rest,
        "run",
        "--dir",
        node.dir,
        "--roster",
        this.rosterPath,
        "--api",
        `127.0.0.1:${node.apiPort}`,
        ...options.args ?? [],
      ],
      clearEnv: true,
      env: { ...env, ...options.env },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // Chunk by chunk, so the log can be read while the node runs (a file's writable stream
    // holds its writes until it closes).
    (async () => {
      try {
        for await (const chunk of child.stderr) {
          for (let n = 0; n < chunk.length;) n += await log.write(chunk.subarray(n));
        }
      } catch {
        // the node's stderr or the log file closed
      } finally {
        log.close();
      }
    })();
    node.child = child;
  }

  /**
   * Resolves when a member's process exits on its own (or is stopped), with its status; the node
   * then counts as stopped ({@link start} starts it again). Undefined if it is not running.
   */
  async exited(node: LocalNode): Promise<Deno.CommandStatus | undefined> {
    const child = node.child;
    if (child === undefined) return undefined;
    const status = await child.status;
    if (node.child === child) node.child = undefined;
    return status;
  }

  /**
   * PIDs of processes still running whose command line names this network's directory (a
   * `fedagg run` left behind), from `/proc`; empty where `/proc` cannot be read.
   */
  async strays(): Promise<number[]> {
    const found: number[] = [];
    try {
      for await (const e of Deno.readDir("/proc")) {
        const pid = Number(e.name);
        if (!Number.isSafeInteger(pid) || pid === Deno.pid) continue;
        try {
          const cmd = await Deno.readTextFile(`/proc/${pid}/cmdline`);
          if (cmd.includes(`${this.out}/`)) found.push(pid);
        } catch {
          // gone, or not ours to read
        }
      }
    } catch {
      // no /proc
    }
    return found;
  }

  /**
   * Stops a member's process (SIGTERM: graceful; SIGKILL: a crash); one that has not exited
   * `graceMs` after the signal is killed with SIGKILL.
   */
  async stop(node: LocalNode, signal: Deno.Signal = "SIGTERM", graceMs = 5000): Promise<void> {
    const child = node.child;
    if (child === undefined) return;
    node.child = undefined;
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
    const force = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }, graceMs);
    await child.status;
    clearTimeout(force);
  }

  /**
   * Freezes a member's process with SIGSTOP (it keeps its sockets but answers nothing) until
   * {@link resume}. Does nothing to a node that is not running.
   */
  pause(node: LocalNode): void {
    if (node.child === undefined) return;
    node.child.kill("SIGSTOP");
    this.paused.add(node);
  }

  /** Continues a process frozen by {@link pause} (SIGCONT); does nothing to any other. */
  resume(node: LocalNode): void {
    if (!this.paused.delete(node)) return;
    try {
      node.child?.kill("SIGCONT");
    } catch {
      // already gone
    }
  }

  /** Stops every process (continuing the paused ones first). Safe to call more than once. */
  async stopEverything(): Promise<void> {
    for (const n of [...this.paused]) this.resume(n);
    await this.stopAll();
  }

  /** Stops every process (see {@link stop} for `graceMs`). Safe to call more than once. */
  async stopAll(graceMs = 5000): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.stop(n, "SIGTERM", graceMs)));
  }

  /** An authenticated request to a node's API. */
  async api(node: LocalNode, path: string, init: RequestInit = {}): Promise<Response> {
    return await fetch(`${node.url}${path}`, {
      ...init,
      headers: { ...init.headers, authorization: `Bearer ${node.token}` },
      signal: AbortSignal.timeout(60_000),
    });
  }

  /** A node's status, or undefined if it does not answer. */
  async status(node: LocalNode): Promise<NodeStatusJson | undefined> {
    try {
      const res = await this.api(node, "/v1/status");
      if (res.ok) return await res.json();
      await res.body?.cancel();
    } catch {
      // not up (yet)
    }
    return undefined;
  }

  /**
   * Follows a node's `/v1/events` stream (server-sent events), calling `listener` with each
   * event's type and JSON data; reconnects whenever the stream ends or the node is down (so a
   * restarted node is followed again), every 200 ms, until the returned function is called.
   * Events a node emits while no stream is open (before its API is up) are not seen.
   */
  follow(
    node: LocalNode,
    listener: (type: string, data: Record<string, unknown>) => void,
  ): () => void {
    const abort = new AbortController();
    const loop = async () => {
      while (!abort.signal.aborted) {
        try {
          const res = await fetch(`${node.url}/v1/events`, {
            headers: { authorization: `Bearer ${node.token}` },
            signal: abort.signal,
          });
          if (res.ok && res.body !== null) {
            let buffer = "";
            for await (const chunk of res.body.pipeThrough(new TextDecoderStream())) {
              buffer += chunk;
              let end: number;
              while ((end = buffer.indexOf("\n\n")) >= 0) {
                const block = buffer.slice(0, end);
                buffer = buffer.slice(end + 2);
                const type = /^event: (.*)$/m.exec(block)?.[1];
                const data = /^data: (.*)$/m.exec(block)?.[1];
                if (type !== undefined && data !== undefined) listener(type, JSON.parse(data));
              }
            }
          } else await res.body?.cancel();
        } catch {
          // down, restarting, or stopped
        }
        if (!abort.signal.aborted) await new Promise((r) => setTimeout(r, 200));
      }
    };
    loop();
    return () => abort.abort();
  }

  /** Waits until `node` is up and connected to every other member. */
  async connected(node: LocalNode, timeoutMs = 60_000): Promise<void> {
    let last: NodeStatusJson | undefined;
    try {
      await waitFor(`${node.name} to connect to every member`, async () => {
        last = await this.status(node);
        return last?.peers.connected === this.nodes.length - 1 ? true : undefined;
      }, timeoutMs);
    } catch (e) {
      // Say what was seen: the node's last status and the tail of every node's log.
      const logs: string[] = [];
      for (const n of this.nodes) {
        const text = await Deno.readTextFile(`${n.dir}/node.log`).catch(() => "(no log)");
        const running = n.child === undefined ? "not running" : "running";
        logs.push(`--- ${n.name} (${running}):\n${text.split("\n").slice(-15).join("\n")}`);
      }
      const seen = last === undefined ? "no status" : `peers ${JSON.stringify(last.peers)}`;
      throw new Error(`${(e as Error).message} (${seen})\n${logs.join("\n")}`);
    }
  }

  /**
   * Starts `round` and kills `victims` (roster indices) in the middle of it, deterministically:
   * every member but one late one submits (through `submit`), the leader waits in its first
   * stage for the straggler (up to advertiseTimeoutMs), and the victims are killed there with
   * SIGKILL once the leader's status shows it leading the round and each victim's shows it in
   * the round (its participant has entered the advertise stage and handed its advert to the
   * mesh; whether the advert reached the leader is not awaited); then the straggler submits.
   * Without victims everyone submits at once.
   */
  async submitAndKill(
    round: number,
    victims: readonly number[],
    submit: (members: readonly number[]) => Promise<void>,
  ): Promise<void> {
    const all = this.roster.members.map((_, i) => i);
    if (victims.length === 0) return await submit(all);
    const leader = leaderOf(this.roster, round, 0);
    const late = all.find((i) => i !== leader && !victims.includes(i));
    if (late === undefined) throw new Error("no member left to submit late");
    await submit(all.filter((i) => i !== late));
    await waitFor(`the leader to collect round ${round}'s adverts`, async () => {
      const s = await this.status(this.node(leader));
      return s?.leading?.round === round ? true : undefined;
    }, 60_000);
    await Promise.all(
      victims.map((v) =>
        waitFor(`${this.node(v).name} to enter round ${round}`, async () => {
          const s = await this.status(this.node(v));
          return s?.round === round ? true : undefined;
        }, 60_000)
      ),
    );
    await Promise.all(victims.map((v) => this.stop(this.node(v), "SIGKILL")));
    await submit([late]);
  }

  /**
   * Submits an update to `round` through a node's API (as npy, with `weight` samples): the HTTP
   * status and body, or undefined if the node did not answer (down, frozen past `timeoutMs`, or
   * killed while answering).
   */
  async submitUpdate(
    node: LocalNode,
    round: number,
    values: Float32Array,
    weight: number,
    timeoutMs = 60_000,
  ): Promise<{ status: number; text: string } | undefined> {
    try {
      const res = await fetch(`${node.url}/v1/rounds/${round}/update?num_samples=${weight}`, {
        method: "POST",
        body: encodeNpy(values),
        headers: { "content-type": "application/x-npy", authorization: `Bearer ${node.token}` },
        signal: AbortSignal.timeout(timeoutMs),
      });
      return { status: res.status, text: await res.text() };
    } catch {
      return undefined;
    }
  }

  /**
   * Whether a node serves a final certificate for `round` (`GET /v1/rounds/R/certificate` is 200);
   * undefined if the node does not answer within `timeoutMs`.
   */
  async holdsFinal(node: LocalNode, round: number, timeoutMs = 5000): Promise<boolean | undefined> {
    try {
      const res = await fetch(`${node.url}/v1/rounds/${round}/certificate`, {
        headers: { authorization: `Bearer ${node.token}` },
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body?.cancel();
      return res.status === 200;
    } catch {
      return undefined;
    }
  }

  /**
   * Checks the final certificate of `round` as every node in `holders` serves it: they all serve
   * the same view and member list, `fedagg verify` accepts the certificate with the aggregate and
   * the mean (saved in `dir`), it lists no member twice, and the mean equals the weighted mean of
   * exactly the listed members' `inputs` within the roster's quantization bound (so no input is
   * missing or counted twice). Returns the view and members, or why it is bad.
   */
  async checkFinal(
    round: number,
    holders: readonly LocalNode[],
    inputs: SyntheticInputs,
    dir: string,
  ): Promise<CheckedFinal | { bad: string }> {
    if (holders.length === 0) return { bad: "no node holds a final certificate" };
    await Deno.mkdir(dir, { recursive: true });
    let agreed: CheckedFinal | undefined;
    for (const n of holders) {
      const sum = await this.api(n, `/v1/rounds/${round}/aggregate?format=sum`);
      if (!sum.ok) return { bad: `${n.name} holds a final round but serves ${sum.status}` };
      const view = Number(sum.headers.get("x-fedagg-view"));
      const members = (sum.headers.get("x-fedagg-members") ?? "").split(",").filter((m) =>
        m !== ""
      );
      await sum.body?.cancel();
      if (agreed === undefined) agreed = { view, members };
      else if (agreed.view !== view || agreed.members.join() !== members.join()) {
        return { bad: `nodes disagree on the final aggregate (${n.name}: view ${view})` };
      }
    }
    const source = holders[0];
    const fetchTo = async (path: string, file: string) => {
      const res = await this.api(source, path);
      if (!res.ok) throw new Error(`${path} at ${source.name}: ${res.status}`);
      await Deno.writeFile(`${dir}/${file}`, new Uint8Array(await res.arrayBuffer()));
    };
    await fetchTo(`/v1/rounds/${round}/certificate`, "certificate.cbor");
    await fetchTo(`/v1/rounds/${round}/aggregate?format=sum`, "aggregate.sum");
    await fetchTo(`/v1/rounds/${round}/aggregate?format=npy`, "aggregate.npy");
    const verify = await this.cli([
      "verify",
      "--certificate",
      `${dir}/certificate.cbor`,
      "--aggregate",
      `${dir}/aggregate.sum`,
      "--mean",
      `${dir}/aggregate.npy`,
      "--roster",
      this.rosterPath,
      "--json",
    ]);
    if (verify.code !== 0) {
      return { bad: `fedagg verify: ${verify.stdout}${verify.stderr}`.trim() };
    }
    const verified = JSON.parse(verify.stdout) as { view: number; members: string[] };
    if (verified.members.join() !== agreed!.members.join() || verified.view !== agreed!.view) {
      return { bad: "the served member list is not the certificate's" };
    }
    if (new Set(verified.members).size !== verified.members.length) {
      return { bad: "the certificate lists a member twice" };
    }
    const q = this.roster.quantization;
    const listed = verified.members.map((id) => this.roster.indexOf(id)!);
    const mean = parseUpdate(await Deno.readFile(`${dir}/aggregate.npy`), this.roster.dim, "npy")
      .values;
    const wsum = listed.reduce((a, m) => a + inputs.weights[m], 0);
    for (let j = 0; j < this.roster.dim; j++) {
      let acc = 0;
      for (const m of listed) {
        acc += inputs.weights[m] * Math.max(-q.clip, Math.min(q.clip, inputs.values[m][j]));
      }
      if (Math.abs(mean[j] - acc / wsum) > q.errorBound) {
        return { bad: `the aggregate is not the mean of the listed members' inputs (at ${j})` };
      }
    }
    return { view: verified.view, members: verified.members };
  }

  /** Runs the entry point's CLI with the binary's permissions; resolves to code and output. */
  async cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [...nodeCommand(ROOT), ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const d = new TextDecoder();
    return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
  }
}

/** Polls `fn` every 100 ms until it returns a value, or throws after `ms`. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  ms: number,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

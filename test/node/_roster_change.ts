/**
 * The harness of the live roster-change tests: a {@link LocalNet} federation of real `fedagg run`
 * processes whose rounds run one after another while amendments are proposed (the CLI),
 * signed (in-process, as `roster sign` does, with each member's no-fork record), delivered to
 * the running nodes (`POST /v1/roster/amendments`) and, for members that join, put in the new
 * node's `DIR/amendments/` before it starts. Every round is checked: each member of the round's
 * version serves the same final aggregate, it lists exactly the members that submitted, its
 * mean is their weighted mean within the quantization bound, and `fedagg verify` accepts it
 * from the genesis roster through the amendments.
 */
import { assert, assertEquals } from "../_assert.ts";
import { loadIdentity } from "../../node/identity.ts";
import { initNodeDir } from "../../node/node_dir.ts";
import {
  loadChain,
  readAmendmentFile,
  signAmendmentFile,
  writeAmendmentFile,
} from "../../node/amendment_file.ts";
import { amendmentDir } from "../../node/amendment_dir.ts";
import { encodeNpy, parseUpdate } from "../../node/tensor_formats/mod.ts";
import { freePort, LocalNet, type LocalNode, waitFor } from "../../scripts/testnet/local_net.ts";

/** Generous timeouts: members answer at once; these only matter when something is lost. */
export const PARAMETERS = {
  dim: 33,
  maxWeight: 10,
  advertiseTimeoutMs: 5_000,
  stageTimeoutMs: 10_000,
  viewTimeoutMs: 20_000,
};

/** The update member `id` submits to `round`, and its weight. */
function updateOf(id: string, round: number): { values: Float32Array; weight: number } {
  let seed = round * 131;
  for (const c of id) seed = (seed * 31 + c.charCodeAt(0)) % 100_003;
  const values = new Float32Array(PARAMETERS.dim).map((_, j) => Math.sin(seed + j * 1.7) * 0.9);
  return { values, weight: 1 + (seed % 5) };
}

/** An answer of `POST /v1/roster/amendments` (an adoption, or a refusal). */
export interface Answer {
  readonly status?: string;
  readonly version?: number;
  readonly firstRound?: number;
  readonly reason?: string;
  readonly message?: string;
  readonly joinersMissing?: readonly string[];
}

/** A federation whose rounds run while its roster changes. */
export class ChangingNet {
  readonly net: LocalNet;
  /** Every process by name, genesis members first (`m0`, `m1`, …). */
  readonly nodes = new Map<string, LocalNode>();
  /** The amendment files, in chain order. */
  readonly amendments: string[] = [];
  /** What each round checked: its members (ids) and the files `fedagg verify` reads. */
  readonly rounds = new Map<number, { members: string[]; dir: string; version: number }>();

  private constructor(net: LocalNet) {
    this.net = net;
    net.nodes.forEach((n, i) => this.nodes.set(`m${i}`, n));
  }

  /** `count` genesis members, started and connected. */
  static async start(out: string, count: number): Promise<ChangingNet> {
    const net = await LocalNet.create(out, count, PARAMETERS);
    const c = new ChangingNet(net);
    for (const n of net.nodes) await net.start(n);
    for (const n of net.nodes) await c.connected(n, count - 1);
    return c;
  }

  /** A node directory for a member that is not in the roster yet (not started). */
  async newMember(name: string): Promise<LocalNode> {
    const dir = `${this.net.out}/${name}`;
    const listenPort = freePort();
    const { identity, token } = await initNodeDir(dir, {
      listen: [`/ip4/127.0.0.1/tcp/${listenPort}`],
      announce: [`/ip4/127.0.0.1/tcp/${listenPort}`],
      name,
    });
    const apiPort = freePort();
    const node: LocalNode = {
      id: identity.peerId,
      name,
      dir,
      apiPort,
      listenPort,
      rosterPort: listenPort,
      token,
      url: `http://127.0.0.1:${apiPort}`,
      child: undefined,
    };
    this.nodes.set(name, node);
    return node;
  }

  /** Waits until `node` is connected to `peers` members. */
  async connected(node: LocalNode, peers: number): Promise<void> {
    await waitFor(`${node.name} to connect to ${peers} members`, async () => {
      const s = await this.net.status(node);
      return s?.peers.connected === peers ? true : undefined;
    }, 90_000);
  }

  /** Waits until `node` is no longer connected to `other` (and stays refused: it redials). */
  async notConnected(node: LocalNode, other: LocalNode): Promise<void> {
    await waitFor(`${node.name} to close ${other.name}'s connection`, async () => {
      const s = await this.net.status(node) as unknown as { peers: { ids: string[] } } | undefined;
      return s !== undefined && !s.peers.ids.includes(other.id) ? true : undefined;
    }, 90_000);
  }

  /**
   * Proposes an amendment of the chain so far (`fedagg roster propose` with `changes`, from
   * `firstRound`) into `name`.json and returns its path; `signers` (node directories) sign it
   * in-process as `roster sign` does. Unsigned when `signers` is empty.
   */
  async propose(
    name: string,
    firstRound: number,
    changes: readonly string[],
    signers: readonly LocalNode[],
  ): Promise<string> {
    const path = `${this.net.out}/${name}.json`;
    const chain = [
      "--roster",
      this.net.rosterPath,
      ...this.amendments.flatMap((a) => ["--amendment", a]),
    ];
    const run = await this.net.cli([
      "roster",
      "propose",
      ...chain,
      "--out",
      path,
      "--first-round",
      String(firstRound),
      ...changes,
    ]);
    assertEquals(run.code, 0, run.stderr);
    if (signers.length === 0) return path;
    const loaded = await loadChain(this.net.rosterPath, this.amendments);
    let file = await readAmendmentFile(path);
    for (const s of signers) {
      ({ file } = await signAmendmentFile(loaded, file, await loadIdentity(s.dir), s.dir));
    }
    await writeAmendmentFile(path, file);
    return path;
  }

  /** Delivers amendment `path` to running nodes: answers' statuses and bodies. */
  async deliver(
    path: string,
    to: readonly LocalNode[],
  ): Promise<{ status: number; body: Answer }[]> {
    const text = await Deno.readTextFile(path);
    return await Promise.all(to.map(async (n) => {
      const res = await this.net.api(n, "/v1/roster/amendments", {
        method: "POST",
        body: text,
        headers: { "content-type": "application/json" },
      });
      return { status: res.status, body: await res.json() };
    }));
  }

  /** Puts the amendments so far into `node`'s `DIR/amendments/` (before it starts). */
  async handChain(node: LocalNode): Promise<void> {
    await Deno.mkdir(amendmentDir(node.dir), { recursive: true });
    for (const [i, a] of this.amendments.entries()) {
      await Deno.copyFile(a, `${amendmentDir(node.dir)}/${i}.json`);
    }
  }

  /**
   * Runs `round` with `members` (the round's version's members): each submits its update, and
   * the round is awaited final at all of them; then checked (see the module doc). `during` runs
   * once every update was accepted, while the round is in flight.
   */
  async round(
    round: number,
    version: number,
    members: readonly LocalNode[],
    during?: () => Promise<void>,
  ): Promise<void> {
    await Promise.all(members.map(async (n) => {
      const { values, weight } = updateOf(n.id, round);
      const res = await this.net.api(n, `/v1/rounds/${round}/update?num_samples=${weight}`, {
        method: "POST",
        body: encodeNpy(values),
        headers: { "content-type": "application/x-npy" },
      });
      assertEquals(res.status, 202, `${n.name} round ${round}: ${await res.text()}`);
    }));
    await during?.();
    await Promise.all(members.map((n) =>
      waitFor(`round ${round} final at ${n.name}`, async () => {
        const s = await this.net.status(n);
        return s !== undefined && s.lastFinalRound !== null && s.lastFinalRound >= round
          ? true
          : undefined;
      }, 120_000)
    ));
    await this.#check(round, version, members);
  }

  /** Every member serves one final aggregate: exactly the submitters', their weighted mean. */
  async #check(round: number, version: number, members: readonly LocalNode[]): Promise<void> {
    const dir = `${this.net.out}/round-${round}`;
    await Deno.mkdir(dir, { recursive: true });
    let listed: string[] | undefined;
    for (const n of members) {
      const sum = await this.net.api(n, `/v1/rounds/${round}/aggregate?format=sum`);
      assertEquals(sum.status, 200, `${n.name} round ${round}`);
      const ids = (sum.headers.get("x-fedagg-members") ?? "").split(",");
      if (listed === undefined) {
        listed = ids;
        await Deno.writeFile(`${dir}/sum`, new Uint8Array(await sum.arrayBuffer()));
      } else {
        assertEquals(ids, listed, `${n.name} serves another member list for round ${round}`);
        await sum.body?.cancel();
      }
    }
    assertEquals(
      [...listed!].sort(),
      members.map((n) => n.id).sort(),
      `round ${round}: the aggregate is not exactly the submitters'`,
    );
    const source = members[0];
    const cert = await this.net.api(source, `/v1/rounds/${round}/certificate`);
    assertEquals(cert.status, 200);
    await Deno.writeFile(`${dir}/cert`, new Uint8Array(await cert.arrayBuffer()));
    const npy = await this.net.api(source, `/v1/rounds/${round}/aggregate?format=npy`);
    assertEquals(npy.status, 200);
    const bytes = new Uint8Array(await npy.arrayBuffer());
    await Deno.writeFile(`${dir}/mean.npy`, bytes);
    const mean = parseUpdate(bytes, PARAMETERS.dim, "npy").values;
    const q = this.net.roster.quantization;
    let wsum = 0;
    const acc = new Float64Array(PARAMETERS.dim);
    for (const id of listed!) {
      const { values, weight } = updateOf(id, round);
      wsum += weight;
      values.forEach((v, j) => acc[j] += weight * Math.max(-q.clip, Math.min(q.clip, v)));
    }
    for (let j = 0; j < PARAMETERS.dim; j++) {
      assert(
        Math.abs(mean[j] - acc[j] / wsum) <= q.errorBound,
        `round ${round}: the mean is not the members' weighted mean at ${j}`,
      );
    }
    this.rounds.set(round, { members: listed!, dir, version });
  }

  /**
   * `fedagg verify` of every checked round from the genesis roster through all the amendments:
   * each certificate verifies under the version of its round, with the members checked.
   */
  async verifyAll(): Promise<void> {
    const chain = this.amendments.flatMap((a) => ["--amendment", a]);
    for (const [round, { members, dir, version }] of this.rounds) {
      const run = await this.net.cli([
        "verify",
        "--certificate",
        `${dir}/cert`,
        "--aggregate",
        `${dir}/sum`,
        "--mean",
        `${dir}/mean.npy`,
        "--roster",
        this.net.rosterPath,
        ...chain,
        "--json",
      ]);
      assertEquals(run.code, 0, `round ${round}: ${run.stdout}${run.stderr}`);
      const verdict = JSON.parse(run.stdout);
      assertEquals(verdict.members, members, `round ${round}: fedagg verify's member list`);
      assertEquals(verdict.rosterVersion, version, `round ${round}: its roster version`);
    }
  }

  /** Stops every process this harness started. */
  async stop(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => this.net.stop(n)));
  }
}

/**
 * The node (node/node.ts) with real libp2p on 127.0.0.1, in one process: a three-member roster
 * (t = 2) where one member runs a {@link FedaggNode} and the two others are bare meshes whose
 * protocol runs in memory. The two run a round without the node; their leader gossips the
 * certificate alone and serves a junk body under its hash, the third member serves the true
 * one. The node must refuse the junk (blaming the leader), fetch the body from the other member
 * and publish the aggregate as an observer; a trainer update for that decided round is then
 * refused with a {@link NodeError} (`decided`, answered 409) and nothing is journaled.
 *
 * Also: a restart on a prepared journal resumes every pending round within the round window (in
 * the view after the last one it advertised in) and gives up the others — too old, or committed
 * to before the restart — with a log line, a counter and their raw update deleted; only the
 * leader of a round neither published nor failed here resumes from its journaled unmask record
 * (the restore plan's `lead`); a start that fails (the mesh cannot listen,
 * the journal cannot be read) closes the mask workers and frees the mesh's port.
 *
 * @module
 */
import "../../node/shims.ts";
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { withoutBody } from "../../protocol/wire/frame.ts";
import { decode, encode, type Value } from "../../protocol/encoding/codec.ts";
import { inlineExpander } from "../../protocol/math/masking.ts";
import { type Envelope, openFrame } from "../../protocol/wire/frame.ts";
import type { Roster } from "../../protocol/federation/roster.ts";
import { leaderOf } from "../../protocol/federation/schedule.ts";
import { createIdentity, type NodeIdentity } from "../../node/identity.ts";
import { Journal } from "../../node/journal.ts";
import { Mesh } from "../../node/mesh.ts";
import { NodeError } from "../../node/errors.ts";
import { FedaggNode, type NodeEvent } from "../../node/node.ts";
import {
  addMember,
  DEFAULT_PARAMETERS,
  newRosterFile,
  type RosterFile,
  rosterOf,
} from "../../node/roster_file.ts";
import { closeUnrefdChannels } from "../../node/shims.ts";
import { inputsFor, plainSum, rngFor } from "../protocol/_fixtures.ts";
import { EndpointNet } from "../protocol/_harness.ts";
import { exists, withTempDir } from "./_helpers.ts";
import { finalRound } from "./_journal_fixtures.ts";

const DIM = 6;

/** Polls `ok` until it holds; fails the test (naming `what`) if it never does. */
async function waitFor(what: string, ok: () => boolean, deadlineMs = 30_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts member `self` of a {@link withFederation} federation from `nodeDir` on a free loopback
 * port, inline masking, every log line appended to `logs`.
 */
function startLogged(
  fed: { file: RosterFile; roster: Roster; identityOf: (i: number) => NodeIdentity },
  nodeDir: string,
  self: number,
  logs: Log[],
): Promise<FedaggNode> {
  return FedaggNode.start({
    dir: nodeDir,
    identity: fed.identityOf(self),
    rosterFile: fed.file,
    roster: fed.roster,
    index: self,
    listen: ["/ip4/127.0.0.1/tcp/0"],
    log: (level, message, fields) => logs.push({ level, message, fields }),
    expander: inlineExpander,
  });
}

/**
 * Runs `fn` with three identities in `dir/n{i}` of a new temporary `dir` and a roster (t = 2)
 * over them; the directory is removed afterwards.
 */
function withFederation<T>(
  fn: (fed: {
    dir: string;
    file: RosterFile;
    roster: Roster;
    identityOf: (i: number) => NodeIdentity;
  }) => Promise<T>,
): Promise<T> {
  return withTempDir("fedagg-node-", async (dir) => {
    const ids: NodeIdentity[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(await createIdentity(`${dir}/n${i}`, rngFor("node", "id", i)));
    }
    let file = newRosterFile({
      ...DEFAULT_PARAMETERS,
      federation: "node-test",
      dim: DIM,
      threshold: 2,
    });
    for (const id of ids) file = addMember(file, id.card([]));
    const roster = rosterOf(file);
    const identityOf = (i: number) => ids.find((id) => id.peerId === roster.members[i].id)!;
    return await fn({ dir, file, roster, identityOf });
  });
}

type Log = { level: string; message: string; fields?: object };

/**
 * Round 0 of a fresh {@link federation}, run in memory by its leader and the other member
 * without the node's member; then a {@link FedaggNode} for that member and two bare meshes for
 * the others, connected, the leader's serving `leaderServes(body)` as the aggregate body.
 * `fn` gets them all; everything is stopped and removed afterwards.
 */
async function withObservedRound(
  leaderServes: (body: Uint8Array) => Uint8Array,
  fn: (t: {
    roster: Roster;
    self: number;
    leader: number;
    other: number;
    nodeDir: string;
    inputs: Uint32Array[];
    /** The certificate (with body) and the co-signature frames, by sender, of the round. */
    certificate: Envelope;
    cosigns: Map<number, Uint8Array>;
    node: FedaggNode;
    events: NodeEvent[];
    logs: Log[];
    /** meshes[0] is the leader's, meshes[1] the other member's. */
    meshes: Mesh[];
    /** What the two meshes received by gossip. */
    gossip: { data: Uint8Array; from: number }[];
  }) => Promise<void>,
): Promise<void> {
  await withFederation(async ({ dir, file, roster, identityOf }) => {
    const round = 0;
    const leader = leaderOf(roster, round, 0);
    const [self, other] = [0, 1, 2].filter((i) => i !== leader);

    const fed = { roster, signers: [0, 1, 2].map((i) => identityOf(i).signer) };
    const net = new EndpointNet(fed);
    net.hold = (m) => m.to === self;
    const inputs = inputsFor(roster, round);
    await net.submit(round, inputs, [leader, other]);
    await net.deliver();
    net.now = roster.advertiseTimeoutMs; // the leader stops waiting for the node's advert
    await net.tick();
    const certificate = openFrame(
      net.sent("certificate").find((m) => m.from === leader)!.frame,
      roster,
    );
    const cosigns = new Map(net.sent("cosign").map((m) => [m.from, m.frame]));
    net.close();

    const nodeDir = `${dir}/n${self}`;
    const logs: Log[] = [];
    const node = await startLogged({ file, roster, identityOf }, nodeDir, self, logs);
    const events: NodeEvent[] = [];
    node.subscribe((e) => events.push(e.event));
    const meshes: Mesh[] = [];
    const gossip: { data: Uint8Array; from: number }[] = [];
    try {
      const body = certificate.body!;
      for (const [i, served] of [[leader, leaderServes(body)], [other, body]] as const) {
        meshes.push(
          await Mesh.start({
            identity: identityOf(i),
            roster,
            addresses: roster.members.map((_, j) => j === self ? node.status().addresses : []),
            listen: ["/ip4/127.0.0.1/tcp/0"],
            maxFrame: 1 << 20,
            onFrame: () => {},
            onGossip: (data, from) => gossip.push({ data, from }),
            aggregateBody: (r, v) => r === round && v === 0 ? served : undefined,
            log: () => {},
          }),
        );
      }
      await waitFor("both members connected", () => node.status().peers.connected === 2);
      await fn({
        roster,
        self,
        leader,
        other,
        nodeDir,
        inputs,
        certificate,
        cosigns,
        node,
        events,
        logs,
        meshes,
        gossip,
      });
    } finally {
      await node.stop();
      await Promise.all(meshes.map((m) => m.stop()));
      closeUnrefdChannels();
    }
  });
}

/** Gossips each `[mesh, message]` until `done` holds (gossip needs its mesh to form first). */
async function gossipUntil(
  sends: readonly (readonly [Mesh, Value[]])[],
  what: string,
  done: () => boolean,
): Promise<void> {
  const end = Date.now() + 30_000;
  while (!done() && Date.now() < end) {
    for (const [mesh, message] of sends) await mesh.publish(encode(message));
    await new Promise((r) => setTimeout(r, 200));
  }
  assert(done(), what);
}

Deno.test({
  name:
    "node: a gossiped certificate's body is checked per source; a decided round refuses updates",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withObservedRound(
      (body) => body.map((b) => b ^ 0x5a),
      async ({ leader, other, inputs, certificate, node, events, logs, meshes }) => {
        const round = 0;
        await gossipUntil(
          [[meshes[0], ["certificate", withoutBody(certificate)]]],
          "the node published the round as an observer",
          () => events.some((e) => e.type === "published" && e.round === round),
        );
        const refusals = logs.filter((l) => l.message === "refused")
          .map((l) => l.fields as { code: string; peer: number; detail: string });
        assertEquals(
          refusals.map(({ code, peer }) => ({ code, peer })),
          [{ code: "commitment-mismatch", peer: leader }],
          "the junk body is refused, blaming the member that served it",
        );
        assert(refusals[0].detail.includes("served a body"), refusals[0].detail);
        const stored = await node.journal.aggregate(round);
        assertEquals(stored?.aggregate, plainSum(inputs, [leader, other]));
        // The round is decided here (an observer), not final: an update for it is a conflict.
        assertEquals(node.status().lastFinalRound, null);
        const error = await assertRejects(
          () =>
            node.submit(round, new Float32Array(DIM), 1, {
              tensors: [{ name: "aggregate", shape: [DIM] }],
            }),
          NodeError,
          "decided",
        );
        assertEquals((error as NodeError).code, "decided");
        assertEquals(await node.journal.update(round), undefined, "nothing was journaled");
      },
    );
  },
});

Deno.test({
  name: "node: when the published record failed to write, the final certificate writes it whole",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withObservedRound(
      (body) => body,
      async (
        {
          self,
          leader,
          other,
          nodeDir,
          inputs,
          certificate,
          cosigns,
          node,
          events,
          logs,
          meshes,
          gossip,
        },
      ) => {
        const round = 0;
        // A directory where published.json goes: the published record cannot be written.
        const blocker = `${nodeDir}/journal/round-${round}/published.json`;
        await Deno.mkdir(`${blocker}/x`, { recursive: true });
        await gossipUntil(
          [[meshes[0], ["certificate", withoutBody(certificate)]]],
          "the published record's write failed",
          () => logs.some((l) => l.message === "could not journal the published aggregate"),
        );
        assertEquals(events.filter((e) => e.type === "published"), []);
        // The write failed, yet the node's co-signature went out (it follows in the same batch).
        await waitFor("the node's co-signature", () =>
          gossip.some(({ data, from }) => {
            const m = decode(data, data.length, "gossip") as Value[];
            return from === self && m[0] === "cosign";
          }));
        await Deno.remove(blocker, { recursive: true });
        assertEquals(await node.journal.aggregate(round), undefined, "nothing counts as published");
        // The co-signatures make the round final here; each comes from its own member.
        await gossipUntil(
          [[meshes[0], ["cosign", cosigns.get(leader)!]], [meshes[1], [
            "cosign",
            cosigns.get(other)!,
          ]]],
          "the round became final",
          () => events.some((e) => e.type === "final" && e.round === round),
        );
        const stored = await node.journal.aggregate(round);
        assertEquals(stored?.aggregate, plainSum(inputs, [leader, other]));
        assertEquals(stored?.members, [leader, other].sort((a, b) => a - b));
        assert(stored?.final !== undefined, "the final certificate is stored with it");
        assertEquals(stored?.certificate, withoutBody(certificate));
        assertEquals(node.status().lastFinalRound, round);
      },
    );
  },
});

Deno.test({
  name: "node: a restart resumes every pending round or gives it up, reported and pruned",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withFederation(async ({ dir, file, roster, identityOf }) => {
      const layout = { tensors: [{ name: "aggregate", shape: [DIM] }] };
      const update = { values: new Float32Array(DIM).fill(0.25), numSamples: 1, layout };
      const nodeDir = `${dir}/restart`;
      const journal = new Journal(nodeDir, roster);
      // Round 2 is final (the current round is 3), its raw update still there (a crash before
      // the deletion). Rounds 0, 3, 4 and 5 hold acknowledged updates and no aggregate: 0 is
      // more than ROUND_WINDOW behind the newest (5): given up; 4 was committed to: its outcome
      // is asked for; 3 had advertised in view 0: resumed in view 1; 5 never advertised:
      // resumed in view 0.
      for (const round of [0, 2, 3, 4, 5]) await journal.recordUpdate(round, update);
      // A genuine final round: the start-up scan verifies it (a junk certificate is quarantined).
      const fed = { roster, signers: [0, 1, 2].map((i) => identityOf(i).signer) };
      await journal.recordAggregate(await finalRound(fed, 2));
      await journal.recordAdvertised(3, 0);
      await journal.recordCommit(4, 0);
      // Round 1's update record is damaged: the start-up scan quarantines the round.
      await Deno.mkdir(`${nodeDir}/journal/round-1`, { recursive: true });
      await Deno.writeTextFile(`${nodeDir}/journal/round-1/update.json`, "{not json");
      const logs: Log[] = [];
      const self = 0;
      const node = await startLogged({ file, roster, identityOf }, nodeDir, self, logs);
      try {
        assertEquals(node.status().lastFinalRound, 2);
        // Rounds 0 and 1 (below) failed for this member and round 4 is open: the current round
        // stays one past the final round 2.
        assertEquals(node.status().currentRound, 3);
        const resumed = logs.filter((l) => l.message.startsWith("resuming")).map((l) => l.fields);
        assertEquals(resumed, [{ round: 3, view: 1 }, { round: 5, view: 0 }]);
        const failed = logs.filter((l) => l.message === "round failed")
          .map((l) => l.fields as { round: number; role: string; reason: string });
        // Round 1's acknowledged update went to quarantine with its damaged journal: reported.
        assertEquals(failed.map((f) => [f.round, f.role]), [[1, "participant"], [
          0,
          "participant",
        ]]);
        assert(failed[0].reason.startsWith("journal damaged"), failed[0].reason);
        assert(failed[0].reason.includes("round-1"), failed[0].reason);
        assert(failed[1].reason.includes("rounds behind"), failed[1].reason);
        assertEquals(node.metrics.get("fedagg_rounds_failed_total"), 2);
        // Round 4 was committed to: never failed on a guess, its outcome is asked for.
        const unknown = logs.filter((l) => l.message.startsWith("round outcome unknown"))
          .map((l) => (l.fields as { round: number }).round);
        assertEquals(unknown, [4]);
        assertEquals(node.metrics.get("fedagg_rounds_outcome_unknown_total"), 1);
        // The given-up and committed rounds' raw updates are gone (their weight and layout
        // stay); the resumed ones keep theirs, and each advertised again in a new view first.
        for (const [round, kept] of [[0, false], [3, true], [4, false], [5, true]] as const) {
          assertEquals(await exists(journal.path(round, "update.f32")), kept, `round ${round}`);
          assertEquals((await journal.updateMeta(round))?.numSamples, 1);
        }
        // The final round's raw update (a crash between the final record and the deletion) is
        // deleted at start-up.
        assertEquals(await exists(journal.path(2, "update.f32")), false, "final round 2");
        assertEquals(await journal.advertisedView(3), 1);
        assertEquals(await journal.advertisedView(5), 0);
        assertEquals(node.status().round, 5);
        // The quarantined round takes no new update (this member may have committed in it).
        assertEquals(node.metrics.get("fedagg_journal_quarantined_total"), 1);
        const refused = await assertRejects(
          () => node.submit(1, update.values, 1, layout),
          NodeError,
          "quarantine",
        );
        assertEquals((refused as NodeError).code, "quarantined");
        assertEquals(await journal.updateMeta(1), undefined, "nothing journaled for round 1");
      } finally {
        await node.stop();
        closeUnrefdChannels();
      }
    });
  },
});

/**
 * Node 0's journal in `nodeDir` as a crash could leave it: round 2 final, and round 3 committed in
 * view 0, then failed for this member (`failed.json`, its values pruned). Returns the journal,
 * the federation's signers and an update of the roster's layout to journal more rounds with.
 */
async function journalWithFailedRound(
  nodeDir: string,
  roster: Roster,
  identityOf: (i: number) => NodeIdentity,
) {
  const layout = { tensors: [{ name: "aggregate", shape: [DIM] }] };
  const update = { values: new Float32Array(DIM).fill(0.25), numSamples: 1, layout };
  const journal = new Journal(nodeDir, roster);
  const fed = { roster, signers: [0, 1, 2].map((i) => identityOf(i).signer) };
  await journal.recordAggregate(await finalRound(fed, 2));
  await journal.recordUpdate(3, update);
  await journal.recordCommit(3, 0);
  await journal.recordFailed(3, 0);
  await journal.pruneUpdate(3);
  return { journal, fed, update };
}

Deno.test({
  name: "node: a round that failed for this member before a restart is neither asked about " +
    "nor reported again, and counts as ended",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withFederation(async ({ dir, file, roster, identityOf }) => {
      const nodeDir = `${dir}/failed-before`;
      // Round 3: committed in view 0, then excluded (round-failed) before the crash.
      await journalWithFailedRound(nodeDir, roster, identityOf);
      const logs: Log[] = [];
      const node = await startLogged({ file, roster, identityOf }, nodeDir, 0, logs);
      try {
        const about3 = logs.filter((l) => (l.fields as { round?: number })?.round === 3);
        assertEquals(about3.map((l) => l.message), [], "nothing asked or reported again");
        assertEquals(node.metrics.get("fedagg_rounds_outcome_unknown_total"), 0);
        assertEquals(node.status().currentRound, 4, "round 3 ended for this member");
      } finally {
        await node.stop();
        closeUnrefdChannels();
      }
    });
  },
});

Deno.test({
  name: "node: after a restart only the leader of a round neither published nor failed here " +
    "resumes from its journaled unmask record",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withFederation(async ({ dir, file, roster, identityOf }) => {
      const nodeDir = `${dir}/unmask-records`;
      const { journal, fed, update } = await journalWithFailedRound(nodeDir, roster, identityOf);
      // A genuine unmask record of round 4, as its leader journaled it (the journal checks its
      // shape; only a resumed leader opens it).
      const net = new EndpointNet(fed);
      for (const e of net.endpoints) e.restore({ decided: 3 });
      await net.submit(4, inputsFor(roster, 4));
      await net.deliver();
      const [unmasking] = net.events("unmasking");
      net.close();
      assert(unmasking !== undefined, "round 4 reached its unmask stage");
      // Round 2: final. Round 3: committed, then failed for this member. Round 4: committed,
      // its outcome unknown. Each holds an unmask record.
      await journal.recordUpdate(4, update);
      await journal.recordCommit(4, 0);
      for (const round of [2, 3, 4]) await journal.recordUnmasking(round, unmasking.record);
      const logs: Log[] = [];
      const node = await startLogged({ file, roster, identityOf }, nodeDir, 0, logs);
      try {
        const resumed = logs.filter((l) => l.message.startsWith("resuming the round's leader"))
          .map((l) => (l.fields as { round: number }).round);
        assertEquals(resumed, [4]);
      } finally {
        await node.stop();
        closeUnrefdChannels();
      }
    });
  },
});

Deno.test("node: a failed start stops what it started and closes the mask workers", async () => {
  await withFederation(async ({ dir, file, roster, identityOf }) => {
    let closed = 0;
    const expander = { apply: inlineExpander.apply, close: () => void closed++ };
    const options = {
      identity: identityOf(0),
      rosterFile: file,
      roster,
      index: 0,
      log: () => {},
      expander,
    };
    try {
      // The mesh cannot listen: nothing else was started yet.
      await assertRejects(() =>
        FedaggNode.start({ ...options, dir: `${dir}/a`, listen: ["/ip4/203.0.113.7/tcp/0"] })
      );
      assertEquals(closed, 1);
      // The journal cannot be read (its directory is a file): the mesh, already listening, is
      // stopped too, so its port is free again.
      const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = probe.addr.port;
      probe.close();
      await Deno.mkdir(`${dir}/b`);
      await Deno.writeTextFile(`${dir}/b/journal`, "not a directory");
      await assertRejects(() =>
        FedaggNode.start({ ...options, dir: `${dir}/b`, listen: [`/ip4/127.0.0.1/tcp/${port}`] })
      );
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      assertEquals(closed, 2);
    } finally {
      closeUnrefdChannels();
    }
  });
});

Deno.test({
  name: "node: a mistyped round is refused; one an older version accepted is given up at a " +
    "restart; the node leads normal rounds across restarts",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withFederation(async ({ dir, file, roster, identityOf }) => {
      const layout = { tensors: [{ name: "aggregate", shape: [DIM] }] };
      const values = new Float32Array(DIM).fill(0.25);
      const self = leaderOf(roster, 0, 0);
      const nodeDir = `${dir}/mistyped`;
      const journal = new Journal(nodeDir, roster);
      const logs: Log[] = [];
      const start = () => startLogged({ file, roster, identityOf }, nodeDir, self, logs);
      const outsideWindow = () =>
        logs.filter((l) => l.message === "refused" && JSON.stringify(l.fields).includes("window"));
      const far = 1_000_000;

      // A fresh node: refused before anything is journaled, and it leads round 0.
      let node = await start();
      try {
        const err = await assertRejects(
          () => node.submit(far, values, 1, layout),
          NodeError,
          "current round is 0",
        );
        assertEquals((err as NodeError).code, "round-too-far-ahead");
        assertEquals(await journal.rounds(), [], "nothing journaled");
        await node.submit(0, values, 1, layout);
        assertEquals(node.status().leading, { round: 0, view: 0, stage: "advertise" });
        assertEquals(outsideWindow(), []);
      } finally {
        await node.stop();
      }

      // What an older version accepted: an update for round 1 000 000 (it advertised in view
      // 0), beside a genuine final round k whose next round this node leads.
      let k = 1;
      while (leaderOf(roster, k + 1, 0) !== self) k++;
      const fed = { roster, signers: [0, 1, 2].map((i) => identityOf(i).signer) };
      await journal.recordAggregate(await finalRound(fed, k));
      await journal.recordUpdate(far, { values, numSamples: 1, layout });
      await journal.recordAdvertised(far, 0);
      logs.length = 0;
      node = await start();
      try {
        const failed = logs.filter((l) => l.message === "round failed")
          .map((l) => l.fields as { round: number; reason: string });
        const given = failed.find((f) => f.round === far);
        assert(given?.reason.includes(`ahead of the federation's current round ${k + 1}`));
        assertEquals(await exists(journal.path(far, "update.f32")), false, "its values deleted");
        assertEquals(
          logs.filter((l) => l.message.startsWith("resuming")).map((l) => l.fields),
          [],
          "round 1 000 000 is not resumed (nor round 0, more than 2 behind)",
        );
        assertEquals(node.status().currentRound, k + 1);
        await node.submit(k + 1, values, 1, layout);
        assertEquals(node.status().leading, { round: k + 1, view: 0, stage: "advertise" });
        assertEquals(outsideWindow(), []);
      } finally {
        await node.stop();
      }

      // Once more: the failed round 1 000 000 does not make the current round 1 000 001.
      logs.length = 0;
      node = await start();
      try {
        assertEquals(node.status().currentRound, k + 1);
        assertEquals(
          logs.filter((l) => l.message.startsWith("resuming")).map((l) => l.fields),
          [{ round: k + 1, view: 1 }],
        );
        assertEquals(logs.filter((l) => l.message === "round failed"), []);
        assertEquals(outsideWindow(), []);
      } finally {
        await node.stop();
        closeUnrefdChannels();
      }
    });
  },
});

Deno.test({
  name: "node: a withdrawn update is not resumed after a restart; a new one starts a later view",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withFederation(async ({ dir, file, roster, identityOf }) => {
      const layout = { tensors: [{ name: "aggregate", shape: [DIM] }] };
      const values = new Float32Array(DIM).fill(0.5);
      const self = 1;
      const nodeDir = `${dir}/withdraw`;
      const journal = new Journal(nodeDir, roster);
      const logs: Log[] = [];
      const events: NodeEvent[] = [];
      const start = async () => {
        const n = await startLogged({ file, roster, identityOf }, nodeDir, self, logs);
        n.subscribe((e) => events.push(e.event));
        return n;
      };
      let node = await start();
      try {
        await node.submit(1, values, 1, layout);
        await node.withdraw(1);
        // The trainer heard of its update (accepted, its stage) and of the withdrawal.
        assertEquals(
          events.filter((e) => e.type !== "stage").map((e) => [e.type, e.round]),
          [["accepted", 1], ["withdrawn", 1]],
        );
        assert(events.some((e) => e.type === "stage" && e.stage === "advertise"), "stage events");
        assertEquals(await exists(journal.path(1, "update.f32")), false);
        assertEquals(await journal.withdrawnView(1), 1);
        const again = await assertRejects(() => node.withdraw(1), NodeError);
        assertEquals((again as NodeError).code, "nothing-to-withdraw");
      } finally {
        await node.stop();
      }
      logs.length = 0;
      node = await start();
      try {
        assertEquals(logs.filter((l) => l.message.startsWith("resuming")), [], "not resumed");
        assertEquals(logs.filter((l) => l.message === "round failed"), []);
        assertEquals(node.status().currentRound, 0, "a withdrawal ends no round");
        // Submitted again after the restart: in the view after the withdrawn one.
        await node.submit(1, values, 1, layout);
        assertEquals(await journal.advertisedView(1), 1);
        assertEquals(await journal.withdrawnView(1), undefined);
      } finally {
        await node.stop();
      }
      // A withdrawal a crash interrupted (marker written, update not yet deleted) is completed.
      await journal.recordWithdrawn(1, 2);
      const marker = await Deno.readFile(journal.path(1, "withdrawn.json"));
      await journal.recordUpdate(1, { values, numSamples: 1, layout }); // removes the marker
      await Deno.writeFile(journal.path(1, "withdrawn.json"), marker);
      await journal.recordUpdate(2, { values, numSamples: 1, layout });
      logs.length = 0;
      node = await start();
      try {
        assertEquals(
          logs.filter((l) => l.message.startsWith("resuming")).map((l) => l.fields),
          [{ round: 2, view: 0 }],
        );
        assertEquals(await exists(journal.path(1, "update.f32")), false);
      } finally {
        await node.stop();
        closeUnrefdChannels();
      }
    });
  },
});

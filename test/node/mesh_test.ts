/**
 * The libp2p mesh (node/mesh.ts) with real libp2p on 127.0.0.1 (port 0), three members in one
 * process: frames of 10 bytes and of 5 MiB arrive intact, in per-sender order and with the
 * sender's roster index, from two senders at once; a frame above the receiver's `maxFrame` is
 * refused (the send resolves false after one attempt, the receiver logs the refusal and
 * delivers nothing) and the connection keeps working; gossip reaches the other members with
 * the publisher's index; `fetchAggregate` returns a known body (larger than one chunk) and
 * undefined for an unknown (round, view, hash) or a body above `maxBytes`; a node whose identity
 * is not in the roster is refused by the connection gater (`refusedPeers` counts it, no frame
 * gets through); `stop()` lets the test end (with the shims' channels closed).
 *
 * A separate test runs two meshes only (the third member is in the roster but never started).
 * Frames to a member travel on one long-lived stream (`FRAME_STREAM_PROTOCOL`): frames sent at
 * once, large and small interleaved, arrive intact and in order on one stream; a second large
 * frame waits on the stream while the receiver handles the first; after a dropped connection
 * the stream is reopened; a frame in flight when the connection drops is resent on the new
 * stream (against a receiver written from the wire format); a member that speaks only the
 * one-frame protocol gets a stream per frame. Another test holds the receiver's large-frame slot
 * for the sender across a dropped connection: the next large frame, on a new stream, is
 * answered "busy", retried, and delivered once the slot frees (not given up as permanent).
 * Members connect under the fedagg muxer (`MUXER_PROTOCOL`, a larger stream window), and a
 * member whose libp2p offers only the standard yamux still connects and delivers frames. A
 * member announces the address the roster lists for it, not its listen address. The unread
 * bytes a receiver buffers follow the frame limit in force: a stream opened before the limit
 * grew takes a frame above the old limit while it waits unread, as does a one-frame-protocol
 * stream with a frame above 4 MiB, and a sender that writes past its unanswered frame is cut
 * off at one frame and two chunks.
 */
import "../../node/shims.ts";
import { assert, assertEquals, assertGreaterOrEqual } from "../_assert.ts";
import { equalBytes, utf8 } from "../../protocol/encoding/bytes.ts";
import { sha256 } from "../../protocol/crypto/mod.ts";
import type { Roster } from "../../protocol/federation/roster.ts";
import { createIdentity, type NodeIdentity } from "../../node/identity.ts";
import { FRAME_PROTOCOL, Mesh, MUXER_PROTOCOL } from "../../node/mesh.ts";
import { FRAME_STREAM_PROTOCOL } from "../../node/frame_stream.ts";
import { readSized, sizedStream, writeSized } from "../../node/sized_stream.ts";
import { noise } from "npm:@chainsafe/libp2p-noise@17.0.0";
import { yamux } from "npm:@chainsafe/libp2p-yamux@8.0.1";
import { tcp } from "npm:@libp2p/tcp@11.0.28";
import { multiaddr } from "npm:@multiformats/multiaddr@13.0.3";
import { createLibp2p } from "npm:libp2p@3.3.11";
import { addMember, DEFAULT_PARAMETERS, newRosterFile, rosterOf } from "../../node/roster_file.ts";
import { closeUnrefdChannels } from "../../node/shims.ts";
import { rngFor } from "../protocol/_fixtures.ts";
import { withTempDir } from "./_helpers.ts";

const MiB = 1 << 20;

/** Pseudo-random bytes (cheap, deterministic): a frame whose every chunk differs. */
function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Four identities (created in a temp dir that is removed at once: only the keys matter). */
const identities = withTempDir("fedagg-mesh-", async (root) => {
  const out: NodeIdentity[] = [];
  for (let i = 0; i < 4; i++) {
    out.push(await createIdentity(`${root}/n${i}`, rngFor("mesh", "id", i)));
  }
  return out;
});

function rosterFrom(members: readonly NodeIdentity[], federation = "mesh-test"): Roster {
  let file = newRosterFile({ ...DEFAULT_PARAMETERS, federation, dim: 8 });
  for (const m of members) file = addMember(file, m.card([]));
  return rosterOf(file);
}

interface Peer {
  readonly mesh: Mesh;
  readonly index: number;
  readonly frames: { frame: Uint8Array; from: number }[];
  readonly gossip: { data: Uint8Array; from: number }[];
  readonly logs: { level: string; message: string; fields?: object }[];
  readonly bodies: Map<string, Uint8Array>;
  /** Connectivity reports in order: `up M` / `down M` for roster member M. */
  readonly links: string[];
}

function bodyKey(round: number, view: number, hash: Uint8Array): string {
  return `${round}/${view}/${Array.from(hash).join(",")}`;
}

/** Starts a mesh for `identity` that dials the given addresses (by roster index). */
async function startPeer(
  identity: NodeIdentity,
  roster: Roster,
  dial: Map<number, string[]>,
  maxFrame: number,
  /** Called after a frame is recorded; what it returns is returned to the mesh. */
  onFrame?: (frame: Uint8Array, from: number) => void | Promise<void>,
): Promise<Peer> {
  const frames: Peer["frames"] = [];
  const gossip: Peer["gossip"] = [];
  const logs: Peer["logs"] = [];
  const bodies = new Map<string, Uint8Array>();
  const links: string[] = [];
  const mesh = await Mesh.start({
    identity,
    roster,
    addresses: roster.members.map((_, i) => dial.get(i) ?? []),
    listen: ["/ip4/127.0.0.1/tcp/0"],
    maxFrame,
    onFrame: (frame, from) => {
      frames.push({ frame, from });
      return onFrame?.(frame, from);
    },
    onGossip: (data, from) => {
      gossip.push({ data, from });
    },
    aggregateBody: (round, view, hash) => bodies.get(bodyKey(round, view, hash)),
    onConnected: (member) => links.push(`up ${member}`),
    onDisconnected: (member) => links.push(`down ${member}`),
    log: (level, message, fields) => logs.push({ level, message, fields }),
  });
  return { mesh, index: roster.indexOf(identity.peerId)!, frames, gossip, logs, bodies, links };
}

/**
 * A plain libp2p node as an older fedagg build runs it: TCP on loopback, Noise, standard yamux
 * (`/yamux/1.0.0` only), no fedagg protocols unless the test registers them.
 */
function olderBuild(identity: NodeIdentity) {
  return createLibp2p({
    privateKey: identity.libp2pKey,
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  });
}

/**
 * A gate for a receiving peer's `onFrame`: `hold` keeps every large frame (≥ 1 MiB) unhandled,
 * and so its large-frame slot taken, until `release()`; smaller frames pass.
 */
function largeFrameGate() {
  let open = () => {};
  const held = new Promise<void>((resolve) => open = resolve);
  return {
    release: () => open(),
    hold: (frame: Uint8Array): Promise<void> | undefined => frame.length >= MiB ? held : undefined,
  };
}

async function waitFor(what: string, ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function stopAll(peers: readonly (Peer | undefined)[]): Promise<void> {
  await Promise.all(peers.map((p) => p?.mesh.stop()));
  closeUnrefdChannels();
}

/** Publishes distinct messages from `p` until every peer in `to` received one (or times out). */
async function gossipUntilDelivered(p: Peer, to: readonly Peer[], tag: string): Promise<void> {
  const end = Date.now() + 8000;
  for (let attempt = 0;; attempt++) {
    await p.mesh.publish(utf8(`${tag}#${attempt}`));
    const deadline = Date.now() + 300;
    while (Date.now() < deadline) {
      if (to.every((q) => q.gossip.some((g) => new TextDecoder().decode(g.data).startsWith(tag)))) {
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    if (Date.now() > end) throw new Error(`gossip ${tag} not delivered`);
  }
}

Deno.test("mesh: three members exchange frames, gossip and aggregate bodies", async (t) => {
  const ids = await identities;
  const roster = rosterFrom(ids.slice(0, 3));
  const [ia, ib, ic] = ids.slice(0, 3);
  const peers: Peer[] = [];
  try {
    // A accepts 6 MiB frames, B only 1 MiB, C 6 MiB. A dials nobody; B dials A; C dials both.
    const a = await startPeer(ia, roster, new Map(), 6 * MiB);
    peers.push(a);
    assert(a.mesh.addresses.length > 0, "A listens");
    assert(a.mesh.addresses.every((x) => x.includes(`/p2p/${ia.peerId}`)), "with its PeerId");
    const b = await startPeer(ib, roster, new Map([[a.index, a.mesh.addresses]]), MiB);
    peers.push(b);
    const c = await startPeer(
      ic,
      roster,
      new Map([[a.index, a.mesh.addresses], [b.index, b.mesh.addresses]]),
      6 * MiB,
    );
    peers.push(c);
    assertEquals(new Set([a.index, b.index, c.index]).size, 3);

    await t.step("every member connects to the others", async () => {
      await waitFor("a full mesh", () => peers.every((p) => p.mesh.connected().length === 2));
      for (const p of peers) {
        assertEquals(
          p.mesh.connected(),
          peers.filter((q) => q !== p).map((q) => q.index).sort(),
        );
      }
    });

    await t.step(
      "frames of 10 bytes and 5 MiB arrive intact, in order, from two senders",
      async () => {
        const fromB = [pattern(10, 1), pattern(5 * MiB, 2), pattern(10, 3), pattern(MiB + 7, 4)];
        const fromC = [pattern(5 * MiB, 5), pattern(10, 6), pattern(1, 7), pattern(3 * MiB, 8)];
        const deadline = Date.now() + 30_000;
        const sequence = async (p: Peer, frames: Uint8Array[]) => {
          const results: boolean[] = [];
          for (const f of frames) results.push(await p.mesh.send(a.index, f, deadline));
          return results;
        };
        const [rb, rc] = await Promise.all([sequence(b, fromB), sequence(c, fromC)]);
        assertEquals(rb, [true, true, true, true]);
        assertEquals(rc, [true, true, true, true]);
        // Acknowledged frames reach onFrame (the receiver may still be closing the stream).
        await waitFor("A to hand over 8 frames", () => a.frames.length === 8);
        const got = (from: number) => a.frames.filter((f) => f.from === from).map((f) => f.frame);
        assertEquals(got(b.index).length, fromB.length);
        assertEquals(got(c.index).length, fromC.length);
        got(b.index).forEach((f, i) => assert(equalBytes(f, fromB[i]), `B's frame ${i}`));
        got(c.index).forEach((f, i) => assert(equalBytes(f, fromC[i]), `C's frame ${i}`));
        const total = [...fromB, ...fromC].reduce((s, f) => s + f.length, 0);
        assertEquals(a.mesh.counters.framesReceived, 8);
        assertEquals(a.mesh.counters.bytesReceived, total);
        assertEquals(b.mesh.counters.framesSent, 4);
        assertEquals(b.mesh.counters.bytesSent, fromB.reduce((s, f) => s + f.length, 0));
        assertEquals(b.mesh.counters.sendFailures, 0);
        // And the other direction: A to B (B's limit is 1 MiB: exactly 1 MiB is fine).
        assert(await a.mesh.send(b.index, pattern(MiB, 9), Date.now() + 10_000));
        await waitFor("B to hand over the frame", () => b.frames.length === 1);
        assertEquals(b.frames[0].from, a.index);
        assert(equalBytes(b.frames[0].frame, pattern(MiB, 9)));
      },
    );

    await t.step(
      "a frame above the receiver's maxFrame is refused; the link survives",
      async () => {
        const before = b.frames.length;
        const failuresBefore = a.mesh.counters.sendFailures;
        const logsBefore = a.logs.length;
        const ok = await a.mesh.send(b.index, pattern(MiB + 1, 10), Date.now() + 10_000);
        assertEquals(ok, false);
        assertEquals(b.frames.length, before, "nothing delivered");
        assert(
          b.logs.some((l) => l.message === "refused an oversized frame"),
          JSON.stringify(b.logs),
        );
        // A permanent refusal is not retried: one attempt, then the sender gives up saying why.
        assertEquals(a.mesh.counters.sendFailures, failuresBefore + 1, "one attempt only");
        const gaveUp = a.logs.slice(logsBefore)
          .filter((l) => l.message === "giving up sending a frame");
        assertEquals(gaveUp.length, 1, JSON.stringify(a.logs));
        const error = (gaveUp[0].fields as { error?: string }).error ?? "";
        assert(error.includes("refused by the receiver"), error);
        // The connection still carries frames within the limit.
        assert(await a.mesh.send(b.index, pattern(10, 11), Date.now() + 10_000));
        await waitFor("B to hand over the frame", () => b.frames.length === before + 1);
        assert(equalBytes(b.frames[before].frame, pattern(10, 11)));
      },
    );

    await t.step("gossip reaches the other members with the publisher's index", async () => {
      await gossipUntilDelivered(a, [b, c], "from-a");
      await gossipUntilDelivered(c, [a, b], "from-c");
      for (const p of [b, c]) {
        const got = p.gossip.filter((g) => new TextDecoder().decode(g.data).startsWith("from-a"));
        assert(got.length > 0);
        assert(got.every((g) => g.from === a.index), "publisher's index");
      }
      for (const p of [a, b]) {
        const got = p.gossip.filter((g) => new TextDecoder().decode(g.data).startsWith("from-c"));
        assert(got.every((g) => g.from === c.index), "publisher's index");
      }
      assert(!a.gossip.some((g) => new TextDecoder().decode(g.data).startsWith("from-a")));
    });

    await t.step("fetchAggregate returns known bodies and undefined otherwise", async () => {
      const hash = sha256(utf8("an aggregate"));
      const body = pattern(MiB + 12345, 12); // more than one chunk
      a.bodies.set(bodyKey(4, 1, hash), body);
      const small = Uint8Array.of(1, 2, 3, 4);
      a.bodies.set(bodyKey(2 ** 40, 0, hash), small);
      const request = { round: 4, view: 1, hash, maxBytes: 2 * MiB };
      const got = await b.mesh.fetchAggregate(a.index, request, 10_000);
      assert(got !== undefined && equalBytes(got, body), "the known body");
      const big = await c.mesh.fetchAggregate(
        a.index,
        { ...request, round: 2 ** 40, view: 0 },
        10_000,
      );
      assert(big !== undefined && equalBytes(big, small), "large round numbers");
      const unknown = [
        { ...request, hash: sha256(utf8("another")) },
        { ...request, round: 5 },
        { ...request, view: 0 },
      ];
      for (const r of unknown) {
        assertEquals(await b.mesh.fetchAggregate(a.index, r, 10_000), undefined);
      }
      assertEquals(
        await b.mesh.fetchAggregate(a.index, { ...request, maxBytes: body.length - 1 }, 10_000),
        undefined,
        "larger than maxBytes",
      );
      // From a member that does not have it.
      assertEquals(await b.mesh.fetchAggregate(c.index, request, 10_000), undefined);
    });

    await t.step("a node outside the roster is refused by the gater", async () => {
      const outsider = ids[3];
      // The outsider's own roster lists A (so it dials A); A's roster does not list it.
      const foreign = rosterFrom([outsider, ia, ib], "mesh-test");
      const aInForeign = foreign.indexOf(ia.peerId)!;
      const refusedBefore = a.mesh.counters.refusedPeers;
      const framesBefore = a.frames.length;
      const d = await startPeer(outsider, foreign, new Map([[aInForeign, a.mesh.addresses]]), MiB);
      try {
        await waitFor(
          "A to refuse the outsider",
          () => a.mesh.counters.refusedPeers > refusedBefore,
        );
        assert(
          a.logs.some((l) =>
            l.message === "refused a non-member" &&
            (l.fields as { peer?: string })?.peer === outsider.peerId
          ),
          JSON.stringify(a.logs),
        );
        const sent = await d.mesh.send(aInForeign, pattern(10, 13), Date.now() + 1200);
        assertEquals(sent, false);
        assertEquals(a.frames.length, framesBefore, "no frame delivered");
        assertEquals(d.mesh.connected(), []);
        assertEquals(a.mesh.connected().length, 2, "A's members are still connected");
        assertEquals(
          await d.mesh.fetchAggregate(aInForeign, {
            round: 4,
            view: 1,
            hash: sha256(utf8("an aggregate")),
            maxBytes: 2 * MiB,
          }, 2000),
          undefined,
          "nor any body",
        );
      } finally {
        await d.mesh.stop();
      }
    });
  } finally {
    await stopAll(peers);
  }
});

Deno.test("mesh: two running members of a three-member roster", async () => {
  const ids = await identities;
  const roster = rosterFrom(ids.slice(0, 3), "mesh-pair");
  const peers: Peer[] = [];
  try {
    const a = await startPeer(ids[0], roster, new Map(), 64 * 1024);
    peers.push(a);
    // B also knows an (unreachable) address for the third member, which never runs.
    const third = roster.indexOf(ids[2].peerId)!;
    const b = await startPeer(
      ids[1],
      roster,
      new Map([[a.index, a.mesh.addresses], [third, ["/ip4/127.0.0.1/tcp/1"]]]),
      64 * 1024,
    );
    peers.push(b);
    await waitFor(
      "A and B connected",
      () => a.mesh.connected().includes(b.index) && b.mesh.connected().includes(a.index),
    );
    assertEquals(b.mesh.connected(), [a.index]);
    const frames = Array.from({ length: 20 }, (_, i) => pattern(10 + i, 100 + i));
    for (const f of frames) assert(await a.mesh.send(b.index, f, Date.now() + 5000));
    await waitFor("B to hand over 20 frames", () => b.frames.length === frames.length);
    assertEquals(b.frames.map((f) => f.from), frames.map(() => a.index));
    b.frames.forEach((f, i) => assert(equalBytes(f.frame, frames[i]), `frame ${i} in order`));
    await gossipUntilDelivered(b, [a], "pair");
    assert(a.gossip.every((g) => g.from === b.index));
    // Sending to the member that is not running resolves false (no throw) once its deadline
    // passes, after counting the failed attempts and logging that it gave up.
    const failuresBefore = b.mesh.counters.sendFailures;
    assertEquals(await b.mesh.send(third, pattern(10, 1), Date.now() + 800), false);
    assertGreaterOrEqual(b.mesh.counters.sendFailures, failuresBefore + 1);
    assert(
      b.logs.some((l) =>
        l.message === "giving up sending a frame" && (l.fields as { to?: number }).to === third
      ),
      JSON.stringify(b.logs),
    );
    assertEquals(b.mesh.counters.framesSent, 0);
  } finally {
    await stopAll(peers);
  }
});

Deno.test("mesh: gossip reaches sixteen members on one IP address (no colocation penalty)", async () => {
  // gossipsub's default score graylists every peer once more than 10 share an IP address: here
  // 15 peers on 127.0.0.1 would each score −5·(15 − 10)² = −125 and gossip would reach nobody.
  const ids = await withTempDir("fedagg-mesh-crowd-", async (root) => {
    const out: NodeIdentity[] = [];
    for (let i = 0; i < 16; i++) {
      out.push(await createIdentity(`${root}/n${i}`, rngFor("mesh-crowd", "id", i)));
    }
    return out;
  });
  const roster = rosterFrom(ids, "mesh-crowd");
  const peers: Peer[] = [];
  try {
    for (const id of ids) {
      // Each dials those started before it: every pair once.
      const dial = new Map(peers.map((p) => [p.index, p.mesh.addresses]));
      peers.push(await startPeer(id, roster, dial, 64 * 1024));
    }
    await waitFor(
      "a full mesh",
      () => peers.every((p) => p.mesh.connected().length === 15),
      60_000,
    );
    const [first, ...rest] = peers;
    await gossipUntilDelivered(first, rest, "crowd");
    assert(rest.every((p) => p.gossip.every((g) => g.from === first.index)));
  } finally {
    await stopAll(peers);
  }
});

Deno.test("mesh: reports a member's connection closing and coming back", async () => {
  const ids = await identities;
  const roster = rosterFrom(ids.slice(0, 3), "mesh-links"); // the third never runs
  const peers: (Peer | undefined)[] = [];
  try {
    const a = await startPeer(ids[0], roster, new Map(), 64 * 1024);
    peers.push(a);
    let b = await startPeer(ids[1], roster, new Map([[a.index, a.mesh.addresses]]), 64 * 1024);
    peers.push(b);
    await waitFor("A to see B connect", () => a.links.includes(`up ${b.index}`));
    // B's process goes away: A's last connection to it closes.
    await b.mesh.stop();
    peers[1] = undefined;
    await waitFor("A to see B's connection close", () => a.links.includes(`down ${b.index}`));
    assertEquals(a.mesh.connected(), []);
    // B comes back (same identity) and dials A: reported connected again.
    b = await startPeer(ids[1], roster, new Map([[a.index, a.mesh.addresses]]), 64 * 1024);
    peers[1] = b;
    await waitFor(
      "A to see B again",
      () => a.links.filter((l) => l === `up ${b.index}`).length === 2,
    );
    assertEquals(a.links, [`up ${b.index}`, `down ${b.index}`, `up ${b.index}`]);
  } finally {
    await stopAll(peers);
  }
});

/**
 * A and B connected, with B holding on to every large frame until `release` (a slow consumer),
 * and A's first large frame acknowledged and held: it occupies B's one large slot for A.
 */
async function holdingFirstLargeFrame(name: string) {
  const ids = await identities;
  const roster = rosterFrom(ids.slice(0, 3), name); // the third never runs
  const peers: Peer[] = [];
  const { release, hold } = largeFrameGate();
  try {
    const b = await startPeer(ids[1], roster, new Map(), 4 * MiB, hold);
    peers.push(b);
    const a = await startPeer(ids[0], roster, new Map([[b.index, b.mesh.addresses]]), 4 * MiB);
    peers.push(a);
    await waitFor("A and B connected", () => a.mesh.connected().includes(b.index));
    const deadline = Date.now() + 60_000;
    assert(await a.mesh.send(b.index, pattern(MiB, 20), deadline));
    await waitFor("B to hold the first frame", () => b.frames.length === 1);
    return { a, b, peers, release, deadline };
  } catch (err) {
    release();
    await stopAll(peers);
    throw err;
  }
}

Deno.test("mesh: a second large frame waits on the frame stream while the first is handled", async () => {
  const { a, b, peers, release, deadline } = await holdingFirstLargeFrame("mesh-wait");
  try {
    const second = a.mesh.send(b.index, pattern(MiB + 3, 21), deadline);
    // Give a wrong implementation time to refuse or hand over the second frame early.
    await new Promise((r) => setTimeout(r, 500));
    assertEquals(b.frames.length, 1, "the second frame waits for the first to be handled");
    release();
    assertEquals(await second, true);
    await waitFor("B to hand over the second frame", () => b.frames.length === 2);
    assert(equalBytes(b.frames[1].frame, pattern(MiB + 3, 21)));
    assertEquals(a.mesh.counters.sendFailures, 0, "waited on the stream, never refused");
    assertEquals(b.mesh.counters.frameStreams, 1);
  } finally {
    release();
    await stopAll(peers);
  }
});

Deno.test("mesh: a busy receiver's refusal is retried until the frame gets through", async () => {
  const { a, b, peers, release, deadline } = await holdingFirstLargeFrame("mesh-busy");
  try {
    // A's connection drops while B still handles the frame: the next large frame comes on a
    // new stream, and B answers it "busy" (A still holds its slot).
    await a.mesh.hangUp(b.index);
    const failuresBefore = a.mesh.counters.sendFailures;
    const second = a.mesh.send(b.index, pattern(MiB + 3, 21), deadline);
    await waitFor("B to answer busy", () => a.mesh.counters.sendFailures > failuresBefore, 30_000);
    assert(
      b.logs.some((l) => l.message === "asked a member to resend a large frame later"),
      JSON.stringify(b.logs),
    );
    release();
    assertEquals(await second, true, "the busy refusal was retried, not taken as final");
    await waitFor("B to hand over the second frame", () => b.frames.length === 2);
    assert(equalBytes(b.frames[1].frame, pattern(MiB + 3, 21)));
    assert(!a.logs.some((l) => l.message === "giving up sending a frame"), JSON.stringify(a.logs));
  } finally {
    release();
    await stopAll(peers);
  }
});

Deno.test("mesh: a frame stream opened before the frame limit grew takes a frame above the old limit", async () => {
  const ids = await identities;
  const roster = rosterFrom(ids.slice(0, 3), "mesh-limit-grows"); // the third never runs
  const peers: Peer[] = [];
  const { release, hold } = largeFrameGate();
  try {
    const b = await startPeer(ids[1], roster, new Map(), 2 * MiB, hold);
    peers.push(b);
    const a = await startPeer(ids[0], roster, new Map([[b.index, b.mesh.addresses]]), 2 * MiB);
    peers.push(a);
    await waitFor("A and B connected", () => a.mesh.connected().includes(b.index));
    const deadline = Date.now() + 60_000;
    // The stream opens under the 2 MiB limit, and B holds this frame's slot.
    assert(await a.mesh.send(b.index, pattern(MiB, 70), deadline));
    await waitFor("B to hold the first frame", () => b.frames.length === 1);
    await b.mesh.update({
      members: roster.members.map((m) => m.id),
      addresses: roster.members.map(() => []),
      admitted: new Set(roster.members.map((_, i) => i)),
      maxFrame: 8 * MiB,
    });
    // 6 MiB, above what a reader sized for the old limit buffers (4 MiB): the whole frame
    // arrives while B still handles the first one, and waits unread on the same stream.
    const second = a.mesh.send(b.index, pattern(6 * MiB, 71), deadline);
    await new Promise((r) => setTimeout(r, 1000));
    release();
    assertEquals(await second, true);
    await waitFor("B to hand over the second frame", () => b.frames.length === 2);
    assert(equalBytes(b.frames[1].frame, pattern(6 * MiB, 71)));
    assertEquals(a.mesh.counters.sendFailures, 0, "delivered on the first attempt");
    assertEquals(b.mesh.counters.frameStreams, 1, "on the stream opened under the old limit");
  } finally {
    release();
    await stopAll(peers);
  }
});

Deno.test("mesh: a one-frame-protocol sender's frame above 4 MiB that waits for a slot is received", async () => {
  const ids = await identities;
  const roster = rosterFrom(ids.slice(0, 4), "mesh-legacy-large");
  let plain: Awaited<ReturnType<typeof createLibp2p>> | undefined;
  const peers: Peer[] = [];
  const { release, hold } = largeFrameGate();
  try {
    const b = await startPeer(ids[1], roster, new Map(), 8 * MiB, hold);
    peers.push(b);
    const dial = new Map([[b.index, b.mesh.addresses]]);
    const a = await startPeer(ids[0], roster, dial, 8 * MiB);
    peers.push(a);
    const c = await startPeer(ids[2], roster, dial, 8 * MiB);
    peers.push(c);
    await waitFor("A, C and B connected", () => b.mesh.connected().length === 2);
    const deadline = Date.now() + 60_000;
    // Both large-frame slots held (one per member).
    assert(await a.mesh.send(b.index, pattern(MiB, 80), deadline));
    assert(await c.mesh.send(b.index, pattern(MiB, 81), deadline));
    await waitFor("B to hold two frames", () => b.frames.length === 2);
    // An older build (the one-frame protocol only) sends 6 MiB: it waits for a slot unread.
    plain = await olderBuild(ids[3]);
    const stream = await plain.dialProtocol(multiaddr(b.mesh.addresses[0]), FRAME_PROTOCOL);
    const lp = sizedStream(stream);
    const frame = pattern(6 * MiB, 82);
    const signal = AbortSignal.timeout(30_000);
    await writeSized(lp, frame, signal);
    await new Promise((r) => setTimeout(r, 1000));
    release();
    const answer = (await lp.read({ signal })).subarray();
    assertEquals(answer[0], 0, "received");
    await waitFor("B to hand over the 6 MiB frame", () => b.frames.length === 3);
    assert(equalBytes(b.frames[2].frame, frame));
    assert(!b.logs.some((l) => l.message === "frame transfer failed"), JSON.stringify(b.logs));
  } finally {
    release();
    await plain?.stop();
    await stopAll(peers);
  }
});

Deno.test("mesh: a sender that writes past its unanswered frame is cut off at one frame and two chunks", async () => {
  const ids = await identities;
  const roster = rosterFrom(ids.slice(0, 3), "mesh-overflow");
  let plain: Awaited<ReturnType<typeof createLibp2p>> | undefined;
  const peers: Peer[] = [];
  const { release, hold } = largeFrameGate();
  try {
    const b = await startPeer(ids[1], roster, new Map(), 2 * MiB, hold);
    peers.push(b);
    plain = await olderBuild(ids[0]);
    const stream = await plain.dialProtocol(multiaddr(b.mesh.addresses[0]), FRAME_STREAM_PROTOCOL);
    const lp = sizedStream(stream);
    const header = (seq: number, length: number) => {
      const h = new Uint8Array(8);
      new DataView(h.buffer).setUint32(0, seq);
      new DataView(h.buffer).setUint32(4, length);
      return h;
    };
    // A first large frame, which B holds; then, without waiting for answers, 7 MiB more: more
    // than the 2 MiB limit + 2 chunks (4 MiB at least) may sit unread.
    await lp.write(header(0, MiB));
    await lp.write(pattern(MiB, 90));
    await waitFor("B to hold the first frame", () => b.frames.length === 1);
    try {
      for (let i = 0; i < 7; i++) await lp.write(pattern(MiB, 91 + i));
    } catch {
      // B may abort the stream while the rest is written
    }
    await waitFor("B to reset the stream", () => stream.status !== "open", 10_000);
    const ended = b.logs.find((l) =>
      l.message === "ended a frame stream whose sender did not wait"
    );
    assert(ended !== undefined, JSON.stringify(b.logs));
    const { bytes, bound } = ended.fields as { bytes: number; bound: number };
    assertEquals(bound, 4 * MiB);
    assert(bytes > bound && bytes <= bound + 2 * MiB, `${bytes} unread when cut off`);
  } finally {
    release();
    await plain?.stop();
    await stopAll(peers);
  }
});

Deno.test("mesh: members negotiate the fedagg muxer; a member with standard yamux only still gets through", async () => {
  const ids = await identities;
  const roster = rosterFrom(ids.slice(0, 3), "mesh-muxer");
  const peers: Peer[] = [];
  let plain: Awaited<ReturnType<typeof createLibp2p>> | undefined;
  try {
    const a = await startPeer(ids[0], roster, new Map(), 8 * MiB);
    peers.push(a);
    const b = await startPeer(ids[1], roster, new Map([[a.index, a.mesh.addresses]]), 8 * MiB);
    peers.push(b);
    await waitFor("A and B connected", () => b.mesh.connected().includes(a.index));
    assertEquals([...new Set(b.mesh.muxers(a.index))], [MUXER_PROTOCOL]);
    // A 5 MiB frame (more than the larger window) arrives intact under the fedagg muxer.
    const big = pattern(5 * MiB, 9);
    assert(await b.mesh.send(a.index, big, Date.now() + 30_000));
    await waitFor("A to hand over the big frame", () => a.frames.length === 1, 30_000);
    assert(equalBytes(a.frames[0].frame, big));

    // The third member runs an older build: libp2p with the standard yamux only. It connects
    // to A under /yamux/1.0.0 and delivers a frame on the frame protocol.
    plain = await olderBuild(ids[2]);
    const third = roster.indexOf(ids[2].peerId)!;
    const stream = await plain.dialProtocol(multiaddr(a.mesh.addresses[0]), FRAME_PROTOCOL);
    const lp = sizedStream(stream);
    const frame = pattern(3 * MiB, 10);
    await writeSized(lp, frame, AbortSignal.timeout(30_000));
    assertEquals((await lp.read()).subarray()[0], 0); // received
    await stream.close();
    await waitFor("A to hand over the older member's frame", () => a.frames.length === 2, 30_000);
    assertEquals(a.frames[1].from, third);
    assert(equalBytes(a.frames[1].frame, frame));
    assertEquals([...new Set(a.mesh.muxers(third))], ["/yamux/1.0.0"]);
  } finally {
    await plain?.stop();
    await stopAll(peers);
  }
});

Deno.test("mesh: a member announces the roster's address for it, not the one it listens on", async () => {
  const ids = await identities;
  const roster = rosterFrom(ids.slice(0, 3), "mesh-announce");
  const a = await Mesh.start({
    identity: ids[0],
    roster,
    // The roster reaches A at port 1 (say, a forwarded port); A listens elsewhere.
    addresses: roster.members.map((m) => m.id === ids[0].peerId ? ["/ip4/127.0.0.1/tcp/1"] : []),
    listen: ["/ip4/127.0.0.1/tcp/0"],
    maxFrame: 1024,
    onFrame: () => {},
    onGossip: () => {},
    aggregateBody: () => undefined,
    log: () => {},
  });
  try {
    // What identify hands to peers: only the roster's address.
    assertEquals(a.addresses.map((x) => x.split("/p2p/")[0]), ["/ip4/127.0.0.1/tcp/1"]);
  } finally {
    await stopAll([{ mesh: a } as Peer]);
  }
});

Deno.test("mesh: frames to a member travel on one long-lived stream, large ones interleaved with small", async () => {
  const ids = await identities;
  const roster = rosterFrom(ids.slice(0, 3), "mesh-one-stream"); // the third never runs
  const peers: Peer[] = [];
  try {
    const b = await startPeer(ids[1], roster, new Map(), 6 * MiB);
    peers.push(b);
    const a = await startPeer(ids[0], roster, new Map([[b.index, b.mesh.addresses]]), 6 * MiB);
    peers.push(a);
    await waitFor("A and B connected", () => a.mesh.connected().includes(b.index));
    // Sent all at once (not one after the other's acknowledgement): they leave in call order.
    const frames = [
      pattern(5 * MiB, 30),
      pattern(10, 31),
      pattern(3 * MiB + 1, 32),
      pattern(1, 33),
      pattern(2000, 34),
      pattern(MiB, 35),
      pattern(7, 36),
    ];
    const deadline = Date.now() + 60_000;
    const sent = await Promise.all(frames.map((f) => a.mesh.send(b.index, f, deadline)));
    assertEquals(sent, frames.map(() => true));
    await waitFor("B to hand over every frame", () => b.frames.length === frames.length);
    b.frames.forEach((f, i) => {
      assertEquals(f.from, a.index);
      assert(equalBytes(f.frame, frames[i]), `frame ${i} intact and in order`);
    });
    assertEquals(b.mesh.counters.frameStreams, 1, "one stream carried them all");
    assertEquals(a.mesh.counters.sendFailures, 0);
    // The other direction has its own stream.
    assert(await b.mesh.send(a.index, pattern(10, 37), deadline));
    assert(await b.mesh.send(a.index, pattern(2 * MiB, 38), deadline));
    await waitFor("A to hand over two frames", () => a.frames.length === 2);
    assertEquals(a.mesh.counters.frameStreams, 1);
    assertEquals(b.mesh.counters.frameStreams, 1);
  } finally {
    await stopAll(peers);
  }
});

Deno.test("mesh: the frame stream is reopened after the connection drops", async () => {
  const ids = await identities;
  const roster = rosterFrom(ids.slice(0, 3), "mesh-reopen"); // the third never runs
  const peers: Peer[] = [];
  try {
    const b = await startPeer(ids[1], roster, new Map(), 4 * MiB);
    peers.push(b);
    const a = await startPeer(ids[0], roster, new Map([[b.index, b.mesh.addresses]]), 4 * MiB);
    peers.push(a);
    await waitFor("A and B connected", () => a.mesh.connected().includes(b.index));
    const deadline = Date.now() + 60_000;
    assert(await a.mesh.send(b.index, pattern(10, 40), deadline));
    assert(await a.mesh.send(b.index, pattern(MiB, 41), deadline));
    assertEquals(b.mesh.counters.frameStreams, 1);
    await b.mesh.hangUp(a.index); // from the receiving side: A learns of it from the socket
    await waitFor("A to see the connection drop", () => a.links.includes(`down ${b.index}`));
    assert(await a.mesh.send(b.index, pattern(MiB + 5, 42), deadline));
    assert(await a.mesh.send(b.index, pattern(10, 43), deadline));
    await waitFor("B to hand over four frames", () => b.frames.length === 4);
    const sizes = [10, MiB, MiB + 5, 10];
    sizes.forEach((n, i) =>
      assert(equalBytes(b.frames[i].frame, pattern(n, 40 + i)), `frame ${i}`)
    );
    assertEquals(b.mesh.counters.frameStreams, 2, "one stream per connection");
  } finally {
    await stopAll(peers);
  }
});

/**
 * A receiver written against the frame stream's wire format (not the mesh's code): serves
 * `FRAME_STREAM_PROTOCOL` with libp2p directly. On its first stream it reads one frame, then
 * closes the connection without answering (the frame was in flight); later streams answer
 * every frame "received".
 */
async function droppingReceiver(identity: NodeIdentity) {
  const node = await olderBuild(identity);
  const frames: { stream: number; frame: Uint8Array }[] = [];
  let streams = 0;
  await node.handle(FRAME_STREAM_PROTOCOL, async (stream, connection) => {
    const id = ++streams;
    const lp = sizedStream(stream);
    try {
      while (true) {
        const head = (await lp.read()).subarray();
        const view = new DataView(head.buffer, head.byteOffset, 8);
        const seq = view.getUint32(0);
        const length = view.getUint32(4);
        const body = new Uint8Array(length);
        for (let filled = 0; filled < length;) {
          const chunk = (await lp.read()).subarray();
          body.set(chunk, filled);
          filled += chunk.length;
        }
        frames.push({ stream: id, frame: body });
        if (id === 1) {
          await connection.close();
          return;
        }
        const answer = new Uint8Array(5);
        new DataView(answer.buffer).setUint32(0, seq);
        await lp.write(answer); // code 0: received
      }
    } catch {
      stream.abort(new Error("receiver done"));
    }
  });
  return { node, frames, streams: () => streams };
}

Deno.test("mesh: a frame in flight when the connection drops is resent on a new stream", async () => {
  const ids = await identities;
  const roster = rosterFrom(ids.slice(0, 3), "mesh-in-flight");
  let receiver: Awaited<ReturnType<typeof droppingReceiver>> | undefined;
  const peers: Peer[] = [];
  try {
    receiver = await droppingReceiver(ids[1]);
    const b = roster.indexOf(ids[1].peerId)!;
    const address = receiver.node.getMultiaddrs().map((x) => x.toString());
    const a = await startPeer(ids[0], roster, new Map([[b, address]]), 4 * MiB);
    peers.push(a);
    const frame = pattern(2 * MiB, 50);
    assert(await a.mesh.send(b, frame, Date.now() + 60_000), "delivered on the second stream");
    assertGreaterOrEqual(a.mesh.counters.sendFailures, 1, "the first attempt failed");
    const got = receiver.frames;
    assertGreaterOrEqual(got.length, 2);
    assertEquals(got[0].stream, 1);
    assert(got.every((g) => equalBytes(g.frame, frame)), "the same frame, whole, each time");
    assert(got[got.length - 1].stream > 1, "acknowledged on a later stream");
    assert(await a.mesh.send(b, pattern(10, 51), Date.now() + 30_000));
    assert(equalBytes(got[got.length - 1].frame, pattern(10, 51)));
  } finally {
    await receiver?.node.stop();
    await stopAll(peers);
  }
});

Deno.test("mesh: a member that speaks only the one-frame protocol gets a stream per frame", async () => {
  const ids = await identities;
  const roster = rosterFrom(ids.slice(0, 3), "mesh-legacy");
  let plain: Awaited<ReturnType<typeof createLibp2p>> | undefined;
  const peers: Peer[] = [];
  try {
    // An older build: serves FRAME_PROTOCOL only (one frame, one answer, per stream).
    plain = await olderBuild(ids[1]);
    const got: Uint8Array[] = [];
    await plain.handle(FRAME_PROTOCOL, async (stream) => {
      const lp = sizedStream(stream);
      const body = await readSized(lp, 8 * MiB, AbortSignal.timeout(30_000), "frame");
      if (body !== undefined) got.push(body);
      await lp.write(Uint8Array.of(0));
      await stream.close();
    });
    const b = roster.indexOf(ids[1].peerId)!;
    const address = plain.getMultiaddrs().map((x) => x.toString());
    const a = await startPeer(ids[0], roster, new Map([[b, address]]), 4 * MiB);
    peers.push(a);
    const frames = [pattern(10, 60), pattern(3 * MiB, 61), pattern(5, 62)];
    for (const f of frames) assert(await a.mesh.send(b, f, Date.now() + 30_000));
    assertEquals(got.length, 3);
    got.forEach((g, i) => assert(equalBytes(g, frames[i]), `frame ${i}`));
  } finally {
    await plain?.stop();
    await stopAll(peers);
  }
});

/**
 * The renouncement (`docs/protocol.md` §4, "Round deadline" and "Abandonment"): a member
 * committed to a view that reaches its round deadline without a certificate signs
 * Leave(r, n − 1; n + 1) — it never co-signs a certificate of the round — and the abandon check
 * counts those promises, so a round that can never complete (too few revealers left alive) ends
 * as `round-failed` (`abandoned`) for every member instead of `outcome-unknown` forever. The
 * renouncement ends the round for the member's secrets: its view's keys, the shares it holds and
 * its input are zeroed then, not when the round ends.
 *
 * @module
 */
import { assert, assertEquals } from "../../_assert.ts";
import { leaderOf } from "../../../protocol/federation/schedule.ts";
import { sessionOf } from "../../../protocol/federation/session.ts";
import { sealFrame } from "../../../protocol/wire/frame.ts";
import { leaveFields, readLeave, renouncePromise } from "../../../protocol/wire/messages.ts";
import { openFrame } from "../../../protocol/wire/frame.ts";
import type { Rng } from "../../../protocol/crypto/mod.ts";
import { Endpoint } from "../../../protocol/round/endpoint.ts";
import {
  all,
  type Federation,
  federation,
  follower,
  inputsFor,
  machineConfig,
  rngFor,
} from "../_fixtures.ts";
import { EndpointNet } from "../_harness.ts";

const ROUND = 0;

/**
 * Chaos round 19's shape. n = 6, t = 5, complete graph. y approves view 0 and is killed at once
 * (its shares die with it); z submits well after the others. The leader x gets five approvals,
 * but only four members can reveal: view 0 never completes, and no later view can (the four are
 * committed to view 0).
 */
async function round19(seed: string) {
  const fed = await federation({ n: 6, seed });
  assertEquals(fed.roster.threshold, 5);
  assertEquals(fed.roster.graph.kind, "complete");
  const net = new EndpointNet(fed, undefined, seed);
  const x = leaderOf(fed.roster, ROUND, 0);
  const y = follower(fed.roster, ROUND, [0, 1]);
  const z = follower(fed.roster, ROUND, [0, 1], [y]);
  net.intercept = (w) => {
    // Killed right after its approval left.
    if (w.type === "approval" && w.from === y) net.dead.add(y);
    return undefined;
  };
  const inputs = inputsFor(fed.roster, ROUND);
  await net.submit(ROUND, inputs, all(fed, [z]));
  const committed = all(fed, [y, z]);
  await net.run({
    until: () => committed.every((i) => net.events("committed", i).length > 0),
    maxTime: 60_000,
  });
  assert(net.dead.has(y), "y was killed after approving");
  for (const i of committed) {
    assertEquals(net.endpoints[i].participant(ROUND)?.committedView, 0, `member ${i}`);
  }
  // z is late: it submits 11 s after the others.
  net.now += 11_000;
  await net.submit(ROUND, inputs, [z]);
  return { fed, net, x, y, z, committed };
}

Deno.test("renounce: a member killed after approving and a late member (chaos round 19) — the committed members renounce co-signing at their deadline and every member ends the round failed", async () => {
  const { fed, net, z, committed } = await round19("renounce-round-19");
  const n = fed.roster.members.length;
  const ended = (i: number) =>
    net.events("round-failed", i).some((e) => e.role === "participant") ||
    net.events("final", i).length > 0;
  await net.run({
    until: () => [...committed, z].every(ended),
    maxTime: net.now + 3 * fed.roster.roundDeadlineMs,
  });
  // Before the renouncement the four committed members stayed outcome-unknown for good.
  for (const i of [...committed, z]) assert(ended(i), `member ${i} ended the round`);
  for (const i of committed) {
    // Outcome unknown first (its leader went quiet), then the renouncement at its deadline.
    assert(net.events("outcome-unknown", i).length > 0, `member ${i} asked first`);
    assertEquals(net.events("renounced", i).map((e) => e.view), [0], `member ${i} renounced`);
    const failed = net.events("round-failed", i).filter((e) => e.role === "participant");
    assertEquals(failed.length, 1, `member ${i} ended once`);
    assert(failed[0].reason.startsWith("abandoned"), `member ${i}: ${failed[0].reason}`);
    // Its renouncement went to every other member: Leave(0, n − 1; n + 1).
    const leaves = net.sent("leave", i).map((w) => openFrame(w.frame, fed.roster));
    assert(leaves.length > 0, `member ${i} sent its renouncement`);
    for (const env of leaves) {
      assertEquals(
        [env.session.view, readLeave(env, n).promised],
        [n - 1, renouncePromise(n)],
        `member ${i}`,
      );
    }
  }
  assertEquals(net.events("round-failed", z).length, 1, "the late member failed too");
  assertEquals(net.events("renounced", z), [], "z committed nowhere: nothing to renounce");
  assertEquals(net.events("published"), [], "no certificate");
  assertEquals(net.events("final"), [], "nothing final");
  assertEquals(net.sent("cosign"), [], "nobody co-signed");
  net.close();
});

Deno.test("renounce: a member that renounced still ends final when the others co-sign: it takes the certificate but withholds its Cosign", async () => {
  // n = 4, t = 3. a submits 3 s before the others, so its deadline comes first; the round's
  // decision (certificate, co-signatures, Outcomes) reaches it only after that: it renounced
  // (one promise, short of the abandon quorum), takes the certificate (published) without a
  // Cosign, and the others' three co-signatures make it final there too.
  const fed = await federation({ n: 4, threshold: 3, seed: "renounce-late-cert" });
  const net = new EndpointNet(fed, undefined, "renounce-late-cert");
  const a = follower(fed.roster, ROUND, [0]);
  const inputs = inputsFor(fed.roster, ROUND);
  await net.submit(ROUND, inputs, [a]);
  net.now += 3_000;
  await net.submit(ROUND, inputs, all(fed, [a]));
  net.hold = (w) => w.to === a && ["certificate", "cosign", "outcome"].includes(w.type);
  await net.run({
    until: () => net.events("renounced", a).length > 0,
    maxTime: net.now + fed.roster.roundDeadlineMs,
  });
  assertEquals(net.events("renounced", a).map((e) => e.view), [0], "a renounced at its deadline");
  assertEquals(net.events("round-failed", a), [], "one promise proves nothing");
  net.hold = undefined;
  net.release();
  await net.run({ until: () => net.events("final").length === 4, maxTime: net.now + 60_000 });
  assertEquals(net.events("published", a).length, 1, "a took the certificate");
  assertEquals(net.sent("cosign", a), [], "a never co-signs");
  assertEquals(net.events("final").length, 4, "final for every member, a included");
  for (const f of net.events("final")) assertEquals([...f.members], all(fed));
  assertEquals(net.events("round-failed").filter((e) => e.role === "participant"), []);
  net.close();
});

Deno.test("renounce: the promise n + 1 is taken only with w = n − 1; anything else past w + 1 is malformed", async () => {
  const fed = await federation({ n: 5, seed: "renounce-wire" });
  const net = new EndpointNet(fed, undefined, "renounce-wire");
  const x = leaderOf(fed.roster, ROUND, 0);
  const [a] = all(fed, [x]);
  await net.submit(ROUND, inputsFor(fed.roster, ROUND), [x]);
  const n = fed.roster.members.length;
  const leave = (w: number, promised: number) =>
    sealFrame(
      "leave",
      sessionOf(fed.roster, ROUND, w),
      a,
      leaveFields(promised),
      fed.signers[a],
      fed.roster.mode,
    );
  const codes = async (frame: Uint8Array) =>
    (await net.inject(x, frame)).flatMap((e) => e.type === "refused" ? [e.error.code] : []);
  assertEquals(await codes(await leave(n - 2, n + 1)), ["malformed"]);
  assertEquals(await codes(await leave(n - 1, n + 2)), ["malformed"]);
  assertEquals(await codes(await leave(n - 1, renouncePromise(n))), []);
  net.close();
});

/**
 * Member `a` of `net` given a fresh endpoint whose rng keeps every array it hands out (`drawn`):
 * all of a participant's ephemeral secrets come from it (the view's seeds; the share seed, the
 * Shamir coefficients and the X-Wing ephemerals are wiped as soon as used), so they are zero
 * exactly when the member holds none any more.
 */
function recordingMember(fed: Federation, net: EndpointNet, a: number, label: string) {
  const drawn: Uint8Array[] = [];
  const inner = rngFor(label, a, "recorded");
  const rng: Rng = (length) => {
    const out = inner(length);
    drawn.push(out);
    return out;
  };
  net.endpoints[a].close();
  // The network's nodes are the endpoints array itself: a's frames now go to the new one.
  net.endpoints[a] = new Endpoint(machineConfig(fed, a, rng));
  return { drawn, secretsLeft: () => drawn.filter((d) => d.some((b) => b !== 0)).length };
}

/**
 * `a` submits 3 s before the others (its deadline comes first) and every frame `held` matches
 * is held from it: committed to view 0 and undecided at its deadline, it renounces. Returns
 * its input (the array its participant owns) and what its rng handed out.
 */
async function renouncing(
  fed: Federation,
  label: string,
  a: number,
  held: (type: string) => boolean,
) {
  const net = new EndpointNet(fed, undefined, label);
  const recorded = recordingMember(fed, net, a, label);
  const inputs = inputsFor(fed.roster, ROUND);
  const input = inputs[a].slice();
  await net.call(a, () => net.endpoints[a].submit(ROUND, input, net.now));
  net.now += 3_000;
  await net.submit(ROUND, inputs, all(fed, [a]));
  net.hold = (w) => w.to === a && held(w.type);
  await net.run({
    until: () => net.events("committed", a).length > 0,
    maxTime: net.now + fed.roster.roundDeadlineMs,
  });
  assertEquals(net.events("committed", a).map((e) => e.view), [0]);
  return { net, input, ...recorded };
}

Deno.test("renounce: the renouncing member zeroes its view's keys and its input at once, not when the round ends", async () => {
  // Complete graph: a commits as it reveals (its held shares go then); the decision never
  // reaches it before its deadline, which comes before its leader's silence would make it ask
  // (asking drops the input): 4 s after its start, 1 s after it committed.
  const fed = await federation({
    n: 4,
    threshold: 3,
    roundDeadlineMs: 4_000,
    seed: "renounce-zero",
  });
  const a = follower(fed.roster, ROUND, [0]);
  const decision = ["certificate", "cosign", "outcome"];
  const { net, input, drawn, secretsLeft } = await renouncing(
    fed,
    "renounce-zero",
    a,
    (type) => decision.includes(type),
  );
  const p = net.endpoints[a].participant(ROUND)!;
  assert(secretsLeft() >= 2, "committed: the view's self and mask seeds are held");
  assert(input.some((w) => w !== 0), "committed: the input is held");
  await net.run({
    until: () => net.events("renounced", a).length > 0,
    maxTime: net.now + fed.roster.roundDeadlineMs,
  });
  assertEquals(net.events("renounced", a).map((e) => e.view), [0]);
  assertEquals(net.events("outcome-unknown", a), [], "it had not asked: its input was held");
  assert(p.open && !p.decided, "the round goes on for a: it still takes the certificate");
  assertEquals(secretsLeft(), 0, `every one of the ${drawn.length} arrays its rng handed out`);
  assert(input.every((w) => w === 0), "the input is zeroed");
  assertEquals(p.heldShares, 0);
  // The certificate still reaches it and is taken, without a co-signature.
  net.hold = undefined;
  net.release();
  await net.run({ until: () => net.events("final").length === 4, maxTime: net.now + 60_000 });
  assertEquals(net.events("published", a).length, 1, "a took the certificate");
  assertEquals(net.sent("cosign", a), [], "a never co-signs");
  net.close();
});

Deno.test("renounce: a member committed on approving (sparse graph) zeroes the shares it still holds when it renounces", async () => {
  // Sparse graph: a commits as it approves and holds its neighbours' shares until the
  // UnmaskRequest, which never reaches it before its deadline.
  const fed = await federation({
    n: 7,
    graph: { kind: "harary", degree: 4, threshold: 3 },
    seed: "renounce-zero-sparse",
  });
  const a = follower(fed.roster, ROUND, [0]);
  const held = ["unmaskRequest", "certificate", "cosign", "outcome"];
  const { net, input, secretsLeft } = await renouncing(
    fed,
    "renounce-zero-sparse",
    a,
    (type) => held.includes(type),
  );
  const p = net.endpoints[a].participant(ROUND)!;
  assert(p.heldShares > 0, "committed on approving: it holds shares");
  assert(secretsLeft() >= 2, "and the view's seeds");
  await net.run({
    until: () => net.events("renounced", a).length > 0,
    maxTime: net.now + fed.roster.roundDeadlineMs,
  });
  assertEquals(net.events("renounced", a).map((e) => e.view), [0]);
  assertEquals(p.heldShares, 0, "the shares are zeroed and forgotten");
  assertEquals(secretsLeft(), 0, "the view's seeds are zeroed");
  assert(input.every((w) => w === 0), "the input is zeroed");
  assertEquals(net.sent("unmask", a), [], "it never revealed");
  net.close();
});

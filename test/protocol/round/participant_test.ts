/**
 * The participant state machine (protocol/participant.ts), driven against real leaders on the
 * in-memory network of `_harness.ts`: stage progression, timeouts and view changes, when it
 * commits (and that the `committed` event precedes the frame that commits), failure when a
 * leader stalls after commitment, co-signatures that overtake the certificate, observers, and
 * wiping. Refusals of hostile input are the adversary suite's; only routine ones appear here.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "../../_assert.ts";
import { CallerError } from "../../../protocol/errors.ts";
import { type Stage, STAGES as ALL_STAGES } from "../../../protocol/round/stages.ts";
import { inlineExpander, type MaskExpander } from "../../../protocol/math/masking.ts";
import { openFrame, sealFrame } from "../../../protocol/wire/frame.ts";
import { Participant } from "../../../protocol/round/participant.ts";
import { leaderOf } from "../../../protocol/federation/schedule.ts";
import { sessionOf } from "../../../protocol/federation/session.ts";
import {
  all,
  eventsOf,
  federation,
  follower,
  inputsFor,
  machineConfig,
  plainSum,
  rngFor,
} from "../_fixtures.ts";
import { MachineNet, startedNet } from "../_harness.ts";

import { INQUIRY_ATTEMPTS, inquiryBackoffMs } from "../../../protocol/round/outcome_inquiry.ts";

const ROUND = 0;
/** The stages a round passes through when nothing goes wrong. */
const STAGES: Stage[] = ALL_STAGES.filter((s) => s !== "failed");

const complete = federation({ n: 5, dim: 20 });
const sparse = federation({
  n: 7,
  dim: 20,
  graph: { kind: "harary", degree: 4, threshold: 3 },
  seed: "sparse",
});

Deno.test("participant: a round runs through every stage, with stage events", async () => {
  for (const fed of [await complete, await sparse]) {
    const net = await startedNet(fed, ROUND);
    const inputs = inputsFor(fed.roster, ROUND);
    for (const [i, p] of net.participants.entries()) {
      const stages = net.events("stage", i).filter((e) => e.role === "participant");
      assertEquals(stages.map((e) => e.stage), STAGES, `member ${i}`);
      assert(stages.every((e) => e.round === ROUND && e.view === 0));
      assertEquals(p.stage, "final");
      assertEquals(p.view, 0);
      assertEquals(p.committedView, 0);
      assertEquals(p.nextTimeout(), undefined, "nothing left to wait for");
      const [published] = net.events("published", i);
      const [final] = net.events("final", i);
      assertEquals(published.members, all(fed));
      assertEquals(final.members, all(fed));
      assertEquals(final.aggregate, plainSum(inputs, all(fed)));
      assertEquals(net.events("committed", i).map((e) => [e.round, e.view]), [[ROUND, 0]]);
    }
    assertEquals(net.events("refused"), []);
  }
});

Deno.test("participant: start advertises to the leader and sets the view timeout", async () => {
  const fed = await complete;
  const { roster } = fed;
  const x = follower(roster, ROUND);
  const p = new Participant(
    machineConfig(fed, x, rngFor("p/start")),
    ROUND,
    inputsFor(roster, ROUND)[x],
  );
  assertEquals([p.stage, p.view, p.nextTimeout()], ["advertise", 0, undefined]);
  for (const view of [0, 3]) {
    const out = await p.start(100, view);
    assertEquals(eventsOf(out), [
      { type: "stage", role: "participant", round: ROUND, view, stage: "advertise" },
      { type: "advertised", round: ROUND, view },
    ]);
    // The advertised event comes before the advert: a node persists it first.
    assertEquals(out.at(-1)?.kind, "send");
    const sends = out.filter((o) => o.kind === "send");
    assertEquals(sends.length, 1);
    assertEquals(sends[0].kind === "send" && sends[0].to, leaderOf(roster, ROUND, view));
    const env = openFrame(sends[0].kind === "send" ? sends[0].frame : new Uint8Array(), roster, x);
    assertEquals([env.type, env.session.view], ["advertiseKeys", view]);
    assertEquals(p.view, view);
    // While advertising, the leader may wait advertiseTimeoutMs for stragglers on top.
    assertEquals(p.nextTimeout(), 100 + roster.advertiseTimeoutMs + roster.viewTimeoutMs);
  }
  // Before its deadline, a timeout does nothing.
  assertEquals(
    await p.handleTimeout(100 + roster.advertiseTimeoutMs + roster.viewTimeoutMs - 1),
    [],
  );
  p.wipe();
});

Deno.test("participant: changes view after viewTimeout when the leader never answers", async () => {
  const fed = await complete;
  const { roster } = fed;
  const dead = leaderOf(roster, ROUND, 0);
  const net = await startedNet(fed, ROUND, (m) => m.from === dead || m.to === dead);
  const x = follower(roster, ROUND);
  const p = net.participants[x];
  const patience = roster.advertiseTimeoutMs + roster.viewTimeoutMs;
  assertEquals([p.stage, p.nextTimeout()], ["advertise", patience]);
  assertEquals(await p.handleTimeout(patience - 1), []);
  const out = await p.handleTimeout(patience);
  assertEquals(eventsOf(out), [
    { type: "left", round: ROUND, view: 0 },
    { type: "view-change", round: ROUND, from: 0, to: 1 },
    { type: "stage", role: "participant", round: ROUND, view: 1, stage: "advertise" },
    { type: "advertised", round: ROUND, view: 1 },
  ]);
  // Leave(ROUND, 0) to every other member, then the advert to the next leader.
  const sends = out.filter((o) => o.kind === "send");
  assertEquals(sends.length, roster.members.length);
  const send = sends.at(-1);
  assert(send?.kind === "send" && send.to === leaderOf(roster, ROUND, 1));
  assertEquals(p.view, 1);
  assertEquals(p.nextTimeout(), 2 * patience);
  await net.emit(x, out);
  // Everyone else times out too; the leader of view 1 waits its advertise timeout for the dead
  // member's advert, then the round completes without it.
  net.now = patience;
  await net.tick();
  net.now += roster.stageTimeoutMs;
  await net.tick();
  for (const i of all(fed, [dead])) {
    const [final] = net.events("final", i);
    assertEquals(final.view, 1, `member ${i}`);
    assertEquals(final.members, all(fed, [dead]));
  }
});

Deno.test("participant: any stage before commitment can be abandoned", async () => {
  const fed = await complete;
  const { roster } = fed;
  // Complete graph: members commit when they reveal, so a leader stalling at any relay before
  // the unmask request (including after the approvals) is abandoned.
  const relays = ["keyList", "shareDelivery", "consistencyRequest", "unmaskRequest"] as const;
  const stuckIn: Stage[] = ["advertise", "share", "masked", "consistency"];
  for (const [k, relay] of relays.entries()) {
    const net = await startedNet(fed, ROUND, (m) => m.session.view === 0 && m.type === relay);
    for (const p of net.participants) {
      assertEquals([p.stage, p.committedView], [stuckIn[k], undefined], relay);
    }
    net.now = roster.viewTimeoutMs;
    await net.tick();
    net.now += roster.stageTimeoutMs;
    await net.tick();
    for (const i of all(fed)) {
      assertEquals(net.events("view-change", i).length, 1, `${relay}: member ${i}`);
      const [final] = net.events("final", i);
      assertEquals([final.view, final.members], [1, all(fed)], `${relay}: member ${i}`);
    }
    // The abandoned leader may give up (it cannot unmask without shares); no member does.
    assertEquals(net.events("round-failed", undefined, "participant"), []);
  }
});

Deno.test("participant: complete graph commits just before the unmask frame", async () => {
  const fed = await complete;
  const { roster } = fed;
  const x = follower(roster, ROUND);
  const net = await startedNet(fed, ROUND, (m) => m.type === "unmaskRequest" && m.to === x);
  const p = net.participants[x];
  // Approving did not commit.
  assertEquals([p.stage, p.committedView], ["consistency", undefined]);
  assertEquals(net.events("committed", x), []);
  const { out, kinds } = await net.deliverHeld(x);
  assertEquals(kinds, ["committed", "stage", "unmask"]);
  assertEquals(eventsOf(out)[0], { type: "committed", round: ROUND, view: 0 });
  assertEquals(p.committedView, 0);
  net.held.length = 0;
  await net.emit(x, out);
  await net.deliver();
  assertEquals(net.events("final", x).length, 1);
  assertEquals(net.events("committed", x).length, 1, "only the event emitted above");
});

Deno.test("participant: sparse graph commits just before the approval", async () => {
  const fed = await sparse;
  const { roster } = fed;
  const x = follower(roster, ROUND);
  const net = await startedNet(fed, ROUND, (m) => m.type === "consistencyRequest" && m.to === x);
  const p = net.participants[x];
  assertEquals([p.stage, p.committedView], ["masked", undefined]);
  const { out, kinds } = await net.deliverHeld(x);
  assertEquals(kinds, ["committed", "stage", "approval"]);
  assertEquals(p.committedView, 0);
  net.held.length = 0;
  await net.emit(x, out);
  await net.deliver();
  // Revealing later commits nothing new: the only committed event is the one emitted above.
  assertEquals(net.events("committed", x).length, 1);
  assertEquals(net.events("final", x).length, 1);
});

Deno.test("participant: a committed member whose leader stalls asks how the round ended, never fails on a guess", async () => {
  // The round deadline lies past all the asking here: at the deadline a committed member
  // renounces co-signing instead (`renounce_test.ts`), and a certificate later than that is
  // never final.
  const roundDeadlineMs = 1_000_000_000;
  const cases = [
    // Complete graph: committed at the unmask stage, the certificate is late.
    {
      fed: await federation({ n: 5, dim: 20, roundDeadlineMs }),
      withheld: "certificate",
      stage: "unmask",
    },
    // Sparse graph: committed at approval, the unmask request is late.
    {
      fed: await federation({
        n: 7,
        dim: 20,
        graph: { kind: "harary", degree: 4, threshold: 3 },
        seed: "sparse",
        roundDeadlineMs,
      }),
      withheld: "unmaskRequest",
      stage: "consistency",
    },
  ] as const;
  for (const { fed, withheld, stage } of cases) {
    const { roster } = fed;
    const n = roster.members.length;
    const net = await startedNet(
      fed,
      ROUND,
      (m) => m.type === withheld || m.type === "outcomeRequest",
    );
    for (const [i, p] of net.participants.entries()) {
      assertEquals([p.stage, p.committedView], [stage, 0], `member ${i}`);
      assertEquals(p.nextTimeout(), roster.viewTimeoutMs);
    }
    net.now = roster.viewTimeoutMs - 1;
    await net.tick();
    assertEquals(net.events("outcome-unknown"), []);
    net.now = roster.viewTimeoutMs;
    await net.tick();
    for (const [i, p] of net.participants.entries()) {
      assertEquals(net.events("round-failed", i, "participant"), [], `member ${i}: no guess`);
      const unknown = net.events("outcome-unknown", i);
      assertEquals(unknown.map((e) => [e.round, e.view, e.asking]), [[ROUND, 0, true]]);
      assert(unknown[0].reason.includes("no progress"), unknown[0].reason);
      assertEquals(net.events("view-change", i), [], "a committed member never changes view");
      assertEquals(p.stage, stage, "still waiting for its leader");
      assert(net.inputs[i]!.every((w) => w === 0), "the raw input is no longer needed");
      const asked = net.held.filter((w) => w.type === "outcomeRequest" && w.from === i);
      assertEquals(
        asked.map((w) => [w.to, w.session.view]).sort(),
        all(fed, [i]).map((to) => [to, 0]),
      );
    }
    // It asks again with a growing backoff, then keeps asking at the longest one.
    const asking = net.now;
    for (let k = 1; k < 2 * INQUIRY_ATTEMPTS; k++) {
      const next = net.participants[0].nextTimeout()!;
      assertEquals(next - net.now, inquiryBackoffMs(roster, k - 1), `gap ${k}`);
      net.now = next;
      await net.tick();
    }
    assertEquals(
      net.now - asking,
      inquiryBackoffMs(roster, 0) * (2 ** INQUIRY_ATTEMPTS - 1) +
        inquiryBackoffMs(roster, INQUIRY_ATTEMPTS) * (INQUIRY_ATTEMPTS - 1),
    );
    for (const [i, p] of net.participants.entries()) {
      const asked = net.held.filter((w) => w.type === "outcomeRequest" && w.from === i);
      assertEquals(asked.length, 2 * INQUIRY_ATTEMPTS * (n - 1), `member ${i}`);
      assertEquals(net.events("outcome-unknown", i).map((e) => e.asking), [true]);
      assert(p.nextTimeout() !== undefined, "it keeps asking");
      assertEquals(net.events("round-failed", i, "participant"), []);
    }
    // The slow leader's answer is still taken (the view was kept): on a sparse graph every
    // member reveals its shares; on the complete graph the certificate ends the round with every
    // member's update.
    net.hold = undefined;
    net.release((w) => w.type === withheld);
    await net.deliver();
    if (withheld === "unmaskRequest") {
      assertEquals(net.sent("unmask").map((w) => w.from).sort(), all(fed));
      continue;
    }
    for (const i of all(fed)) {
      const finals = net.events("final", i);
      assertEquals(finals.length, 1, `member ${i}`);
      assertEquals(finals[0].members, all(fed));
      assertEquals(net.events("round-failed", i, "participant"), []);
    }
  }
});

for (const mode of ["classical", "post-quantum"] as const) {
  Deno.test(
    `participant (${mode}): a share delivery whose masking fails leaves the member as it was; ` +
      "the same delivery again gives the exact aggregate",
    async () => {
      const fed = mode === "classical"
        ? await complete
        : await federation({ n: 5, dim: 20, mode, seed: "flaky" });
      const { roster } = fed;
      let fail = false;
      const flaky: MaskExpander = {
        apply: (target, terms) =>
          fail ? Promise.reject(new Error("expander broke")) : inlineExpander.apply(target, terms),
      };
      // The highest index holds only keys derived from its own KeyList in classical mode and
      // only decapsulated ones in post-quantum mode; the lowest the converse.
      for (const x of [0, roster.members.length - 1]) {
        const net = new MachineNet(fed, ROUND, inputsFor(roster, ROUND), flaky);
        net.hold = (m) => m.type === "shareDelivery" && m.to === x;
        await net.start();
        await net.deliver();
        const [delivery] = net.held;
        fail = true;
        await assertRejects(
          () => net.toParticipant(x, delivery.frame, delivery.from),
          Error,
          "expander broke",
        );
        fail = false;
        assertEquals(net.participants[x].stage, "share");
        net.hold = undefined;
        net.release();
        await net.deliver();
        const [final] = net.events("final", x);
        assert(final !== undefined, `member ${x} reaches a final certificate`);
        assertEquals(final.aggregate, plainSum(inputsFor(roster, ROUND), all(fed)));
      }
    },
  );
}

Deno.test("participant: wipe zeroes the input; so does the end of the round", async () => {
  const fed = await complete;
  const { roster } = fed;
  const config = (self: number) => machineConfig(fed, self, rngFor("p/wipe", self));
  const input = inputsFor(roster, ROUND)[1].slice();
  assert(input.some((v) => v !== 0));
  const p = new Participant(config(1), ROUND, input);
  await p.start(0);
  p.wipe();
  assert(input.every((v) => v === 0), "wipe() zeroes the caller's array it took ownership of");
  // The input must have d + 1 words.
  assertThrows(() => new Participant(config(1), ROUND, new Uint32Array(roster.dim)), CallerError);
  assertThrows(
    () => new Participant(config(1), ROUND, new Uint32Array(roster.dim + 2)),
    CallerError,
  );
  // After publication the participants' inputs are gone too.
  const net = await startedNet(fed, ROUND);
  assertEquals(net.events("final").length, roster.members.length);
  for (const v of net.inputs) assert(v !== undefined && v.every((w) => w === 0));
});

Deno.test("participant: routine refusals leave the state unchanged", async () => {
  const fed = await complete;
  const { roster } = fed;
  const x = follower(roster, ROUND);
  const net = await startedNet(fed, ROUND, (m) => m.type === "shareDelivery" && m.to === x);
  const p = net.participants[x];
  assertEquals(p.stage, "share");
  const leader = leaderOf(roster, ROUND, 0);
  const keyList = net.emitted.find((m) => m.type === "keyList" && m.to === x)!;
  const advert = net.emitted.find((m) => m.type === "advertiseKeys" && m.from === x)!;
  const refusedCode = async (frame: Uint8Array, from: number) => {
    const out = await net.toParticipant(x, frame, from);
    const e = eventsOf(out);
    assertEquals(e.length, 1);
    return e[0].type === "refused" ? e[0].error.code : e[0].type;
  };
  // A leader-bound message, a repeated key list, a relay from a member that does not lead.
  assertEquals(await refusedCode(advert.frame, x), "wrong-type");
  assertEquals(await refusedCode(keyList.frame, leader), "wrong-stage");
  const other = (leader + 1) % roster.members.length;
  const session = sessionOf(roster, ROUND, 0);
  const fake = await sealFrame("keyList", session, other, [[]], fed.signers[other], roster.mode);
  assertEquals(await refusedCode(fake, other), "not-leader");
  // A message of another round.
  const later = await sealFrame(
    "keyList",
    sessionOf(roster, ROUND + 1, 0),
    leaderOf(roster, ROUND + 1, 0),
    [[]],
    fed.signers[leaderOf(roster, ROUND + 1, 0)],
    roster.mode,
  );
  assertEquals(await refusedCode(later, leaderOf(roster, ROUND + 1, 0)), "wrong-session");
  // Nothing changed: the held delivery completes the round.
  assertEquals(p.stage, "share");
  net.release();
  await net.deliver();
  assertEquals(net.events("final", x).length, 1);
});

/**
 * What a session's Leader (protocol/round/leader.ts) refuses at its door, called directly (the
 * endpoint routes only leader-bound types and this session's frames to it, so no round-level
 * test reaches these): a message type that members, not leaders, receive (`wrong-type`) and a
 * frame of another session (`wrong-session`), each naming the sender and changing nothing.
 *
 * @module
 */
import { assert, assertEquals } from "../../_assert.ts";
import { openFrame } from "../../../protocol/wire/frame.ts";
import { eventsOf, federation } from "../_fixtures.ts";
import { startedNet } from "../_harness.ts";

Deno.test("leader refusals: member-bound types and other sessions' frames", async () => {
  const fed = await federation({ n: 4, dim: 4, seed: "leader-refusals" });
  const { roster } = fed;
  const net = await startedNet(fed, 0);
  const other = await startedNet(fed, 1);
  const leader = net.leader(0)!;
  const stage = leader.stage;
  for (
    const type of [
      "keyList",
      "shareDelivery",
      "consistencyRequest",
      "unmaskRequest",
      "cosign",
    ] as const
  ) {
    const w = net.emitted.find((m) => m.type === type)!;
    const events = eventsOf(await leader.handle(openFrame(w.frame, roster), net.now));
    assertEquals(
      events.map((e) => e.type === "refused" ? [e.error.code, e.error.peer] : e.type),
      [["wrong-type", w.from]],
      type,
    );
    const [e] = events;
    assert(
      e.type === "refused" && e.error.message.includes(`${type} is not addressed to the leader`),
    );
  }
  for (const type of ["advertiseKeys", "approval", "unmask"] as const) {
    const w = other.emitted.find((m) => m.type === type)!;
    const events = eventsOf(await leader.handle(openFrame(w.frame, roster), net.now));
    assertEquals(
      events.map((e) => e.type === "refused" ? [e.error.code, e.error.peer] : e.type),
      [["wrong-session", w.from]],
      type,
    );
  }
  assertEquals(leader.stage, stage);
});

/**
 * The event sink's reports to subscribers: a committed round whose end is unknown reaches the
 * trainer's event stream (it must neither resubmit the update nor wait for nothing).
 *
 * @module
 */
import { assertEquals } from "../_assert.ts";
import { EventSink, type NodeEvent } from "../../node/event_sink.ts";
import { Journal } from "../../node/journal.ts";
import { Metrics } from "../../node/metrics.ts";
import { Endpoint } from "../../protocol/mod.ts";
import { federation, machineConfig, rngFor } from "../protocol/_fixtures.ts";
import { withTempDir } from "./_helpers.ts";

Deno.test("event sink: outcome-unknown is reported to subscribers, counted and shown", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "sink" });
  await withTempDir("fedagg-sink-", async (dir) => {
    const metrics = new Metrics();
    const sink = new EventSink({
      roster: fed.roster,
      journal: new Journal(dir, fed.roster),
      metrics,
      log: () => {},
    });
    const seen: NodeEvent[] = [];
    sink.subscribe((e) => seen.push(e));
    await sink.handle({
      type: "outcome-unknown",
      round: 3,
      view: 1,
      reason: "the leader of view 1 stalled after this member committed to it",
      asking: true,
    });
    assertEquals(seen, [{
      type: "outcome-unknown",
      round: 3,
      view: 1,
      reason: "the leader of view 1 stalled after this member committed to it",
    }]);
    assertEquals(metrics.get("fedagg_rounds_outcome_unknown_total"), 1);
    assertEquals(sink.current, { round: 3, view: 1, stage: "outcome-unknown" });
  });
});

Deno.test("event sink: round-failed reaches subscribers for this member's update only, journaled", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "sink2" });
  await withTempDir("fedagg-sink-", async (dir) => {
    const metrics = new Metrics();
    const journal = new Journal(dir, fed.roster);
    const sink = new EventSink({ roster: fed.roster, journal, metrics, log: () => {} });
    const seen: NodeEvent[] = [];
    sink.subscribe((e) => seen.push(e));
    const failed = { type: "round-failed", round: 2, view: 0, reason: "r" } as const;
    // This node's leader session of view 0 gave up: its own update may still complete in view 1.
    await sink.handle({ ...failed, role: "leader" });
    assertEquals(seen, [], "a leader session's failure is not the trainer's update failing");
    await sink.handle({ ...failed, role: "participant" });
    assertEquals(seen, [{ type: "round-failed", round: 2, view: 0, reason: "r" }]);
    assertEquals(metrics.get("fedagg_rounds_failed_total"), 2, "both counted");
    // Journaled for the update's round: a restart neither asks about it nor reports it again.
    assertEquals(await journal.failedView(2), 0);
  });
});

Deno.test("event sink: a Leave is journaled before it leaves, and a restart resumes after its view", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "sink3" });
  await withTempDir("fedagg-sink-", async (dir) => {
    const journal = new Journal(dir, fed.roster);
    const sink = new EventSink({
      roster: fed.roster,
      journal,
      metrics: new Metrics(),
      log: () => {},
    });
    await sink.handle({ type: "advertised", round: 1, view: 0 });
    // The evidence moved the member past view 2: it promised never to commit in views 0 to 2.
    await sink.handle({ type: "left", round: 1, view: 2 });
    assertEquals(await journal.advertisedView(1), 2);
    const endpoint = new Endpoint(machineConfig(fed, 0, rngFor("sink3")));
    const plan = endpoint.restore({
      advertised: new Map([[1, (await journal.advertisedView(1))!]]),
      pending: [1],
    });
    assertEquals(plan.resume, [{ round: 1, view: 3 }], "never back into a view it left");
    // A Leave of the last view (a round given up): no view is left to resume in.
    await sink.handle({ type: "left", round: 1, view: fed.roster.members.length - 1 });
    const again = new Endpoint(machineConfig(fed, 0, rngFor("sink3b"))).restore({
      advertised: new Map([[1, (await journal.advertisedView(1))!]]),
      pending: [1],
    });
    assertEquals(again.resume, []);
    assertEquals(again.givenUp.length, 1);
  });
});

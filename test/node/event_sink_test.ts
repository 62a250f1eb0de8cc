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
import { federation } from "../protocol/_fixtures.ts";
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
    sink.subscribe((e) => seen.push(e.event));
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
    sink.subscribe((e) => seen.push(e.event));
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

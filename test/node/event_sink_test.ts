/**
 * The event sink's reports to subscribers: a committed round whose end is unknown reaches the
 * trainer's event stream (it must neither resubmit the update nor wait for nothing).
 *
 * @module
 */
import { assert, assertEquals } from "../_assert.ts";
import { EventSink, type NodeEvent } from "../../node/event_sink.ts";
import { Journal } from "../../node/journal.ts";
import { Metrics } from "../../node/metrics.ts";
import { Endpoint } from "../../protocol/mod.ts";
import type { Stage } from "../../protocol/round/stages.ts";
import { inlineExpander } from "../../protocol/math/masking.ts";
import { federation, inputsFor, machineConfig, rngFor } from "../protocol/_fixtures.ts";
import { EndpointNet } from "../protocol/_harness.ts";
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

Deno.test("event sink: stage changes are timed per role and stage, and reach subscribers", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "sink3" });
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
    const stage = (role: "participant" | "leader", round: number, s: Stage) =>
      sink.handle({ type: "stage", role, round, view: 0, stage: s });
    await stage("participant", 1, "advertise");
    await stage("leader", 1, "advertise");
    await stage("participant", 2, "advertise");
    await stage("participant", 1, "share");
    await stage("participant", 1, "masked");
    await stage("participant", 1, "failed");
    await stage("leader", 1, "share");
    const count = (role: string, s: string) =>
      metrics.get("fedagg_stage_duration_seconds", { role, stage: s });
    assertEquals(count("participant", "advertise"), 1, "round 2's advert is still open");
    assertEquals(count("participant", "share"), 1);
    assertEquals(count("participant", "masked"), 1, "closed by the terminal stage");
    assertEquals(count("leader", "advertise"), 1);
    assertEquals(count("leader", "share"), 0, "still in it");
    assertEquals(seen.filter((e) => e.type === "stage").length, 7);
    assertEquals(seen[0], {
      type: "stage",
      round: 1,
      view: 0,
      role: "participant",
      stage: "advertise",
    });
    await sink.handle({ type: "view-change", round: 2, from: 0, to: 1 });
    assertEquals(seen.at(-1), { type: "view-change", round: 2, view: 1, from: 0 });
    assertEquals(metrics.get("fedagg_view_changes_total"), 1);
  });
});

Deno.test("event sink: a request for the final certificate is a warn line naming the member asked, and counted", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "sink-asked" });
  await withTempDir("fedagg-sink-", async (dir) => {
    const metrics = new Metrics();
    const lines: [string, string, object | undefined][] = [];
    const sink = new EventSink({
      roster: fed.roster,
      journal: new Journal(dir, fed.roster),
      metrics,
      log: (level, msg, fields) => lines.push([level, msg, fields]),
    });
    const seen: NodeEvent[] = [];
    sink.subscribe((e) => seen.push(e.event));
    await sink.handle({ type: "final-asked", round: 2, view: 1, to: 3 });
    assertEquals(metrics.get("fedagg_final_requests_total"), 1);
    assertEquals(lines, [[
      "warn",
      "co-signatures missing: asking a member for the final certificate",
      { round: 2, view: 1, member: fed.roster.members[3].id },
    ]]);
    assertEquals(seen, [], "not a trainer's event");
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

Deno.test("event sink: a masked input is journaled before it leaves; after a restart the update is never withdrawn", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "sink-masked" });
  await withTempDir("fedagg-sink-", async (dir) => {
    const journal = new Journal(dir, fed.roster);
    const sink = new EventSink({
      roster: fed.roster,
      journal,
      metrics: new Metrics(),
      log: () => {},
    });
    await sink.handle({ type: "advertised", round: 1, view: 0 });
    await sink.handle({ type: "masked", round: 1, view: 0 });
    assertEquals(await journal.maskedView(1), 0);
    const endpoint = new Endpoint(machineConfig(fed, 0, rngFor("sink-masked")));
    const plan = endpoint.restore({
      advertised: new Map([[1, (await journal.advertisedView(1))!]]),
      masked: new Map([[1, (await journal.maskedView(1))!]]),
      pending: [1],
    });
    assertEquals(plan.resume, [{ round: 1, view: 1 }]);
    const input = inputsFor(fed.roster, 1)[0];
    await endpoint.submit(1, input, 0, 1);
    const code = await endpoint.withdraw(1).then(
      () => undefined,
      (err) => (err as { code?: string }).code,
    );
    assertEquals(code, "committed");
    endpoint.close();
  });
});

Deno.test("event sink: the final certificate closes a leader machine's publish stage", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "sink4" });
  // A real final certificate of round 2 (the journal checks what it records).
  const net = new EndpointNet(fed, inlineExpander, "sink4/endpoint");
  let final;
  try {
    await net.submit(2, inputsFor(fed.roster, 2));
    await net.deliver();
    final = net.events("final")[0];
  } finally {
    net.close();
  }
  assert(final !== undefined, "the round is final");
  await withTempDir("fedagg-sink-", async (dir) => {
    const metrics = new Metrics();
    const sink = new EventSink({
      roster: fed.roster,
      journal: new Journal(dir, fed.roster),
      metrics,
      log: () => {},
    });
    const publish = () =>
      metrics.get("fedagg_stage_duration_seconds", { role: "leader", stage: "publish" });
    await sink.handle({ type: "stage", role: "leader", round: 2, view: 0, stage: "unmask" });
    await sink.handle({ type: "stage", role: "leader", round: 2, view: 0, stage: "publish" });
    assertEquals(publish(), 0, "still publishing");
    const { member: _, ...event } = final;
    await sink.handle(event);
    assertEquals(publish(), 1, "the leader's publish stage is timed once the round is final");
  });
});

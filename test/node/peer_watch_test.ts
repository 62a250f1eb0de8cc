/**
 * The node's failure detector (`node/peer_watch.ts`): a member disconnected for the grace is
 * reported lost once, and back once when it reconnects; a connection back within the grace
 * reports nothing.
 */
import { assertEquals, assertThrows } from "../_assert.ts";
import { PEER_LOSS_GRACE_MS, PeerWatch } from "../../node/peer_watch.ts";
import { FakeClock } from "./_fake_clock.ts";

function watched(graceMs = PEER_LOSS_GRACE_MS) {
  const clock = new FakeClock();
  const reports: string[] = [];
  const watch = new PeerWatch({
    graceMs,
    lost: (m) => reports.push(`lost ${m}@${clock.now()}`),
    back: (m) => reports.push(`back ${m}@${clock.now()}`),
    timers: clock,
  });
  return { clock, reports, watch };
}

Deno.test("peer watch: a member down past the grace is lost once, then back once", () => {
  const { clock, reports, watch } = watched(1000);
  watch.down(2);
  clock.advance(500);
  watch.down(2); // a second close event changes nothing
  clock.advance(999);
  assertEquals(reports, []);
  clock.advance(1000);
  assertEquals(reports, ["lost 2@1000"]);
  assertEquals(watch.lost, [2]);
  watch.down(2);
  clock.advance(5000);
  assertEquals(reports, ["lost 2@1000"], "reported once");
  watch.up(2);
  watch.up(2);
  assertEquals(reports, ["lost 2@1000", "back 2@5000"]);
  assertEquals(watch.lost, []);
});

Deno.test("peer watch: a member back within the grace is never reported", () => {
  const { clock, reports, watch } = watched(1000);
  watch.up(1); // connected at start: nothing to report
  watch.down(1);
  clock.advance(900);
  watch.up(1);
  clock.advance(10_000);
  assertEquals(reports, []);
  assertEquals(clock.pending, 0);
});

Deno.test("peer watch: members are watched independently; stop cancels the pending ones", () => {
  const { clock, reports, watch } = watched(1000);
  watch.down(1);
  clock.advance(400);
  watch.down(3);
  clock.advance(1000);
  assertEquals(reports, ["lost 1@1000"]);
  watch.stop();
  clock.advance(5000);
  watch.down(4);
  watch.up(1);
  assertEquals(reports, ["lost 1@1000"]);
  assertEquals(clock.pending, 0);
});

Deno.test("peer watch: refuses a grace that is not a number of ms >= 0", () => {
  for (const graceMs of [-1, NaN, Infinity]) {
    assertThrows(() => new PeerWatch({ graceMs, lost: () => {}, back: () => {} }), RangeError);
  }
});

/**
 * The round driver's timer adapter (`node/protocol_timer.ts`): on time it fires at once; after a
 * pause (the timer runs far past its deadline) it first yields, so frames that arrive in the
 * meantime reach the FIFO pipeline before the tick — the order a paused leader needs to take the
 * answers that came while it was stopped.
 */
import { assertEquals } from "../_assert.ts";
import { LATE_TIMER_MS, PAUSE_YIELD_MS, ProtocolTimer } from "../../node/protocol_timer.ts";
import { FakeClock } from "./_fake_clock.ts";

/** A timer on a fake clock whose firing is logged into `pipeline` (the driver's FIFO order). */
function timerOn(clock: FakeClock, pipeline: string[], lateMs?: number) {
  return new ProtocolTimer({
    fire: () => pipeline.push(`tick@${clock.now()}`),
    clock,
    lateMs,
  });
}

Deno.test("protocol timer: fires at its deadline; a new deadline replaces the old", () => {
  const clock = new FakeClock();
  const pipeline: string[] = [];
  const timer = timerOn(clock, pipeline);
  timer.set(100);
  timer.set(100); // the same deadline: no second timer
  assertEquals(clock.pending, 1);
  clock.advance(99);
  assertEquals(pipeline, []);
  clock.advance(100);
  assertEquals(pipeline, ["tick@100"]);
  timer.set(300);
  timer.set(200);
  clock.advance(1000);
  assertEquals(pipeline, ["tick@100", "tick@200"]);
  timer.set(1500);
  timer.set(undefined);
  clock.advance(2000);
  assertEquals(pipeline, ["tick@100", "tick@200"]);
});

Deno.test("protocol timer: a little late (a busy loop) still fires at once", () => {
  const clock = new FakeClock();
  const pipeline: string[] = [];
  timerOn(clock, pipeline).set(100);
  clock.advance(100 + LATE_TIMER_MS, true);
  assertEquals(pipeline, [`tick@${100 + LATE_TIMER_MS}`]);
});

Deno.test("protocol timer: after a pause, frames that arrived meanwhile go before the tick", () => {
  const clock = new FakeClock();
  const pipeline: string[] = [];
  timerOn(clock, pipeline).set(1000);
  // Stopped from 0 to 60 s: on resuming, the overdue timer runs first (timers before I/O) ...
  clock.advance(60_000, true);
  assertEquals(pipeline, [], "no tick yet: the timer yields");
  // ... then the event loop reads the sockets: the answers queued while stopped come in.
  clock.set(() => pipeline.push("frame"), 5);
  clock.set(() => pipeline.push("frame"), 50);
  clock.advance(60_000 + PAUSE_YIELD_MS);
  assertEquals(pipeline, ["frame", "frame", `tick@${60_000 + PAUSE_YIELD_MS}`]);
  assertEquals(clock.pending, 0);
});

Deno.test("protocol timer: without the yield (the old adapter) the tick overtakes the frames", () => {
  const clock = new FakeClock();
  const pipeline: string[] = [];
  timerOn(clock, pipeline, Infinity).set(1000);
  clock.advance(60_000, true);
  clock.set(() => pipeline.push("frame"), 5);
  clock.advance(60_000 + PAUSE_YIELD_MS);
  assertEquals(pipeline, ["tick@60000", "frame"]);
});

Deno.test("protocol timer: a deadline set while yielding fires too; stop cancels everything", () => {
  const clock = new FakeClock();
  const pipeline: string[] = [];
  const timer = timerOn(clock, pipeline);
  timer.set(1000);
  clock.advance(10_000, true);
  timer.set(10_050); // a frame handled meanwhile moved the deadline
  clock.advance(10_000 + PAUSE_YIELD_MS);
  assertEquals(pipeline, ["tick@10050", `tick@${10_000 + PAUSE_YIELD_MS}`]);
  timer.set(20_000);
  clock.advance(30_000, true);
  timer.stop();
  clock.advance(40_000);
  assertEquals(pipeline.length, 2, "the late timer's yield was cancelled by stop");
  timer.set(50_000);
  assertEquals(clock.pending, 0, "a stopped timer sets nothing");
});

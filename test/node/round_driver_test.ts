/**
 * The round driver's timing report (node/round_driver.ts, `timed`): after each input it says
 * what the input was, how long the endpoint call took (wall and, through the CPU clock it is
 * given, CPU) and how long handling its outputs took.
 * A unit test with a stand-in endpoint whose calls busy-wait a known time (only lower bounds are
 * asserted: a busy machine makes anything longer, never shorter).
 */
import { assert, assertEquals } from "../_assert.ts";
import type { Endpoint, Output, Roster } from "../../protocol/mod.ts";
import { RoundDriver } from "../../node/round_driver.ts";

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

Deno.test("round driver: reports each input's protocol and output time", async () => {
  const roster = {} as Roster; // read only when sending, which these inputs do not
  const reports: { what: string; protocolMs: number; outputsMs: number; cpuMs: number }[] = [];
  let cpuReads = 0;
  const event: Output = {
    kind: "event",
    event: { type: "withdrawn", round: 0, view: 0 },
  } as unknown as Output;
  // Only what the driver calls on these paths.
  const endpoint = {
    receive: () => {
      busy(8);
      return Promise.resolve([event]);
    },
    tick: () => Promise.resolve([]),
    nextTimeout: () => undefined,
  } as unknown as Endpoint;
  const driver = new RoundDriver({
    roster,
    self: 0,
    endpoint,
    log: () => {},
    sinks: {
      event: () => {
        busy(6);
        return Promise.resolve();
      },
      refused: () => {},
      broadcast: () => Promise.resolve(),
      body: () => {},
    },
    // A stand-in CPU clock that advances 5 ms per reading: each call sees exactly 5.
    cpuMs: () => 5 * cpuReads++,
    timed: (what, protocolMs, outputsMs, cpuMs) =>
      reports.push({ what, protocolMs, outputsMs, cpuMs }),
  });
  try {
    await driver.fromPeer(new Uint8Array([1]), 1);
    await driver.input(() => Promise.resolve([]), "submit");
    assertEquals(reports.map((r) => r.what), ["receive", "submit"]);
    assert(reports[0].protocolMs >= 8, `receive took ${reports[0].protocolMs} ms`);
    assert(reports[0].outputsMs >= 6, `its outputs took ${reports[0].outputsMs} ms`);
    assert(reports[1].protocolMs >= 0 && reports[1].outputsMs >= 0);
    assertEquals(reports.map((r) => r.cpuMs), [5, 5], "CPU read before and after each call");
  } finally {
    await driver.stop();
  }
});

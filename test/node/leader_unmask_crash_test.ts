/**
 * A leader killed while the reveals come in (`docs/protocol.md` §4, "Restarts"), with real
 * processes: four `fedagg run` nodes, the leader of round 0 SIGKILLed as it was about to handle
 * the first Unmask from a member (every member had revealed to it, so every reveal but its own is
 * lost with it) and restarted. It journaled its public unmask state before its UnmaskRequest left,
 * resumes in the unmask stage, asks its approvers again, and the round becomes final in view 0
 * with every update. Before, every member had committed to view 0 and none could finish it: the
 * round stayed `outcome-unknown` (or, with the renouncement, ended `abandoned`).
 *
 * @module
 */
import { assert, assertEquals } from "../_assert.ts";
import { DEFAULT_SETTINGS, runCrashPoint } from "../../scripts/crash/crash_run.ts";
import { withTempDir } from "./_helpers.ts";

Deno.test({
  name:
    "a leader killed while unmasking resumes from its journal: the round is final with every update",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withTempDir("fedagg-unmask-crash-", async (dir) => {
      const r = await runCrashPoint(
        dir,
        { role: "leader", point: "receive:unmask", nth: 1 },
        { ...DEFAULT_SETTINGS, settleMs: 60_000 },
      );
      const report = `${r.outcome} ` +
        JSON.stringify({ updates: r.updates, final: r.final, notes: r.notes });
      assertEquals(r.outcome, "in-aggregate", report);
      assertEquals(r.final?.view, 0, report);
      assertEquals(r.updates.length, DEFAULT_SETTINGS.nodes, report);
      for (const u of r.updates) assertEquals(u.outcome, "in-aggregate", report);
      assert(r.final !== null && r.final.members.length === DEFAULT_SETTINGS.nodes, report);
    });
  },
});

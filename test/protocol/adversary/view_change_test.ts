/**
 * Adversarial tests: view safety (section 14). When the view-0 leader dies after the approvals,
 * the members move to view 1 and complete there; its late unmask request is refused
 * (`wrong-session`, then `wrong-stage` once the view-1 certificate is in) and nobody reveals a
 * share in view 0. On a sparse graph a member that approved view 0 is committed: it takes no part
 * in view 1, refuses its certificate and gives the round up.
 *
 * As everywhere in this folder (see `_attacks.ts`), no attack may make an endpoint throw or
 * leak secret material into event text.
 *
 * @module
 */
import { assert, assertEquals } from "../../_assert.ts";
import { all, assertRefused } from "../_fixtures.ts";
import { fieldsOf, type Wire, wireOf } from "../_frames.ts";
import { assertRevealedNothing, refusalTriples, resealBy, scenario, SEVEN } from "./_attacks.ts";

// =============================================================================================
// 14. View safety.

Deno.test(
  "14. the view-0 leader dies after the approvals: members move to view 1 and complete " +
    "there; its late unmask request is refused and reveals nothing",
  () =>
    scenario(SEVEN, async (fed) => {
      const L0 = fed.leader(0, 0);
      const L1 = fed.leader(0, 1);
      const [a, b, c] = fed.others([L0, L1]);
      let late: Wire | undefined;
      fed.intercept = async (w, f) => {
        if (w.from === L0 && w.type === "unmaskRequest") {
          late ??= w;
          f.dead.add(L0);
          return [];
        }
        if (w.from === L1 && w.to === c && w.type === "unmaskRequest" && late !== undefined) {
          // The view-1 leader replays view-0 approvals.
          const old = fieldsOf(late.frame)[2];
          return [wireOf(L1, c, await resealBy(f, L1, w.frame, ([x, y]) => [x, y, old]))];
        }
      };
      await fed.submitAll(0);
      const living = all(fed, [L0]);
      await fed.run({
        until: () => living.every((i) => fed.endpoints[i].participant(0)!.view === 1),
      });
      assert(late !== undefined, "the leader reached the unmask request");
      for (const i of living) {
        assertEquals(fed.endpoints[i].participant(0)!.committedView, undefined);
      }
      // Late request while a is in view 1.
      assertRefused(await fed.inject(a, late.frame, L0), "wrong-session", L0);
      await fed.runToFinal(0, living);
      // Late request after b has the view-1 certificate.
      assertRefused(await fed.inject(b, late.frame, L0), "wrong-stage", L0);
      assertRevealedNothing(fed, living, 0);
      assertEquals(
        refusalTriples(fed, c),
        [[c, "insufficient-approvals", L1]],
      );
      const final = await fed.assertExact(0, fed.n - 1);
      assertEquals(final.view, 1);
      assertEquals([...final.members], living);
    }),
);

Deno.test(
  "14. sparse graph: a member that approved view 0 is committed and takes no part in view 1",
  () =>
    scenario({ n: 7, dim: 16, degree: 4 }, async (fed) => {
      assertEquals(fed.roster.graph.kind, "harary");
      const L0 = fed.leader(0, 0);
      const L1 = fed.leader(0, 1);
      const a = fed.others([L0, L1])[0];
      // Only a receives the consistency request; then the view-0 leader goes silent.
      fed.intercept = (w) => {
        if (w.from === L0 && w.type === "consistencyRequest" && w.to !== a) return [];
        if (w.from === L0 && w.type === "unmaskRequest") return [];
      };
      await fed.submitAll(0);
      const rest = all(fed, [L0, a]);
      await fed.runToFinal(0, rest);
      assert(
        fed.eventsOf(a).some((e) => e.type === "committed" && e.view === 0),
        "a committed to view 0 when it approved",
      );
      assertEquals(fed.endpoints[a].participant(0)!.committedView, 0);
      assertEquals(fed.sent("advertiseKeys", a, 1).length, 0);
      assertEquals(fed.sent("cosign", a).length, 0);
      // a's leader went quiet after it committed: no guessed failure, it asks the members; the
      // five others' Leave(0, 0) (t = 5 signers that never commit in view 0: signed evidence
      // that view 0 cannot complete) end its update as round-failed (abandoned), once — the
      // Outcome of view 1 that follows changes nothing.
      await fed.run({ until: () => fed.eventsOf(a).some((e) => e.type === "round-failed") });
      assert(fed.eventsOf(a).some((e) => e.type === "outcome-unknown"), "a asked how it ended");
      await fed.run();
      const failed = fed.eventsOf(a).filter((e) => e.type === "round-failed");
      assertEquals(failed.length, 1, "a's update ends, once");
      assert(
        failed[0].type === "round-failed" && failed[0].reason.startsWith("abandoned: members ") &&
          failed[0].reason.includes(rest.join(", ")),
        JSON.stringify(failed[0]),
      );
      assert(!fed.eventsOf(a).some((e) => e.type === "view-change"), "a never changes view");
      assert(
        refusalTriples(fed, a).some(([, code, peer]) => code === "wrong-session" && peer === L1),
        "a refuses the view-1 certificate",
      );
      assertRevealedNothing(fed, all(fed, [L0]), 0);
      const final = await fed.assertExact(0, rest.length);
      assertEquals(final.view, 1);
      assertEquals([...final.members], rest);
    }),
);

/**
 * Adversarial test: on a sparse (SecAgg+) graph, a leader whose key list to one member leaves
 * out so many of that member's neighbours that fewer than t_k of its share holders remain. The
 * member must refuse the list (`inconsistent-lists`, naming the leader and the count) and deal no
 * shares — its secrets could not be recovered — and the round completes without it. (Before this
 * test the member's check could be disabled with the whole suite passing.)
 *
 * @module
 */
import { assert, assertEquals } from "../../_assert.ts";
import { shareThreshold } from "../../../protocol/federation/roster.ts";
import { sessionGraph } from "../../../protocol/graph/session_graph.ts";
import { all } from "../_fixtures.ts";
import { peekSender, wireOf } from "../_frames.ts";
import { refusalTriples, resealBy, scenario } from "./_attacks.ts";

Deno.test(
  "15. sparse graph: a key list leaving a member fewer than t_k share holders → " +
    "inconsistent-lists; it deals nothing; the round completes without it",
  () =>
    scenario({ n: 9, dim: 16, degree: 4, threshold: 5 }, async (fed) => {
      assertEquals(fed.roster.graph.kind, "harary");
      const L = fed.leader(0);
      const x = fed.others([L, fed.leader(0, 1)])[0];
      const graph = sessionGraph(fed.roster, fed.session(0));
      const tk = shareThreshold(fed.roster);
      const neighbours = graph.neighbours(x).filter((u) => u !== L);
      // Keep tk − 2 neighbours (counting the leader, whose advert stays): with x, tk − 1 holders.
      const keep = tk - 2 - (graph.neighbours(x).includes(L) ? 1 : 0);
      assert(keep >= 0);
      const omitted = neighbours.slice(keep);
      assert(omitted.length > 0 && fed.n - omitted.length >= fed.roster.threshold);
      fed.intercept = async (w) => {
        if (w.from !== L || w.to !== x || w.type !== "keyList") return undefined;
        // U1 without them (and their adverts, which the sparse list must match).
        const frame = await resealBy(fed, L, w.frame, ([u1, adverts]) => [
          (u1 as number[]).filter((u) => !omitted.includes(u)),
          (adverts as Uint8Array[]).filter((a) => !omitted.includes(peekSender(a))),
        ]);
        return [wireOf(L, x, frame)];
      };
      await fed.submitAll(0);
      const rest = all(fed, [x]);
      await fed.runToFinal(0, rest);
      assertEquals(refusalTriples(fed, x).slice(0, 1), [[x, "inconsistent-lists", L]]);
      const [refusal] = fed.refusals(x);
      const says = `only ${tk - 1} of this member's share holders are in U1, threshold ${tk}`;
      assert(refusal.error.message.includes(says), refusal.error.message);
      assertEquals(fed.sent("shareKeys", x, 0).length, 0, "x dealt no shares in view 0");
      const final = await fed.assertExact(0, rest.length);
      assertEquals([...final.members], rest);
    }),
);

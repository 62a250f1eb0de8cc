/**
 * Adversarial tests of the sparse (SecAgg+) routing: on a Harary graph a member's KeyList holds
 * U1 and only the adverts of its closed neighbourhood in U1 (`docs/protocol.md` §3), so the
 * leader's traffic grows linearly in n. A leader that forwards a non-neighbour's advert, or names
 * a neighbour in U1 without its advert, is refused (`inconsistent-lists`, naming the leader): the
 * member deals nothing in that view and the round completes without it. A leader that shows one
 * member a survivor set differing from the one its neighbours approved gets an approval that
 * counts for nothing, and that member reveals no share — neither with the lists it approved nor
 * with its neighbours' — while the round completes with the consistent lists.
 *
 * @module
 */
import { assert, assertEquals, assertNotEquals } from "../../_assert.ts";
import { toHex } from "../../../protocol/encoding/bytes.ts";
import { sessionGraph } from "../../../protocol/graph/session_graph.ts";
import { openFrame, sealFrame } from "../../../protocol/wire/frame.ts";
import { readApproval, unmaskRequestFields } from "../../../protocol/wire/messages.ts";
import { all, assertRefused } from "../_fixtures.ts";
import { peekSender, wireOf } from "../_frames.ts";
import { assertRevealedNothing, refusalTriples, resealBy, scenario } from "./_attacks.ts";

const SPARSE = { n: 9, dim: 16, degree: 4, threshold: 5 } as const;

/** Runs view 0 with the leader's key list to one member rewritten by `edit`; checks the refusal. */
function keyListAttack(
  name: string,
  edit: (
    u1: number[],
    adverts: Uint8Array[],
    ctx: {
      x: number;
      leader: number;
      neighbours: readonly number[];
      advertOf: (m: number) => Uint8Array;
    },
  ) => [number[], Uint8Array[]],
  says: (ctx: { x: number; neighbours: readonly number[] }) => string,
) {
  Deno.test(name, () =>
    scenario(SPARSE, async (fed) => {
      assertEquals(fed.roster.graph.kind, "harary");
      const L = fed.leader(0);
      const x = fed.others([L, fed.leader(0, 1)])[0];
      const neighbours = sessionGraph(fed.roster, fed.session(0)).neighbours(x);
      const advertOf = (m: number) => fed.sent("advertiseKeys", m, 0)[0].frame;
      // The list x gets is genuine before the edit: exactly its closed neighbourhood's adverts.
      let genuine: number[] | undefined;
      fed.intercept = async (w) => {
        if (w.from !== L || w.to !== x || w.type !== "keyList") return undefined;
        const frame = await resealBy(fed, L, w.frame, ([u1, adverts]) => {
          genuine = (adverts as Uint8Array[]).map(peekSender).sort((a, b) => a - b);
          return edit([...(u1 as number[])], [...(adverts as Uint8Array[])], {
            x,
            leader: L,
            neighbours,
            advertOf,
          });
        });
        return [wireOf(L, x, frame)];
      };
      await fed.submitAll(0);
      const rest = all(fed, [x]);
      await fed.runToFinal(0, rest);
      assertEquals(genuine, [x, ...neighbours].sort((a, b) => a - b));
      assertEquals(refusalTriples(fed, x).slice(0, 1), [[x, "inconsistent-lists", L]]);
      const [refusal] = fed.refusals(x);
      assert(refusal.error.message.includes(says({ x, neighbours })), refusal.error.message);
      assertEquals(fed.sent("shareKeys", x, 0).length, 0, "x dealt no shares in view 0");
      const final = await fed.assertExact(0, rest.length);
      assertEquals([...final.members], rest);
    }));
}

keyListAttack(
  "16. sparse graph: a key list forwarding a non-neighbour's advert → inconsistent-lists; " +
    "it deals nothing; the round completes without it",
  (u1, adverts, { x, leader, neighbours, advertOf }) => {
    const stranger = u1.find((u) => u !== x && u !== leader && !neighbours.includes(u))!;
    return [u1, [...adverts, advertOf(stranger)]];
  },
  () => "not a neighbour in U1",
);

keyListAttack(
  "16. sparse graph: a key list naming a neighbour in U1 without its advert → " +
    "inconsistent-lists; it deals nothing; the round completes without it",
  (u1, adverts, { x }) => {
    const hidden = adverts.map(peekSender).find((u) => u !== x)!;
    return [u1, adverts.filter((a) => peekSender(a) !== hidden)];
  },
  () => "in U1 without its advert",
);

Deno.test(
  "17. sparse graph: a leader showing a member a survivor set that differs from its " +
    "neighbours' → its approval counts for nothing; it reveals no share, with either list; " +
    "the round completes with the consistent lists; it takes no certificate of other lists",
  () =>
    scenario(SPARSE, async (fed) => {
      const L = fed.leader(0);
      const x = fed.others([L, fed.leader(0, 1)])[0];
      const graph = sessionGraph(fed.roster, fed.session(0));
      // A neighbour of x that x alone is told dropped out: x would reveal its mask seed.
      const y = graph.neighbours(x).find((u) => u !== L)!;
      const u3 = all(fed);
      const u3Prime = all(fed, [y]);
      fed.intercept = async (w) => {
        if (w.from === L && w.to === x && w.type === "consistencyRequest") {
          const frame = await resealBy(fed, L, w.frame, ([u2]) => [u2, u3Prime]);
          return [wireOf(L, x, frame)];
        }
      };
      await fed.submitAll(0);
      await fed.deliver();
      const approvalOf = (i: number) =>
        readApproval(openFrame(fed.sent("approval", i)[0].frame, fed.roster));
      const neighbourHash = toHex(approvalOf(y).u3Hash);
      assertNotEquals(toHex(approvalOf(x).u3Hash), neighbourHash);
      for (const u of graph.neighbours(x).filter((u) => u !== L)) {
        assertEquals(toHex(approvalOf(u).u3Hash), neighbourHash);
      }
      // The leader's own machine refuses x's approval of the other lists.
      assertEquals(refusalTriples(fed, L), [[L, "inconsistent-lists", x]]);

      const approvals = all(fed, [L, x]).map((m) => fed.sent("approval", m)[0].frame);
      assert(approvals.length >= fed.roster.threshold);
      const request = (alive: readonly number[], dropped: number[]) =>
        sealFrame(
          "unmaskRequest",
          fed.session(0),
          L,
          unmaskRequestFields({ alive: [...alive], dropped, approvals }, fed.roster),
          fed.signers[L],
          fed.roster.mode,
        );
      // With the lists x approved: its neighbours' approvals sign other lists.
      assertRefused(
        await fed.inject(x, await request(u3Prime, [y]), L),
        "insufficient-approvals",
        L,
      );
      // With its neighbours' lists: not the U3 x approved.
      assertRefused(await fed.inject(x, await request(u3, []), L), "inconsistent-lists", L);
      assertRevealedNothing(fed, [x]);
      const rest = all(fed, [x]);
      await fed.runToFinal(0, rest);
      const final = await fed.assertExact(0, rest.length);
      assertEquals([...final.members], u3);
      assertRevealedNothing(fed, [x]);
      // x's update is in the aggregate, but not under the lists x approved: x takes no
      // certificate of other lists (it would co-sign lists it never saw).
      assertEquals(refusalTriples(fed, x).at(-1), [x, "inconsistent-lists", L]);
      assertEquals(fed.events("final", x).length, 0);
    }),
);

/**
 * Adversarial tests: group-wise secure aggregation (section 20; `docs/protocol.md` §6a). The
 * round's members are partitioned into groups by a seed nobody chooses; masks and shares stay
 * inside each group, and the leader unmasks each group's sum and nothing finer. A leader that
 * reports a wrong group sum, certifies a wrong partition or a group with too few inputs,
 * delivers a member shares of a member outside its group, or shrinks a group below its minimum
 * by declaring its members dropped is refused and named (or, for the last, gets no shares and
 * no sum of that group); a member that deals shares outside its group is refused and named.
 * Under a robust rule, a leader certifying a result that does not follow from the group sums is
 * refused by every member and by offline verification.
 *
 * As everywhere in this folder (see `_attacks.ts`), no attack may make an endpoint throw or
 * leak secret material into event text.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../../_assert.ts";
import { encode } from "../../../protocol/encoding/codec.ts";
import { ProtocolError } from "../../../protocol/errors.ts";
import {
  splitFinalCertificate,
  verifyFinalCertificate,
} from "../../../protocol/certificate/final.ts";
import { groupMean, robustResultHash } from "../../../protocol/certificate/robust_result.ts";
import { dequantizeMean } from "../../../protocol/math/quantize.ts";
import { toHex } from "../../../protocol/encoding/bytes.ts";
import type { Value } from "../../../protocol/encoding/codec.ts";
import { aggregateHash } from "../../../protocol/certificate/certificate.ts";
import { roundGroups } from "../../../protocol/federation/round_groups.ts";
import { partitionSeed } from "../../../protocol/graph/groups.ts";
import { sessionGraph } from "../../../protocol/graph/session_graph.ts";
import { openFrame } from "../../../protocol/wire/frame.ts";
import { readUnmask } from "../../../protocol/wire/messages.ts";
import type { Federation, FederationOptions } from "../_federation.ts";
import { type Final, verifyFinal } from "../_fixtures.ts";
import { peekHeader, reseal, type Wire, wireOf } from "../_frames.ts";
import { refusalTriples, resealBy, scenario } from "./_attacks.ts";

/** 12 members in 3 groups of 4; a group sum needs 3 inputs; a round needs 2 groups. */
const FINAL_TAG = "fedagg/v1/final-certificate";

const GROUPED: FederationOptions = {
  n: 12,
  dim: 8,
  groups: { count: 3, minGroupSize: 3, allowSmallGroups: true },
};

function groupsOf(fed: Federation, round = 0) {
  return roundGroups(fed.roster, round)!;
}

/** A group other than the leader's (so the leader stays honest about its own). */
function otherGroup(fed: Federation, round = 0): number {
  const rg = groupsOf(fed, round);
  return (rg.partition.groupOf(fed.leader(round)) + 1) % rg.count;
}

/**
 * Asserts the final certificate verifies offline, its total is the plaintext sum of the
 * certified members' inputs, and each included group's sum is the plaintext sum of that group's
 * certified members — and returns the verified groups.
 */
async function assertGroupsExact(fed: Federation, final: Final) {
  const verified = await verifyFinal(fed.roster, final);
  const groups = verified.groups!;
  const w = fed.roster.dim + 1;
  const words = (a: Uint32Array) => toHex(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  assertEquals(words(final.aggregate.subarray(0, w)), words(fed.expectedSum(0, final.members)));
  for (const g of groups.included) {
    assertEquals(words(g.sum), words(fed.expectedSum(0, g.members)), `group ${g.group}`);
    assertEquals(g.weight, g.sum[fed.roster.dim]);
  }
  return groups;
}

/** Owners whose shares `holder` revealed in round 0, view 0. */
function revealedOwners(fed: Federation, holder: number): number[] {
  return fed.sent("unmask", holder, 0).flatMap((w) => {
    const u = readUnmask(openFrame(w.frame, fed.roster), fed.roster);
    return [...u.selfShares, ...u.maskShares].map(([o]) => o);
  });
}

/**
 * Has the leader's certificates to the other members rewritten: `fields` maps the certificate's
 * fields, `body` its words; the aggregate hash is recomputed and the frame re-signed by the
 * leader (a lying leader, not a forger).
 */
function rewriteCertificate(
  fed: Federation,
  change: (fields: Value[], words: Uint32Array) => { fields: Value[]; words: Uint32Array },
): number {
  const L = fed.leader(0);
  fed.intercept = async (w: Wire) => {
    if (w.from !== L || w.type !== "certificate" || w.to === L) return undefined;
    const env = openFrame(w.frame, fed.roster);
    const original = env.body!;
    const words = new Uint32Array(original.slice().buffer);
    const next = change([...env.fields] as Value[], words);
    const body = new Uint8Array(next.words.buffer, next.words.byteOffset, next.words.byteLength);
    const frame = await reseal(w.frame, fed.signers[L], fed.roster.mode, {
      fields: () => {
        const f = [...next.fields];
        f[3] = aggregateHash(peekHeader(w.frame).session, body);
        return f;
      },
      body,
    });
    return [wireOf(L, w.to, frame)];
  };
  return L;
}

/** Every member other than `L` refused the leader's certificate with `code`, naming `L`. */
function assertCertificateRefused(fed: Federation, L: number, code: string): void {
  for (let i = 0; i < fed.n; i++) {
    if (i === L) continue;
    assert(
      refusalTriples(fed, i).some(([, c, peer]) => c === code && peer === L),
      `member ${i} did not refuse the certificate (${code}) naming the leader`,
    );
    assert(fed.events("published", i).every((e) => e.round !== 0 || e.view !== 0));
  }
}

Deno.test("20a. groups: each group's sum is exact and verified; shares never leave a group", () =>
  scenario(GROUPED, async (fed) => {
    await fed.submitAll(0);
    await fed.runToFinal(0);
    const final = fed.final(0, 0)!;
    assertEquals([...final.members], [...Array(fed.n).keys()]);
    const groups = await assertGroupsExact(fed, final);
    const rg = groupsOf(fed);
    assertEquals(groups.included.map((g) => g.group), [0, 1, 2]);
    assertEquals(groups.excluded, []);
    assertEquals(toHex(groups.seed), toHex(partitionSeed(fed.session(0))));
    // A partition: every member in exactly one group of 4.
    assertEquals(rg.partition.groups.flat().sort((a, b) => a - b), [...Array(fed.n).keys()]);
    for (const g of rg.partition.groups) assertEquals(g.length, 4);
    // Each holder revealed shares of its own group's members only.
    // (The leader's own Unmask never leaves it.)
    for (const h of fed.others([fed.leader(0)])) {
      const owners = revealedOwners(fed, h);
      assertEquals(owners.length, 4, `holder ${h}`);
      for (const o of owners) assertEquals(rg.partition.groupOf(o), rg.partition.groupOf(h));
    }
    assertEquals(refusalTriples(fed), []);
  }));

Deno.test(
  "20b. groups: a group whose survivors fall below its minimum is left out and named; the " +
    "others complete",
  () =>
    scenario(GROUPED, async (fed) => {
      const j = otherGroup(fed);
      const group = groupsOf(fed).partition.groups[j];
      const [gone1, gone2, ...left] = group;
      fed.dead.add(gone1);
      fed.dead.add(gone2);
      await fed.submitAll(0);
      await fed.runToFinal(0);
      const final = fed.final(0, fed.leader(0))!;
      const groups = await assertGroupsExact(fed, final);
      assertEquals(groups.excluded, [j]);
      assertEquals(groups.included.length, 2);
      for (const m of left) {
        assert(!final.members.includes(m));
        assertEquals(revealedOwners(fed, m), [], `member ${m} of the left-out group revealed`);
        const failed = fed.events("round-failed", m).find((e) => e.round === 0);
        assert(failed?.reason.startsWith("excluded"), `member ${m}: ${failed?.reason}`);
      }
    }),
);

Deno.test("20c. groups: a leader reporting a wrong group sum is refused and named", () =>
  scenario(GROUPED, async (fed) => {
    const w = fed.roster.dim + 1;
    const L = rewriteCertificate(fed, (fields, words) => {
      words[w] = (words[w] + 1) >>> 0; // group 0's first sum, total unchanged
      return { fields, words };
    });
    await fed.submitAll(0);
    await fed.run({ until: () => fed.sent("certificate", L).length > 0 });
    await fed.deliver();
    assertCertificateRefused(fed, L, "commitment-mismatch");
    const text = fed.refusals(0).map((r) => r.error.message).join("\n");
    assert(text.includes("wrong group sum"), text);
  }));

Deno.test(
  "20d. groups: a certificate with a wrong partition seed, or a group weight that does not " +
    "fit its inputs, is refused and named",
  async () => {
    await scenario(GROUPED, async (fed) => {
      const L = rewriteCertificate(fed, (fields, words) => {
        const [seed, included] = fields[5] as [Uint8Array, number[]];
        const wrong = seed.slice();
        wrong[0] ^= 1;
        fields[5] = [wrong, included];
        return { fields, words };
      });
      await fed.submitAll(0);
      await fed.run({ until: () => fed.sent("certificate", L).length > 0 });
      await fed.deliver();
      assertCertificateRefused(fed, L, "commitment-mismatch");
      const text = fed.refusals(0).map((r) => r.error.message).join("\n");
      assert(text.includes("wrong partition"), text);
    });
    await scenario(GROUPED, async (fed) => {
      const d = fed.roster.dim;
      const w = d + 1;
      // Move weight from group 0 to group 1: the total still adds up.
      const L = rewriteCertificate(fed, (fields, words) => {
        const moved = words[w + d] - 1;
        words[w + d] -= moved;
        words[2 * w + d] += moved;
        return { fields, words };
      });
      await fed.submitAll(0);
      await fed.run({ until: () => fed.sent("certificate", L).length > 0 });
      await fed.deliver();
      assertCertificateRefused(fed, L, "commitment-mismatch");
    });
  },
);

Deno.test(
  "20e. groups: a leader delivering a member shares of a member outside its group is " +
    "refused and named",
  () =>
    scenario(GROUPED, async (fed) => {
      const L = fed.leader(0);
      const rg = groupsOf(fed);
      const victim = rg.partition.groups[otherGroup(fed)][0];
      const outsider = rg.partition.groups.find((g) =>
        !g.includes(victim) && !g.includes(L)
      )?.[0] ??
        rg.partition.groups.find((g) => !g.includes(victim))![0];
      fed.intercept = async (w) => {
        if (w.from !== L || w.type !== "shareDelivery" || w.to !== victim) return undefined;
        return [
          wireOf(
            L,
            victim,
            await resealBy(fed, L, w.frame, ([u2, entries]) => {
              const list = [...(entries as Value[][])];
              const extra = [...list[0]];
              extra[0] = outsider;
              list.push(extra);
              list.sort((a, b) => (a[0] as number) - (b[0] as number));
              return [u2, list];
            }),
          ),
        ];
      };
      await fed.submitAll(0);
      await fed.run({ until: () => fed.sent("shareDelivery", L).length > 0 });
      await fed.deliver();
      assertEquals(refusalTriples(fed, victim), [[victim, "inconsistent-lists", L]]);
      assertEquals(fed.sent("maskedInput", victim, 0).length, 0);
    }),
);

Deno.test(
  "20f. groups: a member dealing shares to a holder outside its group is refused and named",
  () =>
    scenario(GROUPED, async (fed) => {
      const L = fed.leader(0);
      const rg = groupsOf(fed);
      const cheat = rg.partition.groups[otherGroup(fed)][0];
      const outsider = rg.partition.groups[rg.partition.groupOf(L)][0];
      fed.intercept = async (w) => {
        if (w.from !== cheat || w.type !== "shareKeys") return undefined;
        return [
          wireOf(
            cheat,
            L,
            await resealBy(fed, cheat, w.frame, ([entries]) => {
              const list = [...(entries as Value[][])];
              const extra = [...list[0]];
              extra[0] = outsider;
              list.push(extra);
              list.sort((a, b) => (a[0] as number) - (b[0] as number));
              return [list];
            }),
          ),
        ];
      };
      await fed.submitAll(0);
      await fed.runToFinal(0, fed.others([cheat]));
      assertEquals(refusalTriples(fed, L), [[L, "inconsistent-lists", cheat]]);
      const final = fed.final(0, L)!;
      assert(!final.members.includes(cheat));
      await assertGroupsExact(fed, final);
    }),
);

Deno.test(
  "20g. groups: a leader declaring a group's members dropped to shrink it below the minimum " +
    "gets no share of that group and cannot certify its sum",
  async () => {
    for (const forge of [false, true]) {
      await scenario(GROUPED, async (fed) => {
        const L = fed.leader(0);
        const j = otherGroup(fed);
        const [d1, d2, ...kept] = groupsOf(fed).partition.groups[j];
        // The leader takes d1's and d2's masked inputs but leaves them out of U3: exactly what
        // every other member sees of a leader that declares them dropped.
        fed.intercept = async (w) => {
          if (w.type === "maskedInput" && (w.from === d1 || w.from === d2)) return [];
          if (!forge || w.from !== L || w.type !== "certificate" || w.to === L) return undefined;
          // A leader that includes the shrunk group anyway (with any words for its sum).
          const env = openFrame(w.frame, fed.roster);
          const dim = fed.roster.dim;
          const words = new Uint32Array(env.body!.slice().buffer);
          const [seed, included] = env.fields[5] as [Uint8Array, number[]];
          const all = [...included, j].sort((a, b) => a - b);
          const blocks = included.map((_, i) =>
            words.subarray((1 + i) * (dim + 1), (2 + i) * (dim + 1))
          );
          const fake = new Uint32Array(dim + 1).fill(1);
          const next = new Uint32Array((1 + all.length) * (dim + 1));
          next.set(words.subarray(0, dim + 1));
          all.forEach((g, i) =>
            next.set(g === j ? fake : blocks[included.indexOf(g)], (1 + i) * (dim + 1))
          );
          const body = new Uint8Array(next.buffer);
          const frame = await reseal(w.frame, fed.signers[L], fed.roster.mode, {
            fields: (f) => {
              const out = [...f];
              out[3] = aggregateHash(env.session, body);
              out[5] = [seed, all];
              return out;
            },
            body,
          });
          return [wireOf(L, w.to, frame)];
        };
        await fed.submitAll(0);
        await fed.run({ until: () => fed.sent("certificate", L).length > 0 });
        await fed.deliver();
        // The members of the shrunk group still in U3 revealed nothing.
        for (const m of kept) assertEquals(revealedOwners(fed, m), [], `member ${m}`);
        if (forge) {
          assertCertificateRefused(fed, L, "commitment-mismatch");
          const text = fed.refusals(kept[0]).map((r) => r.error.message).join("\n");
          assert(text.includes(`group ${j} holds 2 inputs, below its minimum 3`), text);
          return;
        }
        await fed.runToFinal(0, fed.others([d1, d2, ...kept]));
        const final = fed.final(0, L)!;
        const groups = await assertGroupsExact(fed, final);
        assertEquals(groups.excluded, [j]);
        for (const m of [d1, d2, ...kept]) assert(!final.members.includes(m));
      });
    }
  },
);

Deno.test(
  "20h. groups: a consistency request leaving fewer groups than the round needs is refused " +
    "and named",
  () =>
    scenario({ ...GROUPED, groups: { ...GROUPED.groups!, minGroups: 3 } }, async (fed) => {
      const L = fed.leader(0);
      const j = otherGroup(fed);
      const [d1, d2, victim] = groupsOf(fed).partition.groups[j];
      fed.intercept = async (w) => {
        if (w.from !== L || w.type !== "consistencyRequest" || w.to !== victim) return undefined;
        return [
          wireOf(
            L,
            victim,
            await resealBy(fed, L, w.frame, ([u2, u3]) => [
              u2,
              (u3 as number[]).filter((m) => m !== d1 && m !== d2),
            ]),
          ),
        ];
      };
      await fed.submitAll(0);
      await fed.run({ until: () => fed.sent("consistencyRequest", L).length > 0 });
      await fed.deliver();
      assertEquals(refusalTriples(fed, victim), [[victim, "inconsistent-lists", L]]);
      assertEquals(fed.sent("approval", victim, 0).length, 0);
      const text = fed.refusals(victim)[0].error.message;
      assert(text.includes("the round needs 3"), text);
    }),
);

Deno.test(
  "20i. groups: SecAgg+ graphs inside large groups give exact group sums; shares stay in " +
    "each holder's neighbourhood within its group, also with members dropped after sharing",
  () =>
    scenario({ n: 24, dim: 8, degree: 4, groups: { count: 2 } }, async (fed) => {
      const rg = groupsOf(fed);
      const L = fed.leader(0);
      const graph = sessionGraph(fed.roster, fed.session(0));
      // Two members of one group drop after sharing: their pair masks are recovered.
      const gone = rg.partition.groups[otherGroup(fed)].slice(0, 2);
      fed.intercept = (w) => {
        if (w.type === "maskedInput" && gone.includes(w.from)) {
          fed.dead.add(w.from);
          return [];
        }
        return undefined;
      };
      await fed.submitAll(0);
      await fed.runToFinal(0);
      const final = fed.final(0, L)!;
      assertEquals(final.members.length, 22);
      const groups = await assertGroupsExact(fed, final);
      assertEquals(groups.included.map((g) => g.group), [0, 1]);
      for (const h of fed.others([L, ...gone])) {
        const owners = revealedOwners(fed, h);
        assertEquals(owners.length, 5, `holder ${h}: itself and its 4 neighbours`);
        for (const o of owners) {
          assertEquals(rg.partition.groupOf(o), rg.partition.groupOf(h));
          assert(o === h || graph.isNeighbour(o, h));
        }
      }
      assertEquals(refusalTriples(fed), []);
    }),
);

Deno.test(
  "20j. groups: an honest leader short of enough groups keeps waiting instead of sending a " +
    "consistency request the members would refuse",
  () =>
    scenario({ ...GROUPED, groups: { ...GROUPED.groups!, minGroups: 3 } }, async (fed) => {
      const L = fed.leader(0);
      const [d1, d2] = groupsOf(fed).partition.groups[otherGroup(fed)];
      fed.intercept = (w) => {
        if (w.type === "maskedInput" && (w.from === d1 || w.from === d2)) {
          fed.dead.add(w.from);
          return [];
        }
        return undefined;
      };
      await fed.submitAll(0);
      // Past the masked stage's timeout (≥ t inputs arrived), still inside view 0.
      const limit = fed.roster.advertiseTimeoutMs + 2 * fed.roster.stageTimeoutMs + 500;
      await fed.run({ maxTime: limit });
      // The masked stage opened at once (every advert and share arrived) and its timeout passed.
      assert(fed.now >= fed.roster.advertiseTimeoutMs + fed.roster.stageTimeoutMs, `${fed.now}`);
      assertEquals(fed.sent("consistencyRequest", L, 0).length, 0);
      assertEquals(refusalTriples(fed), []);
    }),
);

/** GROUPED under the coordinate-wise median after a norm filter (a round needs all 3 groups). */
const ROBUST: FederationOptions = {
  ...GROUPED,
  groups: { ...GROUPED.groups!, minGroups: 3 },
  robust: { kind: "median", normFilter: { tau: 2 } },
};

/** The plain mean of the certified group means: a result that does not follow from the rule. */
function plainMeanOfGroups(fed: Federation, words: Uint32Array, included: number[]): Float64Array {
  const w = fed.roster.dim + 1;
  const rg = groupsOf(fed);
  const out = new Float64Array(fed.roster.dim);
  included.forEach((group, i) => {
    const sum = words.subarray(w * (1 + i), w * (2 + i));
    const mean = groupMean(fed.roster, { inputs: rg.partition.groups[group].length, sum });
    for (let j = 0; j < out.length; j++) out[j] += mean[j] / included.length;
  });
  return out;
}

Deno.test(
  "20k. robust: every member and verify recompute the rule's result over the group means, bit " +
    "for bit",
  () =>
    scenario(ROBUST, async (fed) => {
      await fed.submitAll(0);
      await fed.runToFinal(0);
      const final = fed.final(0, 0)!;
      const groups = await assertGroupsExact(fed, final);
      const robust = groups.robust!;
      assertEquals(robust.groups, [0, 1, 2]);
      // An independent median of three means per coordinate, from the certified sums.
      const means = groups.included.map((g) =>
        dequantizeMean(g.sum, fed.roster.quantization, g.members.length)
      );
      const expected = Float64Array.from(
        { length: fed.roster.dim },
        (_, j) => means.map((m) => m[j]).sort((a, b) => a - b)[1],
      );
      assertEquals([...robust.result], [...expected]);
      assertEquals(toHex(robust.hash), toHex(robustResultHash(fed.session(0), expected)));
      assertEquals(refusalTriples(fed), []);
    }),
);

Deno.test(
  "20l. robust: a leader certifying a rule result that does not follow from the sums is " +
    "refused by every member and by offline verification",
  async () => {
    await scenario(ROBUST, async (fed) => {
      // The leader certifies the plain mean of the group means as the median's result.
      const L = rewriteCertificate(fed, (fields, words) => {
        const [seed, included] = fields[5] as [Uint8Array, number[], Uint8Array];
        const lie = robustResultHash(fed.session(0), plainMeanOfGroups(fed, words, included));
        fields[5] = [seed, included, lie];
        return { fields, words };
      });
      await fed.submitAll(0);
      await fed.run({ until: () => fed.sent("certificate", L).length > 0 });
      await fed.deliver();
      assertCertificateRefused(fed, L, "commitment-mismatch");
      const text = fed.refusals(0).map((r) => r.error.message).join("\n");
      assert(text.includes("does not follow from the sums"), text);
    });
    // Offline: an honest final certificate whose robust hash the leader re-signs to a lie.
    await scenario(ROBUST, async (fed) => {
      await fed.submitAll(0);
      await fed.runToFinal(0);
      const final = fed.final(0, 0)!;
      const body = new Uint8Array(final.aggregate.buffer);
      await verifyFinal(fed.roster, final);
      const parts = splitFinalCertificate(fed.roster, final.certificate);
      const forged = await reseal(parts.certificate, fed.signers[fed.leader(0)], fed.roster.mode, {
        fields: (fields) => {
          const [seed, included] = fields[5] as [Uint8Array, number[], Uint8Array];
          const lie = robustResultHash(
            fed.session(0),
            plainMeanOfGroups(fed, final.aggregate, included),
          );
          return fields.map((f, i) => i === 5 ? [seed, included, lie] : f);
        },
      });
      const bytes = encode([FINAL_TAG, forged, [...parts.cosignFrames] as Value[]]);
      const refusal = await verifyFinalCertificate(fed.roster, bytes, body).catch((e) => e);
      assert(refusal instanceof ProtocolError, String(refusal));
      assertEquals(refusal.code, "commitment-mismatch");
      assertMatch(refusal.message, /does not follow from the sums/);
    });
  },
);

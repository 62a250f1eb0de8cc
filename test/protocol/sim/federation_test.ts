/**
 * The simulated federation (protocol/sim/federation.ts): `signers[i]` signs for roster index i at
 * every size. The roster sorts members by id, so ids must sort in creation order past n = 1,000
 * (with 3-digit padding `node-1000` sorted before `node-101`, and from n = 1,001 on every frame
 * of a shuffled member was refused as badly signed, which stalled the round).
 */
import { assertEquals } from "../../_assert.ts";
import { simulatedFederation } from "../../../protocol/sim/mod.ts";
import { toHex } from "../../../protocol/encoding/bytes.ts";

for (const [n, last] of [[3, "node-002"], [1001, "node-1000"]] as const) {
  Deno.test(`simulatedFederation: roster index i is signers[i] (n = ${n})`, async () => {
    const { roster, signers } = await simulatedFederation({ nodes: n, dim: 1, seed: 7 });
    assertEquals(roster.members.length, n);
    const mismatched = roster.members.flatMap((m, i) =>
      toHex(m.signingKey) === toHex(signers[i].signingKey) ? [] : [`${i}: ${m.id}`]
    );
    assertEquals(mismatched, []);
    assertEquals(roster.members[0].id, n > 1000 ? "node-0000" : "node-000");
    assertEquals(roster.members[n - 1].id, last);
  });
}

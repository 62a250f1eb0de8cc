/**
 * Roster approvals (protocol/roster_approval.ts): the signed bytes against a hand-written CBOR
 * vector (so existing roster signatures keep verifying), the approve → verify round trip in
 * both modes, and refusals: another roster, another member, an index outside the roster, the
 * wrong signature form for the mode, and a round message's signature of the same hash.
 */
import { assert, assertEquals } from "../../_assert.ts";
import { toHex } from "../../../protocol/encoding/bytes.ts";
import { encode } from "../../../protocol/encoding/codec.ts";
import {
  approveRoster,
  rosterApprovalPayload,
  verifyRosterApproval,
} from "../../../protocol/federation/roster_approval.ts";
import { federation } from "../_fixtures.ts";

Deno.test('roster approval: the payload is CBOR ["fedagg/v1/sig/roster", hash], byte for byte', () => {
  const hash = new Uint8Array(32).map((_, i) => i);
  // 0x82: array of 2; 0x74: text of 20 bytes, "fedagg/v1/sig/roster"; 0x58 0x20: 32 bytes.
  const expected = "8274" + "6665646167672f76312f7369672f726f73746572" + "5820" +
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
  assertEquals(toHex(rosterApprovalPayload({ hash })), expected);
});

for (const mode of ["classical", "post-quantum"] as const) {
  Deno.test(`roster approval (${mode}): approvals verify for their member and roster only`, async () => {
    const { roster, signers } = await federation({ n: 3, mode, seed: "approval" });
    const { roster: other } = await federation({ n: 3, mode, seed: "approval", dim: 9 });
    const sig = await approveRoster(roster, signers[1]);
    assertEquals(sig.mlDsa65 !== null, mode === "post-quantum", "hybrid exactly in pq mode");
    assert(await verifyRosterApproval(roster, 1, sig), "the signer's own approval");
    assert(!await verifyRosterApproval(roster, 0, sig), "not another member's");
    assert(!await verifyRosterApproval(roster, 3, sig), "not an index outside the roster");
    assert(!await verifyRosterApproval(other, 1, sig), "not another roster's (dim 9)");
    // The other form for the mode: the hybrid part dropped, or one added where none is due.
    const otherForm = { ...sig, mlDsa65: sig.mlDsa65 === null ? new Uint8Array(3309) : null };
    assert(!await verifyRosterApproval(roster, 1, otherForm), "the wrong form for the mode");
    // A signature of the same hash under another tag is no approval.
    const foreign = await signers[1].sign(
      encode(["fedagg/v1/msg/approval", roster.hash]),
      mode === "post-quantum",
    );
    assert(!await verifyRosterApproval(roster, 1, foreign), "another tag");
  });
}

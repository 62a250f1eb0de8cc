/**
 * The leader's checks of member messages (protocol/round/leader_checks.ts), rule by rule: each
 * case breaks exactly one rule and must be refused with that rule's code and detail, naming the
 * sender; the genuine message passes. An Unmask must reveal, for its holder's closed
 * neighbourhood, self-mask shares of exactly the owners in U3 and mask shares of exactly those in
 * U2 \ U3, never both for one owner; an Approval must approve this U2 and this U3; a MaskedInput
 * must commit to this U2 and carry the vector it signed; a ShareKeys must hold one entry per
 * neighbour in U1, in order. (`deno task mutate --filter leader_checks.ts` disables each.)
 *
 * @module
 */
import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import { HASH, taggedHash, XWING_CIPHERTEXT_LENGTH } from "../../../protocol/crypto/mod.ts";
import { ProtocolError, type RefusalCode } from "../../../protocol/errors.ts";
import { completeGraph } from "../../../protocol/graph/graphs.ts";
import { memberSetHash } from "../../../protocol/math/member_set.ts";
import {
  checkApproval,
  checkMaskedInput,
  checkShareKeys,
  checkUnmask,
} from "../../../protocol/round/leader_checks.ts";
import type { Unmask } from "../../../protocol/wire/messages.ts";
import type { ShareEntry } from "../../../protocol/wire/share_entry.ts";
import { rngFor } from "../_fixtures.ts";

const graph = completeGraph(6);
/** Member 5 never shared keys (not in U2); 4 shared them but sent no masked input (dropped). */
const U2 = [0, 1, 2, 3, 4];
const U3 = [0, 1, 2, 3];
const HOLDER = 1;
const SHARE = new Uint8Array(2);

function refusal(fn: () => void, code: RefusalCode, says: string, peer: number): void {
  const e = assertThrows(fn, ProtocolError) as ProtocolError;
  assertEquals([e.code, e.peer], [code, peer], e.message);
  assert(e.message.includes(says), `"${e.message}" says "${says}"`);
}

function unmask(self: number[], mask: number[]): Unmask {
  return {
    selfShares: self.map((o) => [o, SHARE] as const),
    maskShares: mask.map((o) => [o, SHARE] as const),
  };
}

Deno.test("leader checks: an Unmask reveals exactly U3's self shares and U2 \\ U3's mask shares", () => {
  checkUnmask(graph, U2, U3, HOLDER, unmask([0, 1, 2, 3], [4]));
  const check = (self: number[], mask: number[], says: string) =>
    refusal(
      () => checkUnmask(graph, U2, U3, HOLDER, unmask(self, mask)),
      "inconsistent-lists",
      says,
      HOLDER,
    );
  const WRONG = "unmask shares do not match the holder's neighbours in U3 and U2 \\ U3";
  // Both secrets of member 3 (alive) and of member 4 (dropped).
  check([0, 1, 2, 3], [3, 4], "revealed both secrets of member 3");
  check([0, 1, 2, 3, 4], [4], "revealed both secrets of member 4");
  // A self share missing (3), or of a member outside U2 (5) in its place.
  check([0, 1, 2], [4], WRONG);
  check([0, 1, 2, 5], [4], WRONG);
  // The mask share missing, or of a member outside U2 (5) in its place.
  check([0, 1, 2, 3], [], WRONG);
  check([0, 1, 2, 3], [5], WRONG);
});

Deno.test("leader checks: an Approval must approve this U2 and this U3", () => {
  const session = rngFor("leader-checks", "session")(32);
  const u2Hash = rngFor("leader-checks", "u2")(32);
  const u3Hash = memberSetHash(session, U3);
  checkApproval(u2Hash, u3Hash, 2, { u2Hash, u3Hash });
  const other = rngFor("leader-checks", "other-u2")(32);
  for (
    const approval of [
      { u2Hash: other, u3Hash },
      { u2Hash, u3Hash: memberSetHash(session, [0, 1, 2]) },
      { u2Hash, u3Hash: memberSetHash(rngFor("leader-checks", "other-session")(32), U3) },
    ]
  ) {
    refusal(
      () => checkApproval(u2Hash, u3Hash, 2, approval),
      "inconsistent-lists",
      "approval of other survivor lists",
      2,
    );
  }
});

Deno.test("leader checks: a MaskedInput must commit to this U2 and carry its signed vector", () => {
  const session = rngFor("leader-checks", "session")(32);
  const u2Hash = rngFor("leader-checks", "u2")(32);
  const body = rngFor("leader-checks", "body")(28);
  const vectorHash = taggedHash(HASH.maskedVector, session, body);
  checkMaskedInput(session, u2Hash, 3, { u2Hash, vectorHash, body });
  refusal(
    () =>
      checkMaskedInput(session, u2Hash, 3, {
        u2Hash: rngFor("leader-checks", "other-u2")(32),
        vectorHash,
        body,
      }),
    "inconsistent-lists",
    "masked input commits to another U2",
    3,
  );
  const changed = body.slice();
  changed[0] ^= 1;
  refusal(
    () => checkMaskedInput(session, u2Hash, 3, { u2Hash, vectorHash, body: changed }),
    "commitment-mismatch",
    "masked vector does not match its signed hash",
    3,
  );
});

Deno.test(
  "leader checks: a ShareKeys holds one entry per neighbour in U1, in order, and no low-order " +
    "X25519 half in its X-Wing ciphertexts",
  () => {
    const u1 = [0, 1, 2, 3, 4];
    const entry = (peer: number, kemCt: Uint8Array = new Uint8Array(0)): ShareEntry => ({
      peer,
      sealed: new Uint8Array(80),
      shareKemCt: kemCt,
      maskKemCt: new Uint8Array(0),
      wrap: new Uint8Array(0),
      leaf: 0,
      path: [],
      signature: new Uint8Array(0),
    });
    // Member 2's neighbours in U1: 0, 1, 3, 4.
    checkShareKeys(graph, u1, 2, [0, 1, 3, 4].map((p) => entry(p)));
    for (const peers of [[0, 1, 3], [0, 1, 3, 4, 5], [0, 1, 4, 3], [0, 1, 3, 5], [0, 1, 2, 3]]) {
      refusal(
        () => checkShareKeys(graph, u1, 2, peers.map((p) => entry(p))),
        "inconsistent-lists",
        "share-keys must hold one entry for each neighbour in U1",
        2,
      );
    }
    // An X-Wing ciphertext ending in the X25519 point 0 (low order) would only fail at unmasking.
    const lowOrder = new Uint8Array(XWING_CIPHERTEXT_LENGTH);
    const fine = rngFor("leader-checks", "ct")(XWING_CIPHERTEXT_LENGTH);
    checkShareKeys(graph, u1, 2, [0, 1, 3, 4].map((p) => entry(p, fine)));
    refusal(
      () =>
        checkShareKeys(graph, u1, 2, [0, 1, 3, 4].map((p) => entry(p, p === 3 ? lowOrder : fine))),
      "malformed",
      "an X-Wing ciphertext is a low-order X25519 point",
      2,
    );
  },
);

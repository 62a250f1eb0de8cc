/**
 * Domain-separation labels (protocol/crypto/domains.ts): every label of HASH, KDF and SIGN is
 * distinct (SIGN also from the round's message tags) and versioned under "fedagg/v1/".
 */
import { HASH, KDF, SIGN } from "../../../protocol/crypto/domains.ts";
import { TAG } from "../../../protocol/wire/frame.ts";
import { assert, assertEquals } from "../../_assert.ts";

const hashLabels: string[] = Object.values(HASH);
const kdfLabels: string[] = Object.values(KDF);
const signLabels: string[] = Object.values(SIGN);
const all = [...hashLabels, ...kdfLabels, ...signLabels];

Deno.test("domains: the label sets are not empty", () => {
  assert(hashLabels.length > 0);
  assert(kdfLabels.length > 0);
});

Deno.test("domains: all labels in HASH and KDF are distinct", () => {
  assertEquals(new Set(hashLabels).size, hashLabels.length, "within HASH");
  assertEquals(new Set(kdfLabels).size, kdfLabels.length, "within KDF");
  assertEquals(new Set(all).size, all.length, "across HASH and KDF");
});

Deno.test('domains: every label starts with "fedagg/v1/"', () => {
  for (const label of all) assert(label.startsWith("fedagg/v1/"), label);
  for (const label of hashLabels) assert(label.startsWith("fedagg/v1/hash/"), label);
  for (const label of kdfLabels) assert(label.startsWith("fedagg/v1/kdf/"), label);
});

Deno.test('domains: labels are printable ASCII without spaces and do not end in "/"', () => {
  for (const label of all) {
    assert(/^[\x21-\x7e]+$/.test(label), label);
    assert(!label.endsWith("/"), label);
  }
});

Deno.test("domains: SIGN labels are distinct, under fedagg/v1/sig/, and no message tag", () => {
  assert(signLabels.length > 0);
  assertEquals(new Set(all).size, all.length, "across HASH, KDF and SIGN");
  for (const label of signLabels) assert(label.startsWith("fedagg/v1/sig/"), label);
  const tags: string[] = Object.values(TAG);
  for (const label of signLabels) assert(!tags.includes(label), label);
  // The roster approval label is fixed: existing roster files carry signatures under it.
  assertEquals(SIGN.rosterApproval, "fedagg/v1/sig/roster");
});

/**
 * Domain-separation labels (protocol/crypto/domains.ts): every label of HASH and KDF is
 * distinct and versioned under "fedagg/v1/".
 */
import { HASH, KDF } from "../../../protocol/crypto/domains.ts";
import { assert, assertEquals } from "../../_assert.ts";

const hashLabels: string[] = Object.values(HASH);
const kdfLabels: string[] = Object.values(KDF);
const all = [...hashLabels, ...kdfLabels];

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

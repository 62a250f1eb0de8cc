/**
 * The raw format (node/tensor_formats/raw.ts): exactly 4·d little-endian bytes, all finite.
 */
import { assertEquals } from "../../_assert.ts";
import { fromHex } from "../../../protocol/encoding/bytes.ts";
import { parseUpdate } from "../../../node/tensor_formats/mod.ts";
import { cat, f32, refusal, values } from "./_helpers.ts";

Deno.test("raw: exactly 4·d little-endian bytes, finite", () => {
  const p = parseUpdate(fromHex("0000803f000000c0"), 2, "raw");
  assertEquals(values(p), [1, -2]);
  assertEquals(p.layout, { tensors: [{ name: "aggregate", shape: [2] }] });
  refusal(
    () => parseUpdate(f32(1, 2, 3), 2, "raw"),
    "wrong-length",
    "12 bytes",
    "3 float32",
    "d = 2",
    "8",
  );
  refusal(() => parseUpdate(f32(1), 2, "raw"), "wrong-length", "1 float32", "d = 2");
  refusal(() => parseUpdate(new Uint8Array(7), 2, "raw"), "wrong-length", "not a whole number");
  refusal(() => parseUpdate(f32(1, -Infinity), 2, "raw"), "non-finite", "index 1", "-Infinity");
  // Every NaN bit pattern (quiet, signalling, negative) is caught; the largest finite is not.
  for (const hex of ["0000c07f", "0100807f", "ffffffff", "0000807f", "000080ff"]) {
    refusal(() => parseUpdate(cat(f32(0), fromHex(hex)), 2, "raw"), "non-finite", "index 1");
  }
  assertEquals(values(parseUpdate(fromHex("ffff7f7fffff7fff"), 2)), [
    3.4028234663852886e38,
    -3.4028234663852886e38,
  ]);
  assertEquals(parseUpdate(new Uint8Array(0), 0).values.length, 0);
});

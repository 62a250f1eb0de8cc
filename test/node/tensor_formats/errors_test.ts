/**
 * The refusal type (node/tensor_formats/errors.ts): a NodeError carrying its code, and names
 * taken from a body are quoted and shortened in messages. The HTTP statuses of these codes are
 * checked with every other refusal code's in test/node/http_api_test.ts.
 */
import { assert, assertEquals } from "../../_assert.ts";
import {
  FormatError,
  type FormatErrorCode,
  parseUpdate,
} from "../../../node/tensor_formats/mod.ts";
import { NodeError } from "../../../node/errors.ts";
import { f32, info, refusal, st } from "./_helpers.ts";

/** Every code once; the Record type makes the compiler refuse a missing or unknown one. */
const CODES: Record<FormatErrorCode, true> = {
  "malformed": true,
  "truncated": true,
  "too-large": true,
  "unsupported-content-type": true,
  "unsupported-version": true,
  "unsupported-dtype": true,
  "unsupported-order": true,
  "wrong-length": true,
  "non-finite": true,
  "layout-mismatch": true,
  "flat-upload": true,
};

Deno.test("FormatError: a NodeError carrying its code, name and message", () => {
  for (const code of Object.keys(CODES) as FormatErrorCode[]) {
    const e = new FormatError(code, "detail");
    assert(e instanceof NodeError);
    assertEquals(e.code, code);
    assertEquals(e.name, "FormatError");
    assertEquals(e.message, `${code}: detail`);
    assert(e instanceof Error);
  }
  // Names from the body are quoted and shortened in messages.
  const long = "x".repeat(500);
  const e = refusal(
    () => parseUpdate(st(`{"${long}":${info([1], 0, 4, "I8")}}`, f32(1)), 1),
    "unsupported-dtype",
  );
  assert(e.message.length < 200, e.message);
});

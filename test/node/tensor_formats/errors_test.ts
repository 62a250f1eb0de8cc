/**
 * The refusal type (node/tensor_formats/errors.ts): a NodeError whose codes the HTTP API answers
 * with the documented statuses, and names taken from a body are quoted and shortened in messages.
 */
import { assert, assertEquals } from "../../_assert.ts";
import {
  FormatError,
  type FormatErrorCode,
  parseUpdate,
} from "../../../node/tensor_formats/mod.ts";
import { NodeError } from "../../../node/errors.ts";
import { STATUS as API_STATUS } from "../../../node/http_api.ts";
import { f32, info, refusal, st, STATUS } from "./_helpers.ts";

Deno.test("FormatError: codes map to HTTP statuses", () => {
  for (const [code, status] of Object.entries(STATUS)) {
    const e = new FormatError(code as FormatErrorCode, "detail");
    assertEquals(API_STATUS[e.code], status);
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

/**
 * Typed re-exports of the `@std/assert` functions the tests use. The npm build of Deno's
 * standard library ships no type declarations, so this file gives them their real signatures.
 *
 * @module
 */
import * as std from "@std/assert";

/** Asserts deep equality. */
export const assertEquals: <T>(actual: T, expected: T, msg?: string) => void = std.assertEquals;
/** Asserts deep inequality. */
export const assertNotEquals: <T>(actual: T, expected: T, msg?: string) => void =
  std.assertNotEquals;
/** Asserts that `expr` is truthy. */
export const assert: (expr: unknown, msg?: string) => asserts expr = std.assert;
/** Asserts that `fn` throws (optionally an instance of `ErrorClass` whose message includes `msgIncludes`). */
export const assertThrows: (
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  ErrorClass?: abstract new (...args: any[]) => Error,
  msgIncludes?: string,
) => Error = std.assertThrows;
/** Asserts that the promise returned by `fn` rejects. */
export const assertRejects: (
  fn: () => PromiseLike<unknown>,
  // deno-lint-ignore no-explicit-any
  ErrorClass?: abstract new (...args: any[]) => Error,
  msgIncludes?: string,
) => Promise<Error> = std.assertRejects;
/** Asserts `actual >= expected`. */
export const assertGreaterOrEqual: <T>(actual: T, expected: T, msg?: string) => void =
  std.assertGreaterOrEqual;
/** Asserts `actual <= expected`. */
export const assertLessOrEqual: <T>(actual: T, expected: T, msg?: string) => void =
  std.assertLessOrEqual;
/** Asserts that `actual` matches `expected` as a regular expression. */
export const assertMatch: (actual: string, expected: RegExp, msg?: string) => void =
  std.assertMatch;

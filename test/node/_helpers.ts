/**
 * Helpers shared by the node tests: temporary directories that are always removed, a file's
 * permission bits and existence, the assertion that a call rejects with a given
 * {@link NodeError} code, and the raw bytes of float32 values (to compare them bit for bit).
 * Deterministic rngs are `rngFor` from `../protocol/_fixtures.ts`.
 *
 * @module
 */
import { assertEquals, assertRejects } from "../_assert.ts";
import { NodeError } from "../../node/errors.ts";
import { main } from "../../node/cli/mod.ts";

/**
 * Runs `fn` with a new temporary directory whose name starts with `prefix`, then removes the
 * directory and everything in it, whether `fn` resolves or throws. Resolves to `fn`'s result.
 */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The permission bits (`mode & 0o777`) of `path`; rejects if it cannot be stat'ed. */
export async function modeOf(path: string): Promise<number> {
  return (await Deno.stat(path)).mode! & 0o777;
}

/** Whether `path` can be stat'ed (any failure, not only a missing file, counts as absent). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Awaits `fn`, which must reject with a {@link NodeError} whose code is `code` (anything else
 * fails the test), and returns the error's message for further checks.
 */
export async function assertNodeError(fn: () => Promise<unknown>, code: string): Promise<string> {
  const err = await assertRejects(fn, NodeError);
  assertEquals((err as NodeError).code, code, err.message);
  return err.message;
}

/** A byte view (no copy) of `v`'s memory, so float32 values compare bit for bit (NaN, −0). */
export function f32Bytes(v: Float32Array): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** What a CLI run printed and returned (see {@link cli}). */
export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Runs the `fedagg` CLI in-process with `args`, capturing console.log and console.error. */
export async function cli(...args: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => out.push(a.map(String).join(" "));
  console.error = (...a: unknown[]) => err.push(a.map(String).join(" "));
  try {
    const code = await main(args);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

/**
 * The permissions the `fedagg` binary runs with, in one place: `deno task compile` bakes them
 * into the binary, and the test network and multi-process tests run the same entry point under
 * `deno run` with exactly these flags.
 *
 * - net: libp2p (listen, dial) and the trainer API;
 * - read/write: the node directory (identity, journal, roster) — chosen at run time;
 * - env: libp2p's dependencies read a few variables (DEBUG, …);
 * - sys=cpus: one mask worker per core; sys=networkInterfaces: listening on 0.0.0.0 / ::.
 *
 * @module
 */

/** Permission flags of the node binary. */
export const NODE_PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys=cpus,networkInterfaces",
];

/** Files loaded by URL at run time that `deno compile` must embed. */
export const NODE_INCLUDES: readonly string[] = ["node/mask_worker.ts"];

/** The entry point (library barrel and CLI). */
export const ENTRY = "mod.ts";

/** The command that runs the entry point with the binary's permissions (no type check). */
export function nodeCommand(root: string): string[] {
  return ["run", "--no-check", "--no-prompt", ...NODE_PERMISSIONS, `${root}/${ENTRY}`];
}

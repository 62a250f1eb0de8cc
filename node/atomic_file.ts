/**
 * Crash-safe file writes: the data goes to a temporary file in the same directory, is flushed
 * to disk, renamed over the target and the directory entry is flushed too. After a crash at any
 * point the target holds either its old content or the new one, never a mix.
 *
 * @module
 */

import { crashPoint, filePoint } from "./crash_point.ts";

/**
 * Writes `data` to `path` atomically and durably, with permission bits `mode` (default 0o600:
 * everything fedagg writes is private to its operator). Creates missing parent directories.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  mode = 0o600,
): Promise<void> {
  const dir = parent(path);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  const file = await Deno.open(tmp, { write: true, createNew: true, mode });
  try {
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  } catch (err) {
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  file.close();
  crashPoint(() => filePoint(path, "before-rename")); // fault injection for tests
  try {
    await Deno.chmod(tmp, mode); // createNew's mode is filtered by the umask
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  await syncDirectory(dir);
  crashPoint(() => filePoint(path, "after-sync")); // fault injection for tests
}

/** Flushes a directory entry (after a rename or create) to disk. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

/** The directory part of a path (`.` for a bare name). */
export function parent(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

/** Reads a file, or returns undefined if it does not exist. */
export async function readFileIfExists(path: string): Promise<Uint8Array | undefined> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

/**
 * Crash-safe file writes: the data goes to a temporary file in the same directory, is flushed
 * to disk, renamed over the target and the directory entry is flushed too. Directories the write
 * creates are made durable as well: each one's entry in its parent is flushed (every level
 * created), so a power loss cannot drop a directory that holds an acknowledged file. After a
 * crash at any point the target holds either its old content or the new one, never a mix.
 *
 * @module
 */

import { crashPoint, filePoint } from "./crash_point.ts";

/** Flushes a directory's entries to disk (the seam tests replace to watch the order of flushes). */
export type SyncDirectory = (dir: string) => Promise<void>;

/**
 * Writes `data` (bytes, text as UTF-8, or chunks written one after the other) to `path`
 * atomically and durably, with permission bits `mode` (default 0o600:
 * everything fedagg writes is private to its operator). Creates missing parent directories
 * (mode 0700) durably ({@link ensureDirectory}). `sync` flushes a directory (tests pass a spy).
 * Leaves no temporary file behind when it fails.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string | readonly Uint8Array[],
  mode = 0o600,
  sync: SyncDirectory = syncDirectory,
): Promise<void> {
  const dir = parent(path);
  await ensureDirectory(dir, sync);
  const chunks = typeof data === "string"
    ? [new TextEncoder().encode(data)]
    : data instanceof Uint8Array
    ? [data]
    : data;
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  const file = await Deno.open(tmp, { write: true, createNew: true, mode });
  try {
    for (const bytes of chunks) {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
    }
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
  await sync(dir);
  crashPoint(() => filePoint(path, "after-sync")); // fault injection for tests
}

/**
 * Creates `dir` and its missing ancestors (mode 0700), each durably: after creating a level it
 * flushes that level's parent, so the new entry survives a power loss. A level another writer
 * created meanwhile is flushed too (its creator may not have flushed it yet). Resolves to the
 * directories it created or found racing, outermost first; an existing `dir` costs one stat.
 * Refuses (rejects with the file system's error) when a level exists and is not a directory.
 */
export async function ensureDirectory(
  dir: string,
  sync: SyncDirectory = syncDirectory,
): Promise<string[]> {
  const missing: string[] = [];
  for (let d = dir;; d = parent(d)) {
    try {
      const info = await Deno.stat(d);
      if (!info.isDirectory) throw new Deno.errors.NotADirectory(`${d} is not a directory`);
      break;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      missing.unshift(d);
      if (parent(d) === d) break;
    }
  }
  for (const d of missing) {
    try {
      await Deno.mkdir(d, { mode: 0o700 });
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
    await sync(parent(d));
  }
  return missing;
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

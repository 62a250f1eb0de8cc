/**
 * One process per node directory: an exclusive advisory lock (`flock`) on `DIR/lock`, held for
 * the life of the process that runs the node, with the holder's PID written into the file so a
 * second process can say who holds it.
 *
 * The kernel keeps the lock with the open file, not with the file's contents: it goes away when
 * the holder closes the file or dies in any way (SIGKILL, a crash, a power loss), so there is no
 * stale lock to clean up. The PID in the file is only a label for the error message; a PID left
 * behind by a killed holder is harmless, because the next holder takes the lock first and then
 * overwrites it. The lock file itself is never deleted: deleting it while another process has it
 * open would let two processes lock two different files of the same name.
 *
 * @module
 */
import { NodeError } from "./errors.ts";

/** Path of the lock file in a node directory. */
export function lockPath(dir: string): string {
  return `${dir}/lock`;
}

/** A held directory lock. */
export interface DirLock {
  /** The lock file. */
  readonly path: string;
  /** Clears the PID and releases the lock (closing the file). Safe to call more than once. */
  release(): void;
}

/** How long {@link lockNodeDir} waits for a holder that just took the lock to write its PID. */
const PID_WAIT_MS = 2000;

/**
 * Takes the lock of the node directory `dir` without blocking and writes this process's PID into
 * it. Refuses (NodeError `dir-locked`, naming the holder's PID when it can be read) a directory
 * another process holds, at once; rejects as `Deno.open` does when `dir` does not exist or is not
 * writable. The lock is released by {@link DirLock.release} or, whatever happens, when the
 * process exits.
 */
export async function lockNodeDir(dir: string): Promise<DirLock> {
  const path = lockPath(dir);
  const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  let locked: boolean;
  try {
    locked = await file.tryLock(true);
  } catch (err) {
    file.close();
    throw err;
  }
  if (!locked) {
    file.close();
    const pid = await holderPid(path);
    throw new NodeError(
      "dir-locked",
      `${dir} is in use by another fedagg process (${
        pid === undefined ? "PID unknown" : `PID ${pid}`
      }): one node directory runs one process; stop that one first`,
    );
  }
  try {
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  } catch (err) {
    file.close();
    throw err;
  }
  let held = true;
  return {
    path,
    release() {
      if (!held) return;
      held = false;
      try {
        file.truncateSync(0);
      } finally {
        file.close();
      }
    },
  };
}

/**
 * The PID written in the lock file at `path`, waiting up to {@link PID_WAIT_MS} for a holder
 * that has the lock but has not written its PID yet; undefined if none appears.
 */
async function holderPid(path: string): Promise<number | undefined> {
  const deadline = Date.now() + PID_WAIT_MS;
  for (;;) {
    const text = await Deno.readTextFile(path).catch(() => "");
    const m = /^(\d+)\n/.exec(text);
    if (m !== null) return Number(m[1]);
    if (Date.now() > deadline) return undefined;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The node directory's lock (node/dir_lock.ts), in one process (flock locks belong to the open
 * file, so a second open in the same process conflicts as another process would; the
 * multi-process and SIGKILL cases are in cli_run_test.ts): the holder's PID is written; a second
 * lock is refused at once naming it; release clears the PID and lets the next holder in; a
 * holder that has not written its PID yet is reported as unknown; a missing directory rejects.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../_assert.ts";
import { lockNodeDir, lockPath } from "../../node/dir_lock.ts";
import { assertNodeError, modeOf, withTempDir } from "./_helpers.ts";

Deno.test("dir lock: one holder at a time; the refusal names the holder's PID; release lets the next in", async () => {
  await withTempDir("fedagg-lock-", async (dir) => {
    const first = await lockNodeDir(dir);
    assertEquals(first.path, lockPath(dir));
    assertEquals(await Deno.readTextFile(lockPath(dir)), `${Deno.pid}\n`);
    assertEquals(await modeOf(lockPath(dir)), 0o600);
    const refused = await assertNodeError(() => lockNodeDir(dir), "dir-locked");
    assertMatch(
      refused,
      new RegExp(`^${dir} is in use by another fedagg process \\(PID ${Deno.pid}\\)`),
    );
    assertEquals(
      await Deno.readTextFile(lockPath(dir)),
      `${Deno.pid}\n`,
      "the refused one wrote nothing",
    );
    first.release();
    first.release(); // safe twice
    assertEquals(await Deno.readTextFile(lockPath(dir)), "", "release clears the PID");
    const second = await lockNodeDir(dir);
    assertEquals(await Deno.readTextFile(lockPath(dir)), `${Deno.pid}\n`);
    second.release();
  });
});

Deno.test("dir lock: a stale PID left by a dead holder does not block; an unwritten one is unknown", async () => {
  await withTempDir("fedagg-lock-", async (dir) => {
    // What a SIGKILLed holder leaves: its PID, but no lock (the kernel dropped it).
    await Deno.writeTextFile(lockPath(dir), "999999\n");
    const lock = await lockNodeDir(dir);
    assertEquals(await Deno.readTextFile(lockPath(dir)), `${Deno.pid}\n`);
    lock.release();
    // A holder that has the lock but has not written its PID (yet).
    const raw = await Deno.open(lockPath(dir), { read: true, write: true });
    try {
      assert(await raw.tryLock(true));
      const refused = await assertNodeError(() => lockNodeDir(dir), "dir-locked");
      assertMatch(refused, /\(PID unknown\)/);
    } finally {
      raw.close();
    }
  });
});

Deno.test("dir lock: a missing directory rejects", async () => {
  await withTempDir("fedagg-lock-", async (root) => {
    await assertRejects(() => lockNodeDir(`${root}/none`), Deno.errors.NotFound);
  });
});

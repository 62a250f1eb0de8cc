/**
 * A full disk under a running node (a real tmpfs mounted over its journal and filled): an update
 * the journal cannot hold is answered 507 `disk-full` naming the file, leaves nothing behind (no
 * values, no temporary, no empty round directory), is counted and logged; what was acknowledged
 * before is intact; once space is freed the same update is taken (202).
 *
 * Mounting a tmpfs needs root (CI runs as root); elsewhere the test is skipped with the reason.
 */
import "../../node/shims.ts";
import { assert, assertEquals } from "../_assert.ts";
import { startApiNode, stopApiNode, TOKEN } from "./_api_node.ts";
import { f32Bytes } from "./_helpers.ts";

const DIM = 6;

/** Why a tmpfs cannot be mounted here, or undefined when it can. */
function cannotMount(): string | undefined {
  const dir = Deno.makeTempDirSync({ prefix: "fedagg-mount-probe-" });
  try {
    const mount = new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir],
    })
      .outputSync();
    if (!mount.success) {
      return `cannot mount a tmpfs: ${new TextDecoder().decode(mount.stderr).trim()}`;
    }
    new Deno.Command("umount", { args: [dir] }).outputSync();
    return undefined;
  } catch (err) {
    return `cannot run mount: ${err}`;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

const skip = cannotMount();
if (skip !== undefined) console.error(`disk_full_test skipped: ${skip} (needs root)`);

async function post(url: string, round: number, fill: number): Promise<Response> {
  return await fetch(`${url}/v1/rounds/${round}/update?num_samples=1`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/octet-stream" },
    body: f32Bytes(new Float32Array(DIM).fill(fill)).slice(),
  });
}

/** Writes `path` until the file system is full (ENOSPC). */
async function fill(path: string): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true });
  try {
    const chunk = new Uint8Array(4096);
    for (;;) await file.write(chunk);
  } catch (err) {
    if ((err as { code?: string }).code !== "ENOSPC") throw err;
  } finally {
    file.close();
  }
}

Deno.test({
  name: "disk full: 507 disk-full, nothing kept of the refused update, nothing acknowledged lost",
  ignore: skip !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const f = await startApiNode({ dim: DIM });
    const journal = `${f.dir}/n0/journal`;
    await Deno.mkdir(journal, { recursive: true });
    const mount = new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", journal],
    }).outputSync();
    assert(mount.success, new TextDecoder().decode(mount.stderr));
    try {
      const ok = await post(f.api.url, 0, 0.25);
      assertEquals(ok.status, 202, await ok.text());
      await fill(`${journal}/filler`);

      const full = await post(f.api.url, 1, 0.5);
      assertEquals(full.status, 507);
      const body = await full.json();
      assertEquals(body.error, "disk-full");
      assert(body.message.includes(`${journal}/round-1/update.f32`), body.message);
      assert(body.message.includes("disk is full"), body.message);
      // Nothing of it: no round directory (it would count as a round at the next start).
      assert(!(await f.node.journal.rounds()).includes(1), "no round-1 directory");
      assertEquals(f.node.metrics.get("fedagg_journal_disk_full_total"), 1);
      assert(f.logs.some((l) => l.level === "error" && l.message.includes("disk full")));
      // The acknowledged update is intact.
      const kept = await f.node.journal.update(0);
      assertEquals(kept?.values, new Float32Array(DIM).fill(0.25));

      // Space again: the same update is taken.
      await Deno.remove(`${journal}/filler`);
      const again = await post(f.api.url, 1, 0.5);
      assertEquals(again.status, 202, await again.text());
      assertEquals((await f.node.journal.update(1))?.values, new Float32Array(DIM).fill(0.5));
    } finally {
      // The node lets go of the journal before it is unmounted, then the directory goes.
      await f.api.shutdown();
      await f.node.stop();
      new Deno.Command("umount", { args: ["-l", journal] }).outputSync();
      await stopApiNode(f);
    }
  },
});

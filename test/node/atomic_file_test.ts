/**
 * Crash-safe writes (node/atomic_file.ts): data lands whole with the requested permission bits
 * (0600 by default, whatever the umask), missing parent directories are created (mode 0700), an
 * existing file is replaced (content and mode), no `*.tmp-*` file is left behind after a
 * successful or a failed write, `readFileIfExists` tells a missing file from an empty one, and
 * `parent` splits paths as the writer needs. Every directory a write creates is flushed in its
 * parent (all levels, outermost first) and the file in its directory (a spy on the flush seam).
 */
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import {
  ensureDirectory,
  parent,
  readFileIfExists,
  writeFileAtomic,
} from "../../node/atomic_file.ts";
import { modeOf, withTempDir } from "./_helpers.ts";

/** Every entry under `dir` (recursively), as paths relative to it, sorted. */
async function listTree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${dir}/${prefix}`)) {
    const rel = prefix === "" ? e.name : `${prefix}/${e.name}`;
    out.push(rel);
    if (e.isDirectory) out.push(...await listTree(dir, rel));
  }
  return out.sort();
}

async function assertNoTemporaries(dir: string): Promise<void> {
  const leftovers = (await listTree(dir)).filter((p) => p.includes(".tmp-"));
  assertEquals(leftovers, [], "temporary files left behind");
}

Deno.test("atomic file: bytes and strings land whole, mode 0600 by default", async () => {
  await withTempDir("fedagg-atomic-", async (dir) => {
    const bytes = new Uint8Array(3 * 65536 + 17).map((_, i) => (i * 31 + 7) & 0xff);
    await writeFileAtomic(`${dir}/data.bin`, bytes);
    assertEquals(await Deno.readFile(`${dir}/data.bin`), bytes);
    assertEquals(await modeOf(`${dir}/data.bin`), 0o600);

    await writeFileAtomic(`${dir}/text.json`, '{"héllo": "wörld"}\n');
    assertEquals(await Deno.readTextFile(`${dir}/text.json`), '{"héllo": "wörld"}\n');
    assertEquals(await modeOf(`${dir}/text.json`), 0o600);

    await writeFileAtomic(`${dir}/empty`, new Uint8Array(0));
    assertEquals((await Deno.readFile(`${dir}/empty`)).length, 0);
    await assertNoTemporaries(dir);
  });
});

Deno.test("atomic file: the requested mode is applied exactly (not filtered by the umask)", async () => {
  await withTempDir("fedagg-atomic-", async (dir) => {
    for (const mode of [0o644, 0o640, 0o400, 0o666, 0o600]) {
      const path = `${dir}/m-${mode.toString(8)}`;
      await writeFileAtomic(path, "x", mode);
      assertEquals(await modeOf(path), mode, `mode ${mode.toString(8)}`);
    }
    await assertNoTemporaries(dir);
  });
});

Deno.test("atomic file: a view into a larger buffer writes only the view", async () => {
  await withTempDir("fedagg-atomic-", async (dir) => {
    const backing = new Uint8Array(64).map((_, i) => i);
    await writeFileAtomic(`${dir}/view`, backing.subarray(10, 20));
    assertEquals(await Deno.readFile(`${dir}/view`), backing.slice(10, 20));
  });
});

Deno.test("atomic file: missing parent directories are created with mode 0700", async () => {
  await withTempDir("fedagg-atomic-", async (dir) => {
    const path = `${dir}/a/b/c/file.txt`;
    await writeFileAtomic(path, "nested");
    assertEquals(await Deno.readTextFile(path), "nested");
    for (const d of ["a", "a/b", "a/b/c"]) {
      const info = await Deno.stat(`${dir}/${d}`);
      assert(info.isDirectory, d);
      assertEquals(info.mode! & 0o777, 0o700, `${d} mode`);
    }
    await assertNoTemporaries(dir);
  });
});

Deno.test("atomic file: an existing file is replaced, content and mode", async () => {
  await withTempDir("fedagg-atomic-", async (dir) => {
    const path = `${dir}/target`;
    await Deno.writeTextFile(path, "an old and much longer content that must fully disappear");
    await Deno.chmod(path, 0o666);
    await writeFileAtomic(path, "new");
    assertEquals(await Deno.readTextFile(path), "new");
    assertEquals(await modeOf(path), 0o600);
    await writeFileAtomic(path, "newer", 0o644);
    assertEquals(await Deno.readTextFile(path), "newer");
    assertEquals(await modeOf(path), 0o644);
    assertEquals(await listTree(dir), ["target"]);
  });
});

Deno.test("atomic file: a write whose parent is a file fails and leaves nothing behind", async () => {
  await withTempDir("fedagg-atomic-", async (dir) => {
    await Deno.writeTextFile(`${dir}/plain`, "I am a file");
    await assertRejects(() => writeFileAtomic(`${dir}/plain/child.txt`, "data"));
    await assertRejects(() => writeFileAtomic(`${dir}/plain/deeper/child.txt`, "data"));
    assertEquals(await Deno.readTextFile(`${dir}/plain`), "I am a file");
    assertEquals(await listTree(dir), ["plain"]);
  });
});

Deno.test({
  name: "atomic file: a failed rename (target is a directory) leaves no temporary file",
  fn: async () => {
    await withTempDir("fedagg-atomic-", async (dir) => {
      await Deno.mkdir(`${dir}/target`);
      await assertRejects(() => writeFileAtomic(`${dir}/target`, "data"));
      assert((await Deno.stat(`${dir}/target`)).isDirectory, "the directory is untouched");
      assertEquals(await listTree(dir), ["target"]);
    });
  },
});

Deno.test("atomic file: readFileIfExists returns undefined only for a missing file", async () => {
  await withTempDir("fedagg-atomic-", async (dir) => {
    assertEquals(await readFileIfExists(`${dir}/missing`), undefined);
    assertEquals(await readFileIfExists(`${dir}/no/such/dir/file`), undefined);
    await writeFileAtomic(`${dir}/empty`, "");
    assertEquals(await readFileIfExists(`${dir}/empty`), new Uint8Array(0));
    await writeFileAtomic(`${dir}/full`, Uint8Array.of(1, 2, 3));
    assertEquals(await readFileIfExists(`${dir}/full`), Uint8Array.of(1, 2, 3));
    // Other errors are not swallowed: reading a directory as a file fails.
    await assertRejects(() => readFileIfExists(dir));
  });
});

Deno.test("atomic file: parent() of absolute, relative and bare paths", () => {
  assertEquals(parent("/a/b/c.txt"), "/a/b");
  assertEquals(parent("/c.txt"), "/");
  assertEquals(parent("a/c.txt"), "a");
  assertEquals(parent("c.txt"), ".");
});

Deno.test("atomic file: every directory a write creates is flushed in its parent, outermost first", async () => {
  await withTempDir("fedagg-atomic-", async (dir) => {
    const synced: { dir: string; entries: string[] }[] = [];
    // The spy records each flushed directory and what it held then: a directory must be
    // flushed after the entry it makes durable exists.
    const spy = async (d: string) => {
      const entries: string[] = [];
      for await (const e of Deno.readDir(d)) entries.push(e.name);
      synced.push({ dir: d, entries: entries.sort() });
    };
    await writeFileAtomic(`${dir}/journal/round-4/update.json`, "x", 0o600, spy);
    assertEquals(synced, [
      { dir, entries: ["journal"] },
      { dir: `${dir}/journal`, entries: ["round-4"] },
      { dir: `${dir}/journal/round-4`, entries: ["update.json"] },
    ]);
    // A write into an existing directory flushes that directory only.
    synced.length = 0;
    await writeFileAtomic(`${dir}/journal/round-4/committed.json`, "y", 0o600, spy);
    assertEquals(synced.map((s) => s.dir), [`${dir}/journal/round-4`]);
    // A new round directory: its parent (journal/) is flushed before the file's directory.
    synced.length = 0;
    await writeFileAtomic(`${dir}/journal/round-5/update.f32`, "z", 0o600, spy);
    assertEquals(synced.map((s) => s.dir), [`${dir}/journal`, `${dir}/journal/round-5`]);
  });
});

Deno.test("atomic file: ensureDirectory creates each missing level and flushes its parent", async () => {
  await withTempDir("fedagg-atomic-", async (dir) => {
    const synced: string[] = [];
    const spy = (d: string) => {
      synced.push(d);
      return Promise.resolve();
    };
    assertEquals(await ensureDirectory(`${dir}/a/b/c`, spy), [
      `${dir}/a`,
      `${dir}/a/b`,
      `${dir}/a/b/c`,
    ]);
    assertEquals(synced, [dir, `${dir}/a`, `${dir}/a/b`]);
    synced.length = 0;
    assertEquals(await ensureDirectory(`${dir}/a/b/c`, spy), [], "an existing directory");
    assertEquals(synced, []);
    await Deno.writeTextFile(`${dir}/file`, "");
    await assertRejects(() => ensureDirectory(`${dir}/file/x`, spy));
    await assertRejects(() => ensureDirectory(`${dir}/file`, spy));
  });
});

Deno.test("atomic file: chunks are written one after the other", async () => {
  await withTempDir("fedagg-atomic-", async (dir) => {
    await writeFileAtomic(`${dir}/c`, [Uint8Array.of(1, 2), new Uint8Array(0), Uint8Array.of(3)]);
    assertEquals(await Deno.readFile(`${dir}/c`), Uint8Array.of(1, 2, 3));
  });
});

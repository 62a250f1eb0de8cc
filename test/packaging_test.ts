/**
 * `mod.ts` as a library for other Deno projects: a new project in a temporary directory, with its
 * own `deno.json`, type-checks and runs a program that imports `mod.ts` by its file path — the
 * library's modules name their npm dependencies with `npm:` specifiers, so no import map of this
 * repository is needed — and one that imports it as `jsr:@fedagg/fedagg` linked to this folder
 * (`links`, the publishable `deno.json`). The `npm:` specifiers in the sources pin the same
 * versions as `deno.json`'s import map (one version of each dependency; `deno.lock` covers them).
 */
import { assert, assertEquals } from "./_assert.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

const PROGRAM = (from: string) => `
import { createRoster, SimNetwork, verifyFinalCertificate } from "${from}";
const kinds: string[] = [typeof createRoster, typeof SimNetwork, typeof verifyFinalCertificate];
console.log(kinds.join(","));
`;

async function deno(args: string[], cwd: string): Promise<{ ok: boolean; out: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { ok: r.success, out: decode(r.stdout) + decode(r.stderr) };
}

/** Runs `fn` in a new project directory holding `config` as its deno.json and `main.ts`. */
async function inProject(
  config: unknown,
  main: string,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fedagg-importer-" });
  try {
    await Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify(config, null, 2));
    await Deno.writeTextFile(`${dir}/main.ts`, main);
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("packaging: another project imports mod.ts by its file path, checks and runs it", async () => {
  await inProject({}, PROGRAM(`${ROOT}/mod.ts`), async (dir) => {
    const check = await deno(["check", "main.ts"], dir);
    assert(check.ok, check.out);
    const run = await deno(["run", "--allow-read", "--allow-env", "main.ts"], dir);
    assert(run.ok, run.out);
    assertEquals(run.out.trim().split("\n").at(-1), "function,function,function");
  });
});

Deno.test("packaging: another project links this folder as jsr:@fedagg/fedagg", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  assertEquals(config.name, "@fedagg/fedagg");
  assertEquals(config.exports, "./mod.ts");
  await inProject(
    {
      imports: { "@fedagg/fedagg": `jsr:${config.name}@^${config.version}` },
      links: [ROOT],
    },
    PROGRAM("@fedagg/fedagg"),
    async (dir) => {
      const check = await deno(["check", "main.ts"], dir);
      assert(check.ok, check.out);
    },
  );
});

Deno.test("packaging: the sources' npm: specifiers pin deno.json's versions", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  const mapped = new Set(Object.values(config.imports as Record<string, string>));
  const found: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (e.name.endsWith(".ts")) {
        const text = await Deno.readTextFile(path);
        for (const m of text.matchAll(/from "(npm:[^"]+)"/g)) found.push(m[1]);
        // No bare specifier outside this repository's import map is left in the library.
        for (const m of text.matchAll(/from "([^".][^"]*)"/g)) {
          assert(/^(npm|node|jsr):/.test(m[1]), `${path}: bare specifier ${m[1]}`);
        }
      }
    }
  };
  await walk(`${ROOT}/protocol`);
  await walk(`${ROOT}/node`);
  assert(found.length >= 15, `${found.length} npm: imports`);
  assertEquals(found.filter((s) => !mapped.has(s)), [], "versions deno.json does not pin");
});

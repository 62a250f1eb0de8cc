/**
 * The deployment files in `deploy/`, checked without running them (no container engine and no
 * running systemd here):
 *
 * - `Dockerfile`: multi-stage; the build stage's Deno is this Deno's major.minor; it copies every
 *   local module the entry point loads (from `deno info`) and nothing `.dockerignore` leaves out;
 *   the runtime stage runs as a non-root user, keeps the node directory on a volume, runs the
 *   binary the build stage compiled, exposes the ports its command line uses, and that command
 *   line uses only options `fedagg run` has;
 * - `fedagg.service`: `systemd-analyze verify` accepts it without a warning (skipped, saying so,
 *   where systemd-analyze is missing), its offline security exposure is at most 2.0 ("OK"),
 *   it runs as a non-root user with the hardening options the guide promises and `ExecStart`
 *   uses only options `fedagg run` has.
 */
import { assert, assertEquals } from "../_assert.ts";
import { HELP } from "../../node/cli/help.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

interface Instruction {
  readonly op: string;
  readonly args: string;
}

/** The Dockerfile's instructions (continuations joined, comments dropped), grouped by stage. */
function stages(text: string): { from: string; name?: string; body: Instruction[] }[] {
  const joined = text.split("\n").filter((l) => !/^\s*#/.test(l)).join("\n").replace(
    /\\\n/g,
    " ",
  );
  const out: { from: string; name?: string; body: Instruction[] }[] = [];
  for (const line of joined.split("\n")) {
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    if (m === null) continue;
    const [, op, args] = m;
    if (op === "FROM") {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args.trim())!;
      out.push({ from: f[1], name: f[2], body: [] });
    } else {
      assert(out.length > 0, `${op} before FROM`);
      out.at(-1)!.body.push({ op, args: args.trim() });
    }
  }
  return out;
}

/** The `--option`s of a command line. */
function optionsOf(args: readonly string[]): string[] {
  return args.filter((a) => a.startsWith("--"));
}

Deno.test("deploy: the Dockerfile is multi-stage, non-root, with the node directory as a volume", async () => {
  const text = await Deno.readTextFile(`${ROOT}/deploy/Dockerfile`);
  const all = stages(text);
  assert(all.length >= 2, "multi-stage");
  const build = all.find((s) => s.name === "build")!;
  const runtime = all.at(-1)!;
  // The build stage's Deno is this one (major.minor): the lock file and the code are tested on it.
  const tag = /^denoland\/deno:(\d+\.\d+)\.\d+$/.exec(build.from);
  assert(tag !== null, build.from);
  assertEquals(tag[1], Deno.version.deno.split(".").slice(0, 2).join("."));

  // Every local module the entry point loads (the mask worker too) is copied in.
  const copied = build.body.filter((i) => i.op === "COPY" && !i.args.startsWith("--from"))
    .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "mod.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "null",
  }).output();
  assert(info.success, "deno info mod.ts");
  const graph = JSON.parse(new TextDecoder().decode(info.stdout));
  const local = (graph.modules as { specifier: string }[])
    .map((m) => m.specifier)
    .filter((s) => s.startsWith(`file://${ROOT}/`))
    .map((s) => s.slice(`file://${ROOT}/`.length));
  assert(local.length > 50, `${local.length} local modules`);
  local.push("node/mask_worker.ts", "deno.json", "deno.lock", "scripts/compile.ts");
  const covered = (path: string) =>
    copied.some((c) => c === path || (c.endsWith("/") && path.startsWith(c)));
  assertEquals(local.filter((p) => !covered(p)), [], "modules the build stage would miss");
  // And .dockerignore lets each through (it lists what it keeps).
  const ignore = (await Deno.readTextFile(`${ROOT}/.dockerignore`)).split("\n")
    .filter((l) => l.startsWith("!")).map((l) => l.slice(1));
  for (const c of copied) assert(ignore.includes(c), `.dockerignore keeps ${c}`);
  for (const c of copied) await Deno.stat(`${ROOT}/${c}`);
  assert(
    build.body.some((i) => i.op === "RUN" && /deno task compile --out \/out/.test(i.args)),
    "the binary is built by scripts/compile.ts (the node's permissions)",
  );

  // The runtime stage.
  const op = (name: string) => runtime.body.filter((i) => i.op === name).map((i) => i.args);
  const user = op("USER").at(-1);
  assert(user !== undefined && !/^(root|0)(:|$)/.test(user), `non-root USER, got ${user}`);
  const volumes = op("VOLUME").flatMap((v) => JSON.parse(v) as string[]);
  assertEquals(volumes, ["/var/lib/fedagg"]);
  assert(
    op("COPY").some((c) => /^--from=build\b.*\/out\/fedagg \/usr\/local\/bin\/fedagg$/.test(c)),
    "the runtime runs the compiled binary",
  );
  assertEquals(JSON.parse(op("ENTRYPOINT")[0]), ["/usr/local/bin/fedagg"]);
  const cmd = JSON.parse(op("CMD")[0]) as string[];
  assertEquals(cmd[0], "run");
  assertEquals(cmd[cmd.indexOf("--dir") + 1], "/var/lib/fedagg", "runs on the volume");
  for (const o of optionsOf(cmd)) assert(HELP.run.includes(o), `fedagg run has ${o}`);
  const exposed = op("EXPOSE").flatMap((e) => e.split(/\s+/)).map((p) => Number(p.split("/")[0]));
  for (const option of ["--api", "--metrics"]) {
    const port = Number(cmd[cmd.indexOf(option) + 1].split(":").pop());
    assert(exposed.includes(port), `${option} port ${port} exposed`);
  }
  assert(exposed.includes(4001), "the libp2p port of the guide's examples");
});

/** The unit with ExecStart pointing at `bin` (systemd-analyze checks the binary exists). */
async function unitWith(bin: string): Promise<string> {
  const text = await Deno.readTextFile(`${ROOT}/deploy/fedagg.service`);
  return text.replaceAll("/usr/local/bin/fedagg", bin);
}

function hasSystemdAnalyze(): boolean {
  try {
    return new Deno.Command("systemd-analyze", { args: ["--version"], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const noSystemd = !hasSystemdAnalyze();
if (noSystemd) {
  console.error(
    "deploy_test: systemd-analyze is missing (apt-get install systemd): the unit is not verified",
  );
}

Deno.test("deploy: the systemd unit runs fedagg run as a non-root user with hardening", async () => {
  const text = await Deno.readTextFile(`${ROOT}/deploy/fedagg.service`);
  const service = text.slice(text.indexOf("[Service]"), text.indexOf("[Install]"));
  const settings = new Map<string, string[]>();
  for (const line of service.split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m !== null) settings.set(m[1], [...settings.get(m[1]) ?? [], m[2]]);
  }
  const one = (key: string) => settings.get(key)?.at(-1);
  assert(one("User") !== undefined && one("User") !== "root", "a non-root user");
  for (
    const [key, value] of [
      ["NoNewPrivileges", "yes"],
      ["ProtectSystem", "strict"],
      ["ProtectHome", "yes"],
      ["PrivateTmp", "yes"],
      ["PrivateDevices", "yes"],
      ["CapabilityBoundingSet", ""],
      ["StateDirectory", "fedagg"],
      ["UMask", "0077"],
      ["KillSignal", "SIGTERM"],
      ["RestartPreventExitStatus", "2"],
    ]
  ) assertEquals(one(key), value, key);
  const exec = one("ExecStart")!.split(/\s+/);
  assertEquals(exec.slice(0, 2), ["/usr/local/bin/fedagg", "run"]);
  assertEquals(exec[exec.indexOf("--dir") + 1], "/var/lib/fedagg", "the StateDirectory");
  for (const o of optionsOf(exec)) assert(HELP.run.includes(o), `fedagg run has ${o}`);
});

Deno.test({
  name: "deploy: systemd-analyze verify accepts the unit; its security exposure is OK",
  ignore: noSystemd,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "fedagg-unit-" });
    try {
      const bin = `${dir}/fedagg`;
      await Deno.writeTextFile(bin, "#!/bin/sh\n");
      await Deno.chmod(bin, 0o755);
      const unit = `${dir}/fedagg.service`;
      await Deno.writeTextFile(unit, await unitWith(bin));
      const verify = await new Deno.Command("systemd-analyze", { args: ["verify", unit] }).output();
      const said = new TextDecoder().decode(verify.stderr) +
        new TextDecoder().decode(verify.stdout);
      assert(verify.success, said);
      assertEquals(said.trim(), "", "no warning (an unknown key is only a warning)");
      // A misspelt key is what verify catches: the check can fail.
      await Deno.writeTextFile(
        unit,
        (await unitWith(bin)).replace(
          "NoNewPrivileges=yes",
          "NoNewPrivileges=yes\nProtectSytem=strict",
        ),
      );
      const bad = await new Deno.Command("systemd-analyze", { args: ["verify", unit] }).output();
      assert(new TextDecoder().decode(bad.stderr).includes("Unknown key 'ProtectSytem'"));

      await Deno.writeTextFile(unit, await unitWith(bin));
      const security = await new Deno.Command("systemd-analyze", {
        args: ["security", "--offline=yes", unit],
        env: { NO_COLOR: "1", SYSTEMD_COLORS: "0" },
      }).output();
      const report = new TextDecoder().decode(security.stdout);
      const level = /Overall exposure level for fedagg\.service: (\d+\.\d+)/.exec(report);
      assert(level !== null, report + new TextDecoder().decode(security.stderr));
      assert(Number(level[1]) <= 2.0, `exposure ${level[1]}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

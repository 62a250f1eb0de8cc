/**
 * Crash injection. The hook (node/crash_point.ts): a target parses as `<point>[#<nth>]` and
 * nothing else; journal writes and frames get the names the harness uses (every message type of
 * the golden frames); in a real process the armed nth hit dies of SIGKILL after logging it,
 * earlier hits and other points do not, and without the variables nothing is logged or killed.
 *
 * The harness (scripts/crash/crash_run.ts) on a seeded sample of crash points: a federation of
 * four real `fedagg run` processes, one SIGKILLed at the point and restarted; every acknowledged
 * update must be in the certified aggregate once or explicitly failed — a silent loss, a stall, a
 * double count, a point never reached or a process left behind fails the test. The full run over
 * every point is `deno task crash`.
 */
import { assert, assertEquals } from "../_assert.ts";
import { filePoint, parseCrashTarget, sendPoint } from "../../node/crash_point.ts";
import { fromHex } from "../../protocol/mod.ts";
import {
  type CrashPointSpec,
  DEFAULT_SETTINGS,
  runCrashPoint,
  samplePoints,
  VIOLATIONS,
} from "../../scripts/crash/crash_run.ts";
import { withTempDir } from "./_helpers.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

Deno.test("crash point: targets parse as <point>[#<nth>] and nothing else", () => {
  assertEquals(parseCrashTarget("send:maskedInput"), { point: "send:maskedInput", nth: 1 });
  assertEquals(parseCrashTarget("journal:update.json:after-sync#3"), {
    point: "journal:update.json:after-sync",
    nth: 3,
  });
  for (const bad of ["", "#2", "a#0", "a#-1", "a#1.5", "a#", "a b", "a#2#3", "a#x"]) {
    assertEquals(parseCrashTarget(bad), undefined, bad);
  }
});

Deno.test("crash point: names of journal writes, other files and frames", async () => {
  assertEquals(
    filePoint("/n/journal/round-12/committed.json", "before-rename"),
    "journal:committed.json:before-rename",
  );
  assertEquals(filePoint("/n/api.json", "after-sync"), "file:api.json:after-sync");
  assertEquals(filePoint("journal", "after-sync"), "file:journal:after-sync");
  // Every message type, from real frames: the wire tag in camel case.
  const golden = JSON.parse(await Deno.readTextFile(`${ROOT}/test/golden/frames.json`)) as Record<
    string,
    { outputs: { tag: string; frame: unknown }[] }
  >;
  const seen = new Set<string>();
  for (const { outputs } of Object.values(golden)) {
    for (const o of outputs) {
      if (typeof o.frame !== "string") continue; // post-quantum frames are stored as trees
      const type = o.tag.replace("fedagg/v1/msg/", "").replace(
        /-([a-z])/g,
        (_, c) => c.toUpperCase(),
      );
      assertEquals(sendPoint(fromHex(o.frame)), `send:${type}`);
      seen.add(type);
    }
  }
  assertEquals(seen.size, 11);
  assertEquals(sendPoint(new Uint8Array([1, 2, 3])), "send:unknown");
});

/** Runs a process that passes points a, a, b, a; returns its exit and the crash log. */
async function passPoints(env: Record<string, string>, dir: string) {
  const script = `${dir}/points.ts`;
  await Deno.writeTextFile(
    script,
    `import { crashPoint } from "${ROOT}/node/crash_point.ts";\n` +
      `for (const p of ["a", "a", "b", "a"]) { crashPoint(p); console.log("passed " + p); }\n`,
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-check", "--config", `${ROOT}/deno.json`, "-A", script],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const log = await Deno.readTextFile(`${dir}/log`).catch(() => undefined);
  return {
    signal: out.signal,
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout).trim().split("\n").filter((l) => l !== ""),
    stderr: new TextDecoder().decode(out.stderr),
    log: log?.trim().split("\n"),
  };
}

Deno.test("crash point: the armed hit dies of SIGKILL after logging it; unarmed, nothing", async () => {
  await withTempDir("fedagg-crash-point-", async (dir) => {
    const armed = await passPoints({ FEDAGG_CRASH_AT: "a#2", FEDAGG_CRASH_LOG: `${dir}/log` }, dir);
    assertEquals(armed.signal, "SIGKILL");
    assertEquals(armed.stdout, ["passed a"]);
    assertEquals(armed.log, ["a#1", "a#2"]);
    await Deno.remove(`${dir}/log`);

    const other = await passPoints({ FEDAGG_CRASH_AT: "b", FEDAGG_CRASH_LOG: `${dir}/log` }, dir);
    assertEquals(other.signal, "SIGKILL");
    assertEquals(other.stdout, ["passed a", "passed a"]);
    assertEquals(other.log, ["a#1", "a#2", "b#1"]);
    await Deno.remove(`${dir}/log`);

    const logOnly = await passPoints({ FEDAGG_CRASH_LOG: `${dir}/log` }, dir);
    assertEquals([logOnly.code, logOnly.signal], [0, null]);
    assertEquals(logOnly.log, ["a#1", "a#2", "b#1", "a#3"]);
    await Deno.remove(`${dir}/log`);

    const never = await passPoints({ FEDAGG_CRASH_AT: "a#9" }, dir);
    assertEquals([never.code, never.signal, never.stdout.length], [0, null, 4]);
    assertEquals(never.log, undefined);

    const malformed = await passPoints({ FEDAGG_CRASH_AT: "a#0" }, dir);
    assertEquals([malformed.code, malformed.stdout.length], [0, 4]);
    assert(malformed.stderr.includes("crash points disarmed"), malformed.stderr);

    const off = await passPoints({}, dir);
    assertEquals([off.code, off.stdout.length, off.log], [0, 4, undefined]);
  });
});

/**
 * The sample: one journal write and one frame send of a plain member, and one point of the
 * round's leader, chosen by seed from these pools (the points a round passes, as
 * `deno task crash` enumerates them; a name that no longer exists fails as `not-hit`).
 * FEDAGG_CRASH_SEED picks another sample.
 */
const MEMBER_JOURNAL = [
  "journal:update.json:after-sync",
  "journal:committed.json:before-rename",
  "journal:committed.json:after-sync",
  "journal:published.json:after-sync",
  "journal:final.cbor:before-rename",
];
const MEMBER_SENDS = ["send:advertiseKeys", "send:shareKeys", "send:maskedInput", "send:approval"];
const LEADER = [
  "send:keyList",
  "send:shareDelivery",
  "send:consistencyRequest",
  "send:unmaskRequest",
  "send:certificate",
  "journal:committed.json:after-sync",
];
const SEED = Number(Deno.env.get("FEDAGG_CRASH_SEED") ?? "4");

function sample(): CrashPointSpec[] {
  const pick = (role: "member" | "leader", pool: string[], salt: number) =>
    samplePoints(pool.map((point) => ({ role, point, nth: 1 })), 1, SEED * 3 + salt)[0];
  return [
    pick("member", MEMBER_JOURNAL, 0),
    pick("member", MEMBER_SENDS, 1),
    pick("leader", LEADER, 2),
  ];
}

for (const spec of sample()) {
  Deno.test({
    name: `crash injection (seed ${SEED}): ${spec.role} killed at ${spec.point}`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      await withTempDir("fedagg-crash-test-", async (dir) => {
        const r = await runCrashPoint(dir, spec, { ...DEFAULT_SETTINGS, seed: SEED });
        const report = `${r.outcome} ` +
          JSON.stringify({ updates: r.updates, final: r.final, notes: r.notes });
        assert(!VIOLATIONS.has(r.outcome), report);
        // Every node's update was acknowledged (the armed node's after its restart at the
        // latest) and is certified once or explicitly failed.
        assertEquals(r.updates.length, DEFAULT_SETTINGS.nodes, report);
        for (const u of r.updates) {
          assert(u.acknowledged !== false, report);
          assert(u.outcome === "in-aggregate" || u.outcome === "round-failed", report);
        }
      });
    },
  });
}

/**
 * The roster file's `dp` section (node/roster_file.ts) and `fedagg roster create --dp-*`
 * (node/cli/roster.ts): the CLI writes the section, the strict parser reads it back (unknown
 * keys and wrong types refused by path), the protocol roster gets the DP parameters, and the
 * refusals (weights other than 1, a missing `--dp-corrupt`, a budget out of range) exit non-zero
 * naming what was wrong, with nothing written.
 */
import "../../node/shims.ts";
import { assert, assertEquals, assertMatch, assertThrows } from "../_assert.ts";
import { ConfigError } from "../../protocol/errors.ts";
import {
  checkRosterParameters,
  parseRosterFile,
  readRosterFile,
  type RosterFile,
} from "../../node/roster_file.ts";
import { cli, withTempDir } from "./_helpers.ts";

const DP_ARGS = [
  "--dp-epsilon",
  "3",
  "--dp-delta",
  "1e-6",
  "--dp-rounds",
  "100",
  "--dp-clip",
  "1",
  "--dp-corrupt",
  "1",
];

function create(out: string, ...more: string[]) {
  return cli("roster", "create", "--out", out, "--federation", "dp", "--dim", "1000", ...more);
}

Deno.test("roster create --dp-*: writes the dp section the parser reads back", async () => {
  await withTempDir("fedagg-dp-roster-", async (dir) => {
    const run = await create(`${dir}/r.json`, ...DP_ARGS, "--dp-bits", "16");
    assertEquals(run.code, 0, run.err);
    const file = await readRosterFile(`${dir}/r.json`);
    assertEquals(file.dp, {
      mechanism: "ddgauss",
      epsilon: 3,
      delta: 1e-6,
      rounds: 100,
      clip: 1,
      bits: 16,
      corrupt: 1,
      beta: null,
      modclipProb: null,
    });
    // A roster file without members is checked against placeholders: the DP plan is made.
    checkRosterParameters(file);
  });
});

Deno.test("roster create --dp-*: refusals name what was wrong and write nothing", async () => {
  await withTempDir("fedagg-dp-roster-", async (dir) => {
    const out = `${dir}/r.json`;
    const weight = await create(out, ...DP_ARGS, "--max-weight", "10");
    assert(weight.code !== 0);
    assertMatch(weight.err, /maxWeight: must be 1 in DP mode/);
    const noCorrupt = await create(out, ...DP_ARGS.slice(0, 8));
    assertEquals(noCorrupt.code, 2);
    assertMatch(noCorrupt.err, /--dp-corrupt/);
    const badDelta = await create(out, ...DP_ARGS.map((a) => a === "1e-6" ? "2" : a));
    assert(badDelta.code !== 0);
    assertMatch(badDelta.err, /dp\.delta: must be in \(0, 1\)/);
    const tooMany = await create(
      out,
      ...DP_ARGS.map((a, i) => i === 9 ? "3" : a),
      "--threshold",
      "3",
    );
    assert(tooMany.code !== 0);
    assertMatch(tooMany.err, /dp\.corrupt/); // c ≥ t
    await assertMissing(out);
    // Without an explicit threshold, c = 3 is checked on the smallest roster whose default
    // threshold exceeds it (n = 5, t = 4), not refused for the 3-member placeholder roster.
    const five = await create(out, ...DP_ARGS.map((a, i) => i === 9 ? "3" : a));
    assertEquals(five.code, 0, five.err);
  });
});

async function assertMissing(path: string): Promise<void> {
  try {
    await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  throw new Error(`${path} was written`);
}

Deno.test("roster file: the dp section is read strictly, by path", async () => {
  await withTempDir("fedagg-dp-roster-", async (dir) => {
    assertEquals((await create(`${dir}/r.json`, ...DP_ARGS)).code, 0);
    const file = JSON.parse(await Deno.readTextFile(`${dir}/r.json`)) as RosterFile;
    const refusal = (dp: unknown) =>
      (assertThrows(() => parseRosterFile({ ...file, dp }), ConfigError) as ConfigError).setting;
    assertEquals(refusal({ ...file.dp, epsilom: 3 }), "dp.epsilom");
    assertEquals(refusal({ ...file.dp, epsilon: "3" }), "dp.epsilon");
    assertEquals(refusal({ ...file.dp, mechanism: "laplace" }), "dp.mechanism");
    assertEquals(parseRosterFile({ ...file, dp: null }).dp, null);
    const { dp: _, ...without } = file;
    assertEquals(parseRosterFile(without).dp, undefined);
  });
});

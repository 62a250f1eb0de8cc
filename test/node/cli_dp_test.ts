/**
 * `fedagg dp plan` (node/cli/dp.ts), run in-process through `main` with console output captured:
 * the issue's example in text and `--json` (the same plan the protocol core computes, with the
 * defaults the help states), explicit options, `--help`, and refusals naming the option (exit 2).
 */
import "../../node/shims.ts";
import { defaultThreshold, DP_PLAN_DEFAULTS, planDistributedDp } from "../../protocol/mod.ts";
import { cli } from "./_helpers.ts";
import { assert, assertEquals, assertMatch } from "../_assert.ts";

const EXAMPLE = [
  "dp",
  "plan",
  "--epsilon",
  "3",
  "--delta",
  "1e-6",
  "--rounds",
  "100",
  "--clip",
  "1",
  "--members",
  "10",
];

Deno.test("dp plan: the issue's example, as JSON, is the core's plan with the stated defaults", async () => {
  const run = await cli(...EXAMPLE, "--json");
  assertEquals(run.code, 0, run.err);
  const plan = JSON.parse(run.out);
  const expected = planDistributedDp({
    epsilon: 3,
    delta: 1e-6,
    rounds: 100,
    clip: 1,
    members: 10,
    threshold: defaultThreshold(10),
    ...DP_PLAN_DEFAULTS,
  });
  assertEquals(plan, JSON.parse(JSON.stringify(expected)));
  assertEquals(plan.settings.threshold, 7);
  assertEquals(plan.settings.bits, 32);
  assert(plan.epsilonSpent <= 3 && plan.epsilonSpent > 2.999);
  assert(plan.sigma > 10 && plan.sigma < 30, `σ = ${plan.sigma}`);
});

Deno.test("dp plan: the text names the noise, the error and the word checks", async () => {
  const run = await cli(...EXAMPLE, "--bits", "16", "--threshold", "8", "--corrupt", "1");
  assertEquals(run.code, 0, run.err);
  const plan = planDistributedDp({
    ...DP_PLAN_DEFAULTS,
    epsilon: 3,
    delta: 1e-6,
    rounds: 100,
    clip: 1,
    members: 10,
    threshold: 8,
    corrupt: 1,
    bits: 16,
  });
  assertMatch(run.out, new RegExp(`central σ = ${Number(plan.sigma.toPrecision(4))}`));
  assertMatch(run.out, /per member σ\/√\(t − c\) = /);
  assertMatch(run.out, /threshold t = 8, up to c = 1/);
  assertMatch(run.out, /error +per coordinate of the sum/);
  assertMatch(run.out, /b = 16: b ≥ log2 n = 3\.32 ok/);
  assertMatch(run.out, /wraps +1\.00e-4 per coordinate/);
  // At 16 bits the per-coordinate p binds: some coordinate of every round wraps.
  assertMatch(
    run.out,
    /WARNING +some coordinate of a round's sum wraps .* --modclip-prob 7\.6e-8 keeps it below 0\.01/,
  );
  const capped = await cli(...EXAMPLE);
  assert(!capped.out.includes("WARNING"), capped.out);
});

Deno.test("dp plan: --help, and bad input refused naming the option (exit 2)", async () => {
  const help = await cli("dp", "plan", "--help");
  assertEquals(help.code, 0);
  assertMatch(help.out, /--corrupt C/);
  const refused = async (args: string[], message: RegExp) => {
    const run = await cli(...args);
    assertEquals(run.code, 2, `${args.join(" ")}: ${run.out}`);
    assertMatch(run.err, message);
  };
  await refused(["dp"], /Usage: fedagg dp plan/);
  await refused(["dp", "budget"], /unknown dp subcommand budget/);
  await refused(["dp", "plan", "--epsilon", "3"], /--members is required/);
  await refused([...EXAMPLE, "--frob", "1"], /unknown option --frob/);
  await refused(
    ["dp", "plan", ...EXAMPLE.slice(2).map((a) => a === "3" ? "x" : a)],
    /--epsilon must be a number in decimal notation/,
  );
  await refused([...EXAMPLE, "--delta", "2"], /^--delta must be in \(0, 1\), got 2/);
  await refused(
    [...EXAMPLE, "--corrupt", "7"],
    /^--corrupt must be an integer in \[0, threshold − 1\]/,
  );
  await refused([...EXAMPLE, "--threshold", "11"], /^--threshold must be an integer in \[1, 10\]/);
  await refused([...EXAMPLE, "--bits", "3"], /^--bits 3 is below log2 of the 10 members/);
  await refused([...EXAMPLE, "--modclip-prob", "1"], /^--modclip-prob must be in \(0, 1\)/);
  await refused([...EXAMPLE, "--rounds", "1.5"], /--rounds must be an integer ≥ 1/);
  await refused(
    [...EXAMPLE, "--epsilon", "0.01", "--rounds", "10000", "--bits", "8"],
    /^--bits 8 cannot meet ρ = .* per round at any noise level/,
  );
});

Deno.test("dp plan: extreme clips and budgets get a plan or a usage error, never a crash", async () => {
  // Huge clips are planned in units of the clip (σ scales with it).
  for (const clip of ["1e160", "1e300"]) {
    const run = await cli(...EXAMPLE, "--clip", clip, "--json");
    assertEquals(run.code, 0, `--clip ${clip}: ${run.err}`);
    assert(JSON.parse(run.out).sigma > Number(clip));
  }
  for (const clip of ["1e300", "1e-300"]) {
    const text = await cli(...EXAMPLE, "--clip", clip);
    assertEquals(text.code, 0, text.err);
    assert(!/Infinity|NaN|variance 0\)/.test(text.out), text.out);
  }
  const epsilon = await cli(...EXAMPLE, "--epsilon", "1e308");
  assertEquals(epsilon.code, 0, epsilon.err);
  const delta = await cli(...EXAMPLE, "--delta", "1e-320");
  assertEquals(delta.code, 0, delta.err);
  const refused = async (args: string[], message: RegExp) => {
    const run = await cli(...EXAMPLE, ...args);
    assertEquals(run.code, 2, `${args.join(" ")}: ${run.out}`);
    assertMatch(run.err, message);
  };
  await refused(["--clip", "1e308"], /^--clip 1e\+308 needs a noise std .* beyond float64's range/);
  await refused(["--epsilon", "1e-300", "--delta", "1e-300"], /^--epsilon 1e-300 .* underflows/);
});

Deno.test("dp plan: option values are strict (empty, hex, blank refused; negatives are values)", async () => {
  const refused = async (args: string[], message: RegExp) => {
    const run = await cli(...EXAMPLE, ...args);
    assertEquals(run.code, 2, `${args.join(" ")}: ${run.out}`);
    assertMatch(run.err, message);
  };
  // An empty value is not the default.
  await refused(["--beta="], /^--beta needs a value$/);
  await refused(["--beta", ""], /^--beta needs a value$/);
  await refused(["--dim="], /^--dim needs a value$/);
  await refused(["--epsilon="], /^--epsilon needs a value$/);
  // A negative number is the option's value, refused by the planner naming the option.
  await refused(["--beta", "-0.1"], /^--beta must be in \[0, 1\), got -0\.1/);
  await refused(["--modclip-prob", "-1e-3"], /^--modclip-prob must be in \(0, 1\)/);
  // Only decimal numbers: what Number() would read as 16, 0 or 1 is refused.
  await refused(
    ["--epsilon", "0x10"],
    /^--epsilon must be a number in decimal notation, got "0x10"/,
  );
  await refused(["--epsilon", " "], /^--epsilon must be a number in decimal notation, got " "/);
  await refused(["--clip", "0b1"], /^--clip must be a number in decimal notation/);
  await refused(["--delta", "1e999"], /^--delta must be a number in decimal notation/);
  await refused(["--epsilon", "Infinity"], /^--epsilon must be a number in decimal notation/);
  // Ordinary decimals still work.
  for (const beta of ["0.5", ".5", "5e-1", "+0.5"]) {
    const run = await cli(...EXAMPLE, "--beta", beta, "--json");
    assertEquals(run.code, 0, `--beta ${beta}: ${run.err}`);
    assertEquals(JSON.parse(run.out).settings.beta, 0.5);
  }
});

/**
 * The node's DP spend record (node/dp_ledger.ts): a round is charged once, durably (a new ledger
 * on the same directory sees it), the budget's last round is taken and the next refused with
 * `dp-budget-exhausted` (a charged round is always taken again); a damaged record or another
 * federation's is refused, never reset.
 */
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { createRoster } from "../../protocol/federation/roster.ts";
import { labelledRng } from "../../protocol/crypto/random.ts";
import { DP_LEDGER_FILE, DpLedger } from "../../node/dp_ledger.ts";
import { assertNodeError, modeOf, withTempDir } from "./_helpers.ts";

const rng = labelledRng("dp-ledger-test");
const roster = createRoster({
  federation: "ledger",
  members: Array.from({ length: 5 }, (_, i) => ({ id: `m${i}`, signingKey: rng(32) })),
  dim: 100,
  dp: { epsilon: 2, delta: 1e-6, rounds: 2, clip: 1, bits: 32, corrupt: 0 },
});
const dp = roster.dp!;

Deno.test("dp ledger: charged once, durably; the budget's last round taken, the next refused", async () => {
  await withTempDir("fedagg-dp-ledger-", async (dir) => {
    const ledger = await DpLedger.open(dir, dp, "ledger");
    assertEquals(ledger.spend().roundsCharged, 0);
    ledger.check(5, 1); // one round in flight, one more fits
    await ledger.charge(5);
    await ledger.charge(5); // a second view of the same round: no second charge
    assertEquals(ledger.spend().roundsCharged, 1);
    assertEquals(await modeOf(`${dir}/${DP_LEDGER_FILE}`), 0o600);
    const again = await DpLedger.open(dir, dp, "ledger");
    assert(again.has(5));
    assertEquals(again.spend().rhoSpent, dp.rhoPerRound);
    again.check(6, 0);
    const inFlight = await assertNodeError(
      () => Promise.resolve().then(() => again.check(6, 1)),
      "dp-budget-exhausted",
    );
    assertMatch(inFlight, /1 round\(s\) left, 1 of them taken by updates in flight/);
    await again.charge(6);
    const spent = await assertNodeError(
      () => Promise.resolve().then(() => again.check(7, 0)),
      "dp-budget-exhausted",
    );
    assertMatch(spent, /no update for round 7: .*has 0 round\(s\) left.*2 round\(s\) charged/);
    again.check(6, 0); // a charged round costs nothing more
  });
});

Deno.test("dp ledger: a damaged or foreign record is refused, not reset", async () => {
  await withTempDir("fedagg-dp-ledger-", async (dir) => {
    await (await DpLedger.open(dir, dp, "ledger")).charge(0);
    await assertNodeError(() => DpLedger.open(dir, dp, "other"), "dp-ledger-invalid");
    const path = `${dir}/${DP_LEDGER_FILE}`;
    const text = await Deno.readTextFile(path);
    await Deno.writeTextFile(path, text.slice(0, 20));
    await assertNodeError(() => DpLedger.open(dir, dp, "ledger"), "dp-ledger-invalid");
    await Deno.writeTextFile(path, text.replace(/"rho":[^}]*/, '"rho":-1'));
    await assertNodeError(() => DpLedger.open(dir, dp, "ledger"), "dp-ledger-invalid");
  });
});

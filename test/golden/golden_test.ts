/**
 * Pins the wire format and the simulator's behaviour across refactors: fixed-seed rounds must
 * produce exactly the frames recorded in `frames.json` (post-quantum: every deterministic byte,
 * with the platform-randomized ones checked by length and every signature verified), and
 * fixed-seed simulations the reports in `sim.json`, CPU timings aside. `record.ts` rewrites
 * both files; run it only for an intended change.
 *
 * @module
 */
import { assert, assertEquals } from "../_assert.ts";
import { verifyFinalCertificate } from "../../mod.ts";
import { toHex } from "../../protocol/encoding/bytes.ts";
import { type Envelope, openFrame, verifyEnvelope } from "../../protocol/wire/frame.ts";
import { readApproval, readShareDelivery, readShareKeys } from "../../protocol/wire/messages.ts";
import { verifyShareEntry } from "../../protocol/wire/share_entry.ts";
import { sessionHash } from "../../protocol/federation/session.ts";
import type { Roster } from "../../protocol/federation/roster.ts";
import {
  finalTree,
  frameTree,
  mismatches,
  type RecordedOutput,
  recordRound,
  SCENARIOS,
  type Tree,
} from "./_round.ts";
import { simulationGolden, SIMULATIONS } from "./_sim.ts";

interface GoldenOutput {
  readonly from: number;
  readonly to: number | null;
  readonly tag: string;
  readonly frame: string | Tree;
}

interface GoldenRound {
  readonly outputs: readonly GoldenOutput[];
  readonly certificate: string | Tree;
  readonly aggregate: string;
}

const frames: Record<string, GoldenRound> = JSON.parse(
  await Deno.readTextFile(new URL("frames.json", import.meta.url)),
);
const sims: Record<string, unknown> = JSON.parse(
  await Deno.readTextFile(new URL("sim.json", import.meta.url)),
);

/** Every signature a recorded frame carries checks out: its own, its entries' and nested ones. */
async function assertSigned(roster: Roster, o: RecordedOutput): Promise<void> {
  const env = openFrame(o.frame, roster);
  assert(await verifyEnvelope(roster, env), `${o.type} from ${o.from}: signature`);
  const nested = (list: readonly Uint8Array[]) =>
    Promise.all(list.map(async (f) => {
      const inner: Envelope = openFrame(f, roster);
      assert(await verifyEnvelope(roster, inner), `${o.type}: nested ${inner.type} signature`);
      if (inner.type === "approval") readApproval(inner);
    }));
  const hash = sessionHash(env.session);
  if (env.type === "keyList") await nested(env.fields[0] as Uint8Array[]);
  if (env.type === "unmaskRequest") await nested(env.fields[2] as Uint8Array[]);
  if (env.type === "shareKeys") {
    for (const e of readShareKeys(env, roster).entries) {
      assert(await verifyShareEntry(roster, hash, env.sender, e.peer, e), "share entry signature");
    }
  }
  if (env.type === "shareDelivery") {
    for (const e of readShareDelivery(env, roster, o.to!).entries) {
      assert(await verifyShareEntry(roster, hash, e.peer, o.to!, e), "delivered entry signature");
    }
  }
}

for (const scenario of SCENARIOS) {
  Deno.test(`golden frames: ${scenario.name} is unchanged on the wire`, async () => {
    const golden = frames[scenario.name];
    const round = await recordRound(scenario);
    assertEquals(
      round.outputs.map((o) => [o.from, o.to, o.tag]),
      golden.outputs.map((o) => [o.from, o.to, o.tag]),
      "the same frames, in the same order, between the same members",
    );
    assertEquals(toHex(new Uint8Array(round.aggregate.buffer)), golden.aggregate);
    assertEquals(round.aggregate, round.expected, "the aggregate is the plaintext sum");
    await verifyFinalCertificate(
      round.roster,
      round.certificate,
      new Uint8Array(round.aggregate.buffer),
    );
    if (scenario.mode === "classical") {
      round.outputs.forEach((o, i) =>
        assertEquals(
          toHex(o.frame),
          golden.outputs[i].frame,
          `frame ${i} (${o.type} from ${o.from})`,
        )
      );
      assertEquals(toHex(round.certificate), golden.certificate, "final certificate");
      return;
    }
    const differences = [
      ...round.outputs.flatMap((o, i) =>
        mismatches(frameTree(o.frame), golden.outputs[i].frame as Tree, `frame ${i} (${o.type})`)
      ),
      ...mismatches(finalTree(round.certificate), golden.certificate as Tree, "certificate"),
    ];
    assertEquals(differences, [], "every deterministic byte is as recorded");
    for (const o of round.outputs) await assertSigned(round.roster, o);
  });
}

for (const [name, options] of Object.entries(SIMULATIONS)) {
  Deno.test(`golden simulation: ${name} reports as recorded (timings aside)`, async () => {
    assertEquals(await simulationGolden(options), sims[name]);
  });
}

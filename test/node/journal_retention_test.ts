/**
 * Bounded disk (node/journal_retention.ts) over a real journal: the oldest ended rounds are
 * deleted or archived until the round and byte limits hold; rounds not ended here (pending,
 * committed without an outcome, published but not final), the rounds within reach of the current
 * round and the newest final round are never taken out, even when the journal then stays above
 * the limits; sizes parse with binary suffixes. A node retires at start-up, reports it (log,
 * metric, status), refuses updates for a retired round, and after a restart on the pruned journal
 * still knows its current round and resumes its pending update.
 */
import "../../node/shims.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../_assert.ts";
import { inlineExpander } from "../../protocol/math/masking.ts";
import { createIdentity, type NodeIdentity } from "../../node/identity.ts";
import { FedaggNode } from "../../node/node.ts";
import { addMember, DEFAULT_PARAMETERS, newRosterFile, rosterOf } from "../../node/roster_file.ts";
import { closeUnrefdChannels } from "../../node/shims.ts";
import { rngFor } from "../protocol/_fixtures.ts";
import type { Roster } from "../../protocol/federation/roster.ts";
import { NodeError } from "../../node/errors.ts";
import { Journal } from "../../node/journal.ts";
import { DEFAULT_RETENTION, parseByteSize, retainJournal } from "../../node/journal_retention.ts";
import type { TensorLayout } from "../../node/tensor_formats/mod.ts";
import { type Federation, federation } from "../protocol/_fixtures.ts";
import { type FinalRecord, finalRound } from "./_journal_fixtures.ts";
import { exists, withTempDir } from "./_helpers.ts";

const FED: Federation = await federation({ n: 3, dim: 12, maxWeight: 10, seed: "retention" });
const ROSTER: Roster = FED.roster;
const ONE: TensorLayout = { tensors: [{ name: "aggregate", shape: [ROSTER.dim] }] };
const FINALS: FinalRecord[] = [];
for (let r = 6; r <= 15; r++) FINALS.push(await finalRound(FED, r));

/**
 * A journal with every kind of round: 1 pending (update values), 2 committed without an outcome
 * (values deleted), 3 published but not final, 4 failed for this member, 5 withdrawn, 6…15 final.
 */
async function populated(dir: string): Promise<Journal> {
  const j = new Journal(dir, ROSTER);
  const update = { values: new Float32Array(ROSTER.dim).fill(0.5), numSamples: 1, layout: ONE };
  await j.recordUpdate(1, update);
  await j.recordUpdate(2, update);
  await j.recordCommit(2, 0);
  await j.pruneUpdate(2);
  const { final: _, ...published } = await finalRound(FED, 3);
  await j.recordAggregate(published);
  await j.recordUpdate(4, update);
  await j.recordFailed(4, 0);
  await j.pruneUpdate(4);
  await j.recordUpdate(5, update);
  await j.recordWithdrawn(5, 1);
  for (const f of FINALS) await j.recordAggregate(f);
  return j;
}

Deno.test("retention: the oldest ended rounds go; unended, recent and the newest final stay", async () => {
  await withTempDir("fedagg-retain-", async (dir) => {
    const j = await populated(dir);
    assertEquals(await j.rounds(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    assertEquals(
      await Promise.all([1, 2, 3, 4, 5, 6].map((r) => j.ended(r))),
      [false, false, false, true, true, true],
    );
    const before = (await j.usage()).bytes;
    // The federation's current round is 16: 13…15 are within reach (ROUND_WINDOW + 1).
    const result = await retainJournal(j, { keepRounds: 3, keepBytes: 1e12 }, 16);
    assertEquals(result.retired.map((r) => r.round), [4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assert(result.retired.every((r) => r.to === undefined), "deleted");
    assertEquals(
      await j.rounds(),
      [1, 2, 3, 13, 14, 15],
      "above the limit, but nothing else may go",
    );
    assertEquals(result.rounds, 6);
    const after = await j.usage();
    assertEquals(after.rounds, 6);
    assert(after.bytes < before, `${after.bytes} < ${before}`);
    assertEquals(result.bytes, after.bytes, "nothing but round directories here");
    // What stays is still whole: the pending update, the published aggregate, the finals.
    assert((await j.update(1)) !== undefined);
    assertEquals(await j.committedView(2), 0);
    assert((await j.aggregate(3)) !== undefined);
    assert((await j.aggregate(15))?.final !== undefined);
    // A second pass finds nothing more to do.
    assertEquals((await retainJournal(j, { keepRounds: 3, keepBytes: 1e12 }, 16)).retired, []);
  });
});

Deno.test("retention: the newest final round stays even when it is far behind", async () => {
  await withTempDir("fedagg-retain-", async (dir) => {
    const j = await populated(dir);
    // Rounds far ahead failed meanwhile (current round 40): only 15, the newest final, is kept.
    const result = await retainJournal(j, { keepRounds: 1, keepBytes: 1e12 }, 40);
    assertEquals(await j.rounds(), [1, 2, 3, 15]);
    assertEquals(result.retired.length, 11);
  });
});

Deno.test("retention: a byte limit, and an archive directory instead of deletion", async () => {
  await withTempDir("fedagg-retain-", async (dir) => {
    const j = await populated(dir);
    const one = await j.roundBytes(6);
    assert(one > 4 * ROSTER.dim, "an aggregate, its certificates and metadata");
    let total = 0;
    for (const r of await j.rounds()) total += await j.roundBytes(r);
    // Room for all but rounds 4, 5 and 6 (the oldest ended ones).
    const limit = total - (await j.roundBytes(4)) - (await j.roundBytes(5)) - one + 1;
    const archive = `${dir}/archive`;
    const result = await retainJournal(j, {
      keepRounds: 1000,
      keepBytes: limit,
      archiveDir: archive,
    }, 16);
    assertEquals(result.retired.map((r) => r.round), [4, 5, 6]);
    assertEquals(result.retired[2].to, `${archive}/round-6`);
    assert(result.bytes <= limit);
    for (const name of ["aggregate.u32", "certificate.cbor", "final.cbor", "published.json"]) {
      assert(await exists(`${archive}/round-6/${name}`), name);
    }
    assert(!(await exists(`${dir}/journal/round-6`)));
    // The archive is the round's journal directory as it was: a journal over it reads it.
    await Deno.mkdir(`${dir}/reader/journal`, { recursive: true });
    await Deno.rename(`${archive}/round-6`, `${dir}/reader/journal/round-6`);
    const stored = await new Journal(`${dir}/reader`, ROSTER).aggregate(6);
    assert(stored?.final !== undefined, "verified against the roster");
  });
});

Deno.test("retention: under the limits nothing is touched; the default is bounded", async () => {
  await withTempDir("fedagg-retain-", async (dir) => {
    const j = await populated(dir);
    const result = await retainJournal(j, DEFAULT_RETENTION, 16);
    assertEquals(result.retired, []);
    assertEquals(result.rounds, 15);
  });
  assert(
    Number.isSafeInteger(DEFAULT_RETENTION.keepRounds) && DEFAULT_RETENTION.keepRounds <= 1000,
  );
  assert(DEFAULT_RETENTION.keepBytes <= 16 * 1024 ** 3);
});

Deno.test("retention: byte sizes parse with binary suffixes; anything else is a usage error", () => {
  assertEquals(parseByteSize("1048576", "--keep-bytes"), 1048576);
  assertEquals(parseByteSize("500M", "--keep-bytes"), 500 * 1024 ** 2);
  assertEquals(parseByteSize("2GiB", "--keep-bytes"), 2 * 1024 ** 3);
  assertEquals(parseByteSize("3kb", "--keep-bytes"), 3072);
  assertEquals(parseByteSize("1T", "--keep-bytes"), 1024 ** 4);
  for (const bad of ["", "-1", "1.5G", "12 apples", "1P"]) {
    const err = assertThrows(() => parseByteSize(bad, "--keep-bytes"), NodeError);
    assertEquals((err as NodeError).code, "usage");
    assert(err.message.includes("--keep-bytes"), err.message);
  }
});

Deno.test({
  name: "retention: a node retires at start-up and a restart on the pruned journal keeps its place",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withTempDir("fedagg-retain-node-", async (dir) => {
      const ids: NodeIdentity[] = [];
      for (let i = 0; i < 3; i++) {
        ids.push(await createIdentity(`${dir}/n${i}`, rngFor("retain", "id", i)));
      }
      let file = newRosterFile({
        ...DEFAULT_PARAMETERS,
        federation: "retain",
        dim: 6,
        threshold: 2,
      });
      for (const id of ids) file = addMember(file, id.card([]));
      const roster = rosterOf(file);
      const identityOf = (i: number) => ids.find((id) => id.peerId === roster.members[i].id)!;
      const fed = { roster, signers: [0, 1, 2].map((i) => identityOf(i).signer) };
      const self = 1;
      const nodeDir = `${dir}/node`;
      const journal = new Journal(nodeDir, roster);
      // Rounds 0…9 final, round 10 holds an accepted update: the current round is 10.
      for (let r = 0; r < 10; r++) await journal.recordAggregate(await finalRound(fed, r));
      const layout = { tensors: [{ name: "aggregate", shape: [6] }] };
      await journal.recordUpdate(10, {
        values: new Float32Array(6).fill(0.5),
        numSamples: 1,
        layout,
      });
      const logs: { message: string; fields?: object }[] = [];
      const start = () =>
        FedaggNode.start({
          dir: nodeDir,
          identity: identityOf(self),
          rosterFile: file,
          roster,
          index: self,
          listen: ["/ip4/127.0.0.1/tcp/0"],
          log: (_level, message, fields) => logs.push({ message, fields }),
          expander: inlineExpander,
          retention: { keepRounds: 2, keepBytes: 1e12 },
        });
      let node = await start();
      try {
        // 7, 8, 9 are within reach of round 10; 10 has not ended.
        assertEquals(await journal.rounds(), [7, 8, 9, 10]);
        assertEquals(
          logs.filter((l) => l.message === "journal round deleted").map((l) => l.fields),
          [0, 1, 2, 3, 4, 5, 6].map((round) => ({ round })),
        );
        assertEquals(node.metrics.get("fedagg_journal_pruned_rounds_total"), 7);
        const status = node.status();
        assertEquals(status.currentRound, 10);
        assertEquals(status.journal.rounds, 4);
        assertEquals(status.journal.keepRounds, 2);
        assertEquals(status.journal.bytes, (await journal.usage()).bytes);
        assertEquals(node.metrics.get("fedagg_journal_bytes"), status.journal.bytes);
        // A retired round takes no update.
        const err = await assertRejects(
          () => node.submit(3, new Float32Array(6).fill(0.1), 1, layout),
          NodeError,
        );
        assertEquals((err as NodeError).code, "already-final");
      } finally {
        await node.stop();
      }
      logs.length = 0;
      node = await start();
      try {
        assertEquals(node.status().currentRound, 10, "the current round survives the pruning");
        assertEquals(node.status().lastFinalRound, 9);
        assertEquals(
          logs.filter((l) => l.message.startsWith("resuming")).map((l) => l.fields),
          [{ round: 10, view: 1 }],
        );
        assertEquals(logs.filter((l) => l.message === "round failed"), []);
      } finally {
        await node.stop();
        closeUnrefdChannels();
      }
    });
  },
});

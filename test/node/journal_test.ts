/**
 * The node journal (node/journal.ts) on real files: updates round-trip bit for bit (−0,
 * subnormals, unaligned views) with their weight and layout; the committed view; genuine
 * aggregates recorded as published and then as final; `rounds()` in ascending numeric order
 * ignoring foreign entries; every file a checksummed record with its documented mode and no
 * temporaries; reads of missing rounds (or of rounds with a file missing) → undefined;
 * `recordFinal` adds only `final.cbor`; `recorded()` agrees with the reads.
 *
 * Damaged journals (issue 7, section 3), each on real files: every read that meets a damaged
 * record throws a `journal-corrupt` JournalError naming the file (never the bytes), and the
 * start-up scan `open()` repairs what the final certificate lets it derive, moves any other
 * damaged round to `journal/quarantine/` (logged with the path, counted), or refuses a journal
 * it cannot use (`journal-unusable`, with the fix). Writes refuse what reads would refuse.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../_assert.ts";
import { equalBytes, u32Bytes } from "../../protocol/encoding/bytes.ts";
import type { Roster } from "../../protocol/federation/roster.ts";
import { JournalError, NodeError } from "../../node/errors.ts";
import { Journal, type JournalScan, type StoredUpdate } from "../../node/journal.ts";
import { RECORD_HEADER_BYTES, recordHeader } from "../../node/journal_record.ts";
import { Metrics } from "../../node/metrics.ts";
import type { TensorLayout } from "../../node/tensor_formats/mod.ts";
import { type Federation, federation } from "../protocol/_fixtures.ts";
import { type FinalRecord, finalRound } from "./_journal_fixtures.ts";
import { exists, f32Bytes, modeOf, withTempDir } from "./_helpers.ts";

const FED: Federation = await federation({ n: 3, dim: 12, maxWeight: 10, seed: "journal" });
const ROSTER: Roster = FED.roster;
const DIM = ROSTER.dim;
/** Two genuine final rounds of the roster (3 and 9). */
const FINALS = new Map<number, FinalRecord>([
  [3, await finalRound(FED, 3)],
  [9, await finalRound(FED, 9)],
]);
const ONE: TensorLayout = { tensors: [{ name: "aggregate", shape: [DIM] }] };

/** Runs `fn` with a journal over a new temporary directory (removed afterwards). */
function withJournal(fn: (journal: Journal, dir: string) => Promise<void>): Promise<void> {
  return withTempDir("fedagg-journal-", (dir) => fn(new Journal(dir, ROSTER), dir));
}

async function filesOf(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

/** Finite float32 values whose bit patterns a float round trip could disturb (d of them). */
function trickyValues(): Float32Array {
  const bits = new Uint32Array([
    0x00000000, // +0
    0x80000000, // −0
    0x00000001, // smallest subnormal
    0x807fffff, // largest negative subnormal
    0x3f800000, // 1
    0x3eaaaaab, // 1/3
    0x7f7fffff, // max float
    0xff7fffff, // min float
    0x00800000, // smallest normal
    0xbf000000, // −0.5
    0x4b000001, // 2^23 + 1
    0x12345678,
  ]);
  return new Float32Array(bits.buffer);
}

function anUpdate(fill = 0.25, numSamples = 1): StoredUpdate {
  return { values: new Float32Array(DIM).fill(fill), numSamples, layout: ONE };
}

/** A log and metrics for `open()`, with what they received. */
function reporter() {
  const logs: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const metrics = new Metrics();
  return {
    logs,
    metrics,
    options: {
      log: (level: string, message: string, fields?: object) =>
        logs.push({ level, message, fields: fields as Record<string, unknown> }),
      metrics,
      now: () => new Date("2026-12-03T15:04:05.678Z"),
    },
    quarantinedTotal: () =>
      /fedagg_journal_quarantined_total (\d+)/.exec(metrics.render())?.[1] ?? "0",
  };
}

/** The bytes of a valid record of `payload` as file `name` of `round` (header + payload). */
function sealed(
  name: string,
  round: number,
  payload: Uint8Array | string,
): Promise<Uint8Array> {
  const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const header = recordHeader(name, round, bytes);
  const out = new Uint8Array(header.length + bytes.length);
  out.set(header);
  out.set(bytes, header.length);
  return Promise.resolve(out);
}

Deno.test("journal: an update round-trips bit for bit with weight and layout", async () => {
  await withJournal(async (journal, dir) => {
    const values = trickyValues();
    const layout: TensorLayout = {
      tensors: [{ name: "bias", shape: [2] }, { name: "weight", shape: [2, 5] }],
    };
    await journal.recordUpdate(3, { values, numSamples: 10, layout });
    const back = await journal.update(3);
    assert(back !== undefined);
    assert(equalBytes(f32Bytes(back.values), f32Bytes(values)), "bit-exact values");
    assertEquals(back.numSamples, 10);
    assertEquals(back.layout, layout);
    // A restarted node (new Journal on the same directory) reads the same.
    const again = await new Journal(dir, ROSTER).update(3);
    assert(again !== undefined && equalBytes(f32Bytes(again.values), f32Bytes(values)));
    assertEquals(await filesOf(`${dir}/journal/round-3`), ["update.f32", "update.json"]);
    const file = await Deno.readFile(journal.path(3, "update.f32"));
    assertEquals(file.length, RECORD_HEADER_BYTES + 4 * DIM, "header + raw float32");
    assertEquals(new TextDecoder().decode(file.subarray(0, 4)), "FAGJ");
    assert(equalBytes(file.subarray(RECORD_HEADER_BYTES), f32Bytes(values)));
  });
});

Deno.test("journal: an update given as an unaligned view stores only the view", async () => {
  await withJournal(async (journal) => {
    const backing = new ArrayBuffer(4 * (DIM + 5));
    const full = new Float32Array(backing);
    full.forEach((_, i) => full[i] = i + 0.5);
    const view = new Float32Array(backing, 4 * 3, DIM);
    await journal.recordUpdate(0, { values: view, numSamples: 1, layout: ONE });
    const back = await journal.update(0);
    assertEquals(Array.from(back!.values), Array.from(view));
  });
});

Deno.test("journal: the committed view is recorded and read back", async () => {
  await withJournal(async (journal, dir) => {
    assertEquals(await journal.committedView(5), undefined);
    await journal.recordCommit(5, 0);
    assertEquals(await journal.committedView(5), 0);
    await journal.recordCommit(5, 2);
    assertEquals(await journal.committedView(5), 2);
    assertEquals(await new Journal(dir, ROSTER).committedView(5), 2);
    assertEquals(await modeOf(`${dir}/journal/round-5/committed.json`), 0o600);
    // A commit alone is not an update nor an aggregate.
    assertEquals(await journal.update(5), undefined);
    assertEquals(await journal.aggregate(5), undefined);
  });
});

Deno.test("journal: the view a masked input left in is recorded, read back and survives open()", async () => {
  await withJournal(async (journal, dir) => {
    assertEquals(await journal.maskedView(5), undefined);
    await journal.recordMasked(5, 0);
    await journal.recordMasked(5, 2);
    const restarted = new Journal(dir, ROSTER);
    const scan = await restarted.open(reporter().options);
    assertEquals([scan.quarantined, scan.repaired], [[], []]);
    assertEquals(await restarted.maskedView(5), 2);
    assertEquals(await modeOf(`${dir}/journal/round-5/masked.json`), 0o600);
    // Damaged: a typed error naming the file, never a silently forgotten masked input.
    const path = journal.path(5, "masked.json");
    await Deno.writeFile(path, new TextEncoder().encode("{}"));
    await assertCorrupt(() => restarted.maskedView(5), path);
  });
});

Deno.test("journal: a renouncement is recorded, read back and survives open()", async () => {
  await withJournal(async (journal, dir) => {
    assertEquals(await journal.renouncedView(5), undefined);
    await journal.recordCommit(5, 1);
    await journal.recordRenounced(5, 1);
    const restarted = new Journal(dir, ROSTER);
    const scan = await restarted.open(reporter().options);
    assertEquals([scan.quarantined, scan.repaired], [[], []]);
    assertEquals(await restarted.renouncedView(5), 1);
    assertEquals(await modeOf(`${dir}/journal/round-5/renounced.json`), 0o600);
    // Damaged: a typed error naming the file, never a silently forgotten promise.
    const path = journal.path(5, "renounced.json");
    await Deno.writeFile(path, new TextEncoder().encode("{}"));
    await assertCorrupt(() => restarted.renouncedView(5), path);
  });
});

Deno.test("journal: a genuine aggregate is recorded as published, then as final", async () => {
  await withJournal(async (journal, dir) => {
    const r = FINALS.get(9)!;
    await journal.recordAggregate({ ...r, final: undefined });
    const published = await journal.aggregate(9);
    assert(published !== undefined);
    assertEquals(
      [published.round, published.view, published.members],
      [9, r.view, r.members],
    );
    assertEquals(published.aggregate, r.aggregate);
    assertEquals(published.certificate, r.certificate);
    assertEquals(published.final, undefined);
    await journal.recordAggregate(r);
    const finished = await new Journal(dir, ROSTER).aggregate(9);
    assert(finished !== undefined);
    assertEquals(finished.final, r.final);
    assertEquals(finished.aggregate, r.aggregate);
    assertEquals(finished.certificate, r.certificate);
    assertEquals(await filesOf(`${dir}/journal/round-9`), [
      "aggregate.u32",
      "certificate.cbor",
      "final.cbor",
      "published.json",
    ]);
    const body = await Deno.readFile(journal.path(9, "aggregate.u32"));
    assertEquals(body.subarray(RECORD_HEADER_BYTES), u32Bytes(r.aggregate));
  });
});

Deno.test("journal: an aggregate given as a view into a larger buffer stores only the view", async () => {
  await withJournal(async (journal) => {
    const r = FINALS.get(3)!;
    const backing = new Uint32Array(DIM + 4);
    backing.set(r.aggregate, 2);
    await journal.recordAggregate({ ...r, aggregate: backing.subarray(2, 3 + DIM) });
    assertEquals((await journal.aggregate(3))!.aggregate, r.aggregate);
  });
});

Deno.test("journal: files are written with the documented modes and no temporaries", async () => {
  await withJournal(async (journal, dir) => {
    await journal.recordUpdate(3, anUpdate());
    await journal.recordCommit(3, 0);
    await journal.recordAggregate(FINALS.get(3)!);
    const round = `${dir}/journal/round-3`;
    const expected: Record<string, number> = {
      "update.f32": 0o600,
      "update.json": 0o600,
      "committed.json": 0o600,
      "aggregate.u32": 0o644,
      "certificate.cbor": 0o644,
      "final.cbor": 0o644,
      "published.json": 0o644,
    };
    assertEquals(await filesOf(round), Object.keys(expected).sort());
    for (const [name, mode] of Object.entries(expected)) {
      assertEquals(await modeOf(`${round}/${name}`), mode, name);
    }
    // Directories the journal creates are private.
    assertEquals(await modeOf(`${dir}/journal`), 0o700);
    assertEquals(await modeOf(round), 0o700);
  });
});

Deno.test("journal: rounds() lists round directories in ascending numeric order", async () => {
  await withJournal(async (journal, dir) => {
    assertEquals(await journal.rounds(), [], "no journal directory yet");
    for (const r of [10, 2, 100, 0]) await journal.recordUpdate(r, anUpdate());
    await journal.recordCommit(33, 0);
    await journal.recordAggregate(FINALS.get(9)!);
    // Foreign entries are ignored: a file named like a round, and other names.
    await Deno.writeTextFile(`${dir}/journal/round-55`, "not a directory");
    await Deno.mkdir(`${dir}/journal/round-x`);
    await Deno.mkdir(`${dir}/journal/round-007`);
    await Deno.mkdir(`${dir}/journal/other`);
    assertEquals(await journal.rounds(), [0, 2, 9, 10, 33, 100]);
    assertEquals(await new Journal(dir, ROSTER).rounds(), [0, 2, 9, 10, 33, 100]);
  });
});

Deno.test("journal: reads of missing rounds or incomplete records are undefined", async () => {
  await withJournal(async (journal, dir) => {
    assertEquals(await journal.update(0), undefined);
    assertEquals(await journal.aggregate(0), undefined);
    assertEquals(await journal.committedView(0), undefined);
    // An update whose metadata is missing (a crash between the two writes) is not an update.
    await journal.recordUpdate(1, anUpdate());
    await Deno.remove(`${dir}/journal/round-1/update.json`);
    assertEquals(await journal.update(1), undefined);
    // An aggregate needs published.json, its body and its certificate.
    const record = { ...FINALS.get(3)!, final: undefined };
    for (const file of ["published.json", "aggregate.u32", "certificate.cbor"]) {
      await journal.recordAggregate(record);
      await Deno.remove(`${dir}/journal/round-3/${file}`);
      assertEquals(await journal.aggregate(3), undefined, file);
    }
    await journal.recordAggregate(record);
    assert(await journal.aggregate(3) !== undefined);
  });
});

Deno.test("journal: path() names the files of a round", () => {
  const journal = new Journal("/var/lib/fedagg", ROSTER);
  assertEquals(journal.path(4, "aggregate.u32"), "/var/lib/fedagg/journal/round-4/aggregate.u32");
  assertEquals(journal.path(4, "final.cbor"), "/var/lib/fedagg/journal/round-4/final.cbor");
  assertEquals(journal.path(0, "update.f32"), "/var/lib/fedagg/journal/round-0/update.f32");
});

Deno.test("journal: recordFinal adds final.cbor alone to a published aggregate", async () => {
  await withJournal(async (journal, dir) => {
    const r = FINALS.get(3)!;
    await journal.recordAggregate({ ...r, final: undefined });
    const round = `${dir}/journal/round-3`;
    const before = new Map<string, number>();
    for (const name of await filesOf(round)) {
      before.set(name, (await Deno.stat(`${round}/${name}`)).ino!);
    }
    await journal.recordFinal(3, r.final);
    assertEquals(await filesOf(round), [...before.keys(), "final.cbor"].sort());
    // The other files are the same files (not rewritten: an atomic rewrite renames a new inode).
    for (const [name, ino] of before) {
      assertEquals((await Deno.stat(`${round}/${name}`)).ino, ino, name);
    }
    assertEquals(await modeOf(`${round}/final.cbor`), 0o644);
    const stored = await new Journal(dir, ROSTER).aggregate(3);
    assertEquals([stored?.final, stored?.aggregate, stored?.certificate], [
      r.final,
      r.aggregate,
      r.certificate,
    ]);
  });
});

Deno.test("journal: recorded() says which records are complete; pruning keeps the metadata", async () => {
  await withJournal(async (journal, dir) => {
    const none = { update: false, published: false, final: false, unmasking: false };
    assertEquals(await journal.recorded(3), none, "no directory");
    await journal.recordUpdate(3, anUpdate(0.5, 3));
    await journal.recordCommit(3, 1);
    assertEquals(await journal.recorded(3), { ...none, update: true });
    assertEquals(await journal.updateMeta(3), { numSamples: 3, layout: ONE });
    const r = FINALS.get(3)!;
    await journal.recordAggregate({ ...r, final: undefined });
    assertEquals(await journal.recorded(3), { ...none, update: true, published: true });
    await journal.recordFinal(3, r.final);
    assertEquals(await journal.recorded(3), {
      ...none,
      update: true,
      published: true,
      final: true,
    });
    await journal.pruneUpdate(3);
    await journal.pruneUpdate(3); // again: nothing left to delete is fine
    assertEquals(await filesOf(`${dir}/journal/round-3`), [
      "aggregate.u32",
      "certificate.cbor",
      "committed.json",
      "final.cbor",
      "published.json",
      "update.json",
    ]);
    assertEquals(await journal.recorded(3), {
      ...none,
      update: true,
      published: true,
      final: true,
    });
    assertEquals(await journal.update(3), undefined);
    assertEquals(await journal.updateMeta(3), { numSamples: 3, layout: ONE });
    // A final certificate without its published aggregate does not count.
    await journal.recordFinal(9, FINALS.get(9)!.final);
    assertEquals(await journal.recorded(9), none);
  });
});

Deno.test("journal: writes refuse what reads would refuse (invalid-input, nothing written)", async () => {
  await withJournal(async (journal, dir) => {
    const nan = new Float32Array(DIM);
    nan[4] = NaN;
    const cases: [string, () => Promise<unknown>][] = [
      ["NaN value", () => journal.recordUpdate(1, { ...anUpdate(), values: nan })],
      ["wrong d", () => journal.recordUpdate(1, { ...anUpdate(), values: new Float32Array(3) })],
      ["numSamples 1e9", () => journal.recordUpdate(1, anUpdate(0, 1e9))],
      ["numSamples 0", () => journal.recordUpdate(1, anUpdate(0, 0))],
      ["layout", () =>
        journal.recordUpdate(1, {
          ...anUpdate(),
          layout: { tensors: [{ name: "a", shape: [DIM - 1] }] },
        })],
      ["view", () => journal.recordCommit(1, -1)],
      ["members", () => journal.recordAggregate({ ...FINALS.get(3)!, round: 1, members: [0, 7] })],
      [
        "aggregate",
        () =>
          journal.recordAggregate({ ...FINALS.get(3)!, round: 1, aggregate: new Uint32Array(2) }),
      ],
      ["final", () => journal.recordFinal(1, Uint8Array.of(1, 2, 3))],
    ];
    for (const [what, write] of cases) {
      const err = await assertRejects(write, NodeError);
      assertEquals((err as NodeError).code, "invalid-input", `${what}: ${err.message}`);
    }
    assertEquals(await exists(`${dir}/journal/round-1`), false, "nothing was written");
  });
});

// -------------------------------------------------------------------------------------------------
// Damaged journals.

/** Rounds every damage test starts from: 1 with an update, 5 with an update and a commit, 3 final. */
async function prepare(journal: Journal): Promise<void> {
  await journal.recordUpdate(1, anUpdate(0.5));
  await journal.recordUpdate(5, anUpdate(-0.75, 7));
  await journal.recordCommit(5, 2);
  await journal.recordUpdate(3, anUpdate(0.125, 2));
  await journal.recordAggregate(FINALS.get(3)!);
}

/** Asserts `read` rejects with `journal-corrupt` naming `path`; returns the message. */
async function assertCorrupt(read: () => Promise<unknown>, path: string): Promise<string> {
  const err = await assertRejects(read, JournalError);
  assertEquals([(err as JournalError).code, (err as JournalError).path], ["journal-corrupt", path]);
  assert(err.message.includes(path), err.message);
  return err.message;
}

interface Damage {
  readonly what: string;
  readonly round: number;
  readonly file:
    | "update.f32"
    | "update.json"
    | "committed.json"
    | "published.json"
    | "aggregate.u32"
    | "certificate.cbor"
    | "final.cbor";
  /** The damaged file's new bytes, from its current ones. */
  readonly bytes: (current: Uint8Array) => Uint8Array | Promise<Uint8Array>;
  /** The read that meets it while the node runs. */
  readonly read: (j: Journal) => Promise<unknown>;
  /** The problem the error names. */
  readonly problem: RegExp;
}

const NAN_VALUES = new Float32Array(DIM).fill(0.5);
NAN_VALUES[3] = NaN;
const text = (s: string) => new TextEncoder().encode(s);

/** Damage that `open()` cannot repair: the round is moved aside. */
const QUARANTINED: Damage[] = [
  {
    what: "update.json is not JSON",
    round: 5,
    file: "update.json",
    bytes: () => sealed("update.json", 5, '{"numSamples": 7, "lay'),
    read: (j) => j.updateMeta(5),
    problem: /not valid UTF-8 JSON/,
  },
  {
    what: "committed.json is not JSON",
    round: 5,
    file: "committed.json",
    bytes: () => sealed("committed.json", 5, "view=2"),
    read: (j) => j.committedView(5),
    problem: /not valid UTF-8 JSON/,
  },
  {
    what: "update.f32 is truncated",
    round: 5,
    file: "update.f32",
    bytes: (b) => b.subarray(0, b.length - 6),
    read: (j) => j.update(5),
    problem: /truncated/,
  },
  {
    what: "update.f32 holds a NaN (with a valid checksum)",
    round: 5,
    file: "update.f32",
    bytes: () => sealed("update.f32", 5, f32Bytes(NAN_VALUES)),
    read: (j) => j.update(5),
    problem: /value 3 is NaN/,
  },
  {
    what: "update.json says numSamples 1e9 (with a valid checksum)",
    round: 5,
    file: "update.json",
    bytes: () => sealed("update.json", 5, JSON.stringify({ numSamples: 1e9, layout: ONE })),
    read: (j) => j.updateMeta(5),
    problem: /numSamples 1000000000 is outside \[1, 10\]/,
  },
  {
    what: "update.json's layout does not hold d values",
    round: 5,
    file: "update.json",
    bytes: () =>
      sealed(
        "update.json",
        5,
        JSON.stringify({ numSamples: 7, layout: { tensors: [{ name: "w", shape: [5, 5] }] } }),
      ),
    read: (j) => j.updateMeta(5),
    problem: /more than the roster's d = 12/,
  },
  {
    what: "committed.json's view is negative",
    round: 5,
    file: "committed.json",
    bytes: () => sealed("committed.json", 5, '{"view":-1}'),
    read: (j) => j.committedView(5),
    problem: /view -1 is not an integer/,
  },
  {
    what: "update.f32 has one bit flipped",
    round: 5,
    file: "update.f32",
    bytes: (b) => b.map((x, i) => i === RECORD_HEADER_BYTES + 9 ? x ^ 0x10 : x),
    read: (j) => j.update(5),
    problem: /checksum mismatch/,
  },
  {
    what: "update.json is a plain file without the record header (the format before records)",
    round: 5,
    file: "update.json",
    bytes: () => text(JSON.stringify({ numSamples: 7, layout: ONE })),
    read: (j) => j.updateMeta(5),
    problem: /no record header/,
  },
  {
    what: "aggregate.u32 is truncated",
    round: 3,
    file: "aggregate.u32",
    bytes: (b) => b.subarray(0, b.length - 4),
    read: (j) => j.aggregate(3),
    problem: /truncated/,
  },
  {
    what: "final.cbor is random bytes (with a valid checksum)",
    round: 3,
    file: "final.cbor",
    bytes: () => sealed("final.cbor", 3, crypto.getRandomValues(new Uint8Array(700))),
    read: (j) => j.aggregate(3),
    problem: /not a final certificate/,
  },
  {
    what: "final.cbor is another round's final certificate (sealed as this round's)",
    round: 3,
    file: "final.cbor",
    bytes: () => sealed("final.cbor", 3, FINALS.get(9)!.final),
    read: (j) => j.aggregate(3),
    // The read compares it with certificate.cbor first; the scan verifies it with the aggregate.
    problem: /does not (certify this round's certificate\.cbor|verify against the roster)/,
  },
  {
    what: "final.cbor is round 9's record copied into round 3",
    round: 3,
    file: "final.cbor",
    bytes: () => sealed("final.cbor", 9, FINALS.get(9)!.final),
    read: (j) => j.aggregate(3),
    problem: /checksum mismatch/,
  },
];

for (const d of QUARANTINED) {
  Deno.test(`journal damage: ${d.what} → a typed error naming it; open() quarantines the round`, async () => {
    await withJournal(async (journal, dir) => {
      await prepare(journal);
      const path = journal.path(d.round, d.file);
      await Deno.writeFile(path, await d.bytes(await Deno.readFile(path)));
      // While running: the read that meets it names the file and the problem.
      assertMatch(await assertCorrupt(() => d.read(journal), path), d.problem);
      // At start-up: the round is moved aside, logged with the path and counted.
      const r = reporter();
      const restarted = new Journal(dir, ROSTER);
      const scan: JournalScan = await restarted.open(r.options);
      const roundDir = `${dir}/journal/round-${d.round}`;
      const movedTo = `${dir}/journal/quarantine/round-${d.round}.20261203T150405Z`;
      assertEquals(scan.quarantined.map((q) => [q.path, q.movedTo]), [[roundDir, movedTo]]);
      assertMatch(scan.quarantined[0].reason, d.problem);
      assert(scan.quarantined[0].reason.includes(path), scan.quarantined[0].reason);
      assertEquals(await filesOf(movedTo).then((f) => f.includes(d.file)), true);
      assertEquals(await exists(roundDir), false);
      const logged = r.logs.filter((l) => l.message === "journal round quarantined");
      assertEquals(logged.map((l) => [l.level, l.fields?.path, l.fields?.movedTo]), [[
        "error",
        roundDir,
        movedTo,
      ]]);
      assertEquals(r.quarantinedTotal(), "1");
      // The rest of the journal is intact and readable.
      const left = [1, 3, 5].filter((x) => x !== d.round);
      assertEquals(scan.rounds, left);
      assertEquals(await restarted.rounds(), left);
      for (const x of left) {
        if (x === 3) assertEquals((await restarted.aggregate(3))?.final, FINALS.get(3)!.final);
        else assert((await restarted.update(x)) !== undefined, `round ${x}`);
      }
      assertEquals(await restarted.quarantined(d.round), true);
      for (const x of [...left, 50]) assertEquals(await restarted.quarantined(x), false, `${x}`);
      // A second start finds nothing more to do.
      const again = await new Journal(dir, ROSTER).open(reporter().options);
      assertEquals([again.quarantined, again.repaired, again.rounds], [[], [], left]);
    });
  });
}

Deno.test("journal damage: a broken published.json is rebuilt from the verified final certificate", async () => {
  await withJournal(async (journal, dir) => {
    await prepare(journal);
    const path = journal.path(3, "published.json");
    for (
      const broken of [
        text("garbage"),
        await sealed("published.json", 3, '{"view":0,"members":[0,0]}'),
      ]
    ) {
      await Deno.writeFile(path, broken);
      await assertCorrupt(() => journal.aggregate(3), path);
      const r = reporter();
      const scan = await new Journal(dir, ROSTER).open(r.options);
      assertEquals(scan.quarantined, []);
      assertEquals(scan.repaired.map((x) => x.path), [path]);
      assertEquals(r.logs.map((l) => [l.level, l.message]), [["warn", "journal repaired"]]);
      const stored = await journal.aggregate(3);
      const f = FINALS.get(3)!;
      assertEquals([stored?.view, stored?.members, stored?.final], [f.view, f.members, f.final]);
    }
    // Missing (a crash between the final and the published writes): rebuilt the same way.
    await Deno.remove(path);
    assertEquals((await journal.recorded(3)).final, false);
    await new Journal(dir, ROSTER).open(reporter().options);
    assertEquals((await journal.recorded(3)).final, true);
    // published.json that contradicts the certificate (valid checksum): the certificate wins.
    await Deno.writeFile(path, await sealed("published.json", 3, '{"view":7,"members":[1]}'));
    assertMatch(await assertCorrupt(() => journal.aggregate(3), path), /the final certificate/);
    await new Journal(dir, ROSTER).open(reporter().options);
    assertEquals((await journal.aggregate(3))?.members, FINALS.get(3)!.members);
  });
});

Deno.test("journal damage: a damaged certificate.cbor or update.f32 of a final round is repaired", async () => {
  await withJournal(async (journal, dir) => {
    await prepare(journal);
    // The round became final, but the crash came before its raw update was pruned.
    await journal.recordUpdate(9, anUpdate());
    await journal.recordAggregate(FINALS.get(9)!);
    const cert = journal.path(9, "certificate.cbor");
    const values = journal.path(9, "update.f32");
    await Deno.writeFile(cert, text("junk"));
    await Deno.writeFile(values, new Uint8Array(10));
    await assertCorrupt(() => journal.aggregate(9), cert);
    await assertCorrupt(() => journal.update(9), values);
    const scan = await new Journal(dir, ROSTER).open(reporter().options);
    assertEquals(scan.quarantined, []);
    assertEquals(scan.repaired.map((x) => x.path).sort(), [cert, values]);
    assertEquals((await journal.aggregate(9))?.certificate, FINALS.get(9)!.certificate);
    assertEquals(await exists(values), false, "the damaged raw update of a final round is deleted");
    assertEquals(await journal.updateMeta(9), { numSamples: 1, layout: ONE });
  });
});

Deno.test("journal damage: leftover temporaries are removed; foreign entries are left alone", async () => {
  await withJournal(async (journal, dir) => {
    await prepare(journal);
    const tmp = `${dir}/journal/round-5/committed.json.tmp-0b6f6c1e`;
    await Deno.writeTextFile(tmp, '{"vi');
    await Deno.writeTextFile(`${dir}/journal/README`, "notes");
    await Deno.mkdir(`${dir}/journal/round-x`);
    const scan = await new Journal(dir, ROSTER).open(reporter().options);
    assertEquals(scan.repaired.map((x) => x.path), [tmp]);
    assertEquals(await exists(tmp), false);
    assertEquals([scan.quarantined, scan.rounds], [[], [1, 3, 5]]);
    assert(await exists(`${dir}/journal/README`) && await exists(`${dir}/journal/round-x`));
  });
});

Deno.test("journal damage: entries named like rounds that are not round directories are moved aside", async () => {
  await withJournal(async (journal, dir) => {
    await prepare(journal);
    await Deno.writeTextFile(`${dir}/journal/round-7`, "a file");
    await Deno.mkdir(`${dir}/journal/round-05`);
    // A record file that is a directory.
    await Deno.mkdir(`${dir}/journal/round-8/update.json`, { recursive: true });
    const r = reporter();
    const scan = await new Journal(dir, ROSTER).open(r.options);
    assertEquals(scan.quarantined.map((q) => q.path.slice(dir.length)).sort(), [
      "/journal/round-05",
      "/journal/round-7",
      "/journal/round-8",
    ]);
    assertEquals(r.quarantinedTotal(), "3");
    assertEquals(scan.rounds, [1, 3, 5]);
  });
});

Deno.test("journal damage: journal/ being a file refuses the start with the fix; reads too", async () => {
  await withTempDir("fedagg-journal-", async (dir) => {
    await Deno.writeTextFile(`${dir}/journal`, "not a directory");
    const journal = new Journal(dir, ROSTER);
    for (const call of [() => journal.open(reporter().options), () => journal.rounds()]) {
      const err = await assertRejects(call, JournalError);
      assertEquals([(err as JournalError).code, (err as JournalError).path], [
        "journal-unusable",
        `${dir}/journal`,
      ]);
      assertEquals(
        err.message,
        `${dir}/journal is not a directory: move it aside (mv ${dir}/journal ${dir}/journal.broken) and start again`,
      );
    }
    assertEquals(await Deno.readTextFile(`${dir}/journal`), "not a directory", "left as it was");
  });
});

Deno.test("journal damage: an empty or missing journal opens with nothing to do", async () => {
  await withJournal(async (journal, dir) => {
    assertEquals(await journal.open(reporter().options), {
      rounds: [],
      repaired: [],
      quarantined: [],
    });
    await Deno.mkdir(`${dir}/journal`);
    assertEquals(await journal.open(reporter().options), {
      rounds: [],
      repaired: [],
      quarantined: [],
    });
  });
});

Deno.test("journal: journal/ and round directories may be symbolic links to directories", async () => {
  await withTempDir("fedagg-journal-", async (dir) => {
    const elsewhere = `${dir}/other-disk`;
    await new Journal(elsewhere, ROSTER).recordUpdate(1, anUpdate());
    await Deno.rename(`${elsewhere}/journal/round-1`, `${elsewhere}/round-1-real`);
    await Deno.symlink(`${elsewhere}/round-1-real`, `${elsewhere}/journal/round-1`);
    await Deno.mkdir(`${dir}/node`);
    await Deno.symlink(`${elsewhere}/journal`, `${dir}/node/journal`);
    const journal = new Journal(`${dir}/node`, ROSTER);
    const scan = await journal.open(reporter().options);
    assertEquals([scan.rounds, scan.quarantined], [[1], []]);
    assertEquals(await journal.rounds(), [1]);
    assertEquals((await journal.update(1))?.numSamples, 1);
  });
});

Deno.test("journal damage: a damaged round that cannot be moved aside refuses the start", async () => {
  await withJournal(async (journal, dir) => {
    await prepare(journal);
    await Deno.writeFile(journal.path(5, "committed.json"), text("{}"));
    await Deno.writeTextFile(`${dir}/journal/quarantine`, "in the way");
    const err = await assertRejects(() => journal.open(reporter().options), JournalError);
    assertEquals([(err as JournalError).code, (err as JournalError).path], [
      "journal-unusable",
      `${dir}/journal/round-5`,
    ]);
    assertMatch(err.message, /cannot be moved aside .*: move it out of .*journal by hand/);
    assert(await exists(journal.path(5, "committed.json")), "nothing was lost");
  });
});

Deno.test("journal damage: values without update.json (a crash mid-acknowledgement) are deleted at open, logged", async () => {
  await withJournal(async (journal, dir) => {
    await journal.recordUpdate(6, anUpdate());
    await Deno.remove(`${dir}/journal/round-6/update.json`); // the crash came before it
    const r = reporter();
    const scan = await new Journal(dir, ROSTER).open(r.options);
    assertEquals(await exists(journal.path(6, "update.f32")), false, "no plaintext left behind");
    assertEquals(scan.repaired.map((x) => x.path), [journal.path(6, "update.f32")]);
    assert(scan.repaired[0].action.includes("never acknowledged"), scan.repaired[0].action);
    assert(r.logs.some((l) => l.message === "journal repaired"));
    assertEquals(scan.quarantined, []);
    assertEquals((await journal.recorded(6)).update, false);
  });
});

Deno.test("journal damage: a quarantined round with an update record says so (for its round-failed)", async () => {
  await withJournal(async (journal, dir) => {
    await journal.recordUpdate(4, anUpdate());
    await Deno.writeTextFile(`${dir}/journal/round-4/update.json`, "{not json");
    const scan = await new Journal(dir, ROSTER).open(reporter().options);
    assertEquals(scan.quarantined.map((q) => q.updateRound), [4]);
  });
});

/**
 * The node journal (node/journal.ts): updates round-trip bit for bit (NaN payloads, −0,
 * subnormals, unaligned views) with their weight and layout; the committed view; aggregates
 * recorded as published and then as final; `rounds()` in ascending numeric order ignoring
 * foreign entries; every file written with its documented mode (private update and commit
 * 0600, public aggregate files 0644) and no temporaries; reads of missing rounds (or of rounds
 * with a file missing) → undefined; a second journal object over the same directory (a
 * restarted node) reads everything back; `recordFinal` adds only `final.cbor`; `recorded()`
 * agrees with `update()`/`aggregate()` on which records are complete, and `updateMeta()` gives
 * the weight and layout without parsing the values.
 */
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { equalBytes, u32Bytes } from "../../protocol/encoding/bytes.ts";
import { Journal, type StoredUpdate } from "../../node/journal.ts";
import type { TensorLayout } from "../../node/tensor_formats/mod.ts";
import { f32Bytes, modeOf, withTempDir } from "./_helpers.ts";

/** Runs `fn` with a journal over a new temporary directory (removed afterwards). */
function withJournal(fn: (journal: Journal, dir: string) => Promise<void>): Promise<void> {
  return withTempDir("fedagg-journal-", (dir) => fn(new Journal(dir), dir));
}

async function filesOf(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

/** Float32 values whose bit patterns a float round trip could disturb. */
function trickyValues(): Float32Array {
  const bits = new Uint32Array([
    0x00000000, // +0
    0x80000000, // −0
    0x00000001, // smallest subnormal
    0x807fffff, // largest negative subnormal
    0x7f800000, // +Inf
    0xff800000, // −Inf
    0x7fc00000, // canonical NaN
    0x7f800001, // signalling NaN
    0xffc12345, // negative NaN with payload
    0x3f800000, // 1
    0x3eaaaaab, // 1/3
    0x7f7fffff, // max float
  ]);
  return new Float32Array(bits.buffer);
}

const LAYOUT: TensorLayout = {
  tensors: [{ name: "bias", shape: [2] }, { name: "weight", shape: [2, 5] }],
};

Deno.test("journal: an update round-trips bit for bit with weight and layout", async () => {
  await withJournal(async (journal, dir) => {
    const values = trickyValues();
    await journal.recordUpdate(3, { values, numSamples: 42, layout: LAYOUT });
    const back = await journal.update(3);
    assert(back !== undefined);
    assert(equalBytes(f32Bytes(back.values), f32Bytes(values)), "bit-exact values");
    assertEquals(back.numSamples, 42);
    assertEquals(back.layout, LAYOUT);
    // A restarted node (new Journal on the same directory) reads the same.
    const again = await new Journal(dir).update(3);
    assert(again !== undefined && equalBytes(f32Bytes(again.values), f32Bytes(values)));
    assertEquals(await filesOf(`${dir}/journal/round-3`), ["update.f32", "update.json"]);
    assertEquals(
      (await Deno.readFile(journal.path(3, "update.f32"))).length,
      4 * values.length,
      "raw float32 on disk",
    );
  });
});

Deno.test("journal: an update given as an unaligned view stores only the view", async () => {
  await withJournal(async (journal) => {
    const backing = new ArrayBuffer(4 * 20 + 4);
    const full = new Float32Array(backing);
    full.forEach((_, i) => full[i] = i + 0.5);
    const view = new Float32Array(backing, 4 * 3, 7); // values 3.5 … 9.5
    await journal.recordUpdate(0, {
      values: view,
      numSamples: 1,
      layout: { tensors: [{ name: "aggregate", shape: [7] }] },
    });
    const back = await journal.update(0);
    assertEquals(Array.from(back!.values), [3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5]);
    assertEquals(back!.values.byteOffset, 0);
  });
});

Deno.test("journal: the committed view is recorded and read back", async () => {
  await withJournal(async (journal, dir) => {
    assertEquals(await journal.committedView(5), undefined);
    await journal.recordCommit(5, 0);
    assertEquals(await journal.committedView(5), 0);
    await journal.recordCommit(5, 2);
    assertEquals(await journal.committedView(5), 2);
    assertEquals(await new Journal(dir).committedView(5), 2);
    assertEquals(await modeOf(`${dir}/journal/round-5/committed.json`), 0o600);
    // A commit alone is not an update nor an aggregate.
    assertEquals(await journal.update(5), undefined);
    assertEquals(await journal.aggregate(5), undefined);
  });
});

Deno.test("journal: an aggregate is recorded as published, then as final", async () => {
  await withJournal(async (journal, dir) => {
    const aggregate = new Uint32Array([0, 1, 0xffffffff, 0x80000000, 123456789, 7]);
    const certificate = new Uint8Array(300).map((_, i) => i * 7);
    await journal.recordAggregate({
      round: 9,
      view: 1,
      members: [0, 2, 3],
      aggregate,
      certificate,
    });
    const published = await journal.aggregate(9);
    assert(published !== undefined);
    assertEquals(published.round, 9);
    assertEquals(published.view, 1);
    assertEquals(published.members, [0, 2, 3]);
    assertEquals(published.aggregate, aggregate);
    assertEquals(published.certificate, certificate);
    assertEquals(published.final, undefined);
    assertEquals(await Deno.readFile(journal.path(9, "aggregate.u32")), u32Bytes(aggregate));

    const final = new Uint8Array(500).map((_, i) => 255 - (i % 256));
    await journal.recordAggregate({
      round: 9,
      view: 1,
      members: [0, 2, 3],
      aggregate,
      certificate,
      final,
    });
    const finished = await new Journal(dir).aggregate(9);
    assert(finished !== undefined);
    assertEquals(finished.final, final);
    assertEquals(finished.aggregate, aggregate);
    assertEquals(finished.certificate, certificate);
    assertEquals(await Deno.readFile(journal.path(9, "final.cbor")), final);
    assertEquals(await filesOf(`${dir}/journal/round-9`), [
      "aggregate.u32",
      "certificate.cbor",
      "final.cbor",
      "published.json",
    ]);
  });
});

Deno.test("journal: an aggregate given as a view into a larger buffer stores only the view", async () => {
  await withJournal(async (journal) => {
    const backing = new Uint32Array([9, 9, 1, 2, 3, 9]);
    await journal.recordAggregate({
      round: 1,
      view: 0,
      members: [1],
      aggregate: backing.subarray(2, 5),
      certificate: Uint8Array.of(1),
    });
    assertEquals((await journal.aggregate(1))!.aggregate, new Uint32Array([1, 2, 3]));
  });
});

Deno.test("journal: files are written with the documented modes and no temporaries", async () => {
  await withJournal(async (journal, dir) => {
    await journal.recordUpdate(0, {
      values: new Float32Array([1, 2]),
      numSamples: 1,
      layout: { tensors: [{ name: "aggregate", shape: [2] }] },
    });
    await journal.recordCommit(0, 0);
    await journal.recordAggregate({
      round: 0,
      view: 0,
      members: [0, 1, 2],
      aggregate: new Uint32Array(3),
      certificate: Uint8Array.of(1, 2),
      final: Uint8Array.of(3, 4),
    });
    const round = `${dir}/journal/round-0`;
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
    const update: StoredUpdate = {
      values: new Float32Array([0]),
      numSamples: 1,
      layout: { tensors: [{ name: "aggregate", shape: [1] }] },
    };
    for (const r of [10, 2, 100, 0, 9]) await journal.recordUpdate(r, update);
    await journal.recordCommit(33, 0);
    await journal.recordAggregate({
      round: 7,
      view: 0,
      members: [0],
      aggregate: new Uint32Array(2),
      certificate: Uint8Array.of(0),
    });
    // Foreign entries are ignored: a file named like a round, and other names.
    await Deno.writeTextFile(`${dir}/journal/round-55`, "not a directory");
    await Deno.mkdir(`${dir}/journal/round-x`);
    await Deno.mkdir(`${dir}/journal/other`);
    assertEquals(await journal.rounds(), [0, 2, 7, 9, 10, 33, 100]);
    assertEquals(await new Journal(dir).rounds(), [0, 2, 7, 9, 10, 33, 100]);
  });
});

Deno.test("journal: reads of missing rounds or incomplete records are undefined", async () => {
  await withJournal(async (journal, dir) => {
    assertEquals(await journal.update(0), undefined);
    assertEquals(await journal.aggregate(0), undefined);
    assertEquals(await journal.committedView(0), undefined);
    // An update whose metadata is missing (a crash between the two writes) is not an update.
    await journal.recordUpdate(1, {
      values: new Float32Array([1]),
      numSamples: 1,
      layout: { tensors: [{ name: "aggregate", shape: [1] }] },
    });
    await Deno.remove(`${dir}/journal/round-1/update.json`);
    assertEquals(await journal.update(1), undefined);
    // An aggregate needs published.json, its body and its certificate.
    const record = {
      round: 2,
      view: 0,
      members: [0],
      aggregate: new Uint32Array(2),
      certificate: Uint8Array.of(0),
    };
    await journal.recordAggregate(record);
    await Deno.remove(`${dir}/journal/round-2/published.json`);
    assertEquals(await journal.aggregate(2), undefined);
    await journal.recordAggregate(record);
    await Deno.remove(`${dir}/journal/round-2/aggregate.u32`);
    assertEquals(await journal.aggregate(2), undefined);
    await journal.recordAggregate(record);
    await Deno.remove(`${dir}/journal/round-2/certificate.cbor`);
    assertEquals(await journal.aggregate(2), undefined);
    await journal.recordAggregate(record);
    assert(await journal.aggregate(2) !== undefined);
  });
});

Deno.test("journal: path() names the files of a round", () => {
  const journal = new Journal("/var/lib/fedagg");
  assertEquals(journal.path(4, "aggregate.u32"), "/var/lib/fedagg/journal/round-4/aggregate.u32");
  assertEquals(journal.path(4, "final.cbor"), "/var/lib/fedagg/journal/round-4/final.cbor");
  assertEquals(journal.path(0, "update.f32"), "/var/lib/fedagg/journal/round-0/update.f32");
});

Deno.test("journal: recordFinal adds final.cbor alone to a published aggregate", async () => {
  await withJournal(async (journal, dir) => {
    const aggregate = new Uint32Array([4, 5, 6]);
    const certificate = Uint8Array.of(7, 8);
    await journal.recordAggregate({ round: 2, view: 0, members: [0, 1], aggregate, certificate });
    const round = `${dir}/journal/round-2`;
    const before = new Map<string, number>();
    for (const name of await filesOf(round)) {
      before.set(name, (await Deno.stat(`${round}/${name}`)).ino!);
    }
    const final = Uint8Array.of(9, 9, 9);
    await journal.recordFinal(2, final);
    assertEquals(await filesOf(round), [...before.keys(), "final.cbor"].sort());
    // The other files are the same files (not rewritten: an atomic rewrite renames a new inode).
    for (const [name, ino] of before) {
      assertEquals((await Deno.stat(`${round}/${name}`)).ino, ino, name);
    }
    assertEquals(await modeOf(`${round}/final.cbor`), 0o644);
    const stored = await new Journal(dir).aggregate(2);
    assertEquals([stored?.final, stored?.aggregate, stored?.certificate], [
      final,
      aggregate,
      certificate,
    ]);
  });
});

Deno.test("journal: recorded() says which records are complete; updateMeta() reads no values", async () => {
  await withJournal(async (journal, dir) => {
    const none = { update: false, published: false, final: false };
    assertEquals(await journal.recorded(0), none, "no directory");
    const layout = { tensors: [{ name: "aggregate", shape: [2] }] };
    await journal.recordUpdate(0, { values: new Float32Array([1, 2]), numSamples: 3, layout });
    await journal.recordCommit(0, 1);
    assertEquals(await journal.recorded(0), { ...none, update: true });
    assertEquals(await journal.updateMeta(0), { numSamples: 3, layout });
    // Metadata alone: updateMeta does not look into the values (their content is not read).
    await Deno.writeFile(`${dir}/journal/round-0/update.f32`, new Uint8Array(3));
    assertEquals(await journal.updateMeta(0), { numSamples: 3, layout });
    await assertRejects(() => journal.update(0), RangeError, "multiple of 4");
    const record = {
      round: 0,
      view: 1,
      members: [0, 1],
      aggregate: new Uint32Array(3),
      certificate: Uint8Array.of(1),
    };
    await journal.recordAggregate(record);
    assertEquals(await journal.recorded(0), { update: true, published: true, final: false });
    await journal.recordFinal(0, Uint8Array.of(2));
    assertEquals(await journal.recorded(0), { update: true, published: true, final: true });
    // An accepted update is marked by update.json (written after the values); the values alone
    // (a crash between the two writes) are no update. A published aggregate needs all its files.
    for (
      const [file, changed, values] of [
        ["update.f32", {}, false],
        ["update.json", { update: false }, true],
        ["certificate.cbor", { published: false, final: false }, true],
      ] as const
    ) {
      await withJournal(async (j, d) => {
        await j.recordUpdate(1, { values: new Float32Array([1, 2]), numSamples: 1, layout });
        await j.recordAggregate({ ...record, round: 1, final: Uint8Array.of(2) });
        await Deno.remove(`${d}/journal/round-1/${file}`);
        const expected = { update: true, published: true, final: true, ...changed };
        assertEquals(await j.recorded(1), expected, file);
        assertEquals(await j.update(1) !== undefined, expected.update && values, file);
        assertEquals(await j.updateMeta(1) !== undefined, expected.update, file);
        assertEquals(await j.aggregate(1) !== undefined, expected.published, file);
      });
    }
    // Pruning deletes the values only: the update still counts and keeps its weight and layout.
    await journal.pruneUpdate(0);
    await journal.pruneUpdate(0); // again: nothing left to delete is fine
    assertEquals(await filesOf(`${dir}/journal/round-0`), [
      "aggregate.u32",
      "certificate.cbor",
      "committed.json",
      "final.cbor",
      "published.json",
      "update.json",
    ]);
    assertEquals(await journal.recorded(0), { update: true, published: true, final: true });
    assertEquals(await journal.update(0), undefined);
    assertEquals(await journal.updateMeta(0), { numSamples: 3, layout });
    // A final certificate without its published aggregate does not count.
    await journal.recordFinal(5, Uint8Array.of(1));
    assertEquals(await journal.recorded(5), none);
  });
});

/**
 * Group-wise aggregation at the node's edges: `fedagg roster create --groups G | --group-size M`
 * writes the roster's `groups` (and refuses contradictory or orphaned options, and groups below
 * the safe size without `--allow-small-groups`); the roster file's strict reader names a
 * misspelt group key and checks a `robust` rule with the groups; `fedagg verify` checks a
 * grouped round's certified body (the total and each group's sum), prints each group's inputs,
 * weight and sum hash, matches the mean against the total, and refuses a body whose group sum was
 * changed.
 */
import "../../node/shims.ts";
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { u32Bytes } from "../../protocol/encoding/bytes.ts";
import { inlineExpander } from "../../protocol/math/masking.ts";
import { dequantizeMean, quantize } from "../../protocol/math/quantize.ts";
import { ConfigError } from "../../protocol/errors.ts";
import { roundGroups } from "../../protocol/federation/round_groups.ts";
import { createIdentity, type NodeIdentity } from "../../node/identity.ts";
import {
  addMember,
  checkRosterParameters,
  DEFAULT_PARAMETERS,
  newRosterFile,
  parseRosterFile,
  readRosterFile,
  rosterOf,
  signRoster,
  writeRosterFile,
} from "../../node/roster_file.ts";
import { encodeNpy, encodeRaw } from "../../node/tensor_formats/mod.ts";
import { rngFor } from "../protocol/_fixtures.ts";
import { EndpointNet } from "../protocol/_harness.ts";
import { cli, withTempDir } from "./_helpers.ts";

Deno.test("cli roster create: --groups and --group-size, their minimums and refusals", async () => {
  await withTempDir("fedagg-groups-", async (root) => {
    const create = (...args: string[]) =>
      cli(
        "roster",
        "create",
        "--out",
        `${root}/r.json`,
        "--force",
        "--federation",
        "g",
        "--dim",
        "4",
        ...args,
      );
    const ok = await create("--groups", "3", "--min-groups", "3");
    assertEquals(ok.code, 0, ok.err);
    assertMatch(ok.out, /groups: 3 groups per round; each group's sum is revealed/);
    const file = await readRosterFile(`${root}/r.json`);
    assertEquals(file.groups, {
      count: 3,
      minGroupSize: null,
      minGroups: 3,
      allowSmallGroups: false,
    });
    const bySize = await create("--group-size", "1", "--allow-small-groups");
    assertEquals(bySize.code, 0, bySize.err);
    assertEquals((await readRosterFile(`${root}/r.json`)).groups?.size, 1);
    // Without groups the file has none (plain FedAvg over everyone).
    assertEquals((await create()).code, 0);
    assertEquals((await readRosterFile(`${root}/r.json`)).groups, undefined);

    const refused = async (pattern: RegExp, ...args: string[]) => {
      const r = await create(...args).catch((e) => e);
      const text = r instanceof Error ? r.message : `${r.code} ${r.out} ${r.err}`;
      assertMatch(text, pattern);
    };
    await refused(/not both/, "--groups", "3", "--group-size", "4");
    await refused(/--min-groups needs --groups/, "--min-groups", "2");
    await refused(/--allow-small-groups needs --groups/, "--allow-small-groups");
    await refused(/below the safe size 4/, "--group-size", "2");
    await refused(/groups.minGroups/, "--groups", "3", "--min-groups", "4");

    // --robust RULE[,NAME=VALUE…] [--norm-filter TAU]: the rule's JSON, checked with the groups.
    const robust = await create(
      "--groups",
      "5",
      "--min-groups",
      "5",
      "--robust",
      "multi-krum,f=1,m=2",
      "--norm-filter",
      "2.5",
    );
    assertEquals(robust.code, 0, robust.err);
    assertMatch(
      robust.out,
      /robust: each round publishes multi-krum\(f=1, m=2\) after norm filter/,
    );
    assertEquals((await readRosterFile(`${root}/r.json`)).robust, {
      kind: "multi-krum",
      f: 1,
      m: 2,
      normFilter: { tau: 2.5 },
    });
    assertMatch(robust.out, /with 5 or more groups it tolerates 1 poisoned group/);
    await refused(/--norm-filter needs --robust/, "--groups", "3", "--norm-filter", "2");
    await refused(/needs groups/, "--robust", "median");
    await refused(/robust.kind/, "--groups", "3", "--robust", "mean");
    await refused(/robust.beta/, "--groups", "3", "--min-groups", "3", "--robust", "trimmed-mean");
    await refused(/not NAME=NUMBER/, "--groups", "3", "--robust", "trimmed-mean,0.2");
    // A median over the 2 groups a round of 3 may keep tolerates no poisoned group.
    await refused(/tolerates no poisoned group/, "--groups", "3", "--robust", "median");
    await refused(
      /g > 2f \+ 2/,
      "--groups",
      "3",
      "--min-groups",
      "3",
      "--robust",
      "multi-krum,f=1,m=1",
    );
  });
});

Deno.test("roster file: groups are read strictly; a robust rule is checked with the groups", () => {
  const base = {
    ...newRosterFile({ ...DEFAULT_PARAMETERS, federation: "g", dim: 4 }),
  };
  const parsed = parseRosterFile({ ...base, groups: { count: 2, minGroups: null } });
  assertEquals(parsed.groups, { count: 2, minGroups: null });
  const key = (value: unknown) => {
    try {
      parseRosterFile(value);
    } catch (err) {
      assert(err instanceof ConfigError);
      return err.setting;
    }
    throw new Error("accepted");
  };
  assertEquals(key({ ...base, groups: { cuont: 2 } }), "groups.cuont");
  assertEquals(key({ ...base, groups: { count: "2" } }), "groups.count");
  assertEquals(
    key({ ...base, groups: { count: 2, allowSmallGroups: "yes" } }),
    "groups.allowSmallGroups",
  );
  assertEquals(key({ ...base, robust: "median" }), "robust");
  // Parsed (an object), then checked where rosters are built: with groups, by the rule's fields.
  const refusal = (file: unknown) => {
    try {
      checkRosterParameters(parseRosterFile(file));
    } catch (err) {
      if (err instanceof ConfigError) return err.setting;
      throw err;
    }
    return "accepted";
  };
  assertEquals(refusal({ ...base, robust: { kind: "median" } }), "robust");
  const grouped = { ...base, groups: { count: 3, minGroups: 3 } };
  assertEquals(refusal({ ...grouped, robust: { kind: "median" } }), "accepted");
  assertEquals(refusal({ ...grouped, robust: { rule: "median" } }), "robust.kind");
  assertEquals(
    refusal({ ...grouped, robust: { kind: "trimmed-mean", beta: "0.1" } }),
    "robust.beta",
  );
});

Deno.test("cli verify: a grouped round's body, its per-group report, and a changed group sum", async () => {
  await withTempDir("fedagg-verify-groups-", async (root) => {
    const identities: NodeIdentity[] = [];
    for (let i = 0; i < 8; i++) {
      identities.push(await createIdentity(`${root}/m${i}`, rngFor("cli-groups", i)));
    }
    let file = newRosterFile({
      ...DEFAULT_PARAMETERS,
      federation: "verify-groups",
      // d = 30: a .npy mean (4·d + 128 = 248 bytes) is exactly as long as a body with one group
      // sum (2 · 4·(d + 1)), so verify must tell them apart by the .npy magic, not the length.
      dim: 30,
      maxWeight: 10,
      groups: { count: 2 },
    });
    for (const id of identities) file = addMember(file, id.card(["/ip4/127.0.0.1/tcp/1"]));
    for (const id of identities) file = await signRoster(file, id);
    const rosterPath = `${root}/roster.json`;
    await writeRosterFile(rosterPath, file);
    const roster = rosterOf(file);
    assertEquals(roster.groups?.count, 2);
    const signers = roster.members.map((m) => identities.find((i) => i.peerId === m.id)!.signer);
    const net = new EndpointNet({ roster, signers }, inlineExpander, "cli-groups/endpoint");
    let final;
    try {
      const inputs = signers.map((_, i) => {
        const r = rngFor("cli-groups", "input", i);
        const x = new Float32Array(roster.dim).map(() => r(1)[0] / 64 - 2);
        return quantize(x, 1 + i, roster.quantization, r);
      });
      await net.submit(0, inputs);
      await net.deliver();
      final = net.events("final").find((e) => e.member === 0)!;
    } finally {
      net.close();
    }
    assert(final !== undefined, "the round is final");
    const w = roster.dim + 1;
    assertEquals(final.aggregate.length, 3 * w, "the total and two group sums");
    const mean = dequantizeMean(final.aggregate.subarray(0, w), roster.quantization, 8);
    await Deno.writeFile(`${root}/certificate.cbor`, final.certificate);
    await Deno.writeFile(`${root}/sum`, u32Bytes(final.aggregate));
    await Deno.writeFile(`${root}/mean.raw`, encodeRaw(mean));
    await Deno.writeFile(`${root}/mean.npy`, encodeNpy(mean));
    assertEquals(encodeNpy(mean).length, 2 * 4 * w, "the lengths collide");
    const verify = (json: boolean, ...files: string[]) =>
      cli(
        "verify",
        ...["--certificate", `${root}/certificate.cbor`, "--roster", rosterPath],
        ...(json ? ["--json"] : []),
        ...files.flatMap((f) => ["--aggregate", `${root}/${f}`]),
      );
    const npy = await verify(true, "sum", "mean.npy");
    assertEquals(npy.code, 0, npy.out);
    assertEquals(JSON.parse(npy.out).meanMatches, true);
    const v = await verify(true, "sum", "mean.raw");
    assertEquals(v.code, 0, v.out);
    const json = JSON.parse(v.out);
    assertEquals(json.meanMatches, true);
    assertEquals(json.groups.included.map((g: { group: number }) => g.group), [0, 1]);
    assertEquals(json.groups.included.map((g: { members: string[] }) => g.members.length), [4, 4]);
    assertEquals(json.groups.excluded, []);
    const text = await verify(false, "sum");
    assertEquals(text.code, 0, text.out);
    assertMatch(text.out, /\ngroup 0: 4 inputs, weight \d+, sum hash [0-9a-f]{16}…\ngroup 1: /);
    assertMatch(text.out, /groups left out: none$/);
    // One group's word changed (the total kept): not the certified body.
    const changed = final.aggregate.slice();
    changed[w] += 1;
    await Deno.writeFile(`${root}/changed`, u32Bytes(changed));
    const bad = await verify(true, "changed");
    assertEquals(bad.code, 1, bad.out);
    assertMatch(JSON.parse(bad.out).reason, /changed .*not the one the certificate/);
  });
});

Deno.test("cli verify: a robust round's result is recomputed bit for bit, its groups named", async () => {
  await withTempDir("fedagg-verify-robust-", async (root) => {
    const identities: NodeIdentity[] = [];
    for (let i = 0; i < 12; i++) {
      identities.push(await createIdentity(`${root}/m${i}`, rngFor("cli-robust", i)));
    }
    let file = newRosterFile({
      ...DEFAULT_PARAMETERS,
      federation: "verify-robust",
      dim: 6,
      maxWeight: 10,
      groups: { count: 3, minGroups: 3 },
      robust: { kind: "median", normFilter: { tau: 2 } },
    });
    for (const id of identities) file = addMember(file, id.card(["/ip4/127.0.0.1/tcp/1"]));
    for (const id of identities) file = await signRoster(file, id);
    const rosterPath = `${root}/roster.json`;
    await writeRosterFile(rosterPath, file);
    const roster = rosterOf(file);
    assertEquals(roster.robust, { kind: "median", normFilter: { tau: 2 } });
    const signers = roster.members.map((m) => identities.find((i) => i.peerId === m.id)!.signer);
    const net = new EndpointNet({ roster, signers }, inlineExpander, "cli-robust/endpoint");
    let final;
    try {
      const inputs = signers.map((_, i) => {
        const r = rngFor("cli-robust", "input", i);
        // Roster member 0 poisons its group: every value at the clip, the most weight it may claim.
        const x = new Float32Array(roster.dim).map(() => i === 0 ? 8 : r(1)[0] / 256 - 0.5);
        return quantize(x, i === 0 ? 10 : 1, roster.quantization, r);
      });
      await net.submit(0, inputs);
      await net.deliver();
      final = net.events("final").find((e) => e.member === 0)!;
    } finally {
      net.close();
    }
    assert(final !== undefined, "the round is final");
    const w = roster.dim + 1;
    const plain = dequantizeMean(final.aggregate.subarray(0, w), roster.quantization, 12);
    // Independently: the poisoned member's group is far from the other two, so the norm filter
    // drops it and the median of the two left is their midpoint, coordinate by coordinate.
    const poisoned = roundGroups(roster, 0)!.partition.groupOf(0); // roster index 0

    const means = [0, 1, 2].filter((k) => k !== poisoned).map((k) =>
      dequantizeMean(final.aggregate.subarray((k + 1) * w, (k + 2) * w), roster.quantization, 4)
    );
    const median = Float32Array.from(
      { length: roster.dim },
      (_, j) => (means[0][j] + means[1][j]) / 2,
    );
    assert(median.some((x, j) => x !== plain[j]), "the poisoned member moves the plain mean");
    await Deno.writeFile(`${root}/certificate.cbor`, final.certificate);
    await Deno.writeFile(`${root}/sum`, u32Bytes(final.aggregate));
    await Deno.writeFile(`${root}/robust.raw`, encodeRaw(median));
    await Deno.writeFile(`${root}/plain.raw`, encodeRaw(plain));
    const wrong = median.slice();
    wrong[0] = Math.fround(wrong[0] + 0.25);
    await Deno.writeFile(`${root}/wrong.raw`, encodeRaw(wrong));
    const verify = (json: boolean, ...files: string[]) =>
      cli(
        "verify",
        ...["--certificate", `${root}/certificate.cbor`, "--roster", rosterPath],
        ...(json ? ["--json"] : []),
        ...files.flatMap((f) => ["--aggregate", `${root}/${f}`]),
      );
    const v = await verify(true, "sum", "robust.raw", "plain.raw");
    assertEquals(v.code, 0, v.out);
    const json = JSON.parse(v.out);
    assertEquals(json.files.map((f: { of?: string }) => f.of), [undefined, "robust", "plain"]);
    const robust = json.groups.robust;
    assertEquals(robust.rule, "median after norm filter τ=2");
    assertEquals(robust.filtered, [poisoned]);
    assert(robust.discarded.includes(poisoned));
    const text = await verify(false, "sum");
    assertEquals(text.code, 0, text.out);
    assertMatch(text.out, /robust result: median after norm filter τ=2, recomputed bit for bit/);
    assertMatch(text.out, new RegExp(`by the norm filter: ${poisoned}\\)`));
    const bad = await verify(true, "sum", "wrong.raw");
    assertEquals(bad.code, 1, bad.out);
  });
});

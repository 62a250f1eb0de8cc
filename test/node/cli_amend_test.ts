/**
 * Roster amendments from the command line (node/cli/roster_amend.ts, node/amendment_file.ts),
 * in-process through `main` with real node directories and files: a four-member federation
 * makes a join (approvals signed in parallel and merged; the joiner signs its own entry), a
 * removal and a key rotation by threshold, `roster status` showing each step (text and
 * `--json`); the no-fork rule (a member's second approval of another successor refused, its
 * record in the node directory); a removed member refused as a signer; a fork made by members
 * who erased their records, reported with both amendments and the equivocators (exit 1);
 * strict amendment files; usage errors; `fedagg verify --amendment` checking certificates of
 * rounds before and after a join under their own version (a stale version's refused).
 */
import "../../node/shims.ts";
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { loadIdentity } from "../../node/identity.ts";
import { loadChain } from "../../node/amendment_file.ts";
import { u32Bytes } from "../../protocol/encoding/bytes.ts";
import type { Roster } from "../../protocol/federation/roster.ts";
import { EndpointNet } from "../protocol/_harness.ts";
import { inputsFor } from "../protocol/_fixtures.ts";
import { cli, type CliRun, exists, withTempDir } from "./_helpers.ts";

async function ok(...args: string[]): Promise<CliRun> {
  const run = await cli(...args);
  assertEquals(run.code, 0, `${args.join(" ")}\nstdout: ${run.out}\nstderr: ${run.err}`);
  return run;
}

async function fails(code: number, pattern: RegExp, ...args: string[]): Promise<CliRun> {
  const run = await cli(...args);
  assertEquals(run.code, code, `${args.join(" ")}\nstdout: ${run.out}\nstderr: ${run.err}`);
  assertMatch(run.err + run.out, pattern);
  return run;
}

/** A federation of four members (t = 3) and three more node directories, all in `root`. */
async function federation(root: string) {
  const dirs = [0, 1, 2, 3, 4, 5].map((i) => `${root}/m${i}`);
  for (const [i, d] of dirs.entries()) {
    await ok(
      "init",
      "--dir",
      d,
      "--name",
      `Org ${i}`,
      "--listen",
      `/ip4/127.0.0.1/tcp/${4200 + i}`,
    );
  }
  const ids = await Promise.all(dirs.map(async (d) => (await loadIdentity(d)).peerId));
  const roster = `${root}/roster.json`;
  await ok("roster", "create", "--out", roster, "--federation", "fed", "--dim", "4");
  await ok(
    "roster",
    "add",
    "--roster",
    roster,
    ...dirs.slice(0, 4).flatMap((d) => ["--card", `${d}/card.json`]),
  );
  for (const d of dirs.slice(0, 4)) await ok("roster", "sign", "--roster", roster, "--dir", d);
  await ok("roster", "verify", "--roster", roster);
  return { dirs, ids, roster };
}

type StatusJson = {
  current: number;
  versions: {
    version: number;
    firstRound: number;
    threshold: number;
    members: { id: string; name: string }[];
    approval?: { approvedBy: string[] };
  }[];
  pending: {
    version: number;
    approvedBy: string[];
    needed: number;
    joinersMissing: string[];
    files: string[];
  }[];
  refused: { file: string; code: string; reason: string }[];
  fork: { version: number; equivocators: string[]; successors: { files: string[] }[] } | null;
};

async function statusOf(...chain: string[]): Promise<{ code: number; json: StatusJson }> {
  const run = await cli("roster", "status", ...chain, "--json");
  assert(run.code === 0 || run.code === 1, run.err);
  return { code: run.code, json: JSON.parse(run.out) };
}

Deno.test("cli amend: a join, a removal and a key rotation by threshold; status at each step", async () => {
  await withTempDir("fedagg-amend-", async (root) => {
    const { dirs, ids, roster } = await federation(root);
    const chain = ["--roster", roster];
    // A join: m4, from round 10.
    const a1 = `${root}/a1.json`;
    const proposed = await ok(
      "roster",
      "propose",
      ...chain,
      "--out",
      a1,
      "--first-round",
      "10",
      "--add",
      `${dirs[4]}/card.json`,
      "--json",
    );
    const p = JSON.parse(proposed.out);
    assertEquals([p.version, p.amends, p.needed, p.joiners], [1, 0, 3, [ids[4]]]);
    let s = (await statusOf(...chain, "--amendment", a1)).json;
    assertEquals(s.current, 0);
    assertEquals(s.pending[0].approvedBy, []);
    assertEquals(s.pending[0].joinersMissing, [ids[4]]);
    // Two members approve one copy, a third another copy, in parallel; the joiner signs.
    const copy = `${root}/a1-copy.json`;
    await Deno.copyFile(a1, copy);
    await ok("roster", "sign", ...chain, "--proposal", a1, "--dir", dirs[0]);
    await ok("roster", "sign", ...chain, "--proposal", a1, "--dir", dirs[1]);
    await ok("roster", "sign", ...chain, "--proposal", copy, "--dir", dirs[2]);
    const joiner = await ok(
      "roster",
      "sign",
      ...chain,
      "--proposal",
      a1,
      "--dir",
      dirs[4],
      "--json",
    );
    assertEquals(JSON.parse(joiner.out).role, "joiner");
    s = (await statusOf(...chain, "--amendment", a1)).json;
    assertEquals([s.current, s.pending[0].approvedBy.length], [0, 2]);
    // Copies count together in status, and merge into one file.
    assertEquals(
      (await statusOf(...chain, "--amendment", a1, "--amendment", copy)).json.current,
      1,
    );
    await ok("roster", "merge", a1, copy, "--out", a1, "--force");
    s = (await statusOf(...chain, "--amendment", a1)).json;
    assertEquals(s.current, 1);
    assertEquals(s.versions[1].firstRound, 10);
    assertEquals(s.versions[1].members.length, 5);
    assertEquals(s.versions[1].threshold, 4, "t follows n (it was the default)");
    assert(s.versions[1].members.some((m) => m.id === ids[4] && m.name === "Org 4"));
    assertEquals(s.versions[1].approval!.approvedBy.length, 3);

    // A removal of m3 from round 20, approved by four of version 1's five members.
    const chain1 = [...chain, "--amendment", a1];
    const a2 = `${root}/a2.json`;
    await ok(
      "roster",
      "propose",
      ...chain1,
      "--out",
      a2,
      "--first-round",
      "20",
      "--remove",
      ids[3],
    );
    for (const i of [0, 1, 3, 4]) {
      await ok("roster", "sign", ...chain1, "--proposal", a2, "--dir", dirs[i]);
    }
    const chain2 = [...chain1, "--amendment", a2];
    s = (await statusOf(...chain2)).json;
    assertEquals(s.current, 2);
    assert(!s.versions[2].members.some((m) => m.id === ids[3]));

    // A key rotation: m1's key is replaced by the one in m5 (a new identity, a new id).
    const a3 = `${root}/a3.json`;
    await ok(
      "roster",
      "propose",
      ...chain2,
      "--out",
      a3,
      "--first-round",
      "30",
      "--rotate",
      `${ids[1]}=${dirs[5]}/card.json`,
    );
    // The removed member can no longer sign.
    await fails(
      2,
      /is neither a member of version 2 nor joining/,
      "roster",
      "sign",
      ...chain2,
      "--proposal",
      a3,
      "--dir",
      dirs[3],
    );
    for (const i of [0, 2, 4, 5]) {
      await ok("roster", "sign", ...chain2, "--proposal", a3, "--dir", dirs[i]);
    }
    const text = await ok("roster", "status", ...chain2, "--amendment", a3);
    assertMatch(text.out, /^federation fed: current version 3$/m);
    assertMatch(text.out, /^version 3 \([0-9a-f]{16}…\) from round 30: 4 members, t = 3/m);
    assertMatch(text.out, new RegExp(`^  ${ids[5]}  Org 5$`, "m"));
    s = (await statusOf(...chain2, "--amendment", a3)).json;
    assertEquals(s.versions.map((v) => v.members.length), [4, 5, 4, 4]);
    assert(!s.versions[3].members.some((m) => m.id === ids[1]));
    assertEquals(s.fork, null);
    assertEquals(s.refused, []);
  });
});

Deno.test("cli amend: no forks: a second successor is refused; a fork made anyway is reported with evidence", async () => {
  await withTempDir("fedagg-amend-", async (root) => {
    const { dirs, ids, roster } = await federation(root);
    const chain = ["--roster", roster];
    const good = `${root}/good.json`;
    const evil = `${root}/evil.json`;
    await ok("roster", "propose", ...chain, "--out", good, "--first-round", "5", "--set", "clip=2");
    await ok("roster", "propose", ...chain, "--out", evil, "--first-round", "5", "--set", "clip=3");
    for (const i of [0, 1, 2]) {
      await ok("roster", "sign", ...chain, "--proposal", good, "--dir", dirs[i]);
    }
    // Signing the same amendment again is harmless; a rival is refused, the file left alone.
    await ok("roster", "sign", ...chain, "--proposal", good, "--dir", dirs[0]);
    const before = await Deno.readTextFile(evil);
    await fails(
      2,
      /already approved another successor of version 0/,
      "roster",
      "sign",
      ...chain,
      "--proposal",
      evil,
      "--dir",
      dirs[0],
    );
    assertEquals(await Deno.readTextFile(evil), before);
    assert(await exists(`${dirs[0]}/roster-approvals`));
    // The record is written before the signature exists: where it cannot be written, no
    // signature is made (m3's record directory is a file here).
    await Deno.writeTextFile(`${dirs[3]}/roster-approvals`, "not a directory");
    const evilBefore = await Deno.readTextFile(evil);
    const blocked = await cli("roster", "sign", ...chain, "--proposal", evil, "--dir", dirs[3]);
    assertEquals(blocked.code, 2, blocked.err);
    assertEquals(await Deno.readTextFile(evil), evilBefore, "no signature without the record");
    await Deno.remove(`${dirs[3]}/roster-approvals`);
    // m3 never approved anything: it may approve the rival.
    await ok("roster", "sign", ...chain, "--proposal", evil, "--dir", dirs[3]);
    // Two members erase their records and approve the rival too: both reach t.
    for (const i of [1, 2]) {
      await Deno.remove(`${dirs[i]}/roster-approvals`, { recursive: true });
      await ok("roster", "sign", ...chain, "--proposal", evil, "--dir", dirs[i]);
    }
    const { code, json } = await statusOf(...chain, "--amendment", good, "--amendment", evil);
    assertEquals(code, 1);
    assertEquals(json.current, 0, "neither successor is taken");
    assertEquals(json.fork!.version, 0);
    assertEquals([...json.fork!.equivocators].sort(), [ids[1], ids[2]].sort());
    assertEquals(json.fork!.successors.flatMap((c) => c.files).sort(), [evil, good].sort());
    const text = await cli("roster", "status", ...chain, "--amendment", good, "--amendment", evil);
    assertMatch(
      text.out,
      /^FORK at version 0: .* are both approved by t members; neither is taken/m,
    );
    // Nothing is built on a fork.
    await fails(
      2,
      /the chain forks at version 0/,
      "roster",
      "propose",
      ...chain,
      "--amendment",
      good,
      "--amendment",
      evil,
      "--out",
      `${root}/x.json`,
      "--first-round",
      "9",
      "--set",
      "clip=4",
    );
  });
});

Deno.test("cli amend: amendments of another chain, stale or malformed are refused by name", async () => {
  await withTempDir("fedagg-amend-", async (root) => {
    const { dirs, roster } = await federation(root);
    const chain = ["--roster", roster];
    const a1 = `${root}/a1.json`;
    await ok(
      "roster",
      "propose",
      ...chain,
      "--out",
      a1,
      "--first-round",
      "5",
      "--set",
      "maxWeight=7",
    );
    // An amendment of another federation's roster, renamed to this one, fits nowhere.
    const file = JSON.parse(await Deno.readTextFile(a1));
    await Deno.writeTextFile(
      `${root}/foreign.json`,
      JSON.stringify({ ...file, previous: "ab".repeat(32) }),
    );
    const { json } = await statusOf(...chain, "--amendment", `${root}/foreign.json`);
    assertEquals(json.refused.map((r) => [r.file, r.code]), [[
      `${root}/foreign.json`,
      "wrong-chain",
    ]]);
    await fails(
      2,
      /amends version abababababababab…, not version 0/,
      "roster",
      "sign",
      ...chain,
      "--proposal",
      `${root}/foreign.json`,
      "--dir",
      dirs[0],
    );
    // Strict files: a misspelled key, a wrong type.
    await Deno.writeTextFile(`${root}/bad.json`, JSON.stringify({ ...file, firstRoud: 5 }));
    await fails(
      2,
      /bad\.json: firstRoud: unknown key \(did you mean "firstRound"\?\)/,
      "roster",
      "status",
      ...chain,
      "--amendment",
      `${root}/bad.json`,
    );
    await Deno.writeTextFile(
      `${root}/bad.json`,
      JSON.stringify({ ...file, changes: [{ set: "maxWeight", value: "7" }] }),
    );
    await fails(
      2,
      /bad\.json: changes\[0\]\.value: must be a number, got a string/,
      "roster",
      "status",
      ...chain,
      "--amendment",
      `${root}/bad.json`,
    );
    // A proposal the protocol refuses is not written.
    await fails(
      2,
      /a roster needs 3/,
      "roster",
      "propose",
      ...chain,
      "--out",
      `${root}/x.json`,
      "--first-round",
      "5",
      "--remove",
      (await loadIdentity(dirs[0])).peerId,
      "--remove",
      (await loadIdentity(dirs[1])).peerId,
    );
    assert(!await exists(`${root}/x.json`));
    await fails(
      2,
      /first round 0 must be|--first-round must be an integer ≥ 1/,
      "roster",
      "propose",
      ...chain,
      "--out",
      `${root}/x.json`,
      "--first-round",
      "0",
      "--set",
      "clip=2",
    );
    await fails(
      2,
      /needs a change/,
      "roster",
      "propose",
      ...chain,
      "--out",
      `${root}/x.json`,
      "--first-round",
      "3",
    );
    await fails(
      2,
      /--set must be NAME=VALUE with NAME one of dim/,
      "roster",
      "propose",
      ...chain,
      "--out",
      `${root}/x.json`,
      "--first-round",
      "3",
      "--set",
      "mode=post-quantum",
    );
    await fails(
      2,
      /exists already/,
      "roster",
      "propose",
      ...chain,
      "--out",
      a1,
      "--first-round",
      "3",
      "--set",
      "clip=2",
    );
    // Copies of different amendments are not merged.
    const a2 = `${root}/a2.json`;
    await ok(
      "roster",
      "propose",
      ...chain,
      "--out",
      a2,
      "--first-round",
      "5",
      "--set",
      "maxWeight=8",
    );
    await fails(
      2,
      /a2\.json is not the same amendment as .*a1\.json: they differ in "changes"/,
      "roster",
      "merge",
      a1,
      a2,
      "--out",
      `${root}/m.json`,
    );
    // Help.
    for (const sub of ["propose", "status"]) {
      const help = await cli("roster", sub, "--help");
      assertEquals(help.code, 0);
      assertMatch(help.out, /fedagg roster propose --roster FILE/);
    }
  });
});

Deno.test("cli amend: fedagg verify walks the chain and checks a certificate under its round's version", async () => {
  await withTempDir("fedagg-amend-", async (root) => {
    const { dirs, roster } = await federation(root);
    const chain = ["--roster", roster];
    const a1 = `${root}/a1.json`;
    await ok(
      "roster",
      "propose",
      ...chain,
      "--out",
      a1,
      "--first-round",
      "2",
      "--add",
      `${dirs[4]}/card.json`,
    );
    for (const i of [0, 1, 2, 4]) {
      await ok("roster", "sign", ...chain, "--proposal", a1, "--dir", dirs[i]);
    }
    const { chain: loaded } = await loadChain(roster, [a1]);
    assertEquals(loaded.tip.version, 1);
    const identities = await Promise.all(dirs.map((d) => loadIdentity(d)));
    const certify = async (r: Roster, round: number, label: string) => {
      const signers = r.members.map((m) => identities.find((i) => i.peerId === m.id)!.signer);
      const net = new EndpointNet({ roster: r, signers }, undefined, `cli-amend/${label}`);
      try {
        await net.submit(round, inputsFor(r, round));
        await net.deliver();
        const final = net.events("final").find((f) => f.member === 0)!;
        const cert = `${root}/${label}.cbor`;
        const body = `${root}/${label}.u32`;
        await Deno.writeFile(cert, final.certificate);
        await Deno.writeFile(body, u32Bytes(final.aggregate));
        return ["--certificate", cert, "--aggregate", body];
      } finally {
        net.close();
      }
    };
    const [v0, v1] = loaded.versions;
    const before = await certify(v0.roster, 1, "before");
    const after = await certify(v1.roster, 2, "after");
    const stale = await certify(v0.roster, 2, "stale");
    const withChain = [...chain, "--amendment", a1];
    assertMatch(
      (await ok("verify", ...before, ...withChain)).out,
      /^valid: round 1 view 0 \(roster version 0\)/,
    );
    const json = JSON.parse((await ok("verify", ...after, ...withChain, "--json")).out);
    assertEquals([json.valid, json.round, json.rosterVersion, json.members.length], [
      true,
      2,
      1,
      5,
    ]);
    await fails(
      1,
      /INVALID: the certificate \S+ is not valid: wrong-session: round 2 runs under roster version 1/,
      "verify",
      ...stale,
      ...withChain,
    );
    // Without the amendment the verifier knows only version 0.
    await fails(1, /INVALID/, "verify", ...after, ...chain);
  });
});

Deno.test("cli amend: init refuses a display name the roster would refuse, writing nothing", async () => {
  await withTempDir("fedagg-amend-", async (root) => {
    await fails(
      2,
      /^fedagg init: name: must be at most 64 characters/,
      "init",
      "--dir",
      `${root}/a`,
      "--name",
      "x".repeat(65),
    );
    await fails(
      2,
      /name: must be at most 64 characters without control characters/,
      "init",
      "--dir",
      `${root}/b`,
      "--name",
      "a\tb",
    );
    assert(!await exists(`${root}/a`) && !await exists(`${root}/b`));
    await ok("init", "--dir", `${root}/c`, "--name", "x".repeat(64));
  });
});

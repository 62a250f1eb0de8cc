/**
 * The command line (node/cli/mod.ts), run in-process through `main` with console output captured:
 * `--help` of every command (exit 0; `roster create --help` states the defaults it applies);
 * usage errors (exit 2 with a message): unknown commands and options, missing or malformed
 * values; `init` (the directory and its files with their modes, the card, refusal of a second
 * init); `roster create/add/sign/verify` end to end with three
 * members (verify exits 1 until all three signed, then 0; `--json` parses); `roster create` and
 * `roster add` refusing an impossible threshold (and other parameters no member list can run
 * with) at once, as one line, writing nothing; a roster file with an unknown key or a wrong type
 * refused naming the key; `roster create` refusing to overwrite without `--force`; `roster
 * merge` of copies signed in parallel (and its refusals) (`fedagg run`'s start-up, in real
 * processes, is `cli_run_test.ts`); a sparse roster
 * (`secagg+` graph, or Harary with `--degree`); `submit`/`status`/`aggregate` without a running
 * node (exit 2, pointing at `fedagg run`); and `verify` of a genuine final certificate and
 * aggregate produced by an in-process round between Endpoints signed with real identities
 * (exit 0, `--mean` matches) against tampered aggregates, certificates, means and rosters
 * (exit 1, `{valid: false}`).
 */
import "../../node/shims.ts";
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { u32Bytes } from "../../protocol/encoding/bytes.ts";
import type { ProtocolEvent } from "../../protocol/round/events.ts";
import { inlineExpander } from "../../protocol/math/masking.ts";
import { dequantizeMean, quantize } from "../../protocol/math/quantize.ts";
import type { Roster } from "../../protocol/federation/roster.ts";
import type { MemberSigner } from "../../protocol/federation/signer.ts";
import {
  createIdentity,
  loadIdentity,
  type MemberCard,
  type NodeIdentity,
} from "../../node/identity.ts";
import {
  addMember,
  DEFAULT_PARAMETERS,
  loadRunnableRoster,
  newRosterFile,
  type RosterFile,
  rosterOf,
  signRoster,
  writeRosterFile,
} from "../../node/roster_file.ts";
import { encodeNpy } from "../../node/tensor_formats/mod.ts";
import { rngFor } from "../protocol/_fixtures.ts";
import { EndpointNet } from "../protocol/_harness.ts";
import { cli, type CliRun, exists, modeOf, withTempDir } from "./_helpers.ts";

function expectCode(run: CliRun, code: number, what: string): void {
  assertEquals(run.code, code, `${what}\nstdout: ${run.out}\nstderr: ${run.err}`);
}

type FinalEvent = Extract<ProtocolEvent, { type: "final" }>;

/**
 * Runs `round` to completion on an in-memory {@link EndpointNet} (one Endpoint per member,
 * signers by roster index, frames delivered in FIFO order at time 0); fails if an endpoint
 * reports an internal error or the round does not settle within 10 000 deliveries. Resolves to
 * the `final` event of every member, by roster index.
 */
async function runRound(
  roster: Roster,
  signers: readonly MemberSigner[],
  round: number,
): Promise<FinalEvent[]> {
  // Endpoint rngs: rngFor("cli/endpoint", self), the same seeds as rngFor("cli", "endpoint", self).
  const net = new EndpointNet({ roster, signers }, inlineExpander, "cli/endpoint");
  try {
    const inputs = signers.map((_, i) => {
      const r = rngFor("cli", "input", round, i);
      const x = new Float32Array(roster.dim).map(() => r(1)[0] / 128 - 1);
      return quantize(x, 1 + (i % 3), roster.quantization, r);
    });
    await net.submit(round, inputs);
    await net.deliver();
    assertEquals(net.queued().length, 0, "the round settles");
    assertEquals(net.events("internal-error"), [], "no internal error");
    const finals: FinalEvent[] = [];
    for (const f of net.events("final")) finals[f.member] = f;
    return finals;
  } finally {
    net.close();
  }
}

Deno.test("cli: --help exits 0 for every command", async () => {
  const cases = [
    ["--help"],
    ["-h"],
    ["help"],
    ["init", "--help"],
    ["roster", "--help"],
    ["roster", "-h"],
    ["roster", "create", "--help"],
    ["roster", "add", "--help"],
    ["roster", "sign", "--help"],
    ["roster", "verify", "--help"],
    ["run", "--help"],
    ["submit", "--help"],
    ["aggregate", "--help"],
    ["status", "--help"],
    ["verify", "--help"],
    // --help wins over missing required options.
    ["submit", "--round", "1", "--help"],
  ];
  for (const args of cases) {
    const r = await cli(...args);
    expectCode(r, 0, args.join(" "));
    assertMatch(r.out, /Usage/);
    assertEquals(r.err, "", args.join(" "));
  }
  // Each command's help is its own.
  assertMatch((await cli("init", "--help")).out, /fedagg init --dir DIR/);
  assertMatch((await cli("verify", "--help")).out, /fedagg verify --certificate FILE/);
  assertMatch((await cli("roster", "create", "--help")).out, /--corrupt F .*\n {2}--dropout F /);
  // No command at all: the overview, and a usage exit code.
  const none = await cli();
  expectCode(none, 2, "no command");
  assertMatch(none.out, /Commands:/);
});

Deno.test("cli: unknown commands, options and bad values exit 2 with a message", async () => {
  await withTempDir("fedagg-cli-", async (dir) => {
    const cases: { args: string[]; message: RegExp }[] = [
      { args: ["frobnicate"], message: /unknown command frobnicate/ },
      // Names every object has are commands neither.
      { args: ["constructor"], message: /unknown command constructor/ },
      { args: ["toString"], message: /unknown command toString/ },
      { args: ["init", "--dir", `${dir}/x`, "--frob"], message: /unknown option --frob/ },
      { args: ["init", "--dir", `${dir}/x`, "stray"], message: /unknown option stray/ },
      { args: ["init"], message: /--dir is required/ },
      { args: ["status", "--bogus", "1"], message: /unknown option --bogus/ },
      { args: ["roster"], message: /fedagg roster create/ },
      { args: ["roster", "frob"], message: /unknown roster command frob/ },
      {
        args: ["roster", "create", "--out", `${dir}/r.json`, "--federation", "f", "--dim", "x"],
        message: /--dim must be an integer ≥ 1, got x/,
      },
      {
        args: ["roster", "create", "--out", `${dir}/r.json`, "--federation", "f", "--dim", "0"],
        message: /--dim must be an integer ≥ 1/,
      },
      {
        args: ["roster", "create", "--out", `${dir}/r.json`, "--dim", "4"],
        message: /--federation is required/,
      },
      {
        args: [
          "roster",
          "create",
          ...["--out", `${dir}/r.json`, "--federation", "f", "--dim", "4", "--mode", "quantum"],
        ],
        message: /--mode must be classical or post-quantum/,
      },
      {
        args: [
          "roster",
          "create",
          ...["--out", `${dir}/r.json`, "--federation", "f", "--dim", "4", "--graph", "ring"],
        ],
        message: /--graph must be complete or sparse/,
      },
      {
        args: [
          "roster",
          "create",
          ...["--out", `${dir}/r.json`, "--federation", "f", "--dim", "4", "--clip", "wide"],
        ],
        message: /--clip must be a number/,
      },
      { args: ["roster", "add", "--roster", `${dir}/r.json`], message: /not found/ },
      { args: ["roster", "verify", "--roster", `${dir}/none.json`], message: /not found/ },
      { args: ["submit", "--dir", dir, "--round", "x"], message: /--round must be an integer/ },
      // Options are checked before any file is read.
      { args: ["run", "--dir", `${dir}/nowhere`], message: /--roster is required/ },
      {
        args: ["run", "--dir", `${dir}/nowhere`, "--roster", `${dir}/none.json`],
        message: /fedagg init/,
      },
      { args: ["verify", "--roster", `${dir}/none.json`], message: /not found/ },
    ];
    for (const { args, message } of cases) {
      const r = await cli(...args);
      expectCode(r, 2, args.join(" "));
      assertMatch(r.err, message);
    }
    assertEquals(await exists(`${dir}/x`), false, "a refused init creates nothing");
    assertEquals(await exists(`${dir}/r.json`), false, "a refused create writes nothing");
  });
});

Deno.test("cli: init creates the node directory, its files and the card", async () => {
  await withTempDir("fedagg-cli-", async (root) => {
    const dir = `${root}/node-a`;
    const r = await cli("init", "--dir", dir);
    expectCode(r, 0, "init");
    assertEquals((await Deno.stat(dir)).mode! & 0o777, 0o700);
    assertEquals(await modeOf(`${dir}/identity.json`), 0o600);
    assertEquals(await modeOf(`${dir}/api.token`), 0o600);
    assertEquals(await modeOf(`${dir}/node.json`), 0o600);
    assertEquals(await modeOf(`${dir}/card.json`), 0o644);
    const token = (await Deno.readTextFile(`${dir}/api.token`)).trim();
    assert(token.length >= 16, "the API accepts the token");
    assertMatch(token, /^[A-Za-z0-9]+$/);
    const card = JSON.parse(await Deno.readTextFile(`${dir}/card.json`)) as MemberCard;
    const identity = await loadIdentity(dir);
    assertEquals(card, identity.card(["/ip4/127.0.0.1/tcp/4001"]));
    assertEquals(JSON.parse(await Deno.readTextFile(`${dir}/node.json`)), {
      listen: ["/ip4/127.0.0.1/tcp/4001"],
    });
    assert(r.out.includes(identity.peerId), r.out);
    assert(!r.out.includes(token), "the token is not printed");

    // A second init refuses and changes nothing.
    const before = await Deno.readFile(`${dir}/identity.json`);
    const again = await cli("init", "--dir", dir);
    expectCode(again, 2, "second init");
    assertMatch(again.err, /already exists/);
    assertEquals(await Deno.readFile(`${dir}/identity.json`), before);

    // --listen and --announce, with --json output.
    const other = `${root}/node-b`;
    const j = await cli(
      "init",
      ...["--dir", other, "--json"],
      ...["--listen", "/ip4/0.0.0.0/tcp/5001", "--listen", "/ip6/::/tcp/5001"],
      ...["--announce", "/dns4/b.example/tcp/5001"],
    );
    expectCode(j, 0, "init --json");
    const printed = JSON.parse(j.out) as MemberCard;
    assertEquals(printed.addresses, ["/dns4/b.example/tcp/5001"]);
    assertEquals(JSON.parse(await Deno.readTextFile(`${other}/card.json`)), printed);
    assertEquals(JSON.parse(await Deno.readTextFile(`${other}/node.json`)).listen, [
      "/ip4/0.0.0.0/tcp/5001",
      "/ip6/::/tcp/5001",
    ]);
    assert(printed.id !== card.id);
  });
});

Deno.test("cli: roster create, add, sign and verify with three members", async () => {
  await withTempDir("fedagg-cli-", async (root) => {
    const dirs = [0, 1, 2].map((i) => `${root}/m${i}`);
    for (const [i, d] of dirs.entries()) {
      expectCode(
        await cli("init", "--dir", d, "--listen", `/ip4/127.0.0.1/tcp/${4100 + i}`),
        0,
        "init",
      );
    }
    const ids = await Promise.all(dirs.map(async (d) => (await loadIdentity(d)).peerId));
    const path = `${root}/roster.json`;
    const created = await cli(
      "roster",
      "create",
      ...["--out", path, "--federation", "hospitals", "--dim", "100"],
      ...["--max-weight", "50", "--clip", "2.5", "--stage-timeout", "2000"],
      ...["--advertise-timeout", "5000", "--view-timeout", "7000", "--round-deadline", "90000"],
    );
    expectCode(created, 0, "create");
    assertEquals(await modeOf(path), 0o644);
    const fresh = JSON.parse(await Deno.readTextFile(path)) as RosterFile;
    assertEquals(fresh.members, []);
    assertEquals(fresh.dim, 100);
    assertEquals(fresh.maxWeight, 50);
    assertEquals(fresh.clip, 2.5);
    assertEquals(fresh.graph, { kind: "complete" });
    assertEquals(fresh.mode, "classical");
    assertEquals([fresh.stageTimeoutMs, fresh.advertiseTimeoutMs, fresh.viewTimeoutMs], [
      2000,
      5000,
      7000,
    ]);
    assertEquals(fresh.roundDeadlineMs, 90_000);

    const cards = dirs.flatMap((d) => ["--card", `${d}/card.json`]);
    expectCode(await cli("roster", "add", "--roster", path, ...cards), 0, "add");
    const added = JSON.parse(await Deno.readTextFile(path)) as RosterFile;
    assertEquals(rosterOf(added).roundDeadlineMs, 90_000, "the roster runs the given deadline");
    // Adding the same card again is refused (exit 2) and leaves the file as it was.
    const dup = await cli("roster", "add", "--roster", path, "--card", `${dirs[0]}/card.json`);
    expectCode(dup, 2, "duplicate add");
    assertMatch(dup.err, /already in the roster/);
    const badCard = await cli("roster", "add", "--roster", path, "--card", `${root}/none.json`);
    expectCode(badCard, 2, "missing card");
    assertMatch(badCard.err, /not a readable JSON member card/);

    const verify = async () => {
      const text = await cli("roster", "verify", "--roster", path);
      const json = await cli("roster", "verify", "--roster", path, "--json");
      assertEquals(json.code, text.code);
      return { code: text.code, text: text.out, json: JSON.parse(json.out) };
    };
    let v = await verify();
    assertEquals(v.code, 1);
    assertMatch(v.text, /NOT complete/);
    assertEquals(v.json.complete, false);
    assertEquals(v.json.members, 3);
    assertEquals(v.json.federation, "hospitals");
    assertEquals(v.json.threshold, 3);
    assertEquals([...v.json.missing].sort(), [...ids].sort());
    assertEquals(v.json.signed, []);

    for (const [i, d] of dirs.entries()) {
      const s = await cli("roster", "sign", "--roster", path, "--dir", d);
      expectCode(s, 0, `sign ${i}`);
      assert(s.out.includes(ids[i]), s.out);
      v = await verify();
      if (i < 2) {
        assertEquals(v.code, 1, `after ${i + 1} signatures`);
        assertEquals(v.json.signed.length, i + 1);
        assertEquals(v.json.missing.length, 2 - i);
      }
    }
    assertEquals(v.code, 0);
    assertMatch(v.text, /valid, signed by all 3 members \(t = 3\)/);
    assertEquals(v.json.complete, true);
    assertEquals([...v.json.signed].sort(), [...ids].sort());
    assertEquals(v.json.missing, []);
    assertEquals(v.json.invalid, []);
    assertEquals(await modeOf(path), 0o644);
    for (const id of ids) assertEquals((await loadRunnableRoster(path, id)).roster.dim, 100);

    // A node that is not a member cannot sign.
    expectCode(await cli("init", "--dir", `${root}/outsider`), 0, "init outsider");
    const outsider = await cli("roster", "sign", "--roster", path, "--dir", `${root}/outsider`);
    expectCode(outsider, 2, "outsider sign");
    assertMatch(outsider.err, /not in this roster/);

    // Adding a member resets the signatures: verify fails again.
    expectCode(
      await cli("roster", "add", "--roster", path, "--card", `${root}/outsider/card.json`),
      0,
      "add a fourth",
    );
    v = await verify();
    assertEquals(v.code, 1);
    assertEquals(v.json.missing.length, 4);
  });
});

/** Asserts a refusal printed as one line naming the command (no stack trace), exit 2. */
function expectOneLine(run: CliRun, pattern: RegExp, what: string): void {
  expectCode(run, 2, what);
  assertEquals(run.err.trimEnd().split("\n").length, 1, `${what}: one line\n${run.err}`);
  assert(!/^\s+at /m.test(run.err), `${what}: no stack trace\n${run.err}`);
  assertMatch(run.err, pattern, what);
}

Deno.test("cli: roster create and add refuse an impossible threshold at once, writing nothing", async () => {
  await withTempDir("fedagg-cli-", async (root) => {
    const dirs = [0, 1, 2].map((i) => `${root}/m${i}`);
    for (const d of dirs) expectCode(await cli("init", "--dir", d), 0, "init");
    const cards = dirs.flatMap((d) => ["--card", `${d}/card.json`]);
    const base = ["roster", "create", "--federation", "f", "--dim", "4"];
    const path = `${root}/roster.json`;

    // create: what no member list could run with (t = 1 needs n < 2; a view timeout below the
    // stage timeout; t = 3 with a Harary graph of degree 6, which needs n ≥ 8 > 2t − 1).
    for (
      const [extra, pattern] of [
        [["--threshold", "1"], /^fedagg roster: threshold: .*got 1 \(checked for .* n = 3\)$/],
        [["--stage-timeout", "1000", "--view-timeout", "500"], /viewTimeoutMs: must exceed/],
        [["--view-timeout", "30000", "--round-deadline", "20000"], /roundDeadlineMs: must exceed/],
        [
          ["--graph", "sparse", "--degree", "6", "--graph-threshold", "5", "--threshold", "3"],
          /threshold: .*n = 8\)$/,
        ],
      ] as const
    ) {
      const run = await cli(...base, "--out", path, ...extra);
      expectOneLine(run, pattern, `create ${extra.join(" ")}`);
      assert(!await exists(path), "nothing written");
    }

    // add: t = 100 with three members is refused with the count, and the file is left as it was.
    expectCode(await cli(...base, "--out", path, "--threshold", "100"), 0, "create t = 100");
    const before = await Deno.readTextFile(path);
    const tooFew = await cli("roster", "add", "--roster", path, ...cards);
    expectOneLine(tooFew, /threshold: 100 is more than the roster's 3 members/, "add to t = 100");
    assertEquals(await Deno.readTextFile(path), before, "nothing written");

    // add: t = 2 is fine for three members; a fourth makes t ≤ n/2, refused.
    expectCode(
      await cli(...base, "--out", path, "--threshold", "2", "--dim", "4", "--force"),
      0,
      "t = 2",
    );
    expectCode(await cli("roster", "add", "--roster", path, ...cards), 0, "add three");
    const three = await Deno.readTextFile(path);
    expectCode(await cli("init", "--dir", `${root}/m3`), 0, "init a fourth");
    const fourth = await cli("roster", "add", "--roster", path, "--card", `${root}/m3/card.json`);
    expectOneLine(fourth, /threshold: must be an integer in \(n\/2, n\] = \(2, 4\]/, "fourth");
    assertEquals(await Deno.readTextFile(path), three, "nothing written");
  });
});

Deno.test("cli: a roster file with a wrong type or an unknown key is refused naming the key", async () => {
  await withTempDir("fedagg-cli-", async (root) => {
    expectCode(await cli("init", "--dir", `${root}/m`), 0, "init");
    const path = `${root}/r.json`;
    expectCode(
      await cli("roster", "create", "--out", path, "--federation", "f", "--dim", "4"),
      0,
      "",
    );
    const good = JSON.parse(await Deno.readTextFile(path));
    const add = () => cli("roster", "add", "--roster", path, "--card", `${root}/m/card.json`);
    for (
      const [edit, pattern] of [
        // Members that are not a list used to reach addMember and fail as a TypeError.
        [{ members: 5 }, /r\.json: members: must be a list, got a number$/],
        [{ threshold: "2" }, /r\.json: threshold: must be a number, got a string$/],
        [{ treshold: 2 }, /r\.json: treshold: unknown key \(did you mean "threshold"\?\)/],
        [{ graph: { kind: "complete", degree: 4 } }, /graph\.degree: unknown key/],
        [{ graph: { kind: "ring" } }, /graph\.kind: must be "complete" or "harary" or "secagg\+"/],
        [{ fedagg: "fedagg/roster/v1" }, /earlier fedagg, whose signatures did not cover/],
      ] as const
    ) {
      await Deno.writeTextFile(path, JSON.stringify({ ...good, ...edit }));
      expectOneLine(await add(), pattern, JSON.stringify(edit));
    }
    const { scale: _, ...missing } = good;
    await Deno.writeTextFile(path, JSON.stringify(missing));
    expectOneLine(await add(), /r\.json: scale: is missing$/, "missing scale");
    await Deno.writeTextFile(path, JSON.stringify(good));
    expectCode(await add(), 0, "the genuine file");
  });
});

Deno.test("cli: a sparse roster writes a secagg+ graph (or Harary with --degree)", async () => {
  await withTempDir("fedagg-cli-", async (root) => {
    const base = ["roster", "create", "--federation", "f", "--dim", "10", "--graph", "sparse"];
    const path = `${root}/sparse.json`;
    const r = await cli(...base, "--out", path, "--corrupt", "0.05", "--dropout", "0.1");
    expectCode(r, 0, "sparse");
    const file = JSON.parse(await Deno.readTextFile(path)) as RosterFile;
    assertEquals(file.graph, { kind: "secagg+", corruptFraction: 0.05, dropoutFraction: 0.1 });
    const defaults = `${root}/defaults.json`;
    expectCode(await cli(...base, "--out", defaults), 0, "sparse defaults");
    assertEquals(JSON.parse(await Deno.readTextFile(defaults)).graph, {
      kind: "secagg+",
      corruptFraction: 0.05,
      dropoutFraction: 0.1,
    });
    const harary = `${root}/harary.json`;
    expectCode(await cli(...base, "--out", harary, "--degree", "4"), 0, "harary");
    assertEquals(JSON.parse(await Deno.readTextFile(harary)).graph, {
      kind: "harary",
      degree: 4,
      threshold: 3,
    });
    const explicit = `${root}/explicit.json`;
    expectCode(
      await cli(...base, "--out", explicit, "--degree", "6", "--graph-threshold", "5"),
      0,
      "harary with threshold",
    );
    assertEquals(JSON.parse(await Deno.readTextFile(explicit)).graph, {
      kind: "harary",
      degree: 6,
      threshold: 5,
    });
    const pq = `${root}/pq.json`;
    expectCode(
      await cli(
        "roster",
        "create",
        "--out",
        pq,
        "--federation",
        "f",
        "--dim",
        "3",
        "--mode",
        "post-quantum",
      ),
      0,
      "post-quantum",
    );
    assertEquals(JSON.parse(await Deno.readTextFile(pq)).mode, "post-quantum");
  });
});

Deno.test("cli: roster create --help states the defaults the command applies", async () => {
  const help = (await cli("roster", "create", "--help")).out;
  const stated = (option: string, pattern = String.raw`\(default ([^)\s]+)\)`) => {
    // The option's line and its continuation (indented to the description column, 34).
    const m = new RegExp(String.raw`^  --${option} [^\n]*(?:\n {34}[^\n]*)?`, "m").exec(help);
    assert(m !== null, `--${option} in the help`);
    const d = new RegExp(pattern).exec(m[0]);
    assert(d !== null, `a default for --${option} in: ${m[0]}`);
    return d[1];
  };
  await withTempDir("fedagg-cli-", async (root) => {
    const base = ["roster", "create", "--federation", "f", "--dim", "10"];
    const create = async (name: string, ...extra: string[]) => {
      expectCode(await cli(...base, "--out", `${root}/${name}`, ...extra), 0, name);
      return JSON.parse(await Deno.readTextFile(`${root}/${name}`)) as RosterFile;
    };
    const plain = await create("plain.json");
    assertEquals(plain.mode, stated("mode"));
    assertEquals(plain.clip, Number(stated("clip")));
    assertEquals(plain.maxWeight, Number(stated("max-weight")));
    assertEquals(plain.graph.kind, stated("graph"));
    assertEquals(plain.stageTimeoutMs, Number(stated("stage-timeout")));
    assertEquals(plain.advertiseTimeoutMs, Number(stated("advertise-timeout")));
    assertEquals(plain.viewTimeoutMs, Number(stated("view-timeout")));
    // No round deadline in the file: the roster takes (n + 1) × (advertise + view timeout).
    assertEquals(plain.roundDeadlineMs, null);
    // The advertise and view timeouts follow a stage timeout that is given (the protocol's rule).
    const slow = await create("slow.json", "--stage-timeout", "5000");
    assertEquals(
      [slow.stageTimeoutMs, slow.advertiseTimeoutMs, slow.viewTimeoutMs],
      [5000, 30_000, 15_000],
    );
    const sparse = await create("sparse.json", "--graph", "sparse");
    assertEquals(sparse.graph, {
      kind: "secagg+",
      corruptFraction: Number(stated("corrupt")),
      dropoutFraction: Number(stated("dropout")),
    });
    assertEquals(stated("corrupt"), "0.05");
    assertEquals(stated("dropout"), "0.1");
    const harary = await create("harary.json", "--graph", "sparse", "--degree", "4");
    assertEquals(harary.graph, {
      kind: "harary",
      degree: 4,
      threshold: Number(stated("graph-threshold", String.raw`(\d+) for K = 4`)),
    });
    assertMatch(help, /--graph-threshold TK +its share threshold \(default ⌊\(K\+1\)\/2⌋ \+ 1/);
  });
});

Deno.test("cli: submit, status and aggregate without a running node exit 2 naming `fedagg run`", async () => {
  await withTempDir("fedagg-cli-", async (root) => {
    const dir = `${root}/node`;
    expectCode(await cli("init", "--dir", dir), 0, "init");
    const update = `${root}/update.f32`;
    await Deno.writeFile(update, new Uint8Array(16));
    const cases = [
      ["submit", "--dir", dir, "--round", "0", "--file", update, "--num-samples", "1"],
      ["status", "--dir", dir],
      ["status", "--dir", dir, "--json"],
      ["aggregate", "--dir", dir, "--round", "0", "--out", `${root}/mean.npy`],
    ];
    for (const args of cases) {
      const r = await cli(...args);
      expectCode(r, 2, args.join(" "));
      assert(r.err.includes(`fedagg run --dir ${dir}`), r.err);
    }
    assertEquals(await exists(`${root}/mean.npy`), false);
    // Not a node directory at all: the message says so.
    const bare = await cli("status", "--dir", `${root}/nothing`);
    expectCode(bare, 2, "status in a non-node dir");
    assertMatch(bare.err, /api\.token not found/);
    // A stale api.json (the node stopped): unreachable, still a clean exit 2.
    const port = (() => {
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const p = (l.addr as Deno.NetAddr).port;
      l.close();
      return p;
    })();
    await Deno.writeTextFile(
      `${dir}/api.json`,
      JSON.stringify({ url: `http://127.0.0.1:${port}` }),
    );
    // The module doc promises 2 for an unreachable node (no node to talk to), not 1.
    for (const args of cases) {
      const stale = await cli(...args);
      expectCode(stale, 2, `${args.join(" ")} with a stale api.json`);
      assertMatch(stale.err, /cannot reach the node/);
    }
    // The file to submit is read first: a missing one is reported as such.
    const noFile = await cli(
      "submit",
      ...["--dir", dir, "--round", "0", "--file", `${root}/none`, "--num-samples", "1"],
    );
    expectCode(noFile, 2, "submit a missing file");
    assertMatch(noFile.err, /cannot read/);
  });
});

Deno.test("cli: verify accepts a genuine final certificate and refuses tampered inputs", async () => {
  await withTempDir("fedagg-cli-", async (root) => {
    // Three real identities, their roster file, and one round between Endpoints they sign for.
    const identities: NodeIdentity[] = [];
    for (let i = 0; i < 3; i++) {
      identities.push(await createIdentity(`${root}/m${i}`, rngFor("cli", "verify", i)));
    }
    let file = newRosterFile({
      ...DEFAULT_PARAMETERS,
      federation: "cli-verify",
      dim: 8,
      maxWeight: 10,
      stageTimeoutMs: 1000,
      advertiseTimeoutMs: 1000,
      viewTimeoutMs: 3000,
    });
    for (const id of identities) file = addMember(file, id.card(["/ip4/127.0.0.1/tcp/1"]));
    const unsigned = file;
    for (const id of identities) file = await signRoster(file, id);
    const rosterPath = `${root}/roster.json`;
    await writeRosterFile(rosterPath, file);
    const roster = rosterOf(file);
    const signers = roster.members.map((m) => identities.find((i) => i.peerId === m.id)!.signer);
    const finals = await runRound(roster, signers, 0);
    assertEquals(finals.filter((f) => f !== undefined).length, 3, "final at every member");
    const final = finals[0];
    assertEquals(final.members, [0, 1, 2]);
    const cert = `${root}/final.cbor`;
    const body = `${root}/aggregate.u32`;
    await Deno.writeFile(cert, final.certificate);
    await Deno.writeFile(body, u32Bytes(final.aggregate));
    const mean = dequantizeMean(final.aggregate, roster.quantization, final.members.length);
    const meanPath = `${root}/mean.npy`;
    await Deno.writeFile(meanPath, encodeNpy(mean));

    const verify = (...extra: string[]) =>
      cli("verify", "--certificate", cert, "--aggregate", body, "--roster", rosterPath, ...extra);

    const ok = await verify();
    expectCode(ok, 0, "genuine");
    assertMatch(ok.out, /^valid: round 0 view 0/);
    const okJson = await verify("--json");
    expectCode(okJson, 0, "genuine --json");
    const result = JSON.parse(okJson.out);
    assertEquals(result.valid, true);
    assertEquals(result.round, 0);
    assertEquals(result.view, 0);
    assertEquals(result.members, roster.members.map((m) => m.id));
    assertEquals(result.threshold, roster.threshold);
    assert(result.cosigners >= roster.threshold);
    assertEquals(result.meanMatches, undefined);
    const withMean = JSON.parse((await verify("--mean", meanPath, "--json")).out);
    assertEquals(withMean.valid, true);
    assertEquals(withMean.meanMatches, true);
    expectCode(await verify("--mean", meanPath), 0, "matching mean");

    // A mean that differs in one value.
    const off = mean.slice();
    off[3] = off[3] + 0.001;
    const offPath = `${root}/off.npy`;
    await Deno.writeFile(offPath, encodeNpy(off));
    const wrongMean = await verify("--mean", offPath, "--json");
    expectCode(wrongMean, 1, "wrong mean");
    assertEquals(JSON.parse(wrongMean.out).valid, false);
    assertEquals(JSON.parse(wrongMean.out).meanMatches, false);

    // A tampered aggregate: one bit, the weight, or truncated.
    const genuine = u32Bytes(final.aggregate).slice();
    const tampered = [
      (b: Uint8Array) => (b[0] ^= 1, b),
      (b: Uint8Array) => (b[b.length - 4] ^= 1, b),
      (b: Uint8Array) => b.slice(0, b.length - 4),
      () => new Uint8Array(0),
    ];
    for (const [i, tamper] of tampered.entries()) {
      await Deno.writeFile(body, tamper(genuine.slice()));
      const r = await verify("--json");
      expectCode(r, 1, `tampered aggregate ${i}`);
      const j = JSON.parse(r.out);
      assertEquals(j.valid, false);
      assert(typeof j.reason === "string" && j.reason.length > 0);
      const text = await verify();
      expectCode(text, 1, `tampered aggregate ${i} (text)`);
      assertMatch(text.out, /^INVALID: /);
    }
    await Deno.writeFile(body, genuine);
    expectCode(await verify(), 0, "genuine again");

    // A tampered certificate.
    const certBytes = final.certificate.slice();
    certBytes[Math.floor(certBytes.length / 2)] ^= 0x10;
    await Deno.writeFile(cert, certBytes);
    const badCert = await verify("--json");
    expectCode(badCert, 1, "tampered certificate");
    assertEquals(JSON.parse(badCert.out).valid, false);
    await Deno.writeFile(cert, final.certificate.slice(0, 10));
    expectCode(await verify(), 1, "truncated certificate");
    await Deno.writeFile(cert, final.certificate);

    // The same files against another roster (a changed parameter) that every member signed:
    // the roster is a valid trust anchor, but the certificate is for the first one.
    let changed: RosterFile = { ...unsigned, clip: 2 };
    for (const id of identities) changed = await signRoster(changed, id);
    const otherRoster = `${root}/other.json`;
    await writeRosterFile(otherRoster, changed);
    expectCode(await cli("roster", "verify", "--roster", otherRoster), 0, "other roster signed");
    const other = await cli(
      "verify",
      ...["--certificate", cert, "--aggregate", body, "--roster", otherRoster, "--json"],
    );
    expectCode(other, 1, "another roster");
    const otherResult = JSON.parse(other.out);
    assertEquals(otherResult.valid, false);
    assertMatch(otherResult.reason, /another roster/);
    assert(!otherResult.reason.includes("not signed"), otherResult.reason);

    // The roster is the trust anchor: one that not every member signed is refused.
    const unsignedPath = `${root}/unsigned.json`;
    await writeRosterFile(unsignedPath, unsigned);
    const notSigned = await cli(
      "verify",
      ...["--certificate", cert, "--aggregate", body, "--roster", unsignedPath, "--json"],
    );
    expectCode(notSigned, 1, "unsigned roster");
    assert(JSON.parse(notSigned.out).reason.includes("not signed by every member"));

    // Missing files are usage errors (exit 2).
    const missing = await cli(
      "verify",
      ...["--certificate", `${root}/none`, "--aggregate", body, "--roster", rosterPath],
    );
    expectCode(missing, 2, "missing certificate file");
  });
});

Deno.test("cli: roster create refuses to overwrite --out unless --force", async () => {
  await withTempDir("fedagg-cli-", async (root) => {
    const path = `${root}/roster.json`;
    const create = (...extra: string[]) =>
      cli("roster", "create", "--out", path, "--federation", "f", "--dim", "4", ...extra);
    expectCode(await create(), 0, "first create");
    // Stands for a roster already signed: the bytes must survive a repeated create.
    await Deno.writeTextFile(path, '{"signed": "precious"}\n');
    expectOneLine(await create(), /roster\.json exists already: .*--force/, "second create");
    assertEquals(await Deno.readTextFile(path), '{"signed": "precious"}\n');
    expectCode(await create("--force"), 0, "create --force");
    assertEquals(JSON.parse(await Deno.readTextFile(path)).federation, "f");
  });
});

Deno.test("cli: roster merge combines signatures made in parallel and refuses different rosters", async () => {
  await withTempDir("fedagg-cli-", async (root) => {
    const dirs = [0, 1, 2].map((i) => `${root}/m${i}`);
    for (const [i, d] of dirs.entries()) {
      expectCode(await cli("init", "--dir", d, "--name", `Hospital ${i}`), 0, "init");
    }
    const path = `${root}/roster.json`;
    const base = ["--federation", "f", "--dim", "4"];
    expectCode(await cli("roster", "create", "--out", path, ...base), 0, "create");
    const cards = dirs.flatMap((d) => ["--card", `${d}/card.json`]);
    expectCode(await cli("roster", "add", "--roster", path, ...cards), 0, "add");
    const file = JSON.parse(await Deno.readTextFile(path)) as RosterFile;
    assertEquals(file.members.map((m) => m.name), ["Hospital 0", "Hospital 1", "Hospital 2"]);
    // Each member signs its own copy.
    const copies = dirs.map((_, i) => `${root}/copy${i}.json`);
    for (const [i, copy] of copies.entries()) {
      await Deno.copyFile(path, copy);
      expectCode(await cli("roster", "sign", "--roster", copy, "--dir", dirs[i]), 0, "sign");
      expectCode(await cli("roster", "verify", "--roster", copy), 1, "one signature");
    }
    const out = `${root}/merged.json`;
    const two = await cli("roster", "merge", copies[0], copies[1], "--out", out, "--json");
    expectCode(two, 0, "merge two");
    assertEquals(JSON.parse(two.out).signed.length, 2);
    assertEquals(JSON.parse(two.out).complete, false);
    expectOneLine(
      await cli("roster", "merge", out, copies[2], "--out", out),
      /merged\.json exists already/,
      "no overwrite",
    );
    expectCode(await cli("roster", "merge", out, copies[2], "--out", out, "--force"), 0, "merge");
    expectCode(await cli("roster", "verify", "--roster", out), 0, "complete after merge");
    // A copy of another roster (one address differs) is refused, naming both files.
    const other = JSON.parse(await Deno.readTextFile(copies[2])) as RosterFile;
    const moved = {
      ...other,
      members: other.members.map((m, i) =>
        i === 0 ? { ...m, addresses: ["/ip4/10.9.9.9/tcp/1"] } : m
      ),
    };
    await Deno.writeTextFile(`${root}/moved.json`, JSON.stringify(moved));
    expectOneLine(
      await cli("roster", "merge", copies[0], `${root}/moved.json`, "--out", `${root}/x.json`),
      /moved\.json is not the same roster as .*copy0\.json \(hash [0-9a-f]{16}… vs [0-9a-f]{16}…\)/,
      "different rosters",
    );
    // A copy carrying a signature that does not verify is refused, naming the signer.
    const sig = other.signatures[Object.keys(other.signatures)[0]];
    const forged = {
      ...other,
      signatures: { [other.members[0].id]: { ...sig } },
    };
    await Deno.writeTextFile(`${root}/forged.json`, JSON.stringify(forged));
    const refused = await cli(
      "roster",
      "merge",
      copies[0],
      `${root}/forged.json`,
      "--out",
      `${root}/x.json`,
    );
    expectOneLine(
      refused,
      new RegExp(`forged\\.json: the signatures of ${other.members[0].id}`),
      "bad sig",
    );
    assert(!await exists(`${root}/x.json`), "nothing written");
    const one = await cli("roster", "merge", copies[0], "--out", `${root}/x.json`);
    expectCode(one, 2, "one file");
    assertMatch(one.err, /roster merge needs at least two files/);
  });
});

/**
 * Roster amendments (protocol/federation/amendment.ts) and the chain walker (roster_chain.ts):
 * a valid join, removal, key rotation and parameter change; and the adversarial cases, each
 * refused and named: fewer than t approvals, approvals by a member removed in an earlier
 * version, a joiner that did not sign (or signed with another key), an amendment replayed onto
 * another chain or at another place of its own chain, signatures moved from one statement to
 * another (a roster approval, another amendment), classical signatures in post-quantum mode,
 * and forks (the no-fork rule for a signer, two valid successors refused as evidence by the
 * walker).
 */
import { assert, assertEquals, assertRejects, assertThrows } from "../../_assert.ts";
import { equalBytes } from "../../../protocol/encoding/bytes.ts";
import { ConfigError, ProtocolError } from "../../../protocol/errors.ts";
import { createRoster, type Member, type Roster } from "../../../protocol/federation/roster.ts";
import { approveRoster } from "../../../protocol/federation/roster_approval.ts";
import { MemberSigner, type Signature } from "../../../protocol/federation/signer.ts";
import {
  type Amendment,
  applyAmendment,
  type Change,
  genesisVersion,
  proposeVersion,
  type RosterVersion,
  signAmendment,
  type SignedAmendment,
  successorDecision,
  tallyAmendment,
  verifyAmendment,
} from "../../../protocol/federation/amendment.ts";
import { versionAt, walkChain } from "../../../protocol/federation/roster_chain.ts";
import { rngFor } from "../_fixtures.ts";

interface Party {
  readonly signer: MemberSigner;
  readonly member: Member;
}

async function party(label: string, pq = false): Promise<Party> {
  const r = rngFor("amendment", label);
  const signer = await MemberSigner.fromSeeds(r(32), r(32));
  return {
    signer,
    member: {
      id: label,
      signingKey: signer.signingKey,
      pqSigningKey: pq ? signer.pqSigningKey : undefined,
      name: `org ${label}`,
      addresses: [`/dns4/${label}.example/tcp/4001`],
    },
  };
}

/** Parties a..g (a-d in the first roster), classical or post-quantum. */
async function parties(pq = false): Promise<Record<string, Party>> {
  const out: Record<string, Party> = {};
  for (const l of ["a", "b", "c", "d", "e", "f", "g"]) out[l] = await party(l, pq);
  return out;
}

function settingsOfTest(p: Record<string, Party>, ids: string[], federation = "fed") {
  return {
    federation,
    members: ids.map((id) => p[id].member),
    dim: 8,
    mode: p[ids[0]].member.pqSigningKey ? "post-quantum" as const : "classical" as const,
  };
}

function rosterOf(p: Record<string, Party>, ids: string[], federation = "fed"): Roster {
  return createRoster(settingsOfTest(p, ids, federation));
}

function amend(previous: RosterVersion, firstRound: number, ...changes: Change[]): Amendment {
  return { previous: previous.hash, version: previous.version + 1, firstRound, changes };
}

/** `amendment` signed by `approvers` (members of `previous`) and `joiners` (new keys). */
async function signed(
  previous: RosterVersion,
  amendment: Amendment,
  p: Record<string, Party>,
  approvers: string[],
  joiners: string[] = [],
): Promise<SignedAmendment> {
  const sign = async (ids: string[]) => {
    const m = new Map<string, Signature>();
    for (const id of ids) m.set(id, await signAmendment(previous, amendment, p[id].signer));
    return m;
  };
  return { amendment, approvals: await sign(approvers), joiners: await sign(joiners) };
}

async function refusal(fn: () => Promise<unknown>, code: string, detail?: RegExp): Promise<string> {
  const err = await assertRejects(fn, ProtocolError);
  assertEquals((err as ProtocolError).code, code, err.message);
  if (detail) assert(detail.test(err.message), err.message);
  return err.message;
}

Deno.test("amendment: a join approved by t members and signed by the joiner makes version 1", async () => {
  const p = await parties();
  const v0 = genesisVersion(rosterOf(p, ["a", "b", "c", "d"]));
  assertEquals(v0.roster.threshold, 3);
  const a1 = amend(v0, 10, { kind: "add", member: p.e.member });
  const ok = await verifyAmendment(v0, await signed(v0, a1, p, ["a", "b", "c"], ["e"]));
  const v1 = ok.next;
  assertEquals(v1.version, 1);
  assertEquals(v1.firstRound, 10);
  assertEquals(v1.roster.members.map((m) => m.id), ["a", "b", "c", "d", "e"]);
  assertEquals(v1.roster.members[4].name, "org e");
  assertEquals(v1.roster.threshold, 4, "a default threshold follows n: ⌊2·5/3⌋ + 1");
  // An explicit threshold (not the default for n) is kept.
  const strict = genesisVersion(
    createRoster({ ...settingsOfTest(p, ["a", "b", "c", "d"]), threshold: 4 }),
  );
  const kept = proposeVersion(strict, amend(strict, 1, { kind: "add", member: p.e.member }));
  assertEquals(kept.next.roster.threshold, 4);
  assertEquals(ok.approvedBy, ["a", "b", "c"]);
  assert(!equalBytes(v1.hash, v1.roster.hash), "a version hash binds its place in the chain");
  // The proposal says the same before anyone signs.
  const proposed = proposeVersion(v0, a1);
  assert(equalBytes(proposed.next.hash, v1.hash));
  assertEquals(proposed.joiners.map((m) => m.id), ["e"]);
});

Deno.test("amendment: fewer than t approvals are refused, naming who counted", async () => {
  const p = await parties();
  const v0 = genesisVersion(rosterOf(p, ["a", "b", "c", "d"]));
  const a1 = amend(v0, 1, { kind: "set", parameter: "clip", value: 2 });
  await refusal(
    async () => verifyAmendment(v0, await signed(v0, a1, p, ["a", "b"])),
    "insufficient-approvals",
    /2 valid approvals .* needs t = 3 \(approved by a, b\)/,
  );
  // A third "approval" that does not verify (another member's signature under c's id) does
  // not count either, and is named.
  const s = await signed(v0, a1, p, ["a", "b"]);
  const forged = { ...s, approvals: new Map([...s.approvals, ["c", s.approvals.get("a")!]]) };
  await refusal(
    () => verifyAmendment(v0, forged),
    "insufficient-approvals",
    /c: the signature does not verify/,
  );
  // Signatures of outsiders (f is in no version) are not counted.
  await refusal(
    async () => verifyAmendment(v0, await signed(v0, a1, p, ["a", "b", "f"])),
    "insufficient-approvals",
    /f: not a member of version 0/,
  );
  // t of them is enough.
  assertEquals(
    (await verifyAmendment(v0, await signed(v0, a1, p, ["b", "c", "d"]))).next.roster.quantization
      .clip,
    2,
  );
});

Deno.test("amendment: a member removed in an earlier version no longer counts", async () => {
  const p = await parties();
  const v0 = genesisVersion(rosterOf(p, ["a", "b", "c", "d"]));
  const a1 = amend(v0, 5, { kind: "remove", id: "d" });
  // d's own approval of its removal counts (it is a member of version 0).
  const v1 = (await verifyAmendment(v0, await signed(v0, a1, p, ["b", "c", "d"]))).next;
  assertEquals(v1.roster.members.map((m) => m.id), ["a", "b", "c"]);
  const a2 = amend(v1, 9, { kind: "add", member: p.f.member });
  // b, c and the removed d: only two members of version 1.
  const message = await refusal(
    async () => verifyAmendment(v1, await signed(v1, a2, p, ["b", "c", "d"], ["f"])),
    "insufficient-approvals",
    /2 valid approvals of version 1's members, it needs t = 3/,
  );
  assert(message.includes("d: not a member of version 1"), message);
  // The same with a, b, c is valid.
  await verifyAmendment(v1, await signed(v1, a2, p, ["a", "b", "c"], ["f"]));
});

Deno.test("amendment: a joiner must sign its own entry with its own key", async () => {
  const p = await parties();
  const v0 = genesisVersion(rosterOf(p, ["a", "b", "c", "d"]));
  const a1 = amend(v0, 1, { kind: "add", member: p.e.member }, { kind: "add", member: p.f.member });
  await refusal(
    async () => verifyAmendment(v0, await signed(v0, a1, p, ["a", "b", "c", "d"], ["e"])),
    "bad-signature",
    /joining member\(s\) f did not sign/,
  );
  // f's entry "signed" by g's key: not a proof that f's key holder agrees.
  const s = await signed(v0, a1, p, ["a", "b", "c"], ["e"]);
  const gSig = await signAmendment(v0, a1, p.g.signer);
  await refusal(
    () => verifyAmendment(v0, { ...s, joiners: new Map([...s.joiners, ["f", gSig]]) }),
    "bad-signature",
    /f did not sign/,
  );
  const tally = await tallyAmendment(v0, s);
  assertEquals(tally.valid, false);
  assertEquals(tally.joinersMissing, ["f"]);
  assertEquals(tally.approvedBy.length, 3);
});

Deno.test("amendment: a key rotation replaces the entry; the new key signs, the old may not", async () => {
  const p = await parties();
  const v0 = genesisVersion(rosterOf(p, ["a", "b", "c", "d"]));
  // b's key is compromised: "g" is b's new key (a deployment's id follows the key).
  const a1 = amend(v0, 3, { kind: "rotate", id: "b", member: p.g.member });
  const v1 = (await verifyAmendment(v0, await signed(v0, a1, p, ["a", "c", "d"], ["g"]))).next;
  assertEquals(v1.roster.members.map((m) => m.id), ["a", "c", "d", "g"]);
  // The old key no longer counts in version 1.
  const a2 = amend(v1, 4, { kind: "set", parameter: "maxWeight", value: 5 });
  await refusal(
    async () => verifyAmendment(v1, await signed(v1, a2, p, ["a", "b", "c"])),
    "insufficient-approvals",
    /b: not a member of version 1/,
  );
  // A new address for c (same keys): no joiner signature needed, but it changes the roster.
  const moved = { ...p.c.member, addresses: ["/dns4/c2.example/tcp/4001"] };
  const a3 = amend(v1, 5, { kind: "rotate", id: "c", member: moved });
  const proposed = proposeVersion(v1, a3);
  assertEquals(proposed.joiners, []);
  const v3 = (await verifyAmendment(v1, await signed(v1, a3, p, ["a", "c", "g"]))).next;
  assertEquals(v3.roster.members[1].addresses, ["/dns4/c2.example/tcp/4001"]);
  assert(!equalBytes(v3.roster.hash, v1.roster.hash));
});

Deno.test("amendment: changes that make no valid roster are refused by name", () => {
  const run = async () => {
    const p = await parties();
    const r = rosterOf(p, ["a", "b", "c", "d"]);
    const v0 = genesisVersion(r);
    const bad: [Change[], RegExp][] = [
      [[{ kind: "add", member: p.a.member }], /changes\[0\]: a is already a member/],
      [[{ kind: "remove", id: "zz" }], /changes\[0\]: zz is not a member/],
      [[{ kind: "remove", id: "a" }, { kind: "remove", id: "b" }], /members: a roster needs 3/],
      [[{ kind: "set", parameter: "mode" as never, value: 1 }], /mode cannot be amended/],
      [
        [{ kind: "set", parameter: "threshold", value: 2 }],
        /threshold: must be an integer in \(n\/2, n\]/,
      ],
      [[{ kind: "set", parameter: "dim", value: null }], /dim has no default/],
      [[{ kind: "rotate", id: "b", member: p.a.member }], /a is already a member/],
      [
        [{ kind: "set", parameter: "threshold", value: "3" as never }],
        /threshold: must be a number/,
      ],
      [[], /1 to 64 changes/],
    ];
    for (const [changes, pattern] of bad) {
      const err = assertThrows(() => proposeVersion(v0, amend(v0, 1, ...changes)), ProtocolError);
      assertEquals((err as ProtocolError).code, "malformed");
      assert(
        pattern.test(err.message),
        `${JSON.stringify(changes.map((c) => c.kind))}: ${err.message}`,
      );
      assertThrows(() => applyAmendment(r, { changes }), ConfigError);
    }
    // Removing a member and lowering t with it, in one amendment; t back to its default.
    const ok = applyAmendment(r, {
      changes: [{ kind: "remove", id: "d" }, { kind: "set", parameter: "threshold", value: null }],
    });
    assertEquals([ok.members.length, ok.threshold], [3, 3]);
    const grown = applyAmendment(r, {
      changes: [
        { kind: "add", member: p.e.member },
        { kind: "add", member: p.f.member },
        { kind: "set", parameter: "threshold", value: null },
      ],
    });
    assertEquals([grown.members.length, grown.threshold], [6, 5]);
  };
  return run();
});

Deno.test("amendment: replayed onto another chain, or at another place of its own, is refused", async () => {
  const p = await parties();
  const v0 = genesisVersion(rosterOf(p, ["a", "b", "c", "d"]));
  const other = genesisVersion(rosterOf(p, ["a", "b", "c", "d"], "another-federation"));
  const a1 = amend(v0, 10, { kind: "add", member: p.e.member });
  const s1 = await signed(v0, a1, p, ["a", "b", "c"], ["e"]);
  await refusal(
    () => verifyAmendment(other, s1),
    "wrong-chain",
    /amends version .*, not version 0/,
  );
  // Re-addressed to the other chain, the signatures no longer verify (they cover `previous`).
  const readdressed = { ...s1, amendment: { ...a1, previous: other.hash } };
  await refusal(() => verifyAmendment(other, readdressed), "insufficient-approvals", /0 valid/);
  const v1 = (await verifyAmendment(v0, s1)).next;
  // The same amendment offered again at version 1 (replayed within its own chain).
  await refusal(() => verifyAmendment(v1, s1), "wrong-chain", /not version 1/);
  // Numbered out of sequence; not after the previous version's first round.
  const again = { ...a1, previous: v1.hash };
  assertThrows(() => proposeVersion(v1, { ...again, version: 3 }), ProtocolError, "numbered 3");
  assertThrows(
    () => proposeVersion(v1, { ...again, version: 2 }),
    ProtocolError,
    "first round 10 must be an integer after version 1's first round (10)",
  );
  // A roster approval of the next roster is not an amendment approval (domain separation).
  const approvals = new Map<string, Signature>();
  for (const id of ["a", "b", "c"]) approvals.set(id, await approveRoster(v1.roster, p[id].signer));
  await refusal(
    () => verifyAmendment(v0, { amendment: a1, approvals, joiners: s1.joiners }),
    "insufficient-approvals",
    /0 valid/,
  );
});

Deno.test("amendment: post-quantum rosters need hybrid approvals", async () => {
  const p = await parties(true);
  const v0 = genesisVersion(rosterOf(p, ["a", "b", "c", "d"]));
  assertEquals(v0.roster.mode, "post-quantum");
  const a1 = amend(v0, 2, { kind: "add", member: p.e.member });
  const s = await signed(v0, a1, p, ["a", "b", "c"], ["e"]);
  for (const sig of s.approvals.values()) assert(sig.mlDsa65 !== null);
  await verifyAmendment(v0, s);
  // The Ed25519 halves alone are not enough.
  const classical = new Map([...s.approvals].map(([id, sig]) => [id, { ...sig, mlDsa65: null }]));
  await refusal(
    () => verifyAmendment(v0, { ...s, approvals: classical }),
    "insufficient-approvals",
  );
});

Deno.test("amendment: the no-fork rule lets a member approve one successor per version", () => {
  const x = new Uint8Array(32).fill(1);
  const y = new Uint8Array(32).fill(2);
  assertEquals(successorDecision(undefined, x), "first");
  assertEquals(successorDecision(x, x.slice()), "again");
  const err = assertThrows(() => successorDecision(x, y), ProtocolError);
  assertEquals((err as ProtocolError).code, "fork");
});

Deno.test("roster chain: walks from version 0 through amendments in any order, copies merged", async () => {
  const p = await parties();
  const v0 = genesisVersion(rosterOf(p, ["a", "b", "c", "d"]));
  const a1 = amend(v0, 10, { kind: "add", member: p.e.member });
  // Signed in parallel: two copies, neither with t approvals on its own.
  const c1 = await signed(v0, a1, p, ["a", "b"], ["e"]);
  const c2 = await signed(v0, a1, p, ["c"]);
  const v1 = (await verifyAmendment(v0, await signed(v0, a1, p, ["a", "b", "c"], ["e"]))).next;
  const a2 = amend(v1, 20, { kind: "remove", id: "a" });
  const s2 = await signed(v1, a2, p, ["b", "c", "d", "e"]);
  const v2 = (await verifyAmendment(v1, s2)).next;
  const a3 = amend(v2, 30, { kind: "set", parameter: "clip", value: 3 });
  const pending = await signed(v2, a3, p, ["b"]);
  const foreign = await signed(
    genesisVersion(rosterOf(p, ["a", "b", "c", "d"], "elsewhere")),
    amend(genesisVersion(rosterOf(p, ["a", "b", "c", "d"], "elsewhere")), 1, {
      kind: "remove",
      id: "d",
    }),
    p,
    ["a", "b", "c"],
  );
  const chain = await walkChain(v0.roster, [pending, s2, foreign, c2, c1]);
  assertEquals(chain.fork, undefined);
  assertEquals(chain.versions.map((v) => v.version), [0, 1, 2]);
  assert(equalBytes(chain.tip.hash, v2.hash));
  assertEquals(chain.tip.roster.members.map((m) => m.id), ["b", "c", "d", "e"]);
  assertEquals(chain.tip.roster.threshold, 3);
  assertEquals(chain.pending.length, 1);
  assertEquals([chain.pending[0].approvedBy, chain.pending[0].needed], [["b"], 3]);
  assertEquals(chain.refused.length, 1);
  assertEquals(chain.refused[0].signed, foreign);
  assertEquals(chain.refused[0].error.code, "wrong-chain");
  // Rounds run under the version in effect at their number.
  assertEquals([0, 9, 10, 19, 20, 1000].map((r) => versionAt(chain.versions, r).version), [
    0,
    0,
    1,
    1,
    2,
    2,
  ]);
});

Deno.test("roster chain: two valid successors of one version are a fork: both refused, kept as evidence", async () => {
  const p = await parties();
  const v0 = genesisVersion(rosterOf(p, ["a", "b", "c", "d"]));
  const good = amend(v0, 10, { kind: "add", member: p.e.member });
  const evil = amend(v0, 10, { kind: "remove", id: "a" });
  // b and c break the no-fork rule: they approve both.
  const s1 = await signed(v0, good, p, ["a", "b", "c"], ["e"]);
  const s2 = await signed(v0, evil, p, ["b", "c", "d"]);
  const v1 = (await verifyAmendment(v0, s1)).next;
  const later = await signed(v1, amend(v1, 20, { kind: "remove", id: "d" }), p, [
    "a",
    "b",
    "c",
    "e",
  ]);
  const chain = await walkChain(v0.roster, [s1, later, s2]);
  assert(chain.fork !== undefined);
  assertEquals(chain.tip.version, 0, "neither successor is taken");
  assertEquals(chain.versions.length, 1);
  assertEquals(chain.fork.amended.version, 0);
  assertEquals(chain.fork.equivocators, ["b", "c"]);
  const kept = chain.fork.successors.flatMap((s) => s.copies);
  assert(kept.includes(s1) && kept.includes(s2), "both amendments are kept with their signatures");
  // What was built on one side of the fork is not taken either.
  assertEquals(chain.refused.map((r) => r.signed), [later]);
  // Without the second successor the chain goes on.
  assertEquals((await walkChain(v0.roster, [s1, later])).tip.version, 2);
  // A rival that did not reach t is superseded, not a fork.
  const weak = await signed(v0, evil, p, ["d"]);
  const chain2 = await walkChain(v0.roster, [weak, s1]);
  assertEquals(chain2.fork, undefined);
  assertEquals(chain2.tip.version, 1);
  assertEquals(chain2.refused.map((r) => r.signed), [weak]);
  assertEquals(chain2.refused[0].error.code, "wrong-chain");
});

Deno.test("amendment: a change of no known kind, or without a member, is refused by name", async () => {
  const p = await parties();
  const r = rosterOf(p, ["a", "b", "c", "d"]);
  for (
    const [change, pattern] of [
      [{ kind: "add" }, /changes\[0\]: add needs a member/],
      [{ kind: "rotate", id: "a", member: { id: "x" } }, /changes\[0\]: rotate needs a member/],
      [{ kind: "grow" }, /changes\[0\]: a change is add, remove, rotate or set/],
      [null, /changes\[0\]: a change is/],
    ] as const
  ) {
    const err = assertThrows(
      () => applyAmendment(r, { changes: [change as unknown as Change] }),
      ConfigError,
    );
    assert(pattern.test(err.message), err.message);
  }
});

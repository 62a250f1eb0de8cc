/**
 * The roster (protocol/roster.ts): defaults, member order and lookup, the hash's sensitivity
 * to every setting (and insensitivity to the order members are listed in), and every
 * configuration refusal with the setting it names.
 */
import { assert, assertEquals, assertNotEquals, assertThrows } from "../../_assert.ts";
import { toHex } from "../../../protocol/encoding/bytes.ts";
import { ML_DSA65_PUBLIC_KEY_LENGTH } from "../../../protocol/crypto/mod.ts";
import { ConfigError } from "../../../protocol/errors.ts";
import {
  createRoster,
  DEFAULT_CLIP,
  defaultTimeouts,
  MAX_DIM,
  MAX_MEMBERS,
  type Member,
  type RosterSettings,
} from "../../../protocol/federation/roster.ts";
import { rngFor } from "../_fixtures.ts";

/** `n` members with distinct arbitrary keys (the roster does not check keys are on the curve). */
function members(n: number, pq = false, label = "m"): Member[] {
  const rng = rngFor("roster", label);
  return Array.from({ length: n }, (_, i) => ({
    id: `${label}-${String(i).padStart(3, "0")}`,
    signingKey: rng(32),
    pqSigningKey: pq ? rng(ML_DSA65_PUBLIC_KEY_LENGTH) : undefined,
  }));
}

function base(n = 6, pq = false): RosterSettings {
  return {
    federation: "fed",
    members: members(n, pq),
    dim: 10,
    mode: pq ? "post-quantum" : undefined,
  };
}

function setting(fn: () => unknown): string {
  return (assertThrows(fn, ConfigError) as ConfigError).setting;
}

function hashOf(settings: RosterSettings): string {
  return toHex(createRoster(settings).hash);
}

Deno.test("roster: defaults", () => {
  for (let n = 3; n <= 40; n++) {
    const r = createRoster(base(n));
    assertEquals(r.threshold, Math.floor((2 * n) / 3) + 1, `n = ${n}`);
    assert(r.threshold > n / 2 && r.threshold <= n);
    assertEquals(r.graph, { kind: "complete" });
    assertEquals(r.mode, "classical");
    assertEquals(r.stageTimeoutMs, 10_000);
    assertEquals(r.advertiseTimeoutMs, 60_000);
    assertEquals(r.viewTimeoutMs, 30_000);
    assertEquals(r.quantization.clip, DEFAULT_CLIP);
    assertEquals(r.quantization.clip, 8);
    assertEquals(r.quantization.maxWeight, 1);
    assertEquals(r.quantization.members, n);
    assertEquals(r.hash.length, 32);
  }
  const r = createRoster({ ...base(), stageTimeoutMs: 700 });
  assertEquals(r.viewTimeoutMs, 2100, "viewTimeout defaults to 3 · stageTimeout");
  assertEquals(r.advertiseTimeoutMs, 4200, "advertiseTimeout defaults to 6 · stageTimeout");
  assertEquals(defaultTimeouts(700), {
    stageTimeoutMs: 700,
    advertiseTimeoutMs: 4200,
    viewTimeoutMs: 2100,
  });
  assertEquals(createRoster({ ...base(), viewTimeoutMs: 10_001 }).stageTimeoutMs, 10_000);
});

Deno.test("roster: the settings given are kept", () => {
  const r = createRoster({
    ...base(7),
    federation: "x".repeat(64),
    dim: MAX_DIM,
    threshold: 7,
    graph: { kind: "harary", degree: 4, threshold: 4 },
    clip: 2,
    maxWeight: 50,
    scale: 1000,
    stageTimeoutMs: 1,
    viewTimeoutMs: 2,
  });
  assertEquals(r.federation, "x".repeat(64));
  assertEquals(r.dim, MAX_DIM);
  assertEquals(r.threshold, 7);
  assertEquals(r.graph, { kind: "harary", degree: 4, threshold: 4 });
  assertEquals([r.quantization.clip, r.quantization.maxWeight, r.quantization.scale], [
    2,
    50,
    1000,
  ]);
  assertEquals([r.stageTimeoutMs, r.viewTimeoutMs], [1, 2]);
});

Deno.test("roster: members are sorted by id and indexOf finds them", () => {
  const ms = members(8);
  const shuffled = [ms[5], ms[0], ms[7], ms[2], ms[1], ms[6], ms[3], ms[4]];
  const r = createRoster({ ...base(), members: shuffled });
  assertEquals(r.members.map((m) => m.id), ms.map((m) => m.id));
  for (const [i, m] of ms.entries()) {
    assertEquals(r.indexOf(m.id), i);
    assertEquals(r.members[i].signingKey, m.signingKey);
  }
  assertEquals(r.indexOf("nobody"), undefined);
  assertEquals(r.indexOf(""), undefined);
  // Ordering is by UTF-16 code units, not locale: "B" < "a" < "b".
  const odd = createRoster({
    ...base(),
    members: [{ ...ms[0], id: "b" }, { ...ms[1], id: "a" }, { ...ms[2], id: "B" }],
  });
  assertEquals(odd.members.map((m) => m.id), ["B", "a", "b"]);
  // The caller's array is not reordered.
  assertEquals(shuffled[0].id, ms[5].id);
});

Deno.test("roster: the roster is immutable", () => {
  const r = createRoster(base());
  assert(Object.isFrozen(r));
  assert(Object.isFrozen(r.members));
  assertThrows(() => (r.members as Member[]).push(members(1)[0]));
});

Deno.test("roster: the hash ignores the order members are listed in", () => {
  const ms = members(9);
  const h = hashOf({ ...base(), members: ms });
  assertEquals(hashOf({ ...base(), members: [...ms].reverse() }), h);
  assertEquals(hashOf({ ...base(), members: [...ms.slice(4), ...ms.slice(0, 4)] }), h);
  const pq = members(4, true);
  assertEquals(
    hashOf({ ...base(4, true), members: [...pq].reverse() }),
    hashOf({ ...base(4, true), members: pq }),
  );
});

Deno.test("roster: the hash changes when any setting changes", () => {
  const ms = members(7);
  const settings: RosterSettings = {
    federation: "fed",
    members: ms,
    dim: 10,
    threshold: 5,
    graph: { kind: "harary", degree: 4, threshold: 4 },
    clip: 1,
    maxWeight: 10,
    scale: 100,
    stageTimeoutMs: 1000,
    viewTimeoutMs: 3000,
  };
  const key = new Uint8Array(ms[3].signingKey);
  key[31] ^= 1;
  const variants: [string, RosterSettings][] = [
    ["federation", { ...settings, federation: "fee" }],
    ["a signing key", {
      ...settings,
      members: ms.map((m, i) => i === 3 ? { ...m, signingKey: key } : m),
    }],
    ["a member id", { ...settings, members: ms.map((m, i) => i === 6 ? { ...m, id: "zz" } : m) }],
    ["a member", { ...settings, members: [...ms.slice(0, 6), members(1, false, "other")[0]] }],
    ["a member fewer", { ...settings, members: ms.slice(0, 6) }],
    ["dim", { ...settings, dim: 11 }],
    ["threshold", { ...settings, threshold: 6 }],
    ["graph kind", { ...settings, graph: { kind: "complete" } }],
    ["graph degree", { ...settings, graph: { kind: "harary", degree: 2, threshold: 2 } }],
    ["graph threshold", { ...settings, graph: { kind: "harary", degree: 4, threshold: 5 } }],
    ["clip", { ...settings, clip: 1.5 }],
    ["maxWeight", { ...settings, maxWeight: 11 }],
    ["scale", { ...settings, scale: 100.5 }],
    ["stageTimeoutMs", { ...settings, stageTimeoutMs: 1001 }],
    ["viewTimeoutMs", { ...settings, viewTimeoutMs: 3001 }],
    ["advertiseTimeoutMs", { ...settings, advertiseTimeoutMs: 5999 }],
  ];
  const hashes = new Map<string, string>([["base", hashOf(settings)]]);
  for (const [name, s] of variants) {
    const h = hashOf(s);
    for (const [other, h2] of hashes) assertNotEquals(h, h2, `${name} vs ${other}`);
    hashes.set(name, h);
  }
  // Mode: the same members with ML-DSA keys, classical vs post-quantum.
  const pq = members(4, true);
  assertNotEquals(
    hashOf({ federation: "fed", members: pq, dim: 10, mode: "classical" }),
    hashOf({ federation: "fed", members: pq, dim: 10, mode: "post-quantum" }),
  );
  // An ML-DSA key.
  const pqKey = new Uint8Array(pq[0].pqSigningKey!);
  pqKey[0] ^= 1;
  assertNotEquals(
    hashOf({ federation: "fed", members: pq, dim: 10, mode: "post-quantum" }),
    hashOf({
      federation: "fed",
      members: [{ ...pq[0], pqSigningKey: pqKey }, ...pq.slice(1)],
      dim: 10,
      mode: "post-quantum",
    }),
  );
  // Defaults are hashed as their values: spelling a default out changes nothing.
  assertEquals(
    hashOf({ federation: "fed", members: ms, dim: 10 }),
    hashOf({
      federation: "fed",
      members: ms,
      dim: 10,
      mode: "classical",
      threshold: 5,
      graph: { kind: "complete" },
      clip: 8,
      maxWeight: 1,
      stageTimeoutMs: 10_000,
      viewTimeoutMs: 30_000,
    }),
  );
});

Deno.test("roster: federation and mode refusals", () => {
  assertEquals(setting(() => createRoster({ ...base(), federation: "" })), "federation");
  assertEquals(
    setting(() => createRoster({ ...base(), federation: "x".repeat(65) })),
    "federation",
  );
  assertEquals(
    setting(() => createRoster({ ...base(), federation: 7 as unknown as string })),
    "federation",
  );
  assertEquals(
    setting(() => createRoster({ ...base(), mode: "quantum" as unknown as "classical" })),
    "mode",
  );
});

Deno.test("roster: member refusals", () => {
  const ms = members(5);
  const refuse = (list: Member[], mode?: RosterSettings["mode"]) =>
    setting(() => createRoster({ ...base(), members: list, mode }));
  assertEquals(refuse(ms.slice(0, 2)), "members");
  assertEquals(refuse([]), "members");
  assertEquals(refuse(Array(MAX_MEMBERS + 1).fill(ms[0])), "members");
  assertEquals(
    refuse([...ms, { ...ms[4], signingKey: members(1, false, "k")[0].signingKey }]),
    "members",
  );
  assertEquals(refuse(ms.map((m, i) => i === 2 ? { ...m, id: "" } : m)), "members");
  assertEquals(refuse(ms.map((m, i) => i === 2 ? { ...m, id: "x".repeat(129) } : m)), "members");
  assertEquals(
    refuse(ms.map((m, i) => i === 2 ? { ...m, signingKey: new Uint8Array(31) } : m)),
    "members",
  );
  assertEquals(
    refuse(ms.map((m, i) => i === 2 ? { ...m, signingKey: new Uint8Array(33) } : m)),
    "members",
  );
  assertEquals(
    refuse(
      ms.map((m, i) =>
        i === 2 ? { ...m, signingKey: [...m.signingKey] as unknown as Uint8Array } : m
      ),
    ),
    "members",
  );
  assertEquals(
    refuse(ms.map((m, i) => i === 3 ? { ...m, signingKey: ms[1].signingKey } : m)),
    "members",
  );
  // Post-quantum mode needs a 1952-byte ML-DSA-65 key for every member.
  const pq = members(4, true);
  assertEquals(
    refuse(pq.map((m, i) => i === 1 ? { ...m, pqSigningKey: undefined } : m), "post-quantum"),
    "members",
  );
  assertEquals(
    refuse(
      pq.map((m, i) => i === 1 ? { ...m, pqSigningKey: new Uint8Array(1951) } : m),
      "post-quantum",
    ),
    "members",
  );
  assertEquals(refuse(ms, "post-quantum"), "members");
  // Limits that are fine.
  createRoster({
    ...base(),
    members: ms.map((m, i) => i === 0 ? { ...m, id: "x".repeat(128) } : m),
  });
  createRoster({ ...base(), members: ms.slice(0, 3) });
});

Deno.test("roster: dim refusals", () => {
  for (const dim of [0, -1, 1.5, MAX_DIM + 1, NaN, Infinity]) {
    assertEquals(setting(() => createRoster({ ...base(), dim })), "dim", `dim = ${dim}`);
  }
  assertEquals(createRoster({ ...base(), dim: 1 }).dim, 1);
});

Deno.test("roster: threshold refusals (two views must not both complete)", () => {
  for (const [n, t] of [[4, 2], [4, 5], [6, 3], [6, 0], [7, 3.5], [7, 8], [3, 1]]) {
    assertEquals(
      setting(() => createRoster({ ...base(n), threshold: t })),
      "threshold",
      `n = ${n}, t = ${t}`,
    );
  }
  for (const [n, t] of [[4, 3], [4, 4], [6, 4], [7, 4], [3, 2], [3, 3]]) {
    assertEquals(createRoster({ ...base(n), threshold: t }).threshold, t);
  }
});

Deno.test("roster: graph refusals", () => {
  const harary = (degree: number, threshold: number) => ({
    ...base(8),
    graph: { kind: "harary" as const, degree, threshold },
  });
  for (const degree of [0, 1, 3, 7, 8, 2.5, -2]) {
    assertEquals(setting(() => createRoster(harary(degree, 2))), "graph.degree", `k = ${degree}`);
  }
  for (const [degree, threshold] of [[2, 1], [4, 2], [4, 2.5], [4, 6], [6, 3], [6, 8]]) {
    assertEquals(
      setting(() => createRoster(harary(degree, threshold))),
      "graph.threshold",
      `k = ${degree}, t = ${threshold}`,
    );
  }
  for (const [degree, threshold] of [[2, 2], [2, 3], [4, 3], [4, 5], [6, 4], [6, 7]]) {
    assertEquals(createRoster(harary(degree, threshold)).graph, {
      kind: "harary",
      degree,
      threshold,
    });
  }
  assertEquals(
    setting(() =>
      createRoster({ ...base(), graph: { kind: "ring" } as unknown as RosterSettings["graph"] })
    ),
    "graph",
  );
});

Deno.test("roster: quantization refusals name the setting", () => {
  assertEquals(setting(() => createRoster({ ...base(), clip: 0 })), "clip");
  assertEquals(setting(() => createRoster({ ...base(), clip: -1 })), "clip");
  assertEquals(setting(() => createRoster({ ...base(), clip: Infinity })), "clip");
  assertEquals(setting(() => createRoster({ ...base(), maxWeight: 0 })), "maxWeight");
  assertEquals(setting(() => createRoster({ ...base(), maxWeight: 1.5 })), "maxWeight");
  assertEquals(setting(() => createRoster({ ...base(), scale: 0 })), "scale");
  assertEquals(setting(() => createRoster({ ...base(), scale: NaN })), "scale");
  assertEquals(setting(() => createRoster({ ...base(), maxWeight: 2 ** 30 })), "n*maxWeight");
  assertEquals(setting(() => createRoster({ ...base(), scale: 2 ** 31 })), "n*maxWeight*levels");
});

Deno.test("roster: timeout refusals", () => {
  for (const v of [0, -1, 1.5, NaN, Infinity]) {
    assertEquals(setting(() => createRoster({ ...base(), stageTimeoutMs: v })), "stageTimeoutMs");
    assertEquals(setting(() => createRoster({ ...base(), viewTimeoutMs: v })), "viewTimeoutMs");
  }
  // A member must not abandon a leader that is still waiting for stragglers.
  assertEquals(
    setting(() => createRoster({ ...base(), stageTimeoutMs: 1000, viewTimeoutMs: 1000 })),
    "viewTimeoutMs",
  );
  assertEquals(setting(() => createRoster({ ...base(), viewTimeoutMs: 9999 })), "viewTimeoutMs");
  assertEquals(
    createRoster({ ...base(), stageTimeoutMs: 1000, viewTimeoutMs: 1001 }).viewTimeoutMs,
    1001,
  );
});

Deno.test("roster: a numeric setting of another type is refused as a type error naming it", () => {
  for (
    const name of [
      "dim",
      "clip",
      "maxWeight",
      "scale",
      "threshold",
      "stageTimeoutMs",
      "advertiseTimeoutMs",
      "viewTimeoutMs",
    ] as const
  ) {
    const err = assertThrows(
      () => createRoster({ ...base(), [name]: "2" } as unknown as RosterSettings),
      ConfigError,
    ) as ConfigError;
    assertEquals(err.setting, name);
    assert(err.message.includes('must be a number, got the string "2"'), err.message);
  }
  // null where a number is due (an explicit threshold of null is the file's "default", not here).
  assertEquals(
    setting(() => createRoster({ ...base(), threshold: null } as unknown as RosterSettings)),
    "threshold",
  );
});

Deno.test("roster: names and addresses are part of the hash; without them the hash is as before", () => {
  const plain = base();
  const before = hashOf(plain);
  // Empty names and address lists are the same roster as none (the hash of existing rosters).
  const empty = {
    ...plain,
    members: plain.members.map((m) => ({ ...m, name: "", addresses: [] })),
  };
  assertEquals(hashOf(empty), before);
  const named = (i: number, change: Partial<Member>) => ({
    ...plain,
    members: plain.members.map((m, j) => (j === i ? { ...m, ...change } : m)),
  });
  const hashes = [
    before,
    hashOf(named(0, { name: "Hospital A" })),
    hashOf(named(0, { name: "Hospital B" })),
    hashOf(named(1, { name: "Hospital A" })),
    hashOf(named(0, { addresses: ["/ip4/10.0.0.1/tcp/4001"] })),
    hashOf(named(0, { addresses: ["/ip4/10.0.0.1/tcp/4002"] })),
    hashOf(named(0, { addresses: ["/ip4/10.0.0.1/tcp/4001", "/dns4/a.example/tcp/1"] })),
    hashOf(named(0, { addresses: ["/dns4/a.example/tcp/1", "/ip4/10.0.0.1/tcp/4001"] })),
  ];
  assertEquals(new Set(hashes).size, hashes.length, "every change moves the hash");
  const roster = createRoster(named(2, { name: "Lab C", addresses: ["/ip4/10.0.0.3/tcp/1"] }));
  assertEquals(roster.members[2].name, "Lab C");
  assertEquals(roster.members[2].addresses, ["/ip4/10.0.0.3/tcp/1"]);
});

Deno.test("roster: names and addresses outside their limits are refused", () => {
  const plain = base();
  const withFirst = (change: Record<string, unknown>) => () =>
    createRoster({
      ...plain,
      members: plain.members.map((m, j) => (j === 0 ? { ...m, ...change } : m)),
    } as RosterSettings);
  for (
    const [change, pattern] of [
      [{ name: "x".repeat(65) }, /name must be at most 64/],
      [{ name: "a\nb" }, /without control characters/],
      [{ name: 7 }, /name must be/],
      [{ addresses: "/ip4/1.2.3.4/tcp/1" }, /addresses must be/],
      [{ addresses: [""] }, /addresses must be/],
      [{ addresses: ["/a", "/a"] }, /distinct/],
      [{ addresses: Array.from({ length: 17 }, (_, i) => `/a/${i}`) }, /at most 16/],
    ] as const
  ) {
    const err = assertThrows(withFirst(change), ConfigError) as ConfigError;
    assertEquals(err.setting, "members");
    assert(pattern.test(err.message), `${JSON.stringify(change)}: ${err.message}`);
  }
  createRoster({ ...plain, members: plain.members.map((m) => ({ ...m, name: "x".repeat(64) })) });
});

/**
 * The model's tensor layout (protocol/federation/layout.ts) and the roster that carries it:
 * validation and its refusals, the flat layout (a `dim`-only roster has it and keeps its hash),
 * d following from the layout, the roster hash covering names, shapes and order, and the first
 * difference between a layout and an upload's tensors.
 */
import { assert, assertEquals, assertNotEquals, assertThrows } from "../../_assert.ts";
import { toHex } from "../../../protocol/encoding/bytes.ts";
import { ConfigError } from "../../../protocol/errors.ts";
import {
  checkedLayout,
  encodeLayout,
  firstDifference,
  flatLayout,
  isFlatLayout,
  layoutHash,
  layoutSize,
  type ModelLayout,
} from "../../../protocol/federation/layout.ts";
import { createRoster, MAX_DIM, type Member } from "../../../protocol/federation/roster.ts";
import { rngFor } from "../_fixtures.ts";

function members(n: number): Member[] {
  const rng = rngFor("layout", "members");
  return Array.from({ length: n }, (_, i) => ({ id: `m-${i}`, signingKey: rng(32) }));
}

/** A PyTorch-style state_dict order: not alphabetical (weight before bias, layer2 last). */
const TORCH: ModelLayout = {
  tensors: [
    { name: "layer1.weight", shape: [4, 3] },
    { name: "layer1.bias", shape: [4] },
    { name: "layer2.weight", shape: [2, 4] },
  ],
};

Deno.test("layout: sizes, the flat layout, canonical encoding", () => {
  assertEquals(layoutSize(TORCH), 24);
  assertEquals(
    layoutSize({ tensors: [{ name: "s", shape: [] }, { name: "e", shape: [0, 5] }] }),
    1,
  );
  assert(isFlatLayout(flatLayout(7)));
  assertEquals(flatLayout(7), { tensors: [{ name: "aggregate", shape: [7] }] });
  assert(!isFlatLayout(TORCH));
  assert(!isFlatLayout({ tensors: [{ name: "weights", shape: [7] }] }));
  // The encoding is the order given: another order is another encoding and hash.
  const swapped = { tensors: [TORCH.tensors[1], TORCH.tensors[0], TORCH.tensors[2]] };
  assertNotEquals(toHex(encodeLayout(TORCH)), toHex(encodeLayout(swapped)));
  assertNotEquals(toHex(layoutHash(TORCH)), toHex(layoutHash(swapped)));
  assertEquals(toHex(layoutHash(TORCH)), toHex(layoutHash(checkedLayout(TORCH, MAX_DIM))));
});

Deno.test("layout: every invalid layout is refused naming the problem", () => {
  const bad: [unknown, RegExp][] = [
    [null, /"tensors"/],
    [{ tensors: {} }, /"tensors"/],
    [{ tensors: [] }, /1 to/],
    [{ tensors: [{ name: "a" }] }, /shape/],
    [{ tensors: [{ name: "", shape: [1] }] }, /name of 1 to/],
    [{ tensors: [{ name: "__metadata__", shape: [1] }] }, /__metadata__/],
    [{ tensors: [{ name: "\ud800", shape: [1] }] }, /name/],
    [{ tensors: [{ name: "a", shape: [1] }, { name: "a", shape: [2] }] }, /"a" appears twice/],
    [{ tensors: [{ name: "a", shape: [-1] }] }, /non-negative/],
    [{ tensors: [{ name: "a", shape: [1.5] }] }, /non-negative/],
    [{ tensors: [{ name: "a", shape: [1], dtype: "F16" }] }, /only F32/],
    [{ tensors: [{ name: "a", shape: [1], extra: 1 }] }, /unknown field "extra"/],
    [{ tensors: [{ name: "a", shape: [0] }] }, /no value/],
    [{ tensors: [{ name: "a", shape: [MAX_DIM, 2] }] }, /more than/],
  ];
  for (const [layout, message] of bad) {
    const err = assertThrows(() => checkedLayout(layout, MAX_DIM), ConfigError);
    assertEquals((err as ConfigError).setting, "layout");
    assert(message.test((err as Error).message), `${JSON.stringify(layout)}: ${err}`);
  }
  // dtype F32 may be spelled out.
  assertEquals(checkedLayout({ tensors: [{ name: "a", shape: [2], dtype: "F32" }] }, 9), {
    tensors: [{ name: "a", shape: [2] }],
  });
});

Deno.test("layout: the roster carries it, d follows from it, its hash covers it", () => {
  const ms = members(3);
  const plain = createRoster({ federation: "f", members: ms, dim: 24 });
  assertEquals(plain.layout, flatLayout(24));
  // A roster whose layout is the flat one of d is the --dim d roster: the same hash.
  const flat = createRoster({ federation: "f", members: ms, layout: flatLayout(24) });
  assertEquals(toHex(flat.hash), toHex(plain.hash));
  const torch = createRoster({ federation: "f", members: ms, layout: TORCH });
  assertEquals(torch.dim, 24);
  assertEquals(torch.layout.tensors.map((t) => t.name), [
    "layer1.weight",
    "layer1.bias",
    "layer2.weight",
  ]);
  assertNotEquals(toHex(torch.hash), toHex(plain.hash));
  // Names, shapes and order each change the hash.
  const variants: ModelLayout[] = [
    { tensors: [TORCH.tensors[1], TORCH.tensors[0], TORCH.tensors[2]] },
    { tensors: [{ name: "layer1.weight", shape: [3, 4] }, ...TORCH.tensors.slice(1)] },
    { tensors: [{ name: "fc1.weight", shape: [4, 3] }, ...TORCH.tensors.slice(1)] },
    { tensors: [{ name: "weights", shape: [24] }] },
  ];
  const seen = new Set([toHex(torch.hash), toHex(plain.hash)]);
  for (const layout of variants) {
    const h = toHex(createRoster({ federation: "f", members: ms, layout }).hash);
    assert(!seen.has(h), JSON.stringify(layout));
    seen.add(h);
  }
  // dim may be given too, but only as the layout's size.
  assertEquals(createRoster({ federation: "f", members: ms, layout: TORCH, dim: 24 }).dim, 24);
  const err = assertThrows(
    () => createRoster({ federation: "f", members: ms, layout: TORCH, dim: 25 }),
    ConfigError,
  );
  assertEquals((err as ConfigError).setting, "dim");
  assert((err as Error).message.includes("24"));
  assertThrows(
    () => createRoster({ federation: "f", members: ms }),
    ConfigError,
    "dim or a layout",
  );
  assertThrows(
    () => createRoster({ federation: "f", members: ms, layout: { tensors: [] } }),
    ConfigError,
    "layout",
  );
});

Deno.test("layout: the first difference names the tensor, both shapes and the extra names", () => {
  assertEquals(firstDifference(TORCH, [...TORCH.tensors].reverse()), undefined, "any order");
  const renamed = firstDifference(TORCH, [
    { name: "model.layer1.weight", shape: [4, 3] },
    TORCH.tensors[1],
    TORCH.tensors[2],
  ])!;
  assertEquals(renamed.index, 0);
  assertEquals(renamed.found, undefined);
  assertEquals(renamed.extra, ["model.layer1.weight"]);
  assert(renamed.message.includes("tensor 0 'layer1.weight' [4, 3] is missing"), renamed.message);
  assert(renamed.message.includes("'model.layer1.weight' [4, 3]"), renamed.message);
  const transposed = firstDifference(TORCH, [
    TORCH.tensors[0],
    TORCH.tensors[1],
    { name: "layer2.weight", shape: [4, 2] },
  ])!;
  assertEquals(transposed.index, 2);
  assertEquals(transposed.found, { name: "layer2.weight", shape: [4, 2] });
  assert(transposed.message.includes("[4, 2] in the upload"), transposed.message);
  assert(transposed.message.includes("says [2, 4]"), transposed.message);
  const more = firstDifference(TORCH, [...TORCH.tensors, { name: "extra", shape: [1] }])!;
  assertEquals(more.index, 3);
  assert(more.message.includes("'extra' [1]"), more.message);
  // The flat layout against a multi-tensor upload (the mixed-format federation).
  const flat = firstDifference(flatLayout(24), TORCH.tensors)!;
  assert(flat.message.includes("'aggregate' [24] is missing"), flat.message);
  assert(flat.message.includes("and 0 more") === false);
});

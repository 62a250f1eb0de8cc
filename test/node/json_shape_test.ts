/**
 * Strict JSON shapes (node/json_shape.ts): exact keys (unknown refused with the nearest known
 * key within two edits, a transposition counting as one; missing refused), types named by path
 * through nested objects, lists and maps, `oneOf`, `nullable`, `count` and list limits.
 */
import { assertEquals, assertThrows } from "../_assert.ts";
import { ConfigError } from "../../protocol/errors.ts";
import {
  count,
  listOf,
  mapOf,
  nullable,
  number,
  object,
  oneOf,
  string,
} from "../../node/json_shape.ts";

const shape = object(
  {
    threshold: nullable(number),
    mode: oneOf("classical", "post-quantum"),
    members: listOf(object({ id: string }, { name: string }), 2),
    signatures: mapOf(object({ ed25519: string })),
    version: count,
  },
  { note: string },
);

const good = {
  threshold: 2,
  mode: "classical",
  members: [{ id: "a" }, { id: "b", name: "B" }],
  signatures: { a: { ed25519: "x" } },
  version: 0,
};

function refused(value: unknown, setting: string, message: string): void {
  const err = assertThrows(() => shape(value, ""), ConfigError) as ConfigError;
  assertEquals(err.setting, setting);
  assertEquals(err.message.slice(setting.length + 2), message);
}

Deno.test("json shape: exact keys, types by path, nearest known key", () => {
  assertEquals(shape(good, ""), good as unknown);
  assertEquals(shape({ ...good, note: "n", threshold: null }, "").threshold, null);
  refused(
    { ...good, treshold: 2 },
    "treshold",
    'unknown key (did you mean "threshold"?); the keys are threshold, mode, members, signatures, ' +
      "version, note",
  );
  refused(
    { ...good, thresohld: 2 },
    "thresohld",
    /* one transposition */ 'unknown key (did you mean "threshold"?); the keys are threshold, mode, members, signatures, version, note',
  );
  refused(
    { ...good, zzz: 1 },
    "zzz",
    "unknown key; the keys are threshold, mode, members, signatures, version, note",
  );
  refused({ ...good, threshold: "2" }, "threshold", "must be a number, got a string");
  refused({ ...good, threshold: Infinity }, "threshold", "must be a number, got a number");
  refused({ ...good, mode: "pq" }, "mode", 'must be "classical" or "post-quantum", got "pq"');
  refused({ ...good, mode: 1 }, "mode", 'must be "classical" or "post-quantum", got a number');
  refused({ ...good, members: [{ id: 1 }] }, "members[0].id", "must be a string, got a number");
  refused(
    { ...good, members: [{ id: "a", nmae: "x" }] },
    "members[0].nmae",
    'unknown key (did you mean "name"?); the keys are id, name',
  );
  refused({ ...good, members: [{}, {}, {}] }, "members", "must have at most 2 entries");
  refused({ ...good, members: [{}] }, "members[0].id", "is missing");
  refused({ ...good, signatures: { a: {} } }, "signatures.a.ed25519", "is missing");
  refused({ ...good, signatures: [] }, "signatures", "must be an object, got a list");
  refused({ ...good, version: -1 }, "version", "must be an integer ≥ 0, got a number");
  refused({ ...good, version: 1.5 }, "version", "must be an integer ≥ 0, got a number");
  const { mode: _, ...noMode } = good;
  refused(noMode, "mode", "is missing");
  refused(null, "the file", "must be an object, got null");
});

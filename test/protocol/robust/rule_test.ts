/**
 * The rule's settings (protocol/robust/rule.ts): the strict JSON parser with errors naming the
 * field, the canonical encoding and its decoder, the group counts each rule needs and the
 * poisoned groups it tolerates.
 */
import { decode, encode } from "../../../protocol/encoding/codec.ts";
import { ConfigError, ProtocolError } from "../../../protocol/errors.ts";
import {
  decodeRobustRule,
  describeRobustRule,
  minimumGroups,
  parseRobustRule,
  type RobustRule,
  robustRuleValue,
  tolerates,
  validateRobustRule,
} from "../../../protocol/robust/mod.ts";
import { assert, assertEquals, assertThrows } from "../../_assert.ts";

const VALID: RobustRule[] = [
  { kind: "median" },
  { kind: "trimmed-mean", beta: 0.1 },
  { kind: "trimmed-mean", beta: 0 },
  { kind: "multi-krum", f: 2, m: 4 },
  { kind: "bulyan", f: 1 },
  { kind: "geomedian", iterations: 10, nu: 1e-6 },
  { kind: "median", normFilter: { tau: 2.5 } },
  { kind: "multi-krum", f: 0, m: 1, normFilter: { tau: 1 } },
];

Deno.test("parseRobustRule: reads each kind from JSON text, frozen", () => {
  for (const rule of VALID) {
    const parsed = parseRobustRule(JSON.parse(JSON.stringify(rule)));
    assertEquals(parsed, rule);
    assert(Object.isFrozen(parsed));
  }
  // a JSON −0 reads as 0
  assert(Object.is(
    (parseRobustRule(JSON.parse('{"kind":"trimmed-mean","beta":-0}')) as {
      beta: number;
    }).beta,
    0,
  ));
});

Deno.test("parseRobustRule: refuses with a ConfigError naming the field", () => {
  const refused: [unknown, string, string][] = [
    [null, "robust", "must be an object"],
    [[], "robust", "must be an object"],
    [{}, "robust.kind", "must be one of median, trimmed-mean"],
    [{ kind: "mean" }, "robust.kind", '"mean"'],
    [{ kind: "trimmed-mean" }, "robust.beta", "is missing"],
    [{ kind: "trimmed-mean", beta: "0.1" }, "robust.beta", '"0.1"'],
    [{ kind: "trimmed-mean", beta: 0.5 }, "robust.beta", "in [0, 0.5)"],
    [{ kind: "trimmed-mean", beta: -0.1 }, "robust.beta", "in [0, 0.5)"],
    [{ kind: "median", beta: 0.1 }, "robust.beta", "is not a parameter of the median rule"],
    [{ kind: "multi-krum", f: 1 }, "robust.m", "is missing"],
    [{ kind: "multi-krum", f: 1.5, m: 1 }, "robust.f", "an integer in [0, 65535]"],
    [{ kind: "multi-krum", f: 1, m: 0 }, "robust.m", "an integer in [1, 65535]"],
    [{ kind: "bulyan", f: -1 }, "robust.f", "an integer"],
    [{ kind: "geomedian", iterations: 0, nu: 1e-6 }, "robust.iterations", "[1, 1000]"],
    [{ kind: "geomedian", iterations: 1001, nu: 1e-6 }, "robust.iterations", "[1, 1000]"],
    [{ kind: "geomedian", iterations: 5, nu: 0 }, "robust.nu", "(0, 1e30]"],
    [{ kind: "geomedian", iterations: 5, nu: 1e-6, extra: 1 }, "robust.extra", "not a param"],
    [{ kind: "median", normFilter: 2 }, "robust.normFilter", 'must be an object {"tau": τ}'],
    [{ kind: "median", normFilter: {} }, "robust.normFilter.tau", "is missing"],
    [{ kind: "median", normFilter: { tau: 0.5 } }, "robust.normFilter.tau", "in [1, 1e30]"],
    [{ kind: "median", normFilter: { tau: 2, k: 1 } }, "robust.normFilter.k", "not a norm"],
  ];
  for (const [json, setting, text] of refused) {
    const err = assertThrows(() => parseRobustRule(json), ConfigError, text) as ConfigError;
    assertEquals(err.setting, setting, JSON.stringify(json));
  }
  // the field prefix follows the caller's
  const err = assertThrows(() => parseRobustRule({ kind: "bulyan" }, "settings.robust"));
  assertEquals((err as ConfigError).setting, "settings.robust.f");
});

Deno.test("validateRobustRule: refuses −0, NaN and infinities built in code", () => {
  for (
    const [rule, setting] of [
      [{ kind: "trimmed-mean", beta: -0 }, "robust.beta"],
      [{ kind: "geomedian", iterations: 3, nu: NaN }, "robust.nu"],
      [{ kind: "median", normFilter: { tau: Infinity } }, "robust.normFilter.tau"],
    ] as [RobustRule, string][]
  ) {
    const err = assertThrows(() => validateRobustRule(rule), ConfigError);
    assertEquals((err as ConfigError).setting, setting);
  }
});

Deno.test("canonical encoding: round trip, one encoding per rule, floats as 8 bytes", () => {
  const seen = new Set<string>();
  for (const rule of VALID) {
    const bytes = encode(robustRuleValue(rule));
    seen.add(Array.from(bytes).join(","));
    assertEquals(decodeRobustRule(decode(bytes, 1000, "rule"), "rule"), rule);
  }
  assertEquals(seen.size, VALID.length);
  assertEquals(robustRuleValue({ kind: "median" }), ["median", null]);
  assertEquals(robustRuleValue({ kind: "bulyan", f: 3, normFilter: { tau: 2 } }), [
    "bulyan",
    3,
    Uint8Array.of(0x40, 0, 0, 0, 0, 0, 0, 0),
  ]);
});

Deno.test("decodeRobustRule: refuses malformed values with a ProtocolError naming the field", () => {
  const nan = Uint8Array.of(0x7f, 0xf8, 0, 0, 0, 0, 0, 0);
  const negZero = Uint8Array.of(0x80, 0, 0, 0, 0, 0, 0, 0);
  const cases: [unknown, string][] = [
    ["median", "not a robust rule"],
    [[], "not a robust rule"],
    [["mean", null], "unknown robust rule kind"],
    [["median"], "has 1 fields, expected 2"],
    [["trimmed-mean", 1, null], "field 1 (beta) is not a byte string"],
    [["trimmed-mean", negZero, null], "robust.beta"],
    [["geomedian", 5, nan, null], "robust.nu"],
    [["multi-krum", 1, 0, null], "robust.m"],
    [["median", Uint8Array.of(1, 2)], "field 1 (tau) is 2 bytes, expected 8"],
  ];
  for (const [value, text] of cases) {
    const err = assertThrows(() => decodeRobustRule(value, "certificate rule", 4), ProtocolError);
    assert(err.message.includes(text), `${JSON.stringify(value)}: ${err.message}`);
    assertEquals((err as ProtocolError).peer, 4);
  }
});

Deno.test("tolerates: each rule's bound and the group counts it needs", () => {
  const table: [RobustRule, number, number][] = [
    [{ kind: "median" }, 1, 0],
    [{ kind: "median" }, 4, 1],
    [{ kind: "median" }, 5, 2],
    [{ kind: "geomedian", iterations: 5, nu: 1e-6 }, 9, 4],
    [{ kind: "trimmed-mean", beta: 0.2 }, 10, 2],
    [{ kind: "trimmed-mean", beta: 0.29 }, 100, 28], // the float product 28.999999999999996
    [{ kind: "trimmed-mean", beta: 0 }, 7, 0],
    [{ kind: "multi-krum", f: 2, m: 3 }, 7, 2],
    [{ kind: "bulyan", f: 1 }, 7, 1],
    [{ kind: "bulyan", f: 2, normFilter: { tau: 2 } }, 11, 2],
  ];
  for (const [rule, g, f] of table) assertEquals(tolerates(rule, g), f, describeRobustRule(rule));
  assertEquals(minimumGroups({ kind: "multi-krum", f: 1, m: 6 }), 7); // f + m beats 2f + 3
  const refused: [RobustRule, number, string][] = [
    [{ kind: "multi-krum", f: 2, m: 1 }, 6, "needs g > 2f + 2 and g ≥ f + m, so g ≥ 7"],
    [{ kind: "multi-krum", f: 1, m: 6 }, 6, "so g ≥ 7, got 6"],
    [{ kind: "bulyan", f: 1 }, 6, "needs g ≥ 4f + 3 = 7"],
    [{ kind: "median" }, 0, "an integer in [1, 65535]"],
    [{ kind: "median" }, 2.5, "an integer"],
  ];
  for (const [rule, g, text] of refused) {
    const err = assertThrows(() => tolerates(rule, g), ConfigError, text);
    assertEquals((err as ConfigError).setting, "groups");
  }
  const err = assertThrows(() => tolerates({ kind: "trimmed-mean", beta: 0.6 }, 5), ConfigError);
  assertEquals((err as ConfigError).setting, "robust.beta");
});

Deno.test("describeRobustRule names the rule and its parameters", () => {
  assertEquals(describeRobustRule({ kind: "multi-krum", f: 1, m: 3 }), "multi-krum(f=1, m=3)");
  assertEquals(
    describeRobustRule({ kind: "median", normFilter: { tau: 2 } }),
    "median after norm filter τ=2",
  );
});

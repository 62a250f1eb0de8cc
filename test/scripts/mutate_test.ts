/**
 * The mutant finder of `scripts/mutate.ts`: which refusal sites it finds in a source, what it
 * replaces them with, and what it leaves alone (comments, strings, template literals, rethrows,
 * branches that only contain a refusal further down).
 *
 * @module
 */
import { assertEquals } from "../_assert.ts";
import { codeMask, findMutants, type Mutant } from "../../scripts/mutate.ts";

/** Each mutant as [line, operator, mutated source text of that line]. */
function applied(src: string, mutants: Mutant[]): [number, string, string][] {
  return mutants.map((m) => {
    const out = src.slice(0, m.start) + m.replacement + src.slice(m.end);
    return [m.line, m.operator, out.split("\n")[m.line - 1].trim()];
  });
}

Deno.test("mutate: the code mask blanks comments and literals, keeps offsets and code", () => {
  const src = 'a(1, "x, y)"); // ensure(\n/* if ( */ b(`t ${c(")")} u`, \'(\');\n';
  const mask = codeMask(src);
  assertEquals(mask.length, src.length);
  assertEquals(mask.split("\n").length, src.split("\n").length);
  assertEquals(mask.includes("ensure"), false);
  assertEquals(mask.includes("if ("), false);
  // The call inside the template's ${} stays code; the string inside it does not.
  assertEquals(mask.includes("c("), true);
  assertEquals(
    [...mask].filter((c) => c === "(").length,
    [...mask].filter((c) => c === ")").length,
  );
});

Deno.test("mutate: ensure conditions are disabled whole and conjunct by conjunct", () => {
  const src = [
    "function f(a, b) {",
    '  ensure(a.ok && g(b, "&&"), "malformed", `x ${a && b}`);',
    '  ensure(a || b, "malformed", "y");',
    '  ensure(a ? b : c, "malformed", "z");',
    "}",
  ].join("\n");
  assertEquals(applied(src, findMutants("protocol/x.ts", src)), [
    [2, "ensure → true", 'ensure(true, "malformed", `x ${a && b}`);'],
    [2, "ensure → true (&& part 1/2)", 'ensure(true && g(b, "&&"), "malformed", `x ${a && b}`);'],
    [2, "ensure → true (&& part 2/2)", 'ensure(a.ok && true, "malformed", `x ${a && b}`);'],
    [3, "ensure → true", 'ensure(true, "malformed", "y");'],
    [4, "ensure → true", 'ensure(true, "malformed", "z");'],
  ]);
});

Deno.test("mutate: if-conditions whose branch refuses at once, and only those", () => {
  const src = [
    "if (bad || worse) throw new ProtocolError('malformed', 'x');",
    "if (valid) ok(); else { out.push(new ProtocolError('bad-signature', 'y')); }",
    "if (!(err instanceof ProtocolError)) throw err;",
    "if (u < v) { try { k(); } catch { throw new ProtocolError('malformed', 'z'); } }",
    "if (outer) { if (inner) throw new ProtocolError('malformed', 'w'); }",
    "if (x) { return [refused(new ProtocolError('not-leader', 'v'))]; }",
  ].join("\n");
  assertEquals(applied(src, findMutants("protocol/x.ts", src)), [
    [1, "if (…) refuse → false", "if (false) throw new ProtocolError('malformed', 'x');"],
    [
      1,
      "if (…) refuse → false (|| part 1/2)",
      "if (false || worse) throw new ProtocolError('malformed', 'x');",
    ],
    [
      1,
      "if (…) refuse → false (|| part 2/2)",
      "if (bad || false) throw new ProtocolError('malformed', 'x');",
    ],
    [
      2,
      "if (…) else refuse → true",
      "if (true) ok(); else { out.push(new ProtocolError('bad-signature', 'y')); }",
    ],
    // The nested if (line 5) is found on its own.
    [
      5,
      "if (…) refuse → false",
      "if (outer) { if (false) throw new ProtocolError('malformed', 'w'); }",
    ],
    [
      6,
      "if (…) refuse → false",
      "if (false) { return [refused(new ProtocolError('not-leader', 'v'))]; }",
    ],
  ]);
});

Deno.test("mutate: bare expect/check calls are removed only in the network-facing folders", () => {
  const src = [
    "function f(env) {",
    "  expectType(env, 'cosign');",
    "  const x = checkA(env);",
    "  await checkB(env);",
    "}",
  ]
    .join("\n");
  assertEquals(applied(src, findMutants("protocol/wire/x.ts", src)), [
    [2, "check call removed", "void 0;"],
    [4, "check call removed", "void 0;"],
  ]);
  assertEquals(findMutants("protocol/math/x.ts", src), []);
});

Deno.test("mutate: --negate adds each whole condition negated", () => {
  const src = 'ensure(a, "malformed", "x");\nensure(a || b, "malformed", "y");';
  assertEquals(applied(src, findMutants("protocol/x.ts", src, true)).map(([, , s]) => s), [
    'ensure(true, "malformed", "x");',
    'ensure(!(a), "malformed", "x");',
    'ensure(true, "malformed", "y");',
    'ensure(!(a || b), "malformed", "y");',
  ]);
});

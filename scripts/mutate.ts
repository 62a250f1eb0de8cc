/**
 * `deno task mutate [--filter TEXT]... [--skip TEXT]... [--tests PATH]... [--list] [--quick]
 * [--sample N] [--seed S] [--jobs N] [--timeout SECONDS] [--negate] [--json FILE]` (`--help`
 * says what each does): a small mutation run over the refusal checks of
 * `protocol/`. Each mutant disables one check; the protocol suite must then fail (the mutant is
 * "killed"). A mutant that survives is a security check no test pins.
 *
 * The mutants, generated mechanically from the source (`findMutants`):
 * - `ensure(COND, …)`: COND replaced by `true` (the check disabled); when COND is a conjunction,
 *   also each conjunct alone replaced by `true`.
 * - `if (COND) <branch that refuses>` (a branch that builds a `ProtocolError`, or calls
 *   `unusableKeys`/`relayedBy`, with no nested `if`): COND replaced by `false`, and each top-level
 *   disjunct alone by `false`; `if (COND) {…} else <branch that refuses>`: COND replaced by `true`,
 *   and each top-level conjunct alone by `true`.
 * - a statement that only calls an `expect…`/`check…` helper in `round/`, `certificate/`, `wire/`
 *   or `federation/`: the call removed.
 * - with `--negate`, also each whole condition negated (`!(COND)`).
 *
 * The working tree is never modified: the repository (without `.git`) is copied to a temporary
 * directory per job, each mutant is written into the copy, the suite runs there, and the file is
 * put back in the copy; the copies are removed at the end and on Ctrl-C. Tests run with
 * `--no-check` (the type checker is not a test: a mutant that breaks narrowing still runs as
 * JavaScript) and `--fail-fast`, first the test folders nearest the mutated file (its own, the
 * round and adversary tests), then, for a mutant nothing there killed, every other test file of
 * the protocol suite (`test/protocol` and `protocol/`): a survivor passed the whole suite.
 * `--quick` leaves out the slow randomized exactness test (it never sends hostile input) and
 * `--tests` runs only the given tests (to see whether a new test kills a mutant); the summary
 * names the suite that ran. Some survivors are equivalent mutants — a check repeated where the
 * same refusal happens anyway (a reader's own type check after the caller's) — and are listed
 * all the same: judge each.
 *
 * Outcomes are counted separately: killed (a test failed), survived (every test passed),
 * timeout (the run exceeded `--timeout`; not counted as killed) and error (the mutant did not
 * load: a syntax error). The kill rate is killed / (killed + survived).
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

// -------------------------------------------------------------------------------------------------
// Finding mutants.

/** One mutation of one source file. */
export interface Mutant {
  /** Path relative to the repository root, with `/` separators. */
  readonly file: string;
  /** 1-based line of the mutated text. */
  readonly line: number;
  /** What was done, e.g. `ensure → true` or `if (…) throw → false (disjunct 2)`. */
  readonly operator: string;
  /** The original text replaced (one line, shortened). */
  readonly original: string;
  /** Offset and length of the replaced text, and its replacement. */
  readonly start: number;
  readonly end: number;
  readonly replacement: string;
}

/**
 * The source with every comment and string or template literal blanked to spaces (newlines
 * kept), so that offsets are unchanged and brackets, commas and keywords found in it are code.
 */
export function codeMask(src: string): string {
  const out = src.split("");
  const blank = (i: number) => {
    if (out[i] !== "\n") out[i] = " ";
  };
  // A stack of contexts: "code" (with its brace depth) or "template".
  const stack: { kind: "code" | "template"; depth: number }[] = [{ kind: "code", depth: 0 }];
  let i = 0;
  while (i < src.length) {
    const top = stack[stack.length - 1];
    const c = src[i];
    if (top.kind === "template") {
      if (c === "\\") {
        blank(i);
        blank(i + 1);
        i += 2;
      } else if (c === "`") {
        stack.pop();
        i++;
      } else if (c === "$" && src[i + 1] === "{") {
        blank(i);
        blank(i + 1);
        stack.push({ kind: "code", depth: 0 });
        i += 2;
      } else {
        blank(i);
        i++;
      }
      continue;
    }
    if (c === "/" && src[i + 1] === "/") {
      while (i < src.length && src[i] !== "\n") blank(i++);
    } else if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      const stop = end < 0 ? src.length : end + 2;
      while (i < stop) blank(i++);
    } else if (c === '"' || c === "'") {
      i++;
      while (i < src.length && src[i] !== c && src[i] !== "\n") {
        if (src[i] === "\\") blank(i++);
        blank(i++);
      }
      i++;
    } else if (c === "`") {
      stack.push({ kind: "template", depth: 0 });
      i++;
    } else if (c === "{") {
      top.depth++;
      i++;
    } else if (c === "}") {
      if (top.depth === 0 && stack.length > 1) {
        // The end of a template's `${…}`: blank it and go back into the template.
        blank(i);
        stack.pop();
      } else top.depth--;
      i++;
    } else i++;
  }
  return out.join("");
}

const OPEN: Record<string, string> = { "(": ")", "[": "]", "{": "}" };
const CLOSE = new Set([")", "]", "}"]);

/** The offset of the bracket closing the one at `open` (in masked code), or -1. */
function matching(code: string, open: number): number {
  const stack: string[] = [];
  for (let i = open; i < code.length; i++) {
    const c = code[i];
    if (c in OPEN) stack.push(OPEN[c]);
    else if (CLOSE.has(c)) {
      if (stack.pop() !== c) return -1;
      if (stack.length === 0) return i;
    }
  }
  return -1;
}

/** Offsets in [start, end) of `sep` ("," "&&" "||") at bracket depth 0 of masked code. */
function topLevel(code: string, start: number, end: number, sep: string): number[] {
  const at: number[] = [];
  let depth = 0;
  for (let i = start; i < end; i++) {
    const c = code[i];
    if (c in OPEN) depth++;
    else if (CLOSE.has(c)) depth--;
    else if (depth === 0 && code.startsWith(sep, i)) {
      // `?.`/`??`/`=>` and friends never look like these separators; a ternary would.
      at.push(i);
      i += sep.length - 1;
    }
  }
  return at;
}

/** [start, end) spans of the parts of [start, end) split at top-level `sep`, trimmed. */
function parts(code: string, start: number, end: number, sep: string): [number, number][] {
  const cuts = topLevel(code, start, end, sep);
  const spans: [number, number][] = [];
  let s = start;
  for (const c of [...cuts, end]) {
    spans.push(trim(code, s, c));
    s = c + sep.length;
  }
  return spans;
}

function trim(code: string, start: number, end: number): [number, number] {
  while (start < end && /\s/.test(code[start])) start++;
  while (end > start && /\s/.test(code[end - 1])) end--;
  return [start, end];
}

/** True when a top-level `?` (a ternary) appears in [start, end): splitting it would be wrong. */
function hasTernary(code: string, start: number, end: number): boolean {
  return topLevel(code, start, end, "?").some((i) =>
    code[i + 1] !== "." && code[i + 1] !== "?" &&
    code[i - 1] !== "?"
  );
}

/** The end (exclusive) of the statement or block starting at `at` (masked code), or -1. */
function statementEnd(code: string, at: number): number {
  if (code[at] === "{") {
    const close = matching(code, at);
    return close < 0 ? -1 : close + 1;
  }
  let depth = 0;
  for (let i = at; i < code.length; i++) {
    const c = code[i];
    if (c in OPEN) depth++;
    else if (CLOSE.has(c)) depth--;
    else if (c === ";" && depth === 0) return i + 1;
    if (depth < 0) return -1;
  }
  return -1;
}

const REFUSES = /\bProtocolError\s*\(|\bunusableKeys\s*\(|\brelayedBy\s*\(/;

/**
 * True when a branch's code refuses at once: its first statement builds a refusal (and the
 * branch has no nested `if`, whose own condition would be the check).
 */
function refuses(branch: string): boolean {
  if (/\bif\s*\(/.test(branch)) return false;
  let at = 0;
  if (branch[0] === "{") {
    at = 1;
    while (/\s/.test(branch[at])) at++;
  }
  if (/^(try|for|while|do|switch)\b/.test(branch.slice(at))) return false;
  const end = statementEnd(branch, at);
  return REFUSES.test(branch.slice(at, end < 0 ? branch.length : end));
}

function isIdentChar(c: string | undefined): boolean {
  return c !== undefined && /[\w$.]/.test(c);
}

/** Folders whose `expect…`/`check…` statement calls are refusals of network input. */
const CALL_FOLDERS = [
  "protocol/round/",
  "protocol/certificate/",
  "protocol/wire/",
  "protocol/federation/",
];

/** Every mutant of one source file (`file` is its repository-relative path). */
export function findMutants(file: string, src: string, negate = false): Mutant[] {
  const code = codeMask(src);
  const mutants: Mutant[] = [];
  const lineOf = (offset: number) => src.slice(0, offset).split("\n").length;
  const add = (operator: string, [start, end]: [number, number], replacement: string) => {
    const original = src.slice(start, end).replace(/\s+/g, " ");
    mutants.push({
      file,
      line: lineOf(start),
      operator,
      original: original.length > 80 ? original.slice(0, 77) + "..." : original,
      start,
      end,
      replacement,
    });
  };
  /** The whole condition → `value`, and each part at top-level `sep` → `value`. */
  const disable = (what: string, cond: [number, number], value: string, sep: string) => {
    add(`${what} → ${value}`, cond, value);
    if (negate) add(`${what} negated`, cond, `!(${src.slice(...cond)})`);
    // Parts only where splitting at `sep` is unambiguous (no other operator, no ternary).
    const other = sep === "&&" ? "||" : "&&";
    if (hasTernary(code, ...cond) || topLevel(code, ...cond, other).length > 0) return;
    const ps = parts(code, ...cond, sep);
    if (ps.length > 1) {
      ps.forEach((p, k) => add(`${what} → ${value} (${sep} part ${k + 1}/${ps.length})`, p, value));
    }
  };

  for (const m of code.matchAll(/\bensure\s*\(/g)) {
    if (isIdentChar(code[m.index - 1]) || /function\s+$/.test(code.slice(0, m.index))) continue;
    const open = m.index + m[0].length - 1;
    const close = matching(code, open);
    if (close < 0) continue;
    const [comma] = topLevel(code, open + 1, close, ",");
    if (comma === undefined) continue;
    disable("ensure", trim(code, open + 1, comma), "true", "&&");
  }

  for (const m of code.matchAll(/\bif\s*\(/g)) {
    if (isIdentChar(code[m.index - 1])) continue;
    const open = m.index + m[0].length - 1;
    const close = matching(code, open);
    if (close < 0) continue;
    const cond = trim(code, open + 1, close);
    let at = close + 1;
    while (/\s/.test(code[at])) at++;
    const thenEnd = statementEnd(code, at);
    if (thenEnd < 0) continue;
    const thenCode = code.slice(at, thenEnd);
    let e = thenEnd;
    while (/\s/.test(code[e])) e++;
    let elseCode = "";
    if (code.startsWith("else", e) && !isIdentChar(code[e + 4])) {
      let b = e + 4;
      while (/\s/.test(code[b])) b++;
      if (!code.startsWith("if", b)) {
        const elseEnd = statementEnd(code, b);
        if (elseEnd > 0) elseCode = code.slice(b, elseEnd);
      }
    }
    if (refuses(thenCode)) disable("if (…) refuse", cond, "false", "||");
    else if (elseCode !== "" && refuses(elseCode)) {
      disable("if (…) else refuse", cond, "true", "&&");
    }
  }

  if (CALL_FOLDERS.some((f) => file.startsWith(f))) {
    for (
      const m of code.matchAll(/(^|[;{}]|\n)(\s*)((?:await\s+)?(?:expect|check)[A-Z]\w*\s*\()/g)
    ) {
      const start = m.index + m[1].length + m[2].length;
      const open = m.index + m[0].length - 1;
      const close = matching(code, open);
      if (close < 0) continue;
      let end = close + 1;
      while (code[end] === " ") end++;
      if (code[end] !== ";") continue; // its result is used: not a bare check
      add("check call removed", [start, end + 1], "void 0;");
    }
  }
  return mutants.sort((a, b) => a.start - b.start);
}

// -------------------------------------------------------------------------------------------------
// Running them.

type Outcome = "killed" | "survived" | "timeout" | "error";

interface Result {
  readonly mutant: Mutant;
  readonly outcome: Outcome;
  /** The first failing test, for a killed mutant. */
  readonly by?: string;
  readonly seconds: number;
}

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
/** The protocol suite, as `deno task test` runs it (minus the documentation examples). */
const SUITE = ["test/protocol", "protocol/"];
/** Randomized tests of honest rounds only, minutes long: left out by `--quick`. */
const SLOW = ["test/protocol/round/exactness_test.ts"];
const PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-net",
  "--allow-run",
  "--allow-sys=cpus,networkInterfaces",
];

async function listFiles(dir: string, suffix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${ROOT}/${dir}`)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...await listFiles(path, suffix));
    else if (e.name.endsWith(suffix) && !e.name.endsWith("_test.ts")) out.push(path);
  }
  return out.sort();
}

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.name === ".git" || e.name === "node_modules") continue;
    const src = `${from}/${e.name}`;
    const dst = `${to}/${e.name}`;
    if (e.isDirectory) await copyTree(src, dst);
    else if (e.isFile) await Deno.copyFile(src, dst);
  }
}

/** Test files of the suite in `dir` of the copy at `root`, recursively. */
async function testFiles(root: string, dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(`${root}/${dir}`)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) out.push(...await testFiles(root, path));
      else if (/_test\.ts$/.test(e.name)) out.push(path);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return out.sort();
}

let current: Deno.ChildProcess | undefined;

/** Runs `deno test` on `paths` in `root`; its outcome and the first failing test. */
async function runTests(
  root: string,
  paths: string[],
  timeoutMs: number,
): Promise<{ outcome: Outcome; by?: string; log: string }> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["test", "--no-check", "--fail-fast", ...PERMISSIONS, ...paths],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  });
  const child = cmd.spawn();
  current = child;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, timeoutMs);
  const { code, stdout, stderr } = await child.output();
  clearTimeout(timer);
  current = undefined;
  const log = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  if (timedOut) return { outcome: "timeout", log };
  if (code === 0) return { outcome: "survived", log };
  const failed = log.match(/^(.*) \.\.\. FAILED/m);
  if (failed) return { outcome: "killed", by: failed[1].trim(), log };
  if (/^running \d+ tests? from/m.test(log)) return { outcome: "killed", by: "(a test file)", log };
  return { outcome: "error", log };
}

/** Shuffles `xs` deterministically by `seed` (xorshift32). */
function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = (seed >>> 0) || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const j = (s >>> 0) % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function fmtMutant(m: Mutant): string {
  return `${m.file}:${m.line}  ${m.operator}  [${m.original}]`;
}

async function main(): Promise<void> {
  const args = parseArgs(Deno.args, {
    string: ["filter", "skip", "tests", "sample", "seed", "jobs", "timeout", "json"],
    boolean: ["list", "quick", "negate", "help"],
    collect: ["filter", "skip", "tests"],
    default: { seed: "1", jobs: "1", timeout: "900" },
  });
  if (args.help) {
    console.log(`Usage: deno task mutate [options]
  --filter TEXT    only mutants whose "file:line operator" contains TEXT (repeatable: any)
  --skip TEXT      leave out mutants whose "file:line operator" contains TEXT (repeatable)
  --tests PATH     run only these test files or folders (repeatable), e.g. to see whether a new
                   test kills a mutant; the summary then says the suite was not run
  --list           list the mutants and exit
  --quick          leave out the slow randomized tests (${SLOW.join(", ")})
  --sample N       a seeded sample of N mutants (--seed S, default 1)
  --jobs N         mutants run at once, each in its own copy (default 1)
  --timeout SEC    per test run (default 900)
  --negate         also negate each whole condition
  --json FILE      write every result to FILE`);
    return;
  }
  const filters = (args.filter ?? []) as string[];
  let mutants: Mutant[] = [];
  for (const file of await listFiles("protocol", ".ts")) {
    if (file === "protocol/errors.ts") continue; // defines ensure itself
    const src = await Deno.readTextFile(`${ROOT}/${file}`);
    mutants.push(...findMutants(file, src, args.negate));
  }
  if (filters.length > 0) {
    mutants = mutants.filter((m) =>
      filters.some((f) => `${m.file}:${m.line} ${m.operator}`.includes(f))
    );
  }
  if (args.sample !== undefined) {
    mutants = shuffled(mutants, Number(args.seed)).slice(0, Number(args.sample));
    mutants.sort((a, b) => a.file.localeCompare(b.file) || a.start - b.start);
  }
  // After sampling, so that a sample can be resumed with --skip.
  const skips = (args.skip ?? []) as string[];
  mutants = mutants.filter((m) =>
    !skips.some((f) => `${m.file}:${m.line} ${m.operator}`.includes(f))
  );
  if (args.list) {
    for (const m of mutants) console.log(fmtMutant(m));
    console.log(`${mutants.length} mutants`);
    return;
  }
  if (mutants.length === 0) {
    console.error("mutate: no mutant matches");
    Deno.exit(2);
  }

  const jobs = Math.max(1, Number(args.jobs));
  const timeoutMs = Number(args.timeout) * 1000;
  // Not makeTempDir: its hex suffix would show in stack traces, and the adversarial tests refuse
  // event text with a long hex run (a possible leaked secret).
  const letters = crypto.getRandomValues(new Uint8Array(10));
  const tmp = `${Deno.env.get("TMPDIR") ?? "/tmp"}/fedagg-mutate-${
    Array.from(letters, (b) => "ghijklmnopqrstuvwxyz"[b % 20]).join("")
  }`;
  await Deno.mkdir(tmp);
  const cleanup = () => {
    try {
      current?.kill("SIGKILL");
    } catch { /* gone */ }
    try {
      Deno.removeSync(tmp, { recursive: true });
    } catch { /* gone */ }
  };
  const onSignal = () => {
    console.error("\nmutate: interrupted; the working tree was never modified, copies removed");
    cleanup();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  try {
    const copies: string[] = [];
    for (let j = 0; j < jobs; j++) {
      const dir = `${tmp}/copy-${j}`;
      await copyTree(ROOT, dir);
      copies.push(dir);
    }
    const all = (await testFiles(copies[0], "test/protocol")).concat(
      await testFiles(copies[0], "protocol"),
    );
    const only = (args.tests ?? []) as string[];
    const suite = only.length > 0
      ? only
      : args.quick
      ? all.filter((f) => !SLOW.includes(f))
      : SUITE;
    const suiteName = only.length > 0
      ? `only ${only.join(" ")} (NOT the whole suite)`
      : args.quick
      ? `test/protocol + protocol/ without ${SLOW.join(", ")}`
      : SUITE.join(" ");
    console.log(`mutate: ${mutants.length} mutants, ${jobs} job(s), suite ${suiteName}`);
    const base = await runTests(copies[0], suite, timeoutMs);
    if (base.outcome !== "survived") {
      console.error(base.log.slice(-4000));
      console.error(`mutate: the unmutated suite does not pass (${base.outcome}); nothing to do`);
      Deno.exitCode = 1;
      return; // (through the cleanup below)
    }

    const results: Result[] = [];
    let next = 0;
    const worker = async (copy: string) => {
      while (next < mutants.length) {
        const m = mutants[next++];
        const path = `${copy}/${m.file}`;
        const src = await Deno.readTextFile(path);
        await Deno.writeTextFile(path, src.slice(0, m.start) + m.replacement + src.slice(m.end));
        const t0 = performance.now();
        try {
          // Nearest tests first (the mutated file's folder, the round and adversary tests),
          // then, for a mutant nothing there killed, every other test file of the suite.
          const folder = m.file.replace(/^protocol\//, "test/protocol/").replace(/\/[^/]*$/, "");
          const near = [
            ...new Set([
              ...await testFiles(copy, folder),
              ...await testFiles(copy, "test/protocol/round"),
              ...await testFiles(copy, "test/protocol/adversary"),
            ]),
          ].filter((f) => suite === SUITE || suite.includes(f)).filter((f) => !SLOW.includes(f));
          let r = await runTests(copy, only.length > 0 ? only : near, timeoutMs);
          if (r.outcome === "survived" && only.length === 0) {
            const rest = (suite === SUITE ? all : suite).filter((f) => !near.includes(f));
            if (rest.length > 0) r = await runTests(copy, rest, timeoutMs);
          }
          const seconds = (performance.now() - t0) / 1000;
          results.push({ mutant: m, outcome: r.outcome, by: r.by, seconds });
          console.log(
            `${r.outcome.toUpperCase().padEnd(8)} ${fmtMutant(m)}${
              r.by ? `\n         killed by: ${r.by}` : ""
            }  (${seconds.toFixed(0)} s)`,
          );
        } finally {
          await Deno.writeTextFile(path, src);
        }
      }
    };
    await Promise.all(copies.map(worker));

    const count = (o: Outcome) => results.filter((r) => r.outcome === o).length;
    const [killed, survived, timeout, error] = [
      count("killed"),
      count("survived"),
      count("timeout"),
      count("error"),
    ];
    console.log(
      `\n== ${results.length} mutants: ${killed} killed, ${survived} survived, ` +
        `${timeout} timed out, ${error} did not load`,
    );
    console.log(
      `kill rate ${killed}/${killed + survived} = ${
        (100 * killed / Math.max(1, killed + survived)).toFixed(1)
      }% (suite: ${suiteName})`,
    );
    for (const r of results.filter((r) => r.outcome !== "killed")) {
      console.log(`  ${r.outcome.padEnd(8)} ${fmtMutant(r.mutant)}`);
    }
    if (args.json) {
      await Deno.writeTextFile(args.json, JSON.stringify(results, null, 1) + "\n");
    }
    if (survived > 0) Deno.exitCode = 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    cleanup();
  }
}

if (import.meta.main) await main();

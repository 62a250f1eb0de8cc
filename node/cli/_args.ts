/**
 * Private to the command line: reading a command's options and printing its result. Every
 * refusal here is a usage error ({@link usageError}: a `NodeError` with code `"usage"`, which
 * `mod.ts` prints as is and maps to exit 2, or to exit 0 on stdout when `--help` was asked).
 *
 * @module
 */
import { parseArgs } from "npm:deno-std@1.4.0/cli/parse_args.js";
import { NodeError } from "../errors.ts";
import { HELP } from "./help.ts";

/** A command line the CLI cannot run: printed as is (no prefix), exit 2. */
export function usageError(message: string): NodeError {
  return new NodeError("usage", message);
}

/** Always throws: the usage error whose message is `command`'s help (the overview if none). */
export function usage(command: string): never {
  throw usageError(HELP[command] ?? HELP[""]);
}

/**
 * The value of `--name`. Refuses (usage error, followed by `command`'s help) a missing or empty
 * value.
 */
export function required(args: Record<string, unknown>, name: string, command: string): string {
  const v = args[name];
  if (v === "") throw usageError(`--${name} needs a value`);
  if (typeof v !== "string") {
    throw usageError(`--${name} is required\n\n${HELP[command] ?? ""}`);
  }
  return v;
}

/**
 * The value of an optional `--name`: undefined when the option is absent. Refuses (usage error)
 * an option given with an empty value (`--name=` or `--name ""`), which must not silently mean
 * the default.
 */
export function optional(args: Record<string, unknown>, name: string): string | undefined {
  const v = args[name];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v === "") throw usageError(`--${name} needs a value`);
  return v;
}

/**
 * `value` (of `--name`) as a safe integer. Refuses (usage error) anything but decimal digits, and
 * values below `min`.
 */
export function integer(value: string, name: string, min = 0): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw usageError(`--${name} must be an integer ≥ ${min}, got ${value}`);
  }
  return n;
}

/** A decimal number as written on a command line: `3`, `-0.5`, `.5`, `1e-6`, `2.5E+3`. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * `value` (of `--name`) as a finite number written in decimal. Refuses (usage error) anything
 * else, including what `Number()` would quietly accept: `0x10`, `0b1`, `1_0`, blanks (which it
 * reads as 0), `Infinity`, and values that overflow (`1e999`).
 */
export function number(value: string, name: string): number {
  const n = Number(value);
  if (!DECIMAL.test(value) || !Number.isFinite(n)) {
    throw usageError(
      `--${name} must be a number in decimal notation, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

/** The values of a repeatable option: none, one or several, as strings. Refuses nothing. */
export function list(v: unknown): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
}

/**
 * Parses `argv` for `command`: the options of `spec`, plus `--help` and `--json` (booleans) that
 * every command accepts; a negative number after an option that takes a value is its value
 * (`--beta -0.1`). Refuses (usage error, followed by `command`'s help) an unknown option, and
 * any argument that is not an option unless `spec.positional` (then they are in `_`).
 */
export function parse(
  argv: string[],
  command: string,
  spec: { string?: string[]; boolean?: string[]; collect?: string[]; positional?: boolean },
) {
  // `--beta -0.1`: the parser would take `-0.1` for a flag (and `--beta ""` leaves a stray empty
  // argument); a negative number or an empty string after an option that takes a value is that
  // option's value.
  const strings = new Set([...(spec.string ?? []), ...(spec.collect ?? [])]);
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const next = argv[i + 1];
    if (
      argv[i].startsWith("--") && strings.has(argv[i].slice(2)) && next !== undefined &&
      (next === "" || /^-(\d|\.\d)/.test(next))
    ) {
      joined.push(`${argv[i]}=${next}`);
      i++;
    } else {
      joined.push(argv[i]);
    }
  }
  return parseArgs(joined, {
    string: spec.string ?? [],
    boolean: ["help", "json", ...(spec.boolean ?? [])],
    collect: spec.collect ?? [],
    unknown: (flag: string, key?: string) => {
      if (spec.positional && key === undefined && !flag.startsWith("-")) return true;
      throw usageError(`unknown option ${flag}\n\n${HELP[command] ?? HELP[""]}`);
    },
  });
}

/**
 * Refuses (NodeError `file-exists`) to write `path` when it exists, unless `force`. The check
 * and the later atomic write are separate steps: two commands racing for one path are not
 * guarded against, a repeated command is.
 */
export async function refuseOverwrite(path: string, force: boolean): Promise<void> {
  if (force) return;
  try {
    await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  throw new NodeError(
    "file-exists",
    `${path} exists already: choose another --out, or add --force to replace it`,
  );
}

/** Parsed options, as {@link parse} returns them. */
export type Args = ReturnType<typeof parse>;

/** Prints a result on stdout: `value` as one line of JSON with `--json`, else `text`. */
export function print(json: boolean, value: unknown, text: string): void {
  console.log(json ? JSON.stringify(value) : text);
}

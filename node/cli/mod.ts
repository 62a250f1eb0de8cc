/**
 * The `fedagg` command line. Exit codes: 0 success; 1 the operation ran and failed (a check did
 * not pass, or the node refused the request or has no answer yet); 2 the operation could not
 * run: a usage or configuration error, a missing or unreadable file, or no node to talk to (not
 * running, or unreachable). Messages say what is wrong and how to fix it; `--json` prints
 * machine-readable output where a program reads it.
 *
 * This file is the entry (import {@link main} from here, never from the other files): the
 * command table and the one mapping of errors to exit codes. Commands throw what they cannot
 * run (a usage `NodeError`, another `NodeError`, a `ConfigError`, a missing or forbidden file)
 * and resolve to 0 or 1 themselves. Whatever else a command throws (a bug, or a failure no
 * check foresaw) is printed as one line too, with exit 2; its stack only with `FEDAGG_DEBUG=1`.
 * The rest, one job a file:
 *
 * - `help.ts`: the help texts, with the defaults the commands apply;
 * - `init.ts`: `fedagg init`, a new node directory;
 * - `roster.ts`: `fedagg roster create|add|sign|verify`, the roster file;
 * - `run.ts`: `fedagg run`, the node and its trainer API until a signal;
 * - `api.ts`: `fedagg submit|aggregate|status`, the commands that call a running node's
 *   trainer API (named for what they talk to), and the helpers that find and call it;
 * - `verify.ts`: `fedagg verify`, the offline check of a final certificate;
 * - `dp.ts`: `fedagg dp plan`, the noise a differential-privacy budget implies;
 * - `_args.ts`: option parsing, usage errors and printing, shared by the commands.
 *
 * @module
 */
import "../shims.ts";
import { ConfigError } from "../../protocol/mod.ts";
import { NodeError } from "../errors.ts";
import { usageError } from "./_args.ts";
import { aggregate, status, submit } from "./api.ts";
import { dp } from "./dp.ts";
import { HELP } from "./help.ts";
import { init } from "./init.ts";
import { roster } from "./roster.ts";
import { run } from "./run.ts";
import { verify } from "./verify.ts";

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  init,
  roster,
  run,
  submit,
  aggregate,
  status,
  verify,
  dp,
};

/**
 * Runs the CLI on `argv`; resolves to the exit code (0, 1 or 2, see the module doc). Without a
 * command it prints the overview and resolves to 2; `--help` anywhere a command accepts it prints
 * that command's help on stdout and resolves to 0. Never rejects: every error a command throws
 * is printed (one line on stderr, no stack trace) and resolves to 2.
 */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === "--help" || command === "-h" || command === "help") {
      console.log(HELP[""]);
      return command === undefined ? 2 : 0;
    }
    const fn = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (fn === undefined) throw usageError(`unknown command ${command}\n\n${HELP[""]}`);
    return await fn(rest);
  } catch (err) {
    return exitCodeOf(err, command, rest);
  }
}

/**
 * Prints what a command could not run and returns exit code 2 (0 for the help a usage error
 * carries when `--help` was asked). A usage error is printed as it is (its help follows the
 * first line); anything else as one line naming the command.
 */
function exitCodeOf(err: unknown, command: string | undefined, rest: string[]): number {
  if (err instanceof NodeError && err.code === "usage") {
    const helpRequested = rest.includes("--help") || rest.includes("-h");
    (helpRequested ? console.log : console.error)(err.message.trimEnd());
    return helpRequested ? 0 : 2;
  }
  if (err instanceof NodeError || err instanceof ConfigError || isSystemError(err)) {
    console.error(`fedagg ${command}: ${oneLine((err as Error).message)}`);
    return 2;
  }
  const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  console.error(
    `fedagg ${command}: unexpected error: ${oneLine(what)} ` +
      `(FEDAGG_DEBUG=1 prints where; please report it)`,
  );
  if (debugging()) console.error(err instanceof Error ? err.stack : err);
  return 2;
}

/** Whether `err` is one of the runtime's file and system errors (`Deno.errors.*`). */
function isSystemError(err: unknown): boolean {
  return Object.values(Deno.errors).some((E) => err instanceof E);
}

/** `text` on one line: line breaks (and the whitespace around them) become "; ". */
function oneLine(text: string): string {
  return text.trim().split(/\s*\n\s*/).join("; ");
}

/** Whether `FEDAGG_DEBUG=1` asks for the stack of an unexpected error (false without env access). */
function debugging(): boolean {
  try {
    return Deno.env.get("FEDAGG_DEBUG") === "1";
  } catch {
    return false;
  }
}

/**
 * `deno task compile [--target TRIPLE]... [--all] [--out DIR]`: builds the single `fedagg`
 * binary with exactly the node's permissions (`scripts/permissions.ts`) and the files it loads
 * at run time (the mask worker). Without a target it builds for this machine.
 *
 * `deno compile` downloads the runtime (`denort`) for each target from dl.deno.land the first
 * time; on a machine without that access it fails, and this script says so.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { ENTRY, NODE_INCLUDES, NODE_PERMISSIONS } from "./permissions.ts";

/** The targets `deno compile` supports. */
const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
];

const args = parseArgs(Deno.args, {
  string: ["target", "out"],
  boolean: ["all", "help"],
  collect: ["target"],
  default: { out: "dist" },
});
if (args.help) {
  console.log(`Usage: deno task compile [--target TRIPLE]... [--all] [--out DIR]

Targets: ${TARGETS.join(", ")} (default: this machine).`);
  Deno.exit(0);
}
const requested = args.all ? TARGETS : (args.target as string[]);
for (const t of requested) {
  if (!TARGETS.includes(t)) {
    console.error(`compile: unknown target ${t}; one of ${TARGETS.join(", ")}`);
    Deno.exit(2);
  }
}
const root = new URL("..", import.meta.url).pathname;
const builds: (string | undefined)[] = requested.length > 0 ? requested : [undefined];
let failed = false;
for (const target of builds) {
  const name = target === undefined
    ? "fedagg"
    : `fedagg-${target}${target.includes("windows") ? ".exe" : ""}`;
  const output = `${args.out}/${name}`;
  const cmd = [
    "compile",
    ...NODE_PERMISSIONS,
    ...NODE_INCLUDES.flatMap((f) => ["--include", f]),
    ...(target === undefined ? [] : ["--target", target]),
    "--output",
    output,
    ENTRY,
  ];
  console.log(`deno ${cmd.join(" ")}`);
  const result = await new Deno.Command(Deno.execPath(), { args: cmd, cwd: root, stderr: "piped" })
    .output();
  const stderr = new TextDecoder().decode(result.stderr);
  // The exit code decides: deno compile also writes progress and warnings to stderr.
  if (result.code !== 0) {
    failed = true;
    console.error(stderr.trimEnd());
    if (/dl\.deno\.land|dns error|download/i.test(stderr)) {
      console.error(
        `compile: deno compile could not download the runtime for ${target ?? "this machine"} ` +
          `(no access to dl.deno.land). Build on a machine with internet access, or set ` +
          `DENORT_BIN to a local denort binary of the same Deno version.`,
      );
    }
  } else {
    if (stderr.trim() !== "") console.error(stderr.trimEnd());
    console.log(`built ${output}`);
  }
}
Deno.exit(failed ? 1 : 0);

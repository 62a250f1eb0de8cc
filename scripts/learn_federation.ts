/**
 * A local federation of real `fedagg run` processes for trainers written in other languages (the
 * Python client's tests, `examples/pytorch_digits.py`):
 *
 * ```
 * deno run --allow-all scripts/learn_federation.ts --nodes 3 (--dim 650 | --layout FILE)
 *   [--max-weight W] [--clip C] [--stage-timeout MS] [--threshold T] [--out DIR]
 * ```
 *
 * `--layout FILE` gives the roster the model's tensor layout, read as `fedagg roster create
 * --layout` reads it (a `layout.json` in the model's order, or a safetensors model); d is its size.
 * Without it the roster has the flat layout of `--dim`.
 *
 * Creates the identities and a roster every member signed in DIR (a temporary directory by
 * default, removed at the end unless the start failed), starts one process per member, waits until all are connected and prints one JSON
 * line: `{"out", "roster", "threshold", "nodes": [{"name", "id", "dir", "url"}]}` (roster
 * order). It then reads commands from stdin, one per line, and answers each with one JSON line:
 * `stop NAME` (SIGTERM), `kill NAME` (SIGKILL), `start NAME` (and wait until it is connected
 * again). On end of input, SIGINT or SIGTERM it stops every node and exits; no process is left.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { LocalNet, type LocalNode } from "./testnet/local_net.ts";
import { readLayoutFile } from "../node/tensor_formats/layout_file.ts";
import { layoutSize, type ModelLayout } from "../protocol/mod.ts";

const USAGE =
  `Usage: deno run --allow-all scripts/learn_federation.ts --nodes N (--dim D | --layout FILE)
  [--max-weight W] [--clip C] [--stage-timeout MS] [--threshold T] [--out DIR]`;

const args = parseArgs(Deno.args, {
  string: ["nodes", "dim", "layout", "max-weight", "clip", "stage-timeout", "threshold", "out"],
  default: { nodes: "3", "max-weight": "1000", clip: "1", "stage-timeout": "2000" },
  unknown: (flag: string) => {
    console.error(`learn_federation: unknown option ${flag}\n${USAGE}`);
    Deno.exit(2);
  },
});
const num = (v: string | undefined, name: string, min: number, integer = true): number => {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n < min || (integer && !Number.isSafeInteger(n))) {
    console.error(`learn_federation: --${name} must be a number ≥ ${min}, got ${v}\n${USAGE}`);
    Deno.exit(2);
  }
  return n;
};
const nodes = num(args.nodes, "nodes", 2);
const stageTimeout = num(args["stage-timeout"], "stage-timeout", 100);
let layout: ModelLayout | undefined;
if (args.layout !== undefined) {
  try {
    layout = (await readLayoutFile(args.layout)).layout;
  } catch (err) {
    console.error(`learn_federation: ${(err as Error).message}`);
    Deno.exit(2);
  }
  if (args.dim !== undefined && Number(args.dim) !== layoutSize(layout)) {
    console.error(`learn_federation: --dim ${args.dim} but the layout holds ${layoutSize(layout)}`);
    Deno.exit(2);
  }
}
const out = args.out ?? await Deno.makeTempDir({ prefix: "fedagg-learn-" });
const temporary = args.out === undefined;

const net = await LocalNet.create(out, nodes, {
  ...(layout === undefined
    ? { dim: num(args.dim, "dim", 1) }
    : { dim: layoutSize(layout), layout }),
  maxWeight: num(args["max-weight"], "max-weight", 1),
  clip: num(args.clip, "clip", 0, false),
  ...(args.threshold === undefined ? {} : { threshold: num(args.threshold, "threshold", 2) }),
  // Short timeouts so a killed member or leader costs seconds (deployments use longer ones).
  stageTimeoutMs: stageTimeout,
  advertiseTimeoutMs: Math.round(1.25 * stageTimeout),
  viewTimeoutMs: Math.round(2.5 * stageTimeout),
});
let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  await net.stopAll();
  if (temporary) await Deno.remove(out, { recursive: true }).catch(() => {});
  Deno.exit(code);
};
for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, () => stop(0));

try {
  await Promise.all(net.nodes.map((n) => net.start(n)));
  await Promise.all(net.nodes.map((n) => net.connected(n)));
} catch (err) {
  console.error(`learn_federation: ${(err as Error).message} (logs in ${out}/node-*/node.log)`);
  await net.stopAll();
  Deno.exit(1); // the directory is kept for its logs
}
const ordered = net.roster.members.map((_, i) => net.node(i));
console.log(JSON.stringify({
  out,
  roster: net.rosterPath,
  threshold: net.roster.threshold,
  nodes: ordered.map((n) => ({ name: n.name, id: n.id, dir: n.dir, url: n.url })),
}));

const byName = (name: string): LocalNode | undefined => net.nodes.find((n) => n.name === name);
let buffer = "";
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  buffer += chunk;
  let end: number;
  while ((end = buffer.indexOf("\n")) >= 0) {
    const [command, name] = buffer.slice(0, end).trim().split(/\s+/);
    buffer = buffer.slice(end + 1);
    const node = byName(name ?? "");
    try {
      if (node === undefined) throw new Error(`no node named ${name}`);
      if (command === "stop") await net.stop(node, "SIGTERM");
      else if (command === "kill") await net.stop(node, "SIGKILL");
      else if (command === "start") {
        await net.start(node);
        await net.connected(node);
      } else throw new Error(`unknown command ${command} (stop, kill, start)`);
      console.log(JSON.stringify({ ok: true, command, name }));
    } catch (err) {
      console.log(JSON.stringify({ ok: false, command, name, error: (err as Error).message }));
    }
  }
}
await stop(0);

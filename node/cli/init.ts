/**
 * `fedagg init`: a new node directory (identity, API token, member card).
 *
 * @module
 */
import { initNodeDir } from "../node_dir.ts";
import { list, parse, print, required, usage } from "./_args.ts";

/**
 * Creates the node directory `--dir` (see `initNodeDir`) and prints this member's card; resolves
 * to 0. Refuses (throws) a missing `--dir` and a directory that already holds an identity.
 */
export async function init(argv: string[]): Promise<number> {
  const args = parse(argv, "init", {
    string: ["dir", "listen", "announce", "name"],
    collect: ["listen", "announce"],
  });
  if (args.help) usage("init");
  const dir = required(args, "dir", "init");
  const { identity, card } = await initNodeDir(dir, {
    listen: list(args.listen),
    announce: list(args.announce),
    name: args.name,
  });
  print(
    args.json,
    card,
    `created ${dir}: member ${identity.peerId}\n${JSON.stringify(card, null, 2)}`,
  );
  return 0;
}

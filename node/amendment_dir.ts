/**
 * The roster amendments a node directory holds (`DIR/amendments/`, one amendment file each):
 * what the operator put there before a start, and every amendment the node took through its
 * API (stored before it is adopted). At start-up the node walks the chain from its signed roster
 * through all of them (`walkChain`: copies of one amendment with separately gathered
 * signatures count together), so a restart runs the same versions; an amendment that is not
 * valid yet stays there as a copy until more signatures arrive.
 *
 * @module
 */
import { type Roster, type SignedAmendment, toHex } from "../protocol/mod.ts";
import { ensureDirectory } from "./atomic_file.ts";
import {
  type AmendmentFile,
  readAmendmentFile,
  signedAmendmentOf,
  writeAmendmentFile,
} from "./amendment_file.ts";
import { NodeError } from "./errors.ts";

/** The folder of a node directory that holds its amendment files. */
export function amendmentDir(dir: string): string {
  return `${dir}/amendments`;
}

/**
 * The signed amendments of every `*.json` file in `DIR/amendments/` (none when the folder does
 * not exist), in file-name order. Refuses (NodeError `amendment-invalid`, naming the file) a
 * file that does not parse, or that amends another federation than `roster`'s.
 */
export async function readAmendmentDir(dir: string, roster: Roster): Promise<SignedAmendment[]> {
  const folder = amendmentDir(dir);
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(folder)) {
      if (e.isFile && e.name.endsWith(".json")) names.push(e.name);
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  const out: SignedAmendment[] = [];
  for (const name of names.sort()) {
    const path = `${folder}/${name}`;
    out.push(signedOf(await readAmendmentFile(path), roster, path));
  }
  return out;
}

/**
 * The signed amendment of `file`. Refuses (NodeError `amendment-invalid`, naming `where`) one of
 * another federation than `roster`'s, or whose keys or signatures do not decode.
 */
export function signedOf(file: AmendmentFile, roster: Roster, where: string): SignedAmendment {
  if (file.federation !== roster.federation) {
    throw new NodeError(
      "amendment-invalid",
      `${where} amends federation ${file.federation}; this node runs ${roster.federation}`,
    );
  }
  try {
    return signedAmendmentOf(file);
  } catch (err) {
    throw new NodeError("amendment-invalid", `${where}: ${(err as Error).message}`);
  }
}

/**
 * Stores `file` in `DIR/amendments/` (atomically; a file of the same content is written once),
 * named by its version and a digest of its content; resolves to the path.
 */
export async function storeAmendment(dir: string, file: AmendmentFile): Promise<string> {
  const folder = amendmentDir(dir);
  await ensureDirectory(folder);
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(JSON.stringify(file))),
  );
  const path = `${folder}/v${file.version}-${toHex(digest).slice(0, 16)}.json`;
  await writeAmendmentFile(path, file);
  return path;
}

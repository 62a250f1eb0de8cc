/**
 * A new node directory, as `fedagg init` makes it: the identity (`identity.json`, mode 0600, in
 * a directory of mode 0700), the trainer API token (`api.token`, 0600), the node's own settings
 * (`node.json`, 0600: the addresses it listens on) and its public member card (`card.json`,
 * 0644) for the roster. The CLI and the local test network both create directories through
 * {@link initNodeDir}, so they hold the same files.
 *
 * @module
 */
import { type Rng, systemRng, toBase64 } from "../protocol/mod.ts";
import { writeFileAtomic } from "./atomic_file.ts";
import { createIdentity, type MemberCard, type NodeIdentity } from "./identity.ts";

/** Where a node listens when neither `init` nor `run` is given an address. */
export const DEFAULT_LISTEN: readonly string[] = ["/ip4/127.0.0.1/tcp/4001"];

/** What {@link initNodeDir} created. Holds secrets (the identity and the token): never log it. */
export interface InitializedNode {
  readonly identity: NodeIdentity;
  /** The trainer API's bearer token, as written to `api.token`. */
  readonly token: string;
  /** The member card, as written to `card.json`. */
  readonly card: MemberCard;
}

/**
 * Creates the node directory `dir`: a new identity (from `rng`), a random API token of 32
 * alphanumeric characters, `node.json` with `listen` (default {@link DEFAULT_LISTEN}) and the
 * card announcing `announce` (default: the listen addresses). Refuses (NodeError
 * `identity-exists`) a directory that already has an identity, before writing anything.
 */
export async function initNodeDir(
  dir: string,
  options: { listen?: readonly string[]; announce?: readonly string[] } = {},
  rng: Rng = systemRng,
): Promise<InitializedNode> {
  const listen = options.listen !== undefined && options.listen.length > 0
    ? [...options.listen]
    : [...DEFAULT_LISTEN];
  const announce = options.announce !== undefined && options.announce.length > 0
    ? options.announce
    : listen;
  const identity = await createIdentity(dir, rng);
  // 24 random bytes in base64 are 32 characters without padding; "+" and "/" become "x" so the
  // token needs no quoting anywhere (it keeps well over 128 bits).
  const token = toBase64(rng(24)).replace(/[+/=]/g, "x");
  await writeFileAtomic(`${dir}/api.token`, token + "\n", 0o600);
  await writeFileAtomic(`${dir}/node.json`, JSON.stringify({ listen }, null, 2) + "\n", 0o600);
  const card = identity.card(announce);
  await writeFileAtomic(`${dir}/card.json`, JSON.stringify(card, null, 2) + "\n", 0o644);
  return { identity, token, card };
}

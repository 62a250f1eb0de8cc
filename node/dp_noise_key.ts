/**
 * A node's DP noise key (`dp-noise.key` in its directory, 32 random bytes, mode 0600): the
 * secret from which the member re-derives its seed for each round of a DP roster
 * (`dpMemberSeed`), so its noise for a round is drawn once and is the same after a restart.
 * Created on the first start under a DP roster. Whoever reads it can recompute (and so remove)
 * this member's noise share from past aggregates: it is as secret as the identity.
 *
 * @module
 */
import { type Rng, systemRng } from "../protocol/mod.ts";
import { readFileIfExists, writeFileAtomic } from "./atomic_file.ts";
import { NodeError } from "./errors.ts";

/** The key file's name in the node directory. */
export const DP_NOISE_KEY_FILE = "dp-noise.key";

/**
 * The node's DP noise key, created (from `rng`, written atomically, mode 0600) when `dir` has
 * none. Refuses (NodeError `dp-key-invalid`) a key file that is not exactly 32 bytes: a damaged
 * key is never silently replaced (the rounds it seeded would get fresh noise).
 */
export async function loadDpNoiseKey(dir: string, rng: Rng = systemRng): Promise<Uint8Array> {
  const path = `${dir}/${DP_NOISE_KEY_FILE}`;
  const existing = await readFileIfExists(path);
  if (existing !== undefined) {
    if (existing.length !== 32) {
      throw new NodeError(
        "dp-key-invalid",
        `${path} holds ${existing.length} bytes, not a 32-byte DP noise key; restore it from ` +
          "a backup (a new key would re-noise rounds already sent)",
      );
    }
    return existing;
  }
  const key = rng(32);
  await writeFileAtomic(path, key, 0o600);
  return key;
}

/**
 * Randomness as an explicit input. The protocol core never reaches for a global random source:
 * every state machine and sharing routine takes an {@link Rng}, so the same code runs with the
 * operating system's CSPRNG in the node and with a seeded, reproducible stream in simulations
 * and tests.
 *
 * @module
 */
import nodeCrypto from "node:crypto";
import { utf8 } from "../encoding/bytes.ts";

/** Returns `length` fresh random bytes. Implementations must be cryptographically secure. */
export type Rng = (length: number) => Uint8Array;

/** The operating system's CSPRNG (`crypto.getRandomValues`, chunked to its 64 KiB limit). */
export const systemRng: Rng = (length: number): Uint8Array => {
  const out = new Uint8Array(length);
  for (let off = 0; off < length; off += 65536) {
    crypto.getRandomValues(out.subarray(off, Math.min(length, off + 65536)));
  }
  return out;
};

/**
 * A deterministic CSPRNG: the ChaCha20 keystream of a 32-byte seed (nonce zero, counter from
 * zero). Two generators made from the same seed return the same bytes for the same sequence of
 * requests. For simulations and tests only; refuses a seed that is not 32 bytes.
 */
export function seededRng(seed: Uint8Array): Rng {
  if (seed.length !== 32) throw new RangeError("seededRng needs a 32-byte seed");
  const cipher = nodeCrypto.createCipheriv("chacha20", seed, new Uint8Array(16));
  return (length) => new Uint8Array(cipher.update(new Uint8Array(length)));
}

/**
 * A deterministic CSPRNG named by a label: {@link seededRng} keyed by the SHA-256 of the labels
 * joined with `/` (`labelledRng("fedagg-sim", 7, "member", 3)` is the stream of
 * `"fedagg-sim/7/member/3"`). For simulations and tests only: one helper, each user with its own
 * first label (its domain).
 */
export function labelledRng(...labels: (string | number)[]): Rng {
  const seed = new Uint8Array(
    nodeCrypto.createHash("sha256").update(utf8(labels.join("/"))).digest(),
  );
  return seededRng(seed);
}

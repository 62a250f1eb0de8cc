/**
 * Hashes: SHA-256 (node:crypto, native) for everything the protocol hashes, SHA3-256 only where
 * a standard demands it (the X-Wing combiner), and {@link taggedHash}, the one way the protocol
 * hashes structured data: a domain label plus length-prefixed parts, so no two (label, parts)
 * inputs collide by concatenation.
 *
 * @module
 */
import nodeCrypto from "node:crypto";

/** SHA-256 of the concatenation of `parts`. */
export function sha256(...parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const h = nodeCrypto.createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** SHA3-256 of the concatenation of `parts` (FIPS 202). */
export function sha3_256(...parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const h = nodeCrypto.createHash("sha3-256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

const encoder = new TextEncoder();

/**
 * The UTF-8 bytes of each label seen: the labels are the constants of `domains.ts`, and encoding
 * one costs about as much as hashing a share-tree node. Bounded, in case a caller makes labels up.
 */
const labelBytes = new Map<string, Uint8Array>();
const LABEL_CACHE_LIMIT = 256;

function encodedLabel(label: string): Uint8Array {
  let l = labelBytes.get(label);
  if (l === undefined) {
    l = encoder.encode(label);
    if (labelBytes.size >= LABEL_CACHE_LIMIT) labelBytes.clear();
    labelBytes.set(label, l);
  }
  return l;
}

/**
 * Inputs up to this many framed bytes are hashed in one `update` of one buffer: node:crypto's
 * cost per call (≈ µs) dwarfs copying a few hundred bytes, and share trees hash thousands of
 * 64-byte nodes per round. Larger inputs (vectors) are streamed part by part, uncopied.
 */
const ONE_SHOT_LIMIT = 4096;

/**
 * Domain-separated SHA-256: `SHA-256(len(label) ‖ label ‖ len(p1) ‖ p1 ‖ …)` with 4-byte
 * big-endian lengths. Use a distinct label (see `domains.ts`) for every purpose.
 */
export function taggedHash(
  label: string,
  ...parts: readonly Uint8Array[]
): Uint8Array<ArrayBuffer> {
  const l = encodedLabel(label);
  const h = nodeCrypto.createHash("sha256");
  if (framedLength(l, parts) <= ONE_SHOT_LIMIT) {
    h.update(frame(l, parts));
  } else {
    const prefix = new Uint8Array(4);
    const view = new DataView(prefix.buffer);
    view.setUint32(0, l.length);
    h.update(prefix);
    h.update(l);
    for (const p of parts) {
      view.setUint32(0, p.length);
      h.update(prefix); // node:crypto consumes the bytes before returning
      h.update(p);
    }
  }
  return new Uint8Array(h.digest());
}

/**
 * Length-prefixed concatenation of a label and parts, the same framing as {@link taggedHash}.
 * Used as HKDF `info` so that key-derivation contexts are unambiguous too.
 */
export function framed(label: string, ...parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  return frame(encodedLabel(label), parts);
}

function framedLength(l: Uint8Array, parts: readonly Uint8Array[]): number {
  let size = 4 + l.length;
  for (const p of parts) size += 4 + p.length;
  return size;
}

function frame(l: Uint8Array, parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(framedLength(l, parts));
  const view = new DataView(out.buffer);
  let o = 0;
  view.setUint32(o, l.length);
  out.set(l, o + 4);
  o += 4 + l.length;
  for (const p of parts) {
    view.setUint32(o, p.length);
    out.set(p, o + 4);
    o += 4 + p.length;
  }
  return out;
}

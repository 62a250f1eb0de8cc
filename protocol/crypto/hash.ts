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

/** Big-endian 4-byte length prefix. */
function lengthPrefix(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

/**
 * Domain-separated SHA-256: `SHA-256(len(label) ‖ label ‖ len(p1) ‖ p1 ‖ …)` with 4-byte
 * big-endian lengths. Use a distinct label (see `domains.ts`) for every purpose.
 */
export function taggedHash(
  label: string,
  ...parts: readonly Uint8Array[]
): Uint8Array<ArrayBuffer> {
  const h = nodeCrypto.createHash("sha256");
  const l = encoder.encode(label);
  h.update(lengthPrefix(l.length));
  h.update(l);
  for (const p of parts) {
    h.update(lengthPrefix(p.length));
    h.update(p);
  }
  return new Uint8Array(h.digest());
}

/**
 * Length-prefixed concatenation of a label and parts, the same framing as {@link taggedHash}.
 * Used as HKDF `info` so that key-derivation contexts are unambiguous too.
 */
export function framed(label: string, ...parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const l = encoder.encode(label);
  let size = 4 + l.length;
  for (const p of parts) size += 4 + p.length;
  const out = new Uint8Array(size);
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

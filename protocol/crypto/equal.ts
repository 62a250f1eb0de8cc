/**
 * Constant-time comparison of secrets.
 *
 * @module
 */
import nodeCrypto from "node:crypto";

/**
 * True when `a` and `b` are equal, in time independent of their contents (the lengths are not
 * secret). Use for every comparison that involves secret or secret-derived bytes.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return nodeCrypto.timingSafeEqual(a, b);
}

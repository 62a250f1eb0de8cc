/**
 * X25519 wrapper (protocol/crypto/x25519.ts) against RFC 7748 and the reference implementation
 * (`x25519` of `@noble/curves`).
 *
 * Vectors: RFC 7748 §5.2 (the two scalar-multiplication vectors and the iterated test after 1
 * and 1,000 iterations) and §6.1 (Alice/Bob Diffie-Hellman).
 * https://www.rfc-editor.org/rfc/rfc7748#section-5.2
 * https://www.rfc-editor.org/rfc/rfc7748#section-6.1
 */
import nodeCrypto from "node:crypto";
import { x25519 as nobleX25519 } from "@noble/curves/ed25519.js";
import { bytesToNumberLE, numberToBytesLE } from "@noble/curves/utils.js";
import {
  isLowOrderX25519,
  x25519,
  X25519_LENGTH,
  X25519Key,
  x25519PublicKey,
} from "../../../protocol/crypto/x25519.ts";
import { assertEquals, assertThrows } from "../../_assert.ts";
import { fromHex, testBytes, toHex } from "./_helpers.ts";

Deno.test("X25519: RFC 7748 §5.2 scalar multiplication vector 1", () => {
  const scalar = fromHex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
  const u = fromHex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
  assertEquals(
    toHex(x25519(scalar, u)),
    "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
  );
});

Deno.test("X25519: RFC 7748 §5.2 scalar multiplication vector 2 (u with its top bit set)", () => {
  const scalar = fromHex("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d");
  // As printed in the RFC: the last byte 0x93 has its most significant bit set, which X25519
  // must ignore (RFC 7748 §5, decodeUCoordinate masks it).
  const u = fromHex("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493");
  const expected = "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957";
  assertEquals(toHex(x25519(scalar, u)), expected);
  // The same point with the bit cleared gives the same output.
  const masked = new Uint8Array(u);
  masked[31] &= 0x7f;
  assertEquals(toHex(x25519(scalar, masked)), expected);
});

Deno.test("X25519: RFC 7748 §5.2 iterated test, 1 and 1,000 iterations", () => {
  // k = u = 9; each round: k' = X25519(k, u), u = k, k = k'.
  let k = fromHex("0900000000000000000000000000000000000000000000000000000000000000");
  let u = fromHex("0900000000000000000000000000000000000000000000000000000000000000");
  for (let i = 1; i <= 1000; i++) {
    const next = x25519(k, u);
    u = k;
    k = next;
    if (i === 1) {
      assertEquals(
        toHex(k),
        "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079",
        "after one iteration",
      );
    }
  }
  assertEquals(
    toHex(k),
    "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51",
    "after 1,000 iterations",
  );
});

Deno.test("X25519: RFC 7748 §6.1 Alice/Bob key agreement", () => {
  const alicePrivate = fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const alicePublic = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
  const bobPrivate = fromHex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  const bobPublic = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
  const shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

  assertEquals(toHex(x25519PublicKey(alicePrivate)), alicePublic);
  assertEquals(toHex(x25519PublicKey(bobPrivate)), bobPublic);
  assertEquals(toHex(x25519(alicePrivate, fromHex(bobPublic))), shared);
  assertEquals(toHex(x25519(bobPrivate, fromHex(alicePublic))), shared);
});

Deno.test("X25519: an imported X25519Key agrees and derives as the one-shot functions do", () => {
  const alice = new X25519Key(
    fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
  );
  const bobPublic = fromHex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  assertEquals(
    toHex(alice.publicKey()),
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
  );
  // Used twice: the imported key is reused, the result the same (RFC 7748 §6.1).
  for (let i = 0; i < 2; i++) {
    assertEquals(
      toHex(alice.agree(bobPublic)),
      "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
    );
  }
  for (const sk of SECRET_KEYS) {
    const key = new X25519Key(sk);
    assertEquals(toHex(key.publicKey()), toHex(x25519PublicKey(sk)));
    for (const u of LOW_ORDER_HEX) assertThrows(() => key.agree(fromHex(u)), RangeError);
    assertThrows(() => key.agree(new Uint8Array(31)), RangeError);
  }
  assertThrows(() => new X25519Key(new Uint8Array(31)), RangeError);
});

Deno.test("X25519: public key is X25519(k, 9)", () => {
  const base = fromHex("0900000000000000000000000000000000000000000000000000000000000000");
  for (let i = 0; i < 8; i++) {
    const sk = testBytes(`x25519/base/${i}`, 32);
    assertEquals(toHex(x25519PublicKey(sk)), toHex(x25519(sk, base)));
  }
});

/**
 * The low-order encodings as libsodium lists them (as bytes: `has_small_order` in
 * crypto_scalarmult/curve25519/ref10/x25519_ref10.c): u = 0, u = 1, the two points of order 8,
 * and p − 1, p, p + 1 (p and p + 1 are non-canonical encodings of 0 and 1). Every clamped scalar
 * sends them to the all-zero output.
 */
const LOW_ORDER_HEX = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];

/** Secret keys the low-order checks agree with: RFC 7748 §6.1 Alice's and an arbitrary one. */
const SECRET_KEYS = [
  fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
  testBytes("x25519/low-order", 32),
];

Deno.test("X25519: refuses low-order public keys (all-zero output)", () => {
  for (const u of LOW_ORDER_HEX) {
    for (const sk of SECRET_KEYS) {
      // The reference implementation agrees these points are degenerate.
      assertThrows(() => nobleX25519.getSharedSecret(sk, fromHex(u)));
      assertThrows(() => x25519(sk, fromHex(u)), RangeError);
    }
  }
});

Deno.test("X25519: refuses keys of the wrong length", () => {
  const sk = testBytes("x25519/lengths/sk", 32);
  const pk = x25519PublicKey(testBytes("x25519/lengths/pk", 32));
  for (const n of [0, 1, 31, 33, 64]) {
    const wrong = testBytes(`x25519/lengths/${n}`, n);
    assertThrows(() => x25519PublicKey(wrong), RangeError);
    assertThrows(() => x25519(wrong, pk), RangeError);
    assertThrows(() => x25519(sk, wrong), RangeError);
  }
  assertEquals(X25519_LENGTH, 32);
});

Deno.test("X25519: equals the reference implementation on arbitrary keys", () => {
  for (let i = 0; i < 32; i++) {
    // Unclamped scalars: the wrapper must clamp exactly as RFC 7748 §5 says.
    const a = testBytes(`x25519/ref/a/${i}`, 32);
    const b = testBytes(`x25519/ref/b/${i}`, 32);
    const pa = x25519PublicKey(a);
    const pb = x25519PublicKey(b);
    assertEquals(toHex(pa), toHex(nobleX25519.getPublicKey(a)));
    assertEquals(toHex(pb), toHex(nobleX25519.getPublicKey(b)));
    const ab = x25519(a, pb);
    assertEquals(toHex(ab), toHex(nobleX25519.getSharedSecret(a, pb)));
    assertEquals(toHex(ab), toHex(x25519(b, pa)));
  }
});

Deno.test("X25519: inputs are not modified", () => {
  const sk = testBytes("x25519/immutable/sk", 32);
  const pk = x25519PublicKey(testBytes("x25519/immutable/pk", 32));
  const skCopy = toHex(sk);
  const pkCopy = toHex(pk);
  x25519PublicKey(sk);
  x25519(sk, pk);
  assertEquals(toHex(sk), skCopy);
  assertEquals(toHex(pk), pkCopy);
});

/** Base64url without padding (JWK key material). */
function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

/**
 * The raw node:crypto agreement of `sk` with `u`, imported as JWK (not through the wrapper's
 * DER helpers), or undefined when it is degenerate: node:crypto refuses to return the all-zero
 * result (ERR_OSSL_FAILED_DURING_DERIVATION), and an all-zero output counts the same. Any other
 * error propagates.
 */
function referenceAgreement(sk: Uint8Array, u: Uint8Array): Uint8Array | undefined {
  const privateKey = nodeCrypto.createPrivateKey({
    key: {
      kty: "OKP",
      crv: "X25519",
      d: base64url(sk),
      x: base64url(nobleX25519.getPublicKey(sk)),
    },
    format: "jwk",
  });
  const publicKey = nodeCrypto.createPublicKey({
    key: { kty: "OKP", crv: "X25519", x: base64url(u) },
    format: "jwk",
  });
  let out: Uint8Array;
  try {
    out = new Uint8Array(nodeCrypto.diffieHellman({ privateKey, publicKey }));
  } catch (err) {
    if ((err as { code?: string }).code === "ERR_OSSL_FAILED_DURING_DERIVATION") return undefined;
    throw err;
  }
  return out.every((b) => b === 0) ? undefined : out;
}

/** The noble ladder's result, or undefined when noble refuses the point as low-order. */
function nobleAgreement(sk: Uint8Array, u: Uint8Array): Uint8Array | undefined {
  try {
    return nobleX25519.getSharedSecret(sk, u);
  } catch (err) {
    if ((err as Error).message === "invalid private or public key received") return undefined;
    throw err;
  }
}

Deno.test("X25519: isLowOrderX25519 is exactly the set of keys whose agreement is all zeros", () => {
  const p = 2n ** 255n - 19n;
  const top = 2n ** 255n;
  const values = new Set<bigint>();
  // The listed encodings and their neighbours u ± 1.
  for (const hex of LOW_ORDER_HEX) {
    const v = bytesToNumberLE(fromHex(hex));
    for (const d of [-1n, 0n, 1n]) values.add((v + d + top) % top);
  }
  // Every non-canonical encoding (p … 2^255 − 1, i.e. 0 … 18 mod p), and small u.
  for (let v = p; v < top; v++) values.add(v);
  for (let v = 0n; v < 32n; v++) values.add(v);
  const encodings: Uint8Array[] = [];
  for (const v of values) {
    const u = numberToBytesLE(v, 32);
    const high = u.slice();
    high[31] |= 0x80; // the ignored top bit
    encodings.push(u, high);
  }
  for (let i = 0; i < 16; i++) encodings.push(testBytes(`x25519/low-order/random/${i}`, 32));

  const degenerate: string[] = [];
  for (const u of encodings) {
    const [first, ...rest] = SECRET_KEYS.map((sk) => referenceAgreement(sk, u));
    const refused = first === undefined;
    for (const r of rest) assertEquals(r === undefined, refused, `scalars disagree on ${toHex(u)}`);
    if (refused) degenerate.push(toHex(u));
    assertEquals(isLowOrderX25519(u), refused, toHex(u));
    for (const sk of SECRET_KEYS) {
      const expected = referenceAgreement(sk, u);
      assertEquals(nobleAgreement(sk, u), expected, `noble on ${toHex(u)}`);
      if (expected === undefined) assertThrows(() => x25519(sk, u), RangeError);
      else assertEquals(x25519(sk, u), expected);
    }
  }
  // The agreement refuses exactly libsodium's encodings, with either top bit.
  const withTopBit = (hex: string) => {
    const u = fromHex(hex);
    u[31] |= 0x80;
    return toHex(u);
  };
  assertEquals(degenerate.sort(), [...LOW_ORDER_HEX, ...LOW_ORDER_HEX.map(withTopBit)].sort());
  assertThrows(() => isLowOrderX25519(new Uint8Array(31)), RangeError);
});

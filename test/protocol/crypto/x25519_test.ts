/**
 * X25519 wrapper (protocol/crypto/x25519.ts) against RFC 7748 and the reference implementation
 * (`x25519` of `@noble/curves`).
 *
 * Vectors: RFC 7748 §5.2 (the two scalar-multiplication vectors and the iterated test after 1
 * and 1,000 iterations) and §6.1 (Alice/Bob Diffie-Hellman).
 * https://www.rfc-editor.org/rfc/rfc7748#section-5.2
 * https://www.rfc-editor.org/rfc/rfc7748#section-6.1
 */
import { x25519 as nobleX25519 } from "@noble/curves/ed25519.js";
import {
  isLowOrderX25519,
  x25519,
  X25519_LENGTH,
  x25519PublicKey,
} from "../../../protocol/crypto/x25519.ts";
import { seededRng } from "../../../protocol/crypto/random.ts";
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

Deno.test("X25519: public key is X25519(k, 9)", () => {
  const base = fromHex("0900000000000000000000000000000000000000000000000000000000000000");
  for (let i = 0; i < 8; i++) {
    const sk = testBytes(`x25519/base/${i}`, 32);
    assertEquals(toHex(x25519PublicKey(sk)), toHex(x25519(sk, base)));
  }
});

Deno.test("X25519: refuses low-order public keys (all-zero output)", () => {
  // u = 0, u = 1, the two points of order 8, and p - 1, p, p + 1 (non-canonical encodings
  // of low-order points): every clamped scalar sends them to the all-zero output.
  const lowOrder = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  ];
  const secretKeys = [
    fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
    testBytes("x25519/low-order", 32),
  ];
  for (const u of lowOrder) {
    for (const sk of secretKeys) {
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

Deno.test("X25519: isLowOrderX25519 agrees with the agreement itself", () => {
  const secret = new Uint8Array(32).fill(0x5a);
  const agreementRefuses = (u: Uint8Array) => {
    try {
      x25519(secret, u);
      return false;
    } catch {
      return true;
    }
  };
  // Every low-order encoding, with and without the (ignored) top bit.
  const p = 2n ** 255n - 19n;
  const le = (v: bigint) => {
    const out = new Uint8Array(32);
    for (let i = 0; i < 32; i++) out[i] = Number((v >> BigInt(8 * i)) & 0xffn);
    return out;
  };
  const lowOrder = [
    0n,
    1n,
    p - 1n,
    p,
    p + 1n,
    325606250916557431795983626356110631294008115727848805560023387167927233504n,
    39382357235489614581723060781553021112529911719440698176882885853963445705823n,
  ].map(le);
  for (const u of lowOrder) {
    for (const top of [0, 0x80]) {
      const v = u.slice();
      v[31] |= top;
      assertEquals(isLowOrderX25519(v), true);
      assertEquals(agreementRefuses(v), true);
    }
  }
  // Edge and random points: the table and the agreement give the same answer.
  const rng = seededRng(new Uint8Array(32).fill(7));
  const samples = [
    le(2n),
    le(p - 2n),
    le(p + 2n),
    le(2n ** 255n - 1n),
    ...Array.from(
      { length: 200 },
      () => rng(32),
    ),
  ];
  for (const u of samples) assertEquals(isLowOrderX25519(u), agreementRefuses(u));
  assertThrows(() => isLowOrderX25519(new Uint8Array(31)), RangeError);
});

/**
 * Ed25519 wrapper (protocol/crypto/ed25519.ts) against RFC 8032 and the reference
 * implementation (`ed25519` of `@noble/curves`).
 *
 * Vectors: RFC 8032 §7.1, TEST 1, TEST 2, TEST 3 and TEST 1024 (secret key seed, public key,
 * message, signature). https://www.rfc-editor.org/rfc/rfc8032#section-7.1
 * TEST 1024 (1023-byte message) is kept in vectors/ed25519_rfc8032_test1024.json.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import {
  ED25519_SIGNATURE_LENGTH,
  Ed25519Signer,
  ed25519Verify,
} from "../../../protocol/crypto/ed25519.ts";
import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import { flipBit, fromHex, testBytes, toHex, utf8 } from "./_helpers.ts";
import test1024 from "./vectors/ed25519_rfc8032_test1024.json" with { type: "json" };

interface Vector {
  name: string;
  secretKey: string;
  publicKey: string;
  message: string;
  signature: string;
}

const VECTORS: readonly Vector[] = [
  {
    name: "TEST 1",
    secretKey: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    message: "",
    signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac" +
      "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  },
  {
    name: "TEST 2",
    secretKey: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    message: "72",
    signature: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e" +
      "458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
  },
  {
    name: "TEST 3",
    secretKey: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    publicKey: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    message: "af82",
    signature: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290" +
      "ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
  },
  {
    name: "TEST 1024",
    secretKey: test1024.secretKey,
    publicKey: test1024.publicKey,
    message: test1024.message,
    signature: test1024.signature,
  },
];

Deno.test("Ed25519: TEST 1024 vector file is well formed", () => {
  assertEquals(fromHex(test1024.message).length, test1024.messageLength);
  assertEquals(fromHex(test1024.signature).length, ED25519_SIGNATURE_LENGTH);
});

for (const v of VECTORS) {
  Deno.test(`Ed25519: RFC 8032 §7.1 ${v.name}`, () => {
    const signer = new Ed25519Signer(fromHex(v.secretKey));
    assertEquals(toHex(signer.publicKey), v.publicKey);
    const message = fromHex(v.message);
    assertEquals(toHex(signer.sign(message)), v.signature);
    assertEquals(ed25519Verify(fromHex(v.publicKey), message, fromHex(v.signature)), true);
  });

  Deno.test(`Ed25519: ${v.name} with one flipped bit is refused`, () => {
    const publicKey = fromHex(v.publicKey);
    const message = fromHex(v.message);
    const signature = fromHex(v.signature);
    // Message: every bit of short messages, a spread of bits of long ones.
    const messageBits = message.length * 8;
    const step = Math.max(1, Math.floor(messageBits / 97));
    for (let bit = 0; bit < messageBits; bit += step) {
      assertEquals(ed25519Verify(publicKey, flipBit(message, bit), signature), false, `msg ${bit}`);
    }
    // Signature: every bit (R and S).
    for (let bit = 0; bit < signature.length * 8; bit++) {
      assertEquals(ed25519Verify(publicKey, message, flipBit(signature, bit)), false, `sig ${bit}`);
    }
    // Public key: every bit (some flips give encodings that are not points at all).
    for (let bit = 0; bit < publicKey.length * 8; bit++) {
      assertEquals(ed25519Verify(flipBit(publicKey, bit), message, signature), false, `pk ${bit}`);
    }
    // An appended or dropped message byte.
    const longer = new Uint8Array(message.length + 1);
    longer.set(message);
    assertEquals(ed25519Verify(publicKey, longer, signature), false);
    if (message.length > 0) {
      assertEquals(ed25519Verify(publicKey, message.subarray(1), signature), false);
    }
  });
}

Deno.test("Ed25519: wrong lengths return false, never throw", () => {
  const signer = new Ed25519Signer(testBytes("ed25519/lengths", 32));
  const message = utf8("length checks");
  const signature = signer.sign(message);
  assertEquals(ed25519Verify(signer.publicKey, message, signature), true);
  for (const n of [0, 1, 31, 33, 64]) {
    const key = new Uint8Array(n);
    key.set(signer.publicKey.subarray(0, Math.min(n, 32)));
    assertEquals(ed25519Verify(key, message, signature), false, `public key of ${n} bytes`);
  }
  for (const n of [0, 1, 63, 65, 128]) {
    const sig = new Uint8Array(n);
    sig.set(signature.subarray(0, Math.min(n, 64)));
    assertEquals(ed25519Verify(signer.publicKey, message, sig), false, `signature of ${n} bytes`);
  }
});

Deno.test("Ed25519: the signer refuses seeds that are not 32 bytes", () => {
  for (const n of [0, 1, 31, 33, 64]) {
    assertThrows(() => new Ed25519Signer(new Uint8Array(n)), RangeError);
  }
});

Deno.test("Ed25519: a public key that is not a curve point is refused without throwing", () => {
  const signer = new Ed25519Signer(testBytes("ed25519/not-a-point", 32));
  const message = utf8("not a point");
  const signature = signer.sign(message);
  let found = 0;
  for (let y = 2; y < 64 && found < 4; y++) {
    const encoding = new Uint8Array(32);
    encoding[0] = y;
    let decodes = true;
    try {
      ed25519.Point.fromBytes(encoding);
    } catch {
      decodes = false;
    }
    if (decodes) continue;
    found++;
    assertEquals(ed25519Verify(encoding, message, signature), false);
  }
  assert(found > 0, "no non-point encoding found");
});

Deno.test("Ed25519: a signature whose S is not reduced (S + L) is refused", () => {
  const L = (1n << 252n) + 27742317777372353535851937790883648493n;
  const signer = new Ed25519Signer(testBytes("ed25519/s-plus-l", 32));
  const message = utf8("malleability");
  const signature = signer.sign(message);
  let s = 0n;
  for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(signature[32 + i]);
  let t = s + L;
  assert(t < 1n << 256n);
  const malleated = new Uint8Array(signature);
  for (let i = 0; i < 32; i++) {
    malleated[32 + i] = Number(t & 0xffn);
    t >>= 8n;
  }
  assertEquals(ed25519Verify(signer.publicKey, message, signature), true);
  assertEquals(ed25519Verify(signer.publicKey, message, malleated), false);
});

Deno.test("Ed25519: a signature does not verify under another key", () => {
  const a = new Ed25519Signer(testBytes("ed25519/other/a", 32));
  const b = new Ed25519Signer(testBytes("ed25519/other/b", 32));
  const message = utf8("whose signature");
  assertEquals(ed25519Verify(b.publicKey, message, a.sign(message)), false);
  assertEquals(ed25519Verify(a.publicKey, message, a.sign(message)), true);
});

Deno.test("Ed25519: equals the reference implementation on arbitrary keys and messages", () => {
  for (let i = 0; i < 24; i++) {
    const seed = testBytes(`ed25519/ref/seed/${i}`, 32);
    const message = testBytes(`ed25519/ref/msg/${i}`, i * 37);
    const signer = new Ed25519Signer(seed);
    assertEquals(toHex(signer.publicKey), toHex(ed25519.getPublicKey(seed)));
    const ours = signer.sign(message);
    const theirs = ed25519.sign(message, seed);
    // Pure Ed25519 is deterministic: both must produce the same bytes.
    assertEquals(toHex(ours), toHex(theirs));
    assertEquals(ed25519.verify(ours, message, signer.publicKey), true);
    assertEquals(ed25519Verify(signer.publicKey, message, theirs), true);
    assertEquals(ours.length, ED25519_SIGNATURE_LENGTH);
  }
});

Deno.test("Ed25519: signing is deterministic and leaves its inputs alone", () => {
  const seed = testBytes("ed25519/deterministic", 32);
  const seedHex = toHex(seed);
  const signer = new Ed25519Signer(seed);
  assertEquals(toHex(seed), seedHex, "the seed is not wiped or modified");
  const message = utf8("same message");
  assertEquals(toHex(signer.sign(message)), toHex(signer.sign(message)));
  assertEquals(toHex(new Ed25519Signer(seed).sign(message)), toHex(signer.sign(message)));
});

/**
 * The per-session key schedule (protocol/round_keys.ts): what is advertised, how derived keys
 * are separated by session, member and direction, the seed check the leader uses, pair-key
 * symmetry (and agreement with the leader's recovery from a reconstructed seed), sealed share
 * pairs and wrapped pair secrets (round trips and refusals), and wiping.
 */
import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertThrows,
} from "../../_assert.ts";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { x25519 as nobleX25519 } from "@noble/curves/ed25519.js";
import { hkdf as nobleHkdf } from "@noble/hashes/hkdf.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { concatBytes } from "@noble/hashes/utils.js";
import { fromHex, toHex, utf8 } from "../../../protocol/encoding/bytes.ts";
import {
  type Rng,
  x25519,
  XWING_CIPHERTEXT_LENGTH,
  XWING_PUBLIC_KEY_LENGTH,
  XWingDecapsulator,
  xwingEncapsulate,
} from "../../../protocol/crypto/mod.ts";
import type { Mode } from "../../../protocol/federation/roster.ts";
import {
  maskSeedMatches,
  maskX25519Secret,
  maskXWingSeed,
  pairMaskKey,
  RoundKeys,
  selfMaskCommitment,
  selfMaskKey,
  unwrapPairSecret,
  validateAdvertiseKeys,
  wrapPairSecret,
} from "../../../protocol/round/keys.ts";
import { ProtocolError } from "../../../protocol/errors.ts";
import { rngFor } from "../_fixtures.ts";
import { flipBit } from "../crypto/_helpers.ts";

const H1 = rngFor("round-keys", "session", 1)(32);
const H2 = rngFor("round-keys", "session", 2)(32);
const MODES: Mode[] = ["classical", "post-quantum"];

/**
 * The documented commitment `taggedHash("self-mask-commitment", session, member, b)` written out
 * with the reference SHA-256: each of label, session hash, member (4 bytes big-endian) and seed
 * preceded by its 4-byte big-endian length.
 */
function documentedCommitment(session: Uint8Array, member: number, seed: Uint8Array): Uint8Array {
  const label = utf8("fedagg/v1/hash/self-mask-commitment");
  const be32 = (v: number) => fromHex(v.toString(16).padStart(8, "0"));
  return nobleSha256(
    concatBytes(
      ...[label, session, be32(member), seed].flatMap((part) => [be32(part.length), part]),
    ),
  );
}

function keys(mode: Mode, hash: Uint8Array, self: number, label: string): Promise<RoundKeys> {
  return RoundKeys.generate(mode, hash, self, rngFor("round-keys", label));
}

/** The plaintext of a share pair (two 32-byte shares). */
const PLAIN = rngFor("round-keys", "plaintext")(64);

/** What `sender` attaches to the share pair it seals for `recipient` (sender < recipient). */
async function sealFor(
  mode: Mode,
  sender: RoundKeys,
  recipient: RoundKeys,
  recipientIndex: number,
  rng: Rng,
): Promise<{ sealed: Uint8Array; shareKemCt: Uint8Array; maskKemCt: Uint8Array }> {
  if (mode === "classical") {
    const sealed = sender.sealShares(
      recipientIndex,
      recipient.advertise.shareKey,
      PLAIN,
      new Uint8Array(0),
      undefined,
    );
    return { sealed, shareKemCt: new Uint8Array(0), maskKemCt: new Uint8Array(0) };
  }
  const shareKem = await xwingEncapsulate(recipient.advertise.shareKey.subarray(32), rng);
  const maskKem = await xwingEncapsulate(recipient.advertise.maskKey, rng);
  const sealed = sender.sealShares(
    recipientIndex,
    recipient.advertise.shareKey,
    PLAIN,
    maskKem.cipherText,
    shareKem,
  );
  return { sealed, shareKemCt: shareKem.cipherText, maskKemCt: maskKem.cipherText };
}

Deno.test("round keys: advertised keys per mode, commitment to the self-mask seed", async () => {
  for (const mode of MODES) {
    const k = await keys(mode, H1, 3, `adv/${mode}`);
    const pq = mode === "post-quantum";
    assertEquals(k.advertise.shareKey.length, pq ? 32 + XWING_PUBLIC_KEY_LENGTH : 32);
    assertEquals(k.advertise.maskKey.length, pq ? XWING_PUBLIC_KEY_LENGTH : 32);
    assertEquals(k.advertise.commitment, documentedCommitment(H1, 3, k.selfSeed));
    assertEquals(selfMaskCommitment(H1, 3, k.selfSeed), k.advertise.commitment);
    assertEquals(k.selfMaskKey(), selfMaskKey(H1, 3, k.selfSeed));
    assertEquals([k.selfSeed.length, k.maskSeed.length], [32, 32]);
    assertNotEquals(toHex(k.selfSeed), toHex(k.maskSeed));
    // Every generation draws fresh seeds: nothing is reused between sessions.
    const rng = rngFor("round-keys", `fresh/${mode}`);
    const a = await RoundKeys.generate(mode, H1, 3, rng);
    const b = await RoundKeys.generate(mode, H1, 3, rng);
    assertNotEquals(toHex(a.advertise.shareKey), toHex(b.advertise.shareKey));
    assertNotEquals(toHex(a.advertise.maskKey), toHex(b.advertise.maskKey));
    assertNotEquals(toHex(a.advertise.commitment), toHex(b.advertise.commitment));
  }
});

Deno.test("round keys: same seeds, other session or member: other keys", async () => {
  // Generated from the same rng bytes: identical seeds, different contexts.
  const variants = [
    await keys("classical", H1, 0, "same"),
    await keys("classical", H1, 1, "same"),
    await keys("classical", H2, 0, "same"),
    await keys("classical", H2, 1, "same"),
  ];
  for (const v of variants) assertEquals(v.selfSeed, variants[0].selfSeed);
  const commitments = new Set(variants.map((v) => toHex(v.advertise.commitment)));
  const selfKeys = new Set(variants.map((v) => toHex(v.selfMaskKey())));
  assertEquals(commitments.size, 4);
  assertEquals(selfKeys.size, 4);
  assert(!commitments.has(toHex(variants[0].selfMaskKey())), "commitment and PRG key differ");
  // Pair keys: per session, per pair, per KEM ciphertext; symmetric in the pair.
  const agreement = rngFor("round-keys", "agreement")(32);
  const ct = rngFor("round-keys", "ct")(XWING_CIPHERTEXT_LENGTH);
  const pair = [
    pairMaskKey(H1, 0, 1, agreement),
    pairMaskKey(H2, 0, 1, agreement),
    pairMaskKey(H1, 0, 2, agreement),
    pairMaskKey(H1, 2, 1, agreement),
    pairMaskKey(H1, 0, 1, agreement, ct),
    pairMaskKey(H1, 0, 1, agreement, flipBit(ct, 8 * 1000)),
    pairMaskKey(H1, 0, 1, flipBit(agreement, 0)),
  ].map(toHex);
  assertEquals(new Set(pair).size, pair.length);
  assertEquals(toHex(pairMaskKey(H1, 1, 0, agreement)), pair[0]);
  assertEquals(toHex(pairMaskKey(H1, 1, 0, agreement, ct)), pair[4]);
});

Deno.test("round keys: maskSeedMatches accepts the real seed and refuses others", async () => {
  for (const mode of MODES) {
    const k = await keys(mode, H1, 2, `match/${mode}`);
    const other = await keys(mode, H1, 2, `match-other/${mode}`);
    assert(maskSeedMatches(mode, k.maskSeed, k.advertise.maskKey), mode);
    assert(!maskSeedMatches(mode, other.maskSeed, k.advertise.maskKey), mode);
    assert(!maskSeedMatches(mode, k.selfSeed, k.advertise.maskKey), mode);
    assert(!maskSeedMatches(mode, flipBit(k.maskSeed, 8 * 31), k.advertise.maskKey), mode);
    assert(!maskSeedMatches(mode, new Uint8Array(32), k.advertise.maskKey), mode);
    assert(!maskSeedMatches(mode, k.maskSeed, other.advertise.maskKey), mode);
    // A key of the other mode never matches.
    const otherMode: Mode = mode === "classical" ? "post-quantum" : "classical";
    assert(!maskSeedMatches(otherMode, k.maskSeed, k.advertise.maskKey), mode);
  }
});

Deno.test("round keys: classical pair keys are symmetric and recoverable from a seed", async () => {
  const a = await keys("classical", H1, 0, "pair/a");
  const b = await keys("classical", H1, 1, "pair/b");
  const c = await keys("classical", H1, 2, "pair/c");
  const ab = a.classicalPairKey(1, b.advertise.maskKey);
  assertEquals(ab, b.classicalPairKey(0, a.advertise.maskKey));
  assertNotEquals(toHex(ab), toHex(a.classicalPairKey(2, c.advertise.maskKey)));
  assertNotEquals(toHex(ab), toHex(c.classicalPairKey(1, b.advertise.maskKey)));
  // The leader, holding b's reconstructed mask seed, derives the same key with a's public key.
  const dh = x25519(maskX25519Secret(b.maskSeed), a.advertise.maskKey);
  assertEquals(pairMaskKey(H1, 0, 1, dh), ab);
  // The same seeds under another session agree on another key.
  const a2 = await keys("classical", H2, 0, "pair/a");
  const b2 = await keys("classical", H2, 1, "pair/b");
  const ab2 = a2.classicalPairKey(1, b2.advertise.maskKey);
  assertEquals(ab2, b2.classicalPairKey(0, a2.advertise.maskKey));
  assertNotEquals(toHex(ab2), toHex(ab));
  await assertRejects(
    () => a.decapsulatePairSecret(new Uint8Array(XWING_CIPHERTEXT_LENGTH)),
    Error,
    "not a post-quantum session",
  );
});

Deno.test("round keys: post-quantum pair secrets agree both ways and for the leader", async () => {
  const a = await keys("post-quantum", H1, 0, "pq-pair/a");
  const b = await keys("post-quantum", H1, 1, "pq-pair/b");
  // a < b: a encapsulates to b's mask key and wraps the secret under its own mask seed.
  const m = await xwingEncapsulate(b.advertise.maskKey, rngFor("round-keys", "pq-pair/eph"));
  const atB = await b.decapsulatePairSecret(m.cipherText);
  assertEquals(atB, m.sharedSecret);
  const key = pairMaskKey(H1, 0, 1, m.sharedSecret, m.cipherText);
  assertEquals(pairMaskKey(H1, 1, 0, atB, m.cipherText), key);
  // Leader with b's reconstructed mask seed: decapsulates.
  const kem = await XWingDecapsulator.fromSeed(maskXWingSeed(b.maskSeed));
  assertEquals(pairMaskKey(H1, 0, 1, await kem.decapsulate(m.cipherText), m.cipherText), key);
  // Leader with a's reconstructed mask seed: unwraps what a wrapped.
  const wrapped = wrapPairSecret(H1, a.maskSeed, 0, 1, m.sharedSecret, m.cipherText);
  const unwrapped = unwrapPairSecret(H1, a.maskSeed, 0, 1, wrapped, m.cipherText);
  assertEquals(unwrapped, m.sharedSecret);
  assertEquals(pairMaskKey(H1, 0, 1, unwrapped!, m.cipherText), key);
  assertThrows(() => a.classicalPairKey(1, b.advertise.maskKey), Error, "not a classical session");
});

Deno.test("round keys: sealed share pairs round-trip in both modes", async () => {
  for (const mode of MODES) {
    const a = await keys(mode, H1, 0, `seal/a/${mode}`);
    const b = await keys(mode, H1, 1, `seal/b/${mode}`);
    const s = await sealFor(mode, a, b, 1, rngFor("round-keys", "seal-eph", mode));
    assertEquals(s.sealed.length, 64 + 16);
    const opened = await b.openShares(0, a.advertise.shareKey, s.sealed, s.shareKemCt, s.maskKemCt);
    assertEquals(opened, PLAIN, mode);
  }
});

Deno.test("round keys: sealed shares fail if session, direction, AD or bytes change", async () => {
  for (const mode of MODES) {
    const rng = rngFor("round-keys", "tamper-eph", mode);
    const a = await keys(mode, H1, 0, `tamper/a/${mode}`);
    const b = await keys(mode, H1, 1, `tamper/b/${mode}`);
    const c = await keys(mode, H1, 2, `tamper/c/${mode}`);
    const s = await sealFor(mode, a, b, 1, rng);
    const open = (
      who: RoundKeys,
      sender: number,
      senderKey: Uint8Array,
      sealed = s.sealed,
      shareKemCt = s.shareKemCt,
      maskKemCt = s.maskKemCt,
    ) => who.openShares(sender, senderKey, sealed, shareKemCt, maskKemCt);
    assertEquals(await open(b, 0, a.advertise.shareKey), PLAIN);
    const failures: [string, Promise<Uint8Array | undefined>][] = [];
    // Session: b's very keys (same seeds) in another session.
    const bOther = await keys(mode, H2, 1, `tamper/b/${mode}`);
    assertEquals(bOther.advertise.shareKey, b.advertise.shareKey);
    failures.push(["session", open(bOther, 0, a.advertise.shareKey)]);
    // Direction: claimed by another sender, or opened by the sender as if it came the other way.
    failures.push(["other sender index", open(b, 2, a.advertise.shareKey)]);
    failures.push(["other sender key", open(b, 0, c.advertise.shareKey)]);
    failures.push(["reverse direction", open(a, 1, b.advertise.shareKey)]);
    if (mode === "classical") {
      // The reverse direction seals under another key.
      const back = b.sealShares(0, a.advertise.shareKey, PLAIN, new Uint8Array(0), undefined);
      assertNotEquals(toHex(back), toHex(s.sealed));
      assertEquals(await open(a, 1, b.advertise.shareKey, back), PLAIN);
    }
    // Associated data: the attached mask ciphertext.
    const otherCt = mode === "classical"
      ? new Uint8Array([1])
      : flipBit(s.maskKemCt, 8 * (XWING_CIPHERTEXT_LENGTH - 1));
    failures.push(["maskKemCt", open(b, 0, a.advertise.shareKey, s.sealed, s.shareKemCt, otherCt)]);
    if (mode === "post-quantum") {
      failures.push([
        "maskKemCt removed",
        open(b, 0, a.advertise.shareKey, s.sealed, s.shareKemCt, new Uint8Array(0)),
      ]);
      // The share ciphertext: its ML-KEM part (implicit rejection) or its X25519 part.
      for (const i of [0, 500, XWING_CIPHERTEXT_LENGTH - 32]) {
        failures.push([
          `shareKemCt byte ${i}`,
          open(b, 0, a.advertise.shareKey, s.sealed, flipBit(s.shareKemCt, 8 * i)),
        ]);
      }
    }
    // The ciphertext and the tag, byte by byte, and truncation or extension.
    for (let i = 0; i < s.sealed.length; i += 7) {
      failures.push([
        `sealed byte ${i}`,
        open(b, 0, a.advertise.shareKey, flipBit(s.sealed, 8 * i)),
      ]);
    }
    failures.push(["truncated", open(b, 0, a.advertise.shareKey, s.sealed.subarray(0, 79))]);
    failures.push(["extended", open(b, 0, a.advertise.shareKey, new Uint8Array([...s.sealed, 0]))]);
    for (const [name, p] of failures) assertEquals(await p, undefined, `${mode}: ${name}`);
    if (mode === "post-quantum") {
      // A share ciphertext of the wrong length is refused outright.
      await assertRejects(
        () => open(b, 0, a.advertise.shareKey, s.sealed, s.shareKemCt.subarray(1)),
        RangeError,
      );
    }
  }
});

Deno.test("round keys: wrapped pair secrets round-trip and fail on tamper", () => {
  const seed = rngFor("round-keys", "wrap-seed")(32);
  const secret = rngFor("round-keys", "wrap-secret")(32);
  const ct = rngFor("round-keys", "wrap-ct")(XWING_CIPHERTEXT_LENGTH);
  const wrapped = wrapPairSecret(H1, seed, 2, 5, secret, ct);
  assertEquals(wrapped.length, 32 + 16);
  assertEquals(unwrapPairSecret(H1, seed, 2, 5, wrapped, ct), secret);
  const cases: [string, Uint8Array | undefined][] = [
    ["session", unwrapPairSecret(H2, seed, 2, 5, wrapped, ct)],
    ["mask seed", unwrapPairSecret(H1, flipBit(seed, 0), 2, 5, wrapped, ct)],
    ["sender", unwrapPairSecret(H1, seed, 3, 5, wrapped, ct)],
    ["recipient", unwrapPairSecret(H1, seed, 2, 6, wrapped, ct)],
    ["direction", unwrapPairSecret(H1, seed, 5, 2, wrapped, ct)],
    ["mask ciphertext", unwrapPairSecret(H1, seed, 2, 5, wrapped, flipBit(ct, 8 * 77))],
    ["truncated", unwrapPairSecret(H1, seed, 2, 5, wrapped.subarray(1), ct)],
  ];
  for (let i = 0; i < wrapped.length; i++) {
    cases.push([`byte ${i}`, unwrapPairSecret(H1, seed, 2, 5, flipBit(wrapped, 8 * i), ct)]);
  }
  for (const [name, result] of cases) assertEquals(result, undefined, name);
  // Wrapping is deterministic per context and differs across contexts.
  assertEquals(wrapPairSecret(H1, seed, 2, 5, secret, ct), wrapped);
  assertNotEquals(toHex(wrapPairSecret(H2, seed, 2, 5, secret, ct)), toHex(wrapped));
  assertNotEquals(toHex(wrapPairSecret(H1, seed, 5, 2, secret, ct)), toHex(wrapped));
});

Deno.test("round keys: wipe zeroes the seeds; the share seed never outlives generate", async () => {
  for (const mode of MODES) {
    const drawn: Uint8Array[] = [];
    const inner = rngFor("round-keys", "wipe", mode);
    const rng: Rng = (length) => {
      const out = inner(length);
      drawn.push(out);
      return out;
    };
    const k = await RoundKeys.generate(mode, H1, 0, rng);
    assertEquals(drawn.length, 3, "self seed, mask seed, share seed");
    const [selfSeed, maskSeed, shareSeed] = drawn;
    assert(shareSeed.every((x) => x === 0), `${mode}: the share seed is wiped once derived`);
    assert(k.selfSeed === selfSeed && k.maskSeed === maskSeed);
    assert(selfSeed.some((x) => x !== 0) && maskSeed.some((x) => x !== 0));
    const before = k.advertise.commitment.slice();
    k.wipe();
    assert(selfSeed.every((x) => x === 0), `${mode}: self seed`);
    assert(maskSeed.every((x) => x === 0), `${mode}: mask seed`);
    // The public part stays as advertised.
    assertEquals(k.advertise.commitment, before);
  }
});

Deno.test("round keys: validateAdvertiseKeys accepts genuine keys, refuses unusable ones", async () => {
  for (const mode of MODES) {
    const k = await keys(mode, H1, 4, `validate/${mode}`);
    await validateAdvertiseKeys(mode, k.advertise, 4);
    const pq = mode === "post-quantum";
    const zeroTail = (key: Uint8Array) => {
      const out = new Uint8Array(key);
      out.fill(0, key.length - 32);
      return out;
    };
    const bad: [string, typeof k.advertise][] = [
      ["share key X25519 part", {
        ...k.advertise,
        shareKey: new Uint8Array([...new Uint8Array(32), ...k.advertise.shareKey.subarray(32)]),
      }],
      ["mask key X25519 part", { ...k.advertise, maskKey: zeroTail(k.advertise.maskKey) }],
    ];
    if (pq) {
      // An ML-KEM-768 key whose first coefficient is 4095 ≥ q fails the FIPS 203 modulus check.
      const invalid = (key: Uint8Array, offset: number) => {
        const out = new Uint8Array(key);
        out[offset] = 0xff;
        out[offset + 1] |= 0x0f;
        return out;
      };
      bad.push(["share key X-Wing X25519 part", {
        ...k.advertise,
        shareKey: zeroTail(k.advertise.shareKey),
      }]);
      bad.push(["share key ML-KEM part", {
        ...k.advertise,
        shareKey: invalid(k.advertise.shareKey, 32),
      }]);
      bad.push(["mask key ML-KEM part", {
        ...k.advertise,
        maskKey: invalid(k.advertise.maskKey, 0),
      }]);
    }
    for (const [name, advertise] of bad) {
      const e = await assertRejects(() => validateAdvertiseKeys(mode, advertise, 4), ProtocolError);
      assertEquals((e as ProtocolError).code, "malformed", `${mode}: ${name}`);
      assertEquals((e as ProtocolError).peer, 4, `${mode}: ${name}`);
    }
  }
});

/** `framed(label, ...parts)` as `docs/protocol.md` states it: every part after its u32 length. */
function documentedFramed(label: string, ...parts: Uint8Array[]): Uint8Array {
  const be32 = (v: number) => fromHex(v.toString(16).padStart(8, "0"));
  return concatBytes(...[utf8(label), ...parts].flatMap((p) => [be32(p.length), p]));
}

Deno.test(
  "round keys: sealed share pairs and wrapped pair secrets are the documented AEADs (known " +
    "answers, recomputed with the reference libraries)",
  async () => {
    const be32 = (v: number) => fromHex(v.toString(16).padStart(8, "0"));
    const hkdf32 = (ikm: Uint8Array, label: string, ...context: Uint8Array[]) =>
      nobleHkdf(nobleSha256, ikm, undefined, documentedFramed(label, ...context), 32);
    const aead = (key: Uint8Array, ad: Uint8Array, plain: Uint8Array) =>
      chacha20poly1305(key, new Uint8Array(12), ad).encrypt(plain);
    // Members 2 (sender) and 5 (recipient); RoundKeys draws b, then m, then the share seed.
    const seeds = (label: string) => {
      const r = rngFor("round-keys", "kat", label);
      return { self: r(32), mask: r(32), share: r(32) };
    };
    const [sa, sb] = [seeds("a"), seeds("b")];
    const a = await RoundKeys.generate("classical", H1, 2, rngFor("round-keys", "kat", "a"));
    const b = await RoundKeys.generate("classical", H1, 5, rngFor("round-keys", "kat", "b"));
    const skA = hkdf32(sa.share, "fedagg/v1/kdf/share-x25519");
    const skB = hkdf32(sb.share, "fedagg/v1/kdf/share-x25519");
    assertEquals(b.advertise.shareKey, nobleX25519.getPublicKey(skB));
    const dh = nobleX25519.getSharedSecret(skA, nobleX25519.getPublicKey(skB));
    const ad = (maskKemCt: Uint8Array) =>
      documentedFramed("fedagg/v1/ad/shares", H1, be32(2), be32(5), maskKemCt);

    // Classical: HKDF(X25519(s_a, s_b), "share-encryption", session, 2, 5, ""), AD without ct.
    const none = new Uint8Array(0);
    const classical = a.sealShares(5, b.advertise.shareKey, PLAIN, none, undefined);
    const classicalKey = hkdf32(dh, "fedagg/v1/kdf/share-encryption", H1, be32(2), be32(5), none);
    assertEquals(toHex(classical), toHex(aead(classicalKey, ad(none), PLAIN)));
    assertEquals(
      toHex(classical),
      "389f63bdfc8db5e94ca8fdbfa4f2549e521ab070ccc019d61d49be5a56897db5" +
        "a0d5b0f7ceffe1018cc3ffe5b3e4fe8655ff4db4f88783b860cb9eb731e576cf" +
        "ab2d211437ea680c1940139fa0616e88",
    );

    // Post-quantum: the X-Wing secret joins the X25519 one, its ciphertext's SHA-256 the
    // context; the mask ciphertext is associated data.
    const kem = {
      cipherText: rngFor("round-keys", "kat", "share-ct")(XWING_CIPHERTEXT_LENGTH),
      sharedSecret: rngFor("round-keys", "kat", "share-ss")(32),
    };
    const maskKemCt = rngFor("round-keys", "kat", "mask-ct")(XWING_CIPHERTEXT_LENGTH);
    const pq = a.sealShares(5, b.advertise.shareKey, PLAIN, maskKemCt, kem);
    const pqKey = hkdf32(
      concatBytes(dh, kem.sharedSecret),
      "fedagg/v1/kdf/share-encryption",
      H1,
      be32(2),
      be32(5),
      nobleSha256(kem.cipherText),
    );
    assertEquals(toHex(pq), toHex(aead(pqKey, ad(maskKemCt), PLAIN)));
    assertEquals(
      toHex(pq),
      "98a38a6b61880b631a082b95327a9e095ca19dfcbae1ead40261171bf29a4545" +
        "ec5014502f9ef09e9e4cdd4f53bd479118876123f41be0d95c6aa4f7c6a2738d" +
        "0fc319100e3fce40cae20a7137fdfc32",
    );

    // The wrap: AEAD under HKDF(m, "mask-wrap", session, 2, 5), same associated data.
    const secret = rngFor("round-keys", "kat", "pair-secret")(32);
    const wrapped = wrapPairSecret(H1, sa.mask, 2, 5, secret, maskKemCt);
    const wrapKey = hkdf32(sa.mask, "fedagg/v1/kdf/mask-wrap", H1, be32(2), be32(5));
    assertEquals(toHex(wrapped), toHex(aead(wrapKey, ad(maskKemCt), secret)));
    assertEquals(
      toHex(wrapped),
      "6d812325c633309e9ad0095f26668180f1aee469e1baf90722bb07b7dfc51146" +
        "915d1d509c7db3a97d9a8239265e1a4f",
    );
    a.wipe();
    b.wipe();
  },
);

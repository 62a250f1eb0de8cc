/**
 * `deno bench`: the primitives the protocol is built from, so a regression in one shows up by
 * name. Protocol-level figures (with baselines measured in the same run) come from
 * `deno task bench`.
 *
 * @module
 */
import {
  applyMasks,
  Ed25519Signer,
  ed25519Verify,
  type MaskTerm,
  MlDsa65Signer,
  mlDsa65Verify,
  prgFill,
  seededRng,
  sha256,
  x25519,
  x25519PublicKey,
  XWingDecapsulator,
  xwingEncapsulate,
} from "../../protocol/crypto/mod.ts";
import { quantizationParameters, quantizeInto } from "../../protocol/math/quantize.ts";
import { combine, lagrangeAtZero, split } from "../../protocol/math/shamir.ts";
import { decode, encode } from "../../protocol/encoding/codec.ts";

const rng = seededRng(new Uint8Array(32).fill(3));
const MiB4 = new Uint32Array(1 << 20);
const key = rng(32);

Deno.bench("PRG: ChaCha20 keystream, 4 MiB", { group: "prg", baseline: true }, () => {
  prgFill(key, MiB4);
});

const terms16: MaskTerm[] = Array.from(
  { length: 16 },
  (_, i) => ({ key: rng(32), negate: i % 2 === 1 }),
);
Deno.bench(
  "PRG: applyMasks, 16 keystreams into 4 MiB (per keystream ×16)",
  { group: "prg" },
  () => {
    applyMasks(MiB4, terms16);
  },
);

const a = new Uint32Array(1 << 20).fill(7);
Deno.bench("Uint32 add, 4 MiB", { group: "prg" }, () => {
  for (let i = 0; i < MiB4.length; i++) MiB4[i] = MiB4[i] + a[i];
});

Deno.bench("SHA-256, 4 MiB", { group: "prg" }, () => {
  sha256(new Uint8Array(MiB4.buffer));
});

const ed = new Ed25519Signer(rng(32));
const msg = rng(200);
const edSig = ed.sign(msg);
Deno.bench("Ed25519 sign", { group: "sig" }, () => {
  ed.sign(msg);
});
Deno.bench("Ed25519 verify", { group: "sig", baseline: true }, () => {
  ed25519Verify(ed.publicKey, msg, edSig);
});
const mldsa = await MlDsa65Signer.fromSeed(rng(32));
const pqSig = await mldsa.sign(msg);
Deno.bench("ML-DSA-65 sign", { group: "sig" }, async () => {
  await mldsa.sign(msg);
});
Deno.bench("ML-DSA-65 verify", { group: "sig" }, async () => {
  await mlDsa65Verify(mldsa.publicKey, msg, pqSig);
});
Deno.bench("ML-DSA-65 verify ×32, concurrent (per batch)", { group: "sig" }, async () => {
  await Promise.all(Array.from({ length: 32 }, () => mlDsa65Verify(mldsa.publicKey, msg, pqSig)));
});

const skA = rng(32);
const pkB = x25519PublicKey(rng(32));
Deno.bench("X25519 agreement", { group: "kem", baseline: true }, () => {
  x25519(skA, pkB);
});
const kem = await XWingDecapsulator.fromSeed(rng(32));
const encapsulated = await xwingEncapsulate(kem.publicKey, rng);
Deno.bench("X-Wing encapsulate", { group: "kem" }, async () => {
  await xwingEncapsulate(kem.publicKey, rng);
});
Deno.bench("X-Wing decapsulate", { group: "kem" }, async () => {
  await kem.decapsulate(encapsulated.cipherText);
});

const secret = rng(32);
const xs100 = Array.from({ length: 100 }, (_, i) => i + 1);
Deno.bench("Shamir split 32 B, n = 100, t = 67", { group: "shamir" }, () => {
  split(secret, xs100, 67, rng);
});
const shares = split(secret, xs100, 67, rng).map((y, i) => ({ x: xs100[i], y }));
const coefficients = lagrangeAtZero(xs100.slice(0, 67));
Deno.bench("Shamir combine 32 B from 67 shares (cached coefficients)", { group: "shamir" }, () => {
  combine(shares.slice(0, 67), coefficients);
});
Deno.bench("Shamir Lagrange coefficients, t = 67", { group: "shamir" }, () => {
  lagrangeAtZero(xs100.slice(0, 67));
});

const q = quantizationParameters({ members: 100, clip: 1, maxWeight: 100 });
const update = new Float32Array(1 << 20).map((_, i) => Math.sin(i));
const out = new Uint32Array((1 << 20) + 1);
Deno.bench("quantize d = 1M", { group: "vector" }, () => {
  quantizeInto(update, 50, q, rng, out);
});
const frame = encode([new Uint8Array(MiB4.buffer), 1, "x"]);
Deno.bench("codec: decode a 4 MiB frame", { group: "vector" }, () => {
  decode(frame, 8 << 20, "bench");
});

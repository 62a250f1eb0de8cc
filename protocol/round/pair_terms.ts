/**
 * The pair masks of a dropped member, recomputed by the leader (stage 5, `docs/protocol.md` §3).
 * A member v of U2 \ U3 never sent its masked input, but each of its surviving neighbours u added
 * ±PRG(s_uv) to its own; from v's reconstructed mask seed the leader recomputes every s_uv and
 * removes exactly what u added:
 *
 * - classical mode: `s_uv` from the X25519 agreement of v's recovered mask key with u's
 *   advertised one;
 * - post-quantum mode, u < v: u encapsulated to v's X-Wing mask key in ShareKeys; the leader
 *   decapsulates u's mask ciphertext with v's recovered key;
 * - post-quantum mode, v < u: v encapsulated to u and wrapped the secret under its mask seed (the
 *   leader-only `wrap`); the leader unwraps it.
 *
 * @module
 */
import { type MaskTerm, x25519, XWingDecapsulator } from "../crypto/mod.ts";
import { ProtocolError } from "../errors.ts";
import type { Roster } from "../federation/roster.ts";
import type { MemberSet } from "../math/member_set.ts";
import type { AdvertiseKeys } from "../wire/messages.ts";
import { maskX25519Secret, maskXWingSeed, pairMaskKey, unwrapPairSecret } from "./keys.ts";

/** The post-quantum attachments of the pair (lo, hi), which lo encapsulated to hi. */
export interface PairAttachment {
  /** lo's KEM ciphertext to hi's mask key. */
  readonly maskKemCt: Uint8Array;
  /** The pair secret, wrapped under lo's mask seed (opened once lo's seed is reconstructed). */
  readonly wrap: Uint8Array;
}

/** What the leader kept of ShareKeys for recomputing pairs. */
export interface PairContext {
  readonly roster: Roster;
  readonly sessionHash: Uint8Array;
  /** Each member's verified advertised keys. */
  readonly advertOf: (member: number) => AdvertiseKeys;
  /** The attachments of the pair (lo, hi), lo < hi (post-quantum mode). */
  readonly attachment: (lo: number, hi: number) => PairAttachment;
}

/**
 * Appends to `terms` the PRG keys of the pairs (dropped `v`, survivor u) for each u in
 * `survivors`, derived from v's reconstructed mask `seed`, each negated as u applied it (u added
 * +PRG when u < v and −PRG when u > v). The caller owns `terms` and wipes them: when a pair fails
 * (a ciphertext or wrap v's shares cannot open, `malformed` naming u or `tampered-ciphertext`
 * naming v), every key already derived is in `terms` too, and all derivations have settled before
 * this throws.
 */
export async function pushRecoveredPairTerms(
  ctx: PairContext,
  v: number,
  seed: Uint8Array,
  survivors: MemberSet,
  terms: MaskTerm[],
): Promise<void> {
  if (ctx.roster.mode === "classical") {
    classicalPairTerms(ctx, v, seed, survivors, terms);
    return;
  }
  const kemSeed = maskXWingSeed(seed);
  let kem: XWingDecapsulator;
  try {
    kem = await XWingDecapsulator.fromSeed(kemSeed);
  } finally {
    kemSeed.fill(0);
  }
  try {
    const settled = await Promise.allSettled(
      survivors.map((u) => postQuantumPairTerm(ctx, kem, v, seed, u, terms)),
    );
    const failure = settled.find((r) => r.status === "rejected");
    if (failure !== undefined) throw failure.reason;
  } finally {
    kem.wipe();
  }
}

function term(u: number, v: number, key: Uint8Array): MaskTerm {
  return { key, negate: u < v };
}

function classicalPairTerms(
  ctx: PairContext,
  v: number,
  seed: Uint8Array,
  survivors: MemberSet,
  terms: MaskTerm[],
): void {
  const sk = maskX25519Secret(seed);
  try {
    for (const u of survivors) {
      const dh = x25519(sk, ctx.advertOf(u).maskKey);
      try {
        terms.push(term(u, v, pairMaskKey(ctx.sessionHash, u, v, dh)));
      } finally {
        dh.fill(0);
      }
    }
  } finally {
    sk.fill(0);
  }
}

async function postQuantumPairTerm(
  ctx: PairContext,
  kem: XWingDecapsulator,
  v: number,
  seed: Uint8Array,
  u: number,
  terms: MaskTerm[],
): Promise<void> {
  let secret: Uint8Array;
  let maskKemCt: Uint8Array;
  if (u < v) {
    // u encapsulated to v: decapsulate with v's recovered key.
    maskKemCt = ctx.attachment(u, v).maskKemCt;
    try {
      secret = await kem.decapsulate(maskKemCt);
    } catch {
      throw new ProtocolError("malformed", `member ${u}'s mask ciphertext for ${v}`, u);
    }
  } else {
    // v encapsulated to u: unwrap the secret v wrapped under its mask seed.
    const attached = ctx.attachment(v, u);
    maskKemCt = attached.maskKemCt;
    const unwrapped = unwrapPairSecret(ctx.sessionHash, seed, v, u, attached.wrap, maskKemCt);
    if (unwrapped === undefined) {
      throw new ProtocolError(
        "tampered-ciphertext",
        `member ${v}'s wrapped pair secret for ${u}`,
        v,
      );
    }
    secret = unwrapped;
  }
  try {
    terms.push(term(u, v, pairMaskKey(ctx.sessionHash, u, v, secret, maskKemCt)));
  } finally {
    secret.fill(0);
  }
}

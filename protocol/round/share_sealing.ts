/**
 * Share entries: a member dealing its secrets in ShareKeys, the leader relaying the entries to
 * their holders in ShareDelivery, and a holder opening the entries delivered to it (stages 2 and
 * 3, `docs/protocol.md` §3).
 *
 * Dealing Shamir-shares the member's self-mask seed `b` and mask seed `m` among its closed
 * neighbourhood, seals each holder's share pair under the pair's share-encryption key (in
 * post-quantum mode with an X-Wing secret encapsulated to the holder, a mask ciphertext and a
 * leader-only wrap to higher indices, each entry with its path in the member's share tree, whose
 * root the member signs once with ML-DSA-65), and derives the pair-mask keys it can already.
 * Opening checks each delivered entry's path and its sender's root signature (post-quantum
 * mode), opens it and derives the remaining pair keys.
 *
 * Both are all-or-nothing: every per-entry task settles before any decision, and on a failure
 * everything computed for the message is wiped before the first failure is rethrown.
 *
 * @module
 */
import { concat, wipe } from "../encoding/bytes.ts";
import { type Rng, xwingEncapsulate } from "../crypto/mod.ts";
import { ProtocolError } from "../errors.ts";
import type { Roster } from "../federation/roster.ts";
import type { MemberSigner } from "../federation/signer.ts";
import { split } from "../math/shamir.ts";
import type { AdvertiseKeys } from "../wire/messages.ts";
import { type ShareEntry, type VerifiedRoots, verifyShareEntry } from "../wire/share_entry.ts";
import { shareLeaf, shareRootPayload, shareTree } from "../wire/share_tree.ts";
import { pairMaskKey, type RoundKeys, wrapPairSecret } from "./keys.ts";

/** What dealing and opening need: the member, its view's keys and the session. */
export interface SealingContext {
  readonly roster: Roster;
  /** This member's roster index. */
  readonly self: number;
  readonly sessionHash: Uint8Array;
  /** This member's ephemeral keys of the view. */
  readonly keys: RoundKeys;
  /**
   * Post-quantum mode: the senders' share-tree roots this member verified in this session, so a
   * root is checked once per sender even when deliveries are refused and sent again.
   */
  readonly verifiedRoots?: VerifiedRoots;
}

/** What a member deals in ShareKeys. */
export interface DealtShares {
  /** One entry per neighbour, in the neighbours' order (post-quantum: each with its path). */
  readonly entries: readonly ShareEntry[];
  /** Post-quantum mode: the signature of the share tree's root (else empty). */
  readonly signature: Uint8Array;
  /** This member's own share pair (share of b ‖ share of m), which it holds itself. */
  readonly own: Uint8Array;
  /**
   * The pair-mask PRG keys known once the neighbours' keys are: every neighbour's in classical
   * mode, those of the pairs this member encapsulated (to higher indices) in post-quantum mode.
   */
  readonly pairKeys: Map<number, Uint8Array>;
}

/**
 * A key agreement with member `u`'s advertised (and signed) keys failed: a low-order X25519
 * point or an ML-KEM key failing the FIPS 203 check. The member is to blame.
 */
function unusableKeys(err: unknown, u: number): unknown {
  if (!(err instanceof RangeError)) return err;
  return new ProtocolError(
    "malformed",
    `member ${u}'s advertised keys are unusable (${err.message})`,
    u,
  );
}

/**
 * Deals this member's secrets to its `neighbours` (ascending; each with its verified advertised
 * keys from `advertOf`) with Shamir threshold `threshold`: shares of b and m at x = index + 1 for
 * the closed neighbourhood, one sealed entry per neighbour. Draws, in this order, the sharing
 * coefficients of b, then of m, then (post-quantum) 64 bytes per neighbour for its encapsulations.
 * Refuses (`malformed`, naming the neighbour) keys a key agreement fails with; then nothing it
 * computed survives.
 */
export async function dealShares(
  ctx: SealingContext,
  signer: MemberSigner,
  rng: Rng,
  neighbours: readonly number[],
  advertOf: (u: number) => AdvertiseKeys,
  threshold: number,
): Promise<DealtShares> {
  const { roster, self, keys, sessionHash } = ctx;
  const holders = [self, ...neighbours].sort((a, b) => a - b);
  const xs = holders.map((h) => h + 1);
  const bShares = split(keys.selfSeed, xs, threshold, rng);
  const mShares = split(keys.maskSeed, xs, threshold, rng);
  const pq = roster.mode === "post-quantum";
  // Pre-draw the X25519 ephemerals of the encapsulations so concurrency cannot reorder the rng.
  const ephemerals = pq ? neighbours.map(() => rng(64)) : [];
  // Pair keys are derived here, where the advertised keys are first used, so that a neighbour's
  // unusable key is refused now (naming it) and the next stage has less to do.
  const pairKeys = new Map<number, Uint8Array>();
  const settled = await Promise.allSettled(neighbours.map(async (u, i): Promise<ShareEntry> => {
    const j = holders.indexOf(u);
    const plaintext = concat(bShares[j], mShares[j]);
    let entry: ShareEntry;
    try {
      entry = await sealEntry(ctx, u, advertOf(u), plaintext, ephemerals[i], pairKeys);
    } finally {
      plaintext.fill(0);
    }
    return entry;
  }));
  const failure = settled.find((r) => r.status === "rejected");
  if (failure !== undefined) {
    wipe(...ephemerals, ...bShares, ...mShares, ...pairKeys.values());
    throw failure.reason;
  }
  let entries = settled.map((r) => (r as PromiseFulfilledResult<ShareEntry>).value);
  wipe(...ephemerals);
  const j = holders.indexOf(self);
  const own = concat(bShares[j], mShares[j]);
  wipe(...bShares, ...mShares);
  if (!pq) return { entries, own, pairKeys, signature: new Uint8Array(0) };
  // The leader relays the entries in its own frame: only this signature vouches for us there.
  // One signature for all of them: the root of a tree whose leaves bind each entry.
  const tree = shareTree(entries.map((e) => shareLeaf(sessionHash, self, e.peer, e)));
  let signature: Uint8Array;
  try {
    signature = await signer.signPostQuantum(shareRootPayload(sessionHash, self, tree.root));
  } catch (err) {
    wipe(own, ...pairKeys.values());
    throw err;
  }
  entries = entries.map((e, i) => ({ ...e, leaf: i, path: tree.paths[i], signature }));
  return { entries, own, pairKeys, signature };
}

/**
 * Seals one share pair for neighbour `u` (unsigned) and records the pair key it learns in
 * `pairKeys`: classical, from the X25519 mask agreement; post-quantum when this member has the
 * lower index, from the X-Wing secret it encapsulates to `u`'s mask key (wrapped for the leader
 * under its mask seed). `ephemeral` holds the 64 bytes of the post-quantum encapsulations.
 */
async function sealEntry(
  ctx: SealingContext,
  u: number,
  peer: AdvertiseKeys,
  plaintext: Uint8Array,
  ephemeral: Uint8Array | undefined,
  pairKeys: Map<number, Uint8Array>,
): Promise<ShareEntry> {
  const { self, keys, sessionHash } = ctx;
  let shareKem: { cipherText: Uint8Array; sharedSecret: Uint8Array } | undefined;
  try {
    let maskKemCt = new Uint8Array(0);
    let wrap = new Uint8Array(0);
    if (ephemeral !== undefined) {
      const e = ephemeral;
      shareKem = await xwingEncapsulate(peer.shareKey.subarray(32), () => e.subarray(0, 32));
      if (self < u) {
        const m = await xwingEncapsulate(peer.maskKey, () => e.subarray(32, 64));
        maskKemCt = m.cipherText;
        wrap = wrapPairSecret(sessionHash, keys.maskSeed, self, u, m.sharedSecret, maskKemCt);
        pairKeys.set(u, pairMaskKey(sessionHash, self, u, m.sharedSecret, maskKemCt));
        m.sharedSecret.fill(0);
      }
    } else {
      pairKeys.set(u, keys.classicalPairKey(u, peer.maskKey));
    }
    const sealed = keys.sealShares(u, peer.shareKey, plaintext, maskKemCt, shareKem);
    return {
      peer: u,
      sealed,
      shareKemCt: shareKem?.cipherText ?? new Uint8Array(0),
      maskKemCt,
      wrap,
      leaf: 0,
      path: [],
      signature: new Uint8Array(0),
    };
  } catch (err) {
    throw unusableKeys(err, u);
  } finally {
    shareKem?.sharedSecret.fill(0);
  }
}

/** One delivered entry, opened: the share pair it held and the pair-mask key with its sender. */
export interface OpenedEntry {
  /** The sender's share pair for this member (share of b ‖ share of m). */
  readonly plain: Uint8Array;
  /** The pair-mask PRG key with the sender. */
  readonly key: Uint8Array;
  /** True when the key was derived here (not one of the view's own pair keys). */
  readonly fresh: boolean;
}

/**
 * Opens the `entries` a ShareDelivery from `leader` holds for this member, in order. Each entry
 * is trusted only with a path to a share-tree root its sender signed (post-quantum mode; the
 * roots' signatures checked concurrently, once per sender and session (`verifiedRoots`), each
 * before its entry is opened) and once it opens; either failure is `tampered-ciphertext` naming
 * the leader, which chose to relay it (the sender may never have sent it). The pair key with
 * each sender is the view's own (`knownPairKeys`, used as is) or, for a lower-indexed sender in
 * post-quantum mode, decapsulated from the mask ciphertext it sent. On any failure everything
 * opened or derived here is wiped (the known keys are kept) and the first failure is rethrown.
 */
export async function openDelivery(
  ctx: SealingContext,
  entries: readonly ShareEntry[],
  advertOf: (u: number) => AdvertiseKeys,
  knownPairKeys: ReadonlyMap<number, Uint8Array>,
  leader: number,
): Promise<OpenedEntry[]> {
  const settled = await Promise.allSettled(
    entries.map((e) => openEntry(ctx, e, advertOf(e.peer), knownPairKeys, leader)),
  );
  const failure = settled.find((r) => r.status === "rejected");
  if (failure !== undefined) {
    discardOpened(settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : [])));
    throw failure.reason;
  }
  return settled.map((r) => (r as PromiseFulfilledResult<OpenedEntry>).value);
}

/** Wipes what {@link openDelivery} returned, except the view's own pair keys. */
export function discardOpened(opened: readonly OpenedEntry[]): void {
  for (const o of opened) wipe(o.plain, o.fresh ? o.key : undefined);
}

async function openEntry(
  ctx: SealingContext,
  e: ShareEntry,
  peer: AdvertiseKeys,
  knownPairKeys: ReadonlyMap<number, Uint8Array>,
  leader: number,
): Promise<OpenedEntry> {
  const { roster, self, keys, sessionHash } = ctx;
  if (!await verifyShareEntry(roster, sessionHash, e.peer, self, e, ctx.verifiedRoots)) {
    throw new ProtocolError(
      "tampered-ciphertext",
      `the share pair from member ${e.peer} lacks its valid signature (no path to a root it signed)`,
      leader,
    );
  }
  let plain: Uint8Array | undefined;
  try {
    plain = await keys.openShares(e.peer, peer.shareKey, e.sealed, e.shareKemCt, e.maskKemCt);
  } catch {
    plain = undefined;
  }
  if (plain === undefined) {
    throw new ProtocolError(
      "tampered-ciphertext",
      `the share pair from member ${e.peer} does not authenticate`,
      leader,
    );
  }
  // The view's own key is used as is (no copy) and spent only once the masks are applied.
  const known = knownPairKeys.get(e.peer);
  if (known !== undefined) return { plain, key: known, fresh: false };
  // Post-quantum, lower-indexed peer: it encapsulated the pair secret to us (the ciphertext is
  // signed by it and authenticated with its shares, so a malformed one is its own doing).
  let secret: Uint8Array;
  try {
    secret = await keys.decapsulatePairSecret(e.maskKemCt);
  } catch (err) {
    plain.fill(0);
    throw unusableKeys(err, e.peer);
  }
  try {
    return { plain, key: pairMaskKey(sessionHash, self, e.peer, secret, e.maskKemCt), fresh: true };
  } finally {
    secret.fill(0);
  }
}

/**
 * The leader's relay of the ShareKeys of the members of `u2` (`shares`, by sender): for each
 * member of U2, the entries addressed to it by the others in U2, each re-addressed to its sender
 * and without the leader-only wrap. The post-quantum attachments of each pair (lo, hi) that lo
 * encapsulated to hi are kept in `pairs` ("lo,hi") for unmasking.
 */
export function relayShareKeys(
  u2: readonly number[],
  shares: ReadonlyMap<number, readonly ShareEntry[]>,
  pairs: Map<string, { maskKemCt: Uint8Array; wrap: Uint8Array }>,
): Map<number, ShareEntry[]> {
  const inU2 = new Set(u2);
  const byRecipient = new Map<number, ShareEntry[]>(u2.map((v) => [v, []]));
  for (const sender of u2) {
    for (const e of shares.get(sender)!) {
      if (!inU2.has(e.peer)) continue;
      byRecipient.get(e.peer)!.push({ ...e, peer: sender, wrap: new Uint8Array(0) });
      if (e.maskKemCt.length > 0) {
        pairs.set(`${sender},${e.peer}`, { maskKemCt: e.maskKemCt, wrap: e.wrap });
      }
    }
  }
  return byRecipient;
}

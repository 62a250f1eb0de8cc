/**
 * The leader's unmasking (stage 5, `docs/protocol.md` §3): from the shares the holders revealed,
 * recover and check every needed secret (`recovery.ts`), then subtract from the running sum the
 * self mask PRG(b_u) of every member of U3 and, for every member v of U2 \ U3, the pair masks its
 * surviving neighbours added (`pair_terms.ts`). What remains is Σ_{u ∈ U3} w_u·q_u.
 *
 * Every reconstructed seed and derived key is wiped before this returns, whatever the outcome.
 *
 * @module
 */
import { wipe } from "../encoding/bytes.ts";
import type { MaskTerm } from "../crypto/mod.ts";
import { ProtocolError } from "../errors.ts";
import type { NeighbourGraph } from "../graph/graphs.ts";
import type { MaskExpander } from "../math/masking.ts";
import { difference, intersection, type MemberSet } from "../math/member_set.ts";
import { selfMaskKey } from "./keys.ts";
import { type PairContext, pushRecoveredPairTerms } from "./pair_terms.ts";
import { recoverSecrets, type RevealedShares } from "./recovery.ts";

/** What the leader holds when it unmasks. */
export interface UnmaskingContext extends PairContext {
  readonly expander: MaskExpander;
  /** The neighbour graph of the session. */
  readonly graph: NeighbourGraph;
  readonly u2: MemberSet;
  readonly u3: MemberSet;
  /** The shares the holders revealed, by owner. */
  readonly shares: RevealedShares;
}

/** The outcome of {@link removeMasks}. */
export interface Unmasked {
  /** Undefined when the sum is unmasked; else why the round cannot be. */
  readonly failure: string | undefined;
  /** Holders named for bad shares, owners for wrong secrets, members for bad attachments. */
  readonly refused: readonly ProtocolError[];
}

/**
 * Removes every mask from `sum` (the sum of U3's masked inputs) in place. Fails — leaving `sum`
 * unusable — when a secret cannot be recovered from consistent shares, or when a dropped member's
 * pair masks cannot be recomputed (its attachments do not open under its recovered seed).
 */
export async function removeMasks(ctx: UnmaskingContext, sum: Uint32Array): Promise<Unmasked> {
  const dropped = difference(ctx.u2, ctx.u3);
  const recovered = recoverSecrets(
    ctx.roster,
    ctx.sessionHash,
    ctx.u3,
    dropped,
    ctx.shares,
    ctx.advertOf,
    ctx.graph,
  );
  const refused = [...recovered.refused];
  if (recovered.missing.length > 0) {
    const missing = recovered.missing.join(", ");
    return {
      failure: `not enough consistent shares to reconstruct the secrets of members ${missing}`,
      refused,
    };
  }
  const { selfSeeds, maskSeeds } = recovered;
  const terms: MaskTerm[] = [];
  try {
    for (const [u, seed] of selfSeeds) {
      terms.push({ key: selfMaskKey(ctx.sessionHash, u, seed), negate: true });
    }
    for (const [v, seed] of maskSeeds) {
      const survivors = intersection(ctx.graph.neighbours(v), ctx.u3);
      await pushRecoveredPairTerms(ctx, v, seed, survivors, terms);
    }
    await ctx.expander.apply(sum, terms);
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    return { failure: `cannot remove the masks: ${err.message}`, refused: [...refused, err] };
  } finally {
    wipe(...selfSeeds.values(), ...maskSeeds.values());
    for (const t of terms) t.key.fill(0);
  }
  return { failure: undefined, refused };
}

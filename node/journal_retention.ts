/**
 * Bounded disk: which ended rounds leave the journal. The journal keeps every round it is
 * given; after each round ends here (and at start-up) the node asks {@link retainJournal} to
 * take the oldest ended rounds out — deleted, or moved to an archive directory when the operator
 * names one — until at most `keepRounds` round directories and `keepBytes` bytes of them remain.
 *
 * Never taken out, whatever the limits (so a journal may stay above them):
 *
 * - a round that has not ended here (`Journal.ended`: pending, committed without a known
 *   outcome, published but not final) — its records are what a restart resumes or asks about;
 * - a round within `ROUND_WINDOW + 1` of the federation's current round (the rounds an update is
 *   still taken for, and the newest ended rounds `Endpoint.restore` derives the current round
 *   from);
 * - the newest final round (a restart reads the newest decided round and the last final round
 *   from it, and the API refuses updates for rounds at or before it: `already-final`).
 *
 * A round taken out is gone from the API (its aggregate and certificate answer 404, or are in the
 * archive); an update for it is refused as `already-final` while a newer round is final here.
 *
 * @module
 */
import { ROUND_WINDOW } from "../protocol/mod.ts";
import { NodeError } from "./errors.ts";
import type { Journal } from "./journal.ts";

/** How much of the journal to keep. */
export interface RetentionPolicy {
  /** Round directories kept at most (beyond the protected ones). */
  readonly keepRounds: number;
  /** Bytes of round directories kept at most (beyond the protected ones). */
  readonly keepBytes: number;
  /** Where retired rounds go; undefined: they are deleted. */
  readonly archiveDir?: string;
}

/** The default: the newest 100 rounds and at most 1 GiB. */
export const DEFAULT_RETENTION: Readonly<RetentionPolicy> = Object.freeze({
  keepRounds: 100,
  keepBytes: 1024 ** 3,
});

/** What one pass of {@link retainJournal} did. */
export interface RetentionResult {
  /** Rounds taken out, ascending, and where each went (undefined: deleted). */
  readonly retired: readonly { readonly round: number; readonly to?: string }[];
  /** Round directories and their bytes left. */
  readonly rounds: number;
  readonly bytes: number;
}

/**
 * Takes the oldest ended, unprotected rounds out of `journal` while more than
 * `policy.keepRounds` round directories or `policy.keepBytes` bytes of them remain (see the
 * module doc for what is protected). `currentRound` is the endpoint's.
 */
export async function retainJournal(
  journal: Journal,
  policy: RetentionPolicy,
  currentRound: number,
): Promise<RetentionResult> {
  const rounds = await journal.rounds();
  const sizes = new Map<number, number>();
  for (const r of rounds) sizes.set(r, await journal.roundBytes(r));
  let count = rounds.length;
  let bytes = [...sizes.values()].reduce((a, b) => a + b, 0);
  const retired: { round: number; to?: string }[] = [];
  if (count <= policy.keepRounds && bytes <= policy.keepBytes) {
    return { retired, rounds: count, bytes };
  }
  let newestFinal: number | undefined;
  for (const r of [...rounds].reverse()) {
    if ((await journal.recorded(r)).final) {
      newestFinal = r;
      break;
    }
  }
  const window = currentRound - ROUND_WINDOW - 1;
  for (const r of rounds) {
    if (count <= policy.keepRounds && bytes <= policy.keepBytes) break;
    if (r >= window || r === newestFinal || !(await journal.ended(r))) continue;
    const to = await journal.retire(r, policy.archiveDir);
    retired.push(to === undefined ? { round: r } : { round: r, to });
    count--;
    bytes -= sizes.get(r)!;
  }
  return { retired, rounds: count, bytes };
}

/**
 * A byte size: an integer with an optional binary suffix K, M, G or T (KiB…TiB; `B`, `iB`
 * optional, any case), e.g. `500M`, `2GiB`, `1048576`. Refuses (NodeError `usage`, naming
 * `option`) anything else.
 */
export function parseByteSize(text: string, option: string): number {
  const m = /^\s*(\d{1,15})\s*(?:([kmgt])(?:i?b)?|b)?\s*$/i.exec(text);
  if (m === null) {
    throw new NodeError(
      "usage",
      `${option} must be a size like 500M, 2G or 1048576 (bytes), got ${JSON.stringify(text)}`,
    );
  }
  const power = m[2] === undefined ? 0 : "kmgt".indexOf(m[2].toLowerCase()) + 1;
  const value = Number(m[1]) * 1024 ** power;
  if (!Number.isSafeInteger(value)) throw new NodeError("usage", `${option} is too large`);
  return value;
}

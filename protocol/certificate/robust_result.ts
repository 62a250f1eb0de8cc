/**
 * The robust result of a grouped round (`docs/protocol.md` §6a, §8): the roster's rule combined
 * over the included groups' means, each mean dequantized from its certified group sum exactly as
 * the plain mean is from the total (`dequantizeMean`: float64 arithmetic stored as float32). The
 * certificate binds the rule through the roster hash and the result through
 * {@link robustResultHash}; the leader computes it before signing, every member recomputes it
 * before co-signing (`checkGroupSums`), and `fedagg verify` recomputes it bit for bit.
 *
 * @module
 */
import { u64be } from "../encoding/bytes.ts";
import { HASH, taggedHash } from "../crypto/mod.ts";
import { ProtocolError } from "../errors.ts";
import type { Roster } from "../federation/roster.ts";
import { type Session, sessionHash } from "../federation/session.ts";
import { dequantizeMean } from "../math/quantize.ts";
import { combine } from "../robust/combine.ts";
import type { RobustRule } from "../robust/rule.ts";
import { openFrame } from "../wire/frame.ts";
import { readLeaderCertificate } from "./certificate.ts";
import { checkGroupSums } from "./group_sums.ts";

/** An included group's sum, as the robust result reads it. */
export interface GroupInput {
  /** The group's index in the round's partition. */
  readonly group: number;
  /** How many inputs the sum holds (its members in U3). */
  readonly inputs: number;
  /** The group's d + 1 words (the last one its weight). */
  readonly sum: Uint32Array;
}

/** The robust result and what the rule did, with groups named by their partition index. */
export interface RobustOutcome {
  /** The rule that made it. */
  readonly rule: RobustRule;
  /** The published vector (length d, float64). */
  readonly result: Float64Array;
  /** {@link robustResultHash} of `result`: what the certificate binds. */
  readonly hash: Uint8Array;
  /** Groups whose mean entered the result, ascending. */
  readonly kept: readonly number[];
  /** Groups the filter or the rule left out entirely, ascending. */
  readonly discarded: readonly number[];
  /** Of `discarded`, those the norm filter dropped, ascending. */
  readonly filtered: readonly number[];
  /** Kept groups with less than half a plain average's share, ascending. */
  readonly downWeighted: readonly number[];
  /** Each included group's share of the result, in the order of `groups`. */
  readonly weights: Float64Array;
  /** The included groups, ascending: the order of the means the rule ran on. */
  readonly groups: readonly number[];
}

/**
 * `taggedHash("robust-result", session, d, the result's float64 little-endian bytes)`: binds
 * the exact bits of the published robust result to one session.
 */
export function robustResultHash(session: Session, result: Float64Array): Uint8Array {
  const bytes = new Uint8Array(result.length * 8);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < result.length; i++) view.setFloat64(8 * i, result[i], true);
  return taggedHash(HASH.robustResult, sessionHash(session), u64be(result.length), bytes);
}

/**
 * The mean of one group sum: `dequantizeMean(sum, quantization, inputs)` widened to float64.
 * Refuses (RangeError) what `dequantizeMean` refuses (a weight outside [inputs, inputs ·
 * maxWeight]).
 */
export function groupMean(
  roster: Pick<Roster, "quantization">,
  group: Pick<GroupInput, "inputs" | "sum">,
): Float64Array {
  return Float64Array.from(dequantizeMean(group.sum, roster.quantization, group.inputs));
}

/**
 * Combines the included groups' means (ascending by group) with the roster's rule. Refuses
 * (CallerError `invalid-input`) a roster without a rule; refuses with a {@link ProtocolError}
 * `commitment-mismatch` (naming `leader`) group sums the rule cannot run on — fewer means than it
 * needs, a weight out of range — so a bad body is refused by name, never thrown as a crash.
 */
export function robustOutcome(
  roster: Pick<Roster, "robust" | "quantization">,
  session: Session,
  groups: readonly GroupInput[],
  leader?: number,
): RobustOutcome {
  const rule = roster.robust;
  if (rule === undefined) {
    throw new ProtocolError("commitment-mismatch", "the roster has no robust rule", leader);
  }
  let combined;
  try {
    combined = combine(rule, groups.map((g) => groupMean(roster, g)));
  } catch (err) {
    throw new ProtocolError(
      "commitment-mismatch",
      `the robust rule cannot run on the certified group sums: ${(err as Error).message}`,
      leader,
    );
  }
  const name = (positions: readonly number[]) => positions.map((i) => groups[i].group);
  return {
    rule,
    result: combined.result,
    hash: robustResultHash(session, combined.result),
    kept: name(combined.kept),
    discarded: name(combined.discarded),
    filtered: name(combined.filtered),
    downWeighted: name(combined.downWeighted),
    weights: combined.weights,
    groups: groups.map((g) => g.group),
  };
}

/**
 * The robust result of a stored round: `certificate` the round's certificate frame (without its
 * body; verified when it was stored) and `words` the certified body. Recomputes the rule over the
 * included groups and checks it against the hash the certificate binds. Undefined when `roster`
 * has no rule. Refuses (ProtocolError) a frame that is not a certificate under `roster`, a body
 * whose length does not fit it, or a result whose hash is not the certified one (a store that
 * does not match its certificate).
 */
export function storedRobustOutcome(
  roster: Roster,
  certificate: Uint8Array,
  words: Uint32Array,
): RobustOutcome | undefined {
  if (roster.robust === undefined) return undefined;
  const env = openFrame(certificate, roster);
  const { certificate: c } = readLeaderCertificate(roster, env);
  return checkGroupSums(roster, env.session, c, words, env.sender).groups.robust;
}

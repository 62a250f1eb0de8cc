/**
 * Typed errors of the protocol core.
 *
 * Every refusal of untrusted input is a {@link ProtocolError} carrying a machine-readable
 * {@link RefusalCode}, the roster index of the peer it came from (when known) and a short
 * human-readable detail. Details never contain secret material: they name fields, sizes and
 * members, not key bytes or shares.
 *
 * Configuration problems (parameters that would overflow, thresholds out of range, a roster
 * that does not parse) are {@link ConfigError}s naming the offending setting; a call its caller
 * got wrong is a {@link CallerError}.
 *
 * @module
 */

/** Why a message (or a piece of one) from the network was refused. */
export type RefusalCode =
  /** Bytes that do not decode, or decode to the wrong shape or types. */
  | "malformed"
  /** A frame or a field larger than its per-type limit. */
  | "oversized"
  /** A signature (Ed25519 or ML-DSA-65) that does not verify. */
  | "bad-signature"
  /** Federation id, roster hash, round or view differ from the session being run. */
  | "wrong-session"
  /** A message of one type where another type was expected (or a replayed domain tag). */
  | "wrong-type"
  /** A sender or a listed member that is not in the roster. */
  | "not-member"
  /** A leader message from a member that is not the scheduled leader for (round, view). */
  | "not-leader"
  /** A message that is valid but not acceptable in the current stage. */
  | "wrong-stage"
  /** A second, different message of the same type from the same sender in one session. */
  | "equivocation"
  /** Member lists that contradict each other (alive and dropped, not a subset, below threshold). */
  | "inconsistent-lists"
  /** Fewer than the threshold of valid, matching approvals or co-signatures. */
  | "insufficient-approvals"
  /** A Shamir share that is inconsistent with the owner's commitment or public key. */
  | "bad-share"
  /** A ciphertext that fails authentication. */
  | "tampered-ciphertext"
  /** A vector or key of the wrong length. */
  | "wrong-length"
  /** A message whose content contradicts what the sender committed to earlier. */
  | "commitment-mismatch"
  /**
   * A roster amendment that does not extend the version it is checked against: another previous
   * version (another federation's chain, or a stale one), a version number out of sequence, or
   * a first round not after the previous version's.
   */
  | "wrong-chain"
  /** Two different amendments of one roster version, each approved by ≥ t of its members. */
  | "fork";

/**
 * A refused input. Thrown inside the core, caught at the state machine's boundary and reported
 * as a `refused` event: a bad message never crashes a participant or a leader.
 */
export class ProtocolError extends Error {
  /** The refusal category. */
  readonly code: RefusalCode;
  /** Roster index of the peer the input came from, when known. */
  readonly peer: number | undefined;

  /**
   * A refusal of one input.
   * @param code why the input was refused
   * @param detail what exactly was wrong (never secret material)
   * @param peer roster index of the sender, when known
   */
  constructor(code: RefusalCode, detail: string, peer?: number) {
    super(peer === undefined ? `${code}: ${detail}` : `${code} from member ${peer}: ${detail}`);
    this.name = "ProtocolError";
    this.code = code;
    this.peer = peer;
  }
}

/**
 * A configuration or parameter error: the federation's settings cannot work as given.
 * `setting` names the parameter (or limit) to change.
 */
export class ConfigError extends Error {
  /** The setting or limit that was violated, e.g. `"maxWeight"` or `"n*maxWeight*levels"`. */
  readonly setting: string;

  /**
   * A refusal of one setting.
   * @param setting the parameter or limit that was broken
   * @param detail what is wrong and how to fix it
   */
  constructor(setting: string, detail: string) {
    super(`${setting}: ${detail}`);
    this.name = "ConfigError";
    this.setting = setting;
  }
}

/** Why a call was refused (see {@link CallerError}); a node maps these to its API's answers. */
export type CallerErrorCode =
  /** An argument out of range: a round or view number, an input of the wrong length. */
  | "invalid-input"
  /** The round already has this member's update. */
  | "already-submitted"
  /** The round is already decided here: its certificate checked out. */
  | "decided"
  /** This member committed to a view of the round before a restart: it can take no more part. */
  | "committed-before-restart"
  /** A round more than `ROUND_WINDOW` ahead of the federation's current round (`Endpoint`). */
  | "round-too-far-ahead"
  /** A withdrawal of an update this member does not have in progress in the round. */
  | "nothing-to-withdraw"
  /** A withdrawal after this member sent its masked input: the update may be counted. */
  | "committed"
  /** A round governed by a roster version this member is not in (joined later, or removed). */
  | "not-a-member"
  /**
   * An amendment a running member does not adopt: it does not extend the verified chain, it
   * takes effect within `ROUND_WINDOW` of the current round (a round already under way could
   * run under two versions), or it changes what a running node cannot (dim, layout, mode).
   */
  | "amendment-refused";

/**
 * A call its caller got wrong — an argument out of range, or an operation refused in the current
 * state (a second update for one round) — as opposed to bad network input (a
 * {@link ProtocolError}, reported as an event) and to a bug. The endpoint throws these back to
 * its caller and turns any other exception into an `internal-error` event. A `RangeError`, so
 * code catching those keeps working.
 */
export class CallerError extends RangeError {
  /** Why the call was refused. */
  readonly code: CallerErrorCode;

  /**
   * A refusal of one call.
   * @param code why the call was refused
   * @param message what is wrong with the call
   */
  constructor(code: CallerErrorCode, message: string) {
    super(message);
    this.name = "CallerError";
    this.code = code;
  }
}

/** Throws a {@link ProtocolError} with `code` unless `condition` holds. */
export function ensure(
  condition: unknown,
  code: RefusalCode,
  detail: string,
  peer?: number,
): asserts condition {
  if (!condition) throw new ProtocolError(code, detail, peer);
}

/**
 * The refusal `err` of a frame that `relayer` relayed inside its own signed message (a leader's
 * key list, unmask request or certificate), re-addressed to the relayer: it chose to relay the
 * frame, while the member the frame claims to come from may never have sent it. The detail
 * keeps `what` was refused, the claimed member and the original reason.
 */
export function relayedBy(err: ProtocolError, what: string, relayer: number): ProtocolError {
  const claimed = err.peer === undefined ? "" : ` claiming member ${err.peer}`;
  return new ProtocolError(err.code, `${what}${claimed}: ${err.message}`, relayer);
}

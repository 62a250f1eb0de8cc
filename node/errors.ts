/**
 * The node's one error family: {@link NodeError}, whose `code` says what went wrong in a stable,
 * machine-readable way and whose message says what is wrong and how to fix it. The CLI prints the
 * message (exit 2 for usage and configuration problems); the HTTP API answers each code with the
 * status of its one table (`http_api.ts`). Update bodies the API refuses are `FormatError`s, a
 * NodeError whose codes are the tensor formats' (`tensor_formats/errors.ts`).
 *
 * Bad input from the network is not a NodeError: the protocol core reports it as a refusal
 * (`ProtocolError`), and the node logs and counts it.
 *
 * @module
 */
import type { CallerErrorCode } from "../protocol/mod.ts";

/** Problems with the node's files and settings, found before or while starting. */
export type SetupErrorCode =
  /** The node directory holds no identity (`fedagg init` makes one). */
  | "no-identity"
  /** `fedagg init` on a directory that already has an identity. */
  | "identity-exists"
  /** An identity file that does not parse, has the wrong permissions or keys. */
  | "identity-invalid"
  /** A file the command needs does not exist. */
  | "no-file"
  /** The DP noise key (`dp-noise.key`) is not a 32-byte key. */
  | "dp-key-invalid"
  /** The DP spend record (`dp-budget.json`) is damaged or another federation's. */
  | "dp-ledger-invalid"
  /** A private file (identity, token) readable by others than its owner. */
  | "identity-permissions"
  /** No roster was given or found. */
  | "no-roster"
  /** The API token file is missing. */
  | "no-token"
  /** The API token is too short to be a secret, or holds characters a bearer token cannot. */
  | "api-token"
  /** This node's identity is not in the roster. */
  | "not-a-member"
  /** A roster file that does not parse or does not validate. */
  | "roster-invalid"
  /** A roster some member has not signed yet (it cannot run). */
  | "roster-unsigned"
  /** A `--layout` file that is neither a valid safetensors header nor a valid layout.json. */
  | "layout-invalid"
  /**
   * Quantization whose proven error bound exceeds the stated fraction of the clip
   * (`MAX_RELATIVE_ERROR`); `--force` accepts it.
   */
  | "imprecise"
  /** Files that should describe one roster (or one amendment) describe different ones. */
  | "roster-mismatch"
  /** A file a command would write exists already (`--force` overwrites it). */
  | "file-exists"
  /** An amendment file that does not parse, or that does not amend the chain it is used with. */
  | "amendment-invalid"
  /** This member already approved another successor of the roster version (no forks). */
  | "would-fork"
  /** A member card that does not parse or whose PeerId does not match its key. */
  | "card-invalid"
  /** `DIR/node.json` does not parse, or its `listen` is not a non-empty list of TCP multiaddrs. */
  | "node-config-invalid"
  /** An address the node cannot listen on (malformed, or not an address of this machine). */
  | "address-invalid"
  /** A port the node must listen on (the trainer API's, a libp2p one) is taken by another process. */
  | "port-in-use"
  /** Another process runs a node in this directory (it holds `DIR/lock`). */
  | "dir-locked"
  /** The node failed while starting, for a reason none of the other codes names. */
  | "start-failed"
  /** A command line the CLI cannot run (unknown command or option, a missing or bad value). */
  | "usage"
  /** No node runs in the directory a command names (`fedagg run` starts one). */
  | "not-running"
  /** The node's API cannot be reached. */
  | "unreachable";

/** Why the node refused a trainer's update (beyond its body's format) or its withdrawal. */
export type SubmitErrorCode =
  /** A round number outside [0, 2^48). */
  | "invalid-round"
  /** An update whose length is not the roster's d. */
  | "wrong-dim"
  /** A `num_samples` outside [1, maxWeight]. */
  | "invalid-num-samples"
  /** Another upload for the same round is being accepted right now. */
  | "submit-in-progress"
  /** The round is already final here. */
  | "already-final"
  /** The round's journal was damaged and moved to `journal/quarantine/` at start-up. */
  | "quarantined"
  /** One more round would exceed the DP roster's privacy budget (the message says what is left). */
  | "dp-budget-exhausted"
  /** The protocol core refused the submission (see `CallerErrorCode`). */
  | CallerErrorCode;

/** Failures of the mesh's frame delivery (inside the node, never shown to a user as such). */
export type TransportErrorCode =
  /** The receiver refused the frame for good (larger than it accepts): not retried. */
  | "frame-refused"
  /** The receiver is busy with this sender's previous large frame: retried later. */
  | "frame-busy";

/** Why an update body was refused (`tensor_formats/`; the HTTP API's status for each is in its table). */
export type FormatErrorCode =
  /** The bytes do not follow the format (bad magic, header syntax, overlapping tensors). */
  | "malformed"
  /** The body ends before the header or the data it declares. */
  | "truncated"
  /** The body, or a safetensors header, is larger than the limit. */
  | "too-large"
  /** A `Content-Type` that names none of the three formats. */
  | "unsupported-content-type"
  /** An `.npy` version other than 1.0, 2.0 and 3.0. */
  | "unsupported-version"
  /** A dtype other than float32 little-endian. */
  | "unsupported-dtype"
  /** An `.npy` array in Fortran order with more than one dimension above 1. */
  | "unsupported-order"
  /** A well-formed body whose element count is not `d`. */
  | "wrong-length"
  /** A NaN or ±Infinity value. */
  | "non-finite"
  /** Safetensors whose tensor names or shapes are not the federation's layout (names the first). */
  | "layout-mismatch"
  /** A flat body (raw, `.npy`) for a layout of several tensors, without `?layout=flat`. */
  | "flat-upload";

/**
 * Problems with the journal's files (`journal.ts`), always carried by a {@link JournalError}
 * that names the file or directory.
 */
export type JournalErrorCode =
  /**
   * A journal record fails its checksum, its header or the checks of its content (bit rot, a
   * truncated or hand-edited file) when read while the node runs. The node serves nothing from
   * it; a restart repairs the round or moves it to `journal/quarantine/`.
   */
  | "journal-corrupt"
  /**
   * The journal as a whole cannot be used (`journal/` is not a directory, cannot be read, or a
   * corrupt round cannot be moved aside): the node refuses to start.
   */
  | "journal-unusable"
  /**
   * A journal write failed because the disk (or the user's quota) is full (ENOSPC, EDQUOT).
   * Nothing of it is kept: an update not journaled is not acknowledged (the API answers 507),
   * and what was acknowledged before stays. Free space (or lower `--keep-rounds` /
   * `--keep-bytes`) and retry.
   */
  | "disk-full";

/** Every code a {@link NodeError} carries. */
export type NodeErrorCode =
  | SetupErrorCode
  | SubmitErrorCode
  | FormatErrorCode
  | TransportErrorCode
  | JournalErrorCode;

/** An error of the node layer, with a stable code (see the module doc). */
export class NodeError<Code extends NodeErrorCode = NodeErrorCode> extends Error {
  /** What went wrong, e.g. `"no-identity"` or `"already-submitted"`. */
  readonly code: Code;

  /** @param code what went wrong @param message what is wrong and how to fix it */
  constructor(code: Code, message: string) {
    super(message);
    this.name = "NodeError";
    this.code = code;
  }
}

/**
 * A {@link NodeError} about one file or directory of the journal: `path` names it, the message
 * says what is wrong with it and, for `journal-unusable`, the one step that fixes it.
 */
export class JournalError extends NodeError<JournalErrorCode> {
  /** The journal file or directory at fault. */
  readonly path: string;

  /** @param code what went wrong @param path where @param message what is wrong (and the fix) */
  constructor(code: JournalErrorCode, path: string, message: string) {
    super(code, message);
    this.name = "JournalError";
    this.path = path;
  }
}

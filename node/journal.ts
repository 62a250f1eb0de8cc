/**
 * The node's journal: what it must not lose across a crash. One directory per round under
 * `DIR/journal/`, every file a checksummed record (`journal_record.ts`) written atomically and
 * durably (`atomic_file.ts`, which also flushes every directory it creates) before the action it
 * records is acknowledged or taken:
 *
 * - `update.f32` + `update.json`: the trainer's update, before the API answers 202. Once the
 *   round is final, `update.f32` (the raw values, the one thing secure aggregation exists to
 *   hide) is deleted; `update.json` (sample count and tensor layout) stays, so the round still
 *   counts as submitted and its aggregate keeps the upload's layout;
 * - `committed.json`: the view this member committed to, before the frame that commits is sent
 *   (so a restarted node never acts in a second view of that round);
 * - `advertised.json`: the last view this member advertised keys in, before the advert is sent
 *   (so a restarted node resumes in a later view and never advertises twice in one session);
 * - `masked.json`: the last view this member sent its masked input in, before it is sent (so a
 *   restarted node never withdraws an update a leader may count, and a give-up asks how that
 *   view ended instead of reporting `round-failed`);
 * - `renounced.json`: this member, bound to a view of the round without a certificate at its
 *   round deadline, promised never to co-sign a certificate of the round (with that view);
 *   written before its renouncement Leave is sent, so a restarted node still co-signs nothing;
 * - `unmasking.cbor`: as the round's leader, its public unmask state (adverts, lists, approvals,
 *   masked sum: nothing secret), before its UnmaskRequest is sent, so a restarted leader resumes
 *   collecting the reveals;
 * - `withdrawn.json`: the trainer withdrew the update (`DELETE /v1/rounds/R/update`), with the
 *   first view a new update for the round may start in; written before the update's files are
 *   deleted, and deleted after a new update for the round was written (an update together with
 *   this marker was never acknowledged, and a restart deletes it);
 * - `failed.json`: this member's update ended without being certified (`round-failed`), with the
 *   view; written before its values are deleted, so a restart counts the round as ended for it
 *   and neither asks about it again nor reports it twice;
 * - `aggregate.u32` + `certificate.cbor` + `published.json`: a verified published aggregate;
 * - `final.cbor`: the final certificate (≥ t co-signatures), after the published aggregate.
 *
 * Every read checks the record's checksum and its content against the roster
 * (`journal_schema.ts`); a final certificate is verified against the roster and the stored
 * aggregate before it or its aggregate is returned. A record that fails is never returned: the
 * read throws a {@link JournalError} (`journal-corrupt`) naming the file. {@link Journal.open},
 * run at start-up, checks every round, repairs what can be derived, moves a round it cannot
 * trust to `journal/quarantine/`, and refuses (`journal-unusable`) a journal it cannot use.
 *
 * @module
 */
import {
  equalBytes,
  MAX_ROUND,
  type Roster,
  splitFinalCertificate,
  u32Bytes,
  verifyFinalCertificate,
} from "../protocol/mod.ts";
import { ensureDirectory, parent, syncDirectory, writeFileAtomic } from "./atomic_file.ts";
import { JournalError, NodeError } from "./errors.ts";
import { openRecord, recordHeader } from "./journal_record.ts";
import {
  checkLayout,
  checkMembers,
  checkNumSamples,
  checkValues,
  type PublishedMeta,
  readAggregate,
  readCertificate,
  readCommitted,
  readFinal,
  readPublished,
  readUnmasking,
  readUpdateMeta,
  readUpdateValues,
  RecordProblem,
  type UpdateMeta,
} from "./journal_schema.ts";
import type { Log } from "./mesh.ts";
import type { Metrics } from "./metrics.ts";
import type { TensorLayout } from "./tensor_formats/mod.ts";

/** A journaled update. */
export interface StoredUpdate {
  readonly values: Float32Array;
  readonly numSamples: number;
  readonly layout: TensorLayout;
}

/** A journaled aggregate, published or final. */
export interface StoredAggregate {
  readonly round: number;
  readonly view: number;
  /** Roster indices whose inputs it contains. */
  readonly members: readonly number[];
  /** The exact integer aggregate (d sums then the total weight). */
  readonly aggregate: Uint32Array;
  /** The certificate frame without its body. */
  readonly certificate: Uint8Array;
  /** The final certificate, once ≥ t members co-signed (verified against the aggregate). */
  readonly final: Uint8Array | undefined;
}

/** The files of a round directory and their permission bits. */
const RECORDS = {
  "update.f32": 0o600,
  "update.json": 0o600,
  "committed.json": 0o600,
  "advertised.json": 0o600,
  "masked.json": 0o600,
  "renounced.json": 0o600,
  "unmasking.cbor": 0o600,
  "withdrawn.json": 0o600,
  "failed.json": 0o600,
  "aggregate.u32": 0o644,
  "certificate.cbor": 0o644,
  "final.cbor": 0o644,
  "published.json": 0o644,
} as const;

/** The name of a journal record file. */
export type RecordName = keyof typeof RECORDS;

const RECORD_NAMES = Object.keys(RECORDS) as RecordName[];

/** What {@link Journal.open} needs: where to report what it repaired or moved aside. */
export interface JournalOpenOptions {
  readonly log: Log;
  readonly metrics: Metrics;
  /** The clock for quarantine names (default: the system's). */
  readonly now?: () => Date;
}

/** What {@link Journal.open} found and did. */
export interface JournalScan {
  /** Rounds left in the journal, every record checked, ascending. */
  readonly rounds: readonly number[];
  /** What it repaired: leftover temporaries removed, records rebuilt from a final certificate. */
  readonly repaired: readonly { readonly path: string; readonly action: string }[];
  /** Round directories (or entries named like one) moved to `journal/quarantine/`. */
  readonly quarantined: readonly {
    readonly path: string;
    readonly movedTo: string;
    readonly reason: string;
    /** The round, when the entry was a round directory holding an update record (valid or not). */
    readonly updateRound?: number;
  }[];
}

/** The journal of one node directory; each round's records are checked against its roster. */
export class Journal {
  readonly #dir: string;
  readonly #rosterOf: (round: number) => Roster;
  /** Final certificates already verified against their aggregate, by round. */
  readonly #verified = new Map<number, { final: Uint8Array; meta: PublishedMeta }>();

  /**
   * @param dir the node directory (the journal lives in `dir/journal`)
   * @param roster the roster the node runs, or the roster each round runs under (a chain of
   *   roster versions): a round's records are checked against its d, maxWeight, members and keys
   */
  constructor(dir: string, roster: Roster | ((round: number) => Roster)) {
    this.#dir = `${dir}/journal`;
    this.#rosterOf = typeof roster === "function" ? roster : () => roster;
  }

  #round(round: number): string {
    return `${this.#dir}/round-${round}`;
  }

  #corrupt(path: string, problem: string): JournalError {
    return new JournalError(
      "journal-corrupt",
      path,
      `journal record ${path} is corrupt: ${problem} (a restart repairs the round or moves it ` +
        `to journal/quarantine/)`,
    );
  }

  /**
   * Writes one record atomically and durably. A full disk (ENOSPC, EDQUOT) is a
   * {@link JournalError} `disk-full` naming the file (the atomic write left nothing behind).
   */
  async #write(round: number, name: RecordName, payload: Uint8Array): Promise<void> {
    const header = recordHeader(name, round, payload);
    const path = `${this.#round(round)}/${name}`;
    try {
      await writeFileAtomic(path, [header, payload], RECORDS[name]);
    } catch (err) {
      throw diskFull(err, path) ?? err;
    }
  }

  /** The checked payload of a record, or undefined if the file does not exist. */
  async #payload(round: number, name: RecordName): Promise<Uint8Array | undefined> {
    const path = `${this.#round(round)}/${name}`;
    let file: Uint8Array;
    try {
      file = await Deno.readFile(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw this.#corrupt(path, `cannot be read (${(err as Error).message})`);
    }
    const opened = openRecord(name, round, file);
    if ("problem" in opened) throw this.#corrupt(path, opened.problem);
    return opened.payload;
  }

  /** A record read and checked by `parse`; undefined if the file does not exist. */
  async #read<T>(
    round: number,
    name: RecordName,
    parse: (payload: Uint8Array) => T,
  ): Promise<T | undefined> {
    const payload = await this.#payload(round, name);
    if (payload === undefined) return undefined;
    try {
      return parse(payload);
    } catch (err) {
      if (err instanceof RecordProblem) {
        throw this.#corrupt(`${this.#round(round)}/${name}`, err.message);
      }
      throw err;
    }
  }

  /**
   * Stores the update for `round`. The caller acknowledges it only after this resolves.
   * Refuses (NodeError `invalid-input`, nothing written) values that are not d finite numbers,
   * a sample count outside [1, maxWeight] or a layout that does not hold d values.
   */
  async recordUpdate(round: number, update: StoredUpdate): Promise<void> {
    refuseInvalid(() => {
      checkValues(this.#rosterOf(round), update.values);
      checkNumSamples(this.#rosterOf(round), update.numSamples);
      checkLayout(this.#rosterOf(round), update.layout);
    });
    const bytes = new Uint8Array(
      update.values.buffer,
      update.values.byteOffset,
      update.values.byteLength,
    );
    const fresh = !(await exists(this.#round(round)));
    try {
      await this.#write(round, "update.f32", bytes);
      await this.#write(
        round,
        "update.json",
        encodeJson({ numSamples: update.numSamples, layout: update.layout }),
      );
    } catch (err) {
      // Not acknowledged: nothing of it stays (no values without metadata, no empty round
      // directory that would count as a round at the next start).
      await this.#remove(round, "update.f32").catch(() => {});
      if (fresh) await Deno.remove(this.#round(round)).catch(() => {});
      throw err;
    }
    // A new update after a withdrawal: it counts from here on.
    await this.#remove(round, "withdrawn.json");
  }

  /**
   * Records that the trainer withdrew the update of `round` (`withdrawn.json`, holding
   * `nextView`, the first view a new update for the round may start in), then deletes the
   * update's files, values first: the round no longer counts as submitted. Also completes a
   * withdrawal interrupted by a crash (call it again with the recorded view).
   */
  async recordWithdrawn(round: number, nextView: number): Promise<void> {
    const payload = encodeJson({ view: nextView });
    refuseInvalid(() => readCommitted(payload));
    await this.#write(round, "withdrawn.json", payload);
    await this.#remove(round, "update.f32");
    await this.#remove(round, "update.json");
  }

  /**
   * The first view a new update for `round` may start in, if its update was withdrawn (and no
   * new one acknowledged since); `journal-corrupt` if the record is damaged.
   */
  async withdrawnView(round: number): Promise<number | undefined> {
    return await this.#read(round, "withdrawn.json", readCommitted);
  }

  /**
   * Records that this member's update of `round` failed in `view` (`failed.json`): it is in no
   * certified aggregate and never will be. Written before its values are deleted.
   */
  async recordFailed(round: number, view: number): Promise<void> {
    const payload = encodeJson({ view });
    refuseInvalid(() => readCommitted(payload));
    await this.#write(round, "failed.json", payload);
  }

  /** The view this member's update of `round` failed in, if it did; `journal-corrupt` if damaged. */
  async failedView(round: number): Promise<number | undefined> {
    return await this.#read(round, "failed.json", readCommitted);
  }

  /** Deletes one record of `round`, if it exists, and makes the deletion durable. */
  async #remove(round: number, name: RecordName): Promise<void> {
    try {
      await Deno.remove(`${this.#round(round)}/${name}`);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      throw err;
    }
    await syncDirectory(this.#round(round));
  }

  /**
   * The weight and layout of the journaled update of `round`, if any (also after its values
   * were pruned), without reading its values. Throws `journal-corrupt` for a damaged record.
   */
  async updateMeta(round: number): Promise<UpdateMeta | undefined> {
    return await this.#read(round, "update.json", (p) => readUpdateMeta(this.#rosterOf(round), p));
  }

  /**
   * Deletes the raw values of `round`'s update (its metadata stays) and flushes the round's
   * directory, so the deletion survives a power loss. Call once the update can never be needed
   * again (the round ended for this member, or it committed). Resolves to whether a file was
   * deleted.
   */
  async pruneUpdate(round: number): Promise<boolean> {
    try {
      await Deno.remove(`${this.#round(round)}/update.f32`);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      return false;
    }
    // The deletion is durable before anything relies on it (the plaintext must not come back).
    await syncDirectory(this.#round(round));
    return true;
  }

  /**
   * The journaled update of `round` with its values, if any and not pruned. Throws
   * `journal-corrupt` for a damaged record (wrong length, a non-finite value, a bad weight…).
   */
  async update(round: number): Promise<StoredUpdate | undefined> {
    const meta = await this.updateMeta(round);
    if (meta === undefined) return undefined;
    const values = await this.#read(
      round,
      "update.f32",
      (p) => readUpdateValues(this.#rosterOf(round), p),
    );
    if (values === undefined) return undefined;
    return { values, numSamples: meta.numSamples, layout: meta.layout };
  }

  /**
   * Records (`advertised.json`) that this member advertised keys in `view` of `round`, before the
   * advert is sent: a restarted node resumes in a later view, never advertising twice in one
   * session.
   */
  async recordAdvertised(round: number, view: number): Promise<void> {
    const payload = encodeJson({ view });
    refuseInvalid(() => readCommitted(payload));
    await this.#write(round, "advertised.json", payload);
  }

  /** The last view this member advertised keys in for `round`, if any; `journal-corrupt` if damaged. */
  async advertisedView(round: number): Promise<number | undefined> {
    return await this.#read(round, "advertised.json", readCommitted);
  }

  /**
   * Records (`masked.json`) that this member sends its masked input in `view` of `round`, before
   * it is sent: a restarted node knows the update may be counted in that view.
   */
  async recordMasked(round: number, view: number): Promise<void> {
    const payload = encodeJson({ view });
    refuseInvalid(() => readCommitted(payload));
    await this.#write(round, "masked.json", payload);
  }

  /**
   * The last view this member sent its masked input in for `round`, if any; `journal-corrupt`
   * if damaged.
   */
  async maskedView(round: number): Promise<number | undefined> {
    return await this.#read(round, "masked.json", readCommitted);
  }

  /**
   * Records (`renounced.json`) that this member, bound to `view` of `round`, promised never to
   * co-sign a certificate of the round, before its renouncement Leave is sent: a restarted node
   * keeps the promise.
   */
  async recordRenounced(round: number, view: number): Promise<void> {
    const payload = encodeJson({ view });
    refuseInvalid(() => readCommitted(payload));
    await this.#write(round, "renounced.json", payload);
  }

  /**
   * The view this member was bound to when it renounced co-signing in `round`, if it did;
   * `journal-corrupt` if damaged.
   */
  async renouncedView(round: number): Promise<number | undefined> {
    return await this.#read(round, "renounced.json", readCommitted);
  }

  /**
   * Records (`unmasking.cbor`) the public unmask state of the session (`round`, its view inside)
   * this member leads, before its UnmaskRequest is sent: a restarted node resumes the leader.
   */
  async recordUnmasking(round: number, record: Uint8Array): Promise<void> {
    refuseInvalid(() => readUnmasking(this.#rosterOf(round), record));
    await this.#write(round, "unmasking.cbor", record);
  }

  /** The unmask record this member journaled as leader in `round`, if any; `journal-corrupt` if damaged. */
  async unmaskRecord(round: number): Promise<Uint8Array | undefined> {
    return await this.#read(
      round,
      "unmasking.cbor",
      (p) => readUnmasking(this.#rosterOf(round), p),
    );
  }

  /** Records that this member committed to `view` of `round` (before the committing frame). */
  async recordCommit(round: number, view: number): Promise<void> {
    const payload = encodeJson({ view });
    refuseInvalid(() => readCommitted(payload));
    await this.#write(round, "committed.json", payload);
  }

  /** The view this member committed to in `round`, if any; `journal-corrupt` if damaged. */
  async committedView(round: number): Promise<number | undefined> {
    return await this.#read(round, "committed.json", readCommitted);
  }

  /**
   * Stores a verified published aggregate (and, when given, its final certificate). Refuses
   * (NodeError `invalid-input`, nothing written) members outside the roster, an aggregate whose
   * length is not d + 1 or whose weight does not fit them, and a certificate that is not one.
   */
  async recordAggregate(
    a: Omit<StoredAggregate, "final"> & { final?: Uint8Array },
  ): Promise<void> {
    const members = [...a.members].sort((x, y) => x - y);
    const body = u32Bytes(a.aggregate);
    const published = encodeJson({ view: a.view, members });
    refuseInvalid(() => {
      const roster = this.#rosterOf(a.round);
      checkMembers(roster, members);
      readAggregate(roster, body, members.length);
      readCertificate(roster, a.certificate);
      readPublished(roster, published);
      if (a.final !== undefined) readFinal(roster, a.final);
    });
    this.#verified.delete(a.round);
    await this.#write(a.round, "aggregate.u32", body);
    await this.#write(a.round, "certificate.cbor", a.certificate);
    if (a.final !== undefined) await this.recordFinal(a.round, a.final);
    await this.#write(a.round, "published.json", published);
  }

  /**
   * Stores the final certificate of `round`, whose aggregate {@link recordAggregate} stored
   * (the aggregate counts as final only with both). Refuses (`invalid-input`) bytes that are
   * not a final certificate's encoding.
   */
  async recordFinal(round: number, final: Uint8Array): Promise<void> {
    refuseInvalid(() => readFinal(this.#rosterOf(round), final));
    this.#verified.delete(round);
    await this.#write(round, "final.cbor", final);
  }

  /**
   * Which records of `round` are complete, from the names in its directory alone: an accepted
   * update ({@link updateMeta} would return it; `update.json` is written after the values), a
   * published aggregate ({@link aggregate} would return it) and, with one, a final certificate;
   * and whether this member journaled an unmask record as leader (`unmasking`: read with
   * {@link unmaskRecord}, which checks it). Contents are checked by the reads and, at start-up,
   * by {@link open}.
   */
  async recorded(
    round: number,
  ): Promise<{ update: boolean; published: boolean; final: boolean; unmasking: boolean }> {
    const names = new Set<string>();
    try {
      for await (const entry of Deno.readDir(this.#round(round))) {
        if (entry.isFile) names.add(entry.name);
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    const all = (...files: string[]) => files.every((f) => names.has(f));
    const published = all("published.json", "aggregate.u32", "certificate.cbor");
    return {
      update: all("update.json"),
      published,
      final: published && names.has("final.cbor"),
      unmasking: names.has("unmasking.cbor"),
    };
  }

  /**
   * The stored aggregate of `round`, if one was published. Every record is checked; a final
   * certificate must verify against the roster and this aggregate (`verifyFinalCertificate`,
   * once per certificate) and state this round, view and members. Throws `journal-corrupt`
   * (naming the file) rather than return anything that failed.
   */
  async aggregate(round: number): Promise<StoredAggregate | undefined> {
    const dir = this.#round(round);
    const meta = await this.#read(
      round,
      "published.json",
      (p) => readPublished(this.#rosterOf(round), p),
    );
    if (meta === undefined) return undefined;
    const aggregate = await this.#read(
      round,
      "aggregate.u32",
      (p) => readAggregate(this.#rosterOf(round), p, meta.members.length),
    );
    const certificate = await this.#read(
      round,
      "certificate.cbor",
      (p) => readCertificate(this.#rosterOf(round), p),
    );
    if (aggregate === undefined || certificate === undefined) return undefined;
    const final = await this.#read(round, "final.cbor", (p) => {
      if (!equalBytes(readFinal(this.#rosterOf(round), p), certificate)) {
        throw new RecordProblem("it does not certify this round's certificate.cbor");
      }
      return p;
    });
    if (final !== undefined) {
      const verified = await this.#verifyFinal(round, final, aggregate);
      if (typeof verified === "string") throw this.#corrupt(`${dir}/final.cbor`, verified);
      if (!sameMeta(verified, meta)) {
        throw this.#corrupt(`${dir}/published.json`, differs(verified, meta));
      }
    }
    return { round, view: meta.view, members: meta.members, aggregate, certificate, final };
  }

  /**
   * What `final` certifies when it is the final certificate of `round` over `aggregate` (per
   * the roster), else why not. Remembered, so a certificate is verified once.
   */
  async #verifyFinal(
    round: number,
    final: Uint8Array,
    aggregate: Uint32Array,
  ): Promise<PublishedMeta | string> {
    const known = this.#verified.get(round);
    if (known !== undefined && equalBytes(known.final, final)) return known.meta;
    let verified;
    try {
      verified = await verifyFinalCertificate(this.#rosterOf(round), final, u32Bytes(aggregate));
    } catch (err) {
      return `it does not verify against the roster and aggregate.u32: ${(err as Error).message}`;
    }
    if (verified.round !== round) return `it certifies round ${verified.round}`;
    const meta = { view: verified.view, members: [...verified.members] };
    this.#verified.set(round, { final: final.slice(), meta });
    return meta;
  }

  /**
   * Whether `round` ended for this node, from its records: final, or (with no aggregate
   * published) failed for this member's update or withdrawn without a new update. A round that
   * is pending, committed without a known outcome or published but not final has not ended.
   */
  async ended(round: number): Promise<boolean> {
    const recorded = await this.recorded(round);
    if (recorded.final) return true;
    if (recorded.published) return false;
    if (await exists(this.path(round, "failed.json"))) return true;
    return !recorded.update && await exists(this.path(round, "withdrawn.json"));
  }

  /**
   * The bytes under `journal/` (every file, quarantine included) and the round directories; a
   * journal that does not exist yet is empty.
   */
  async usage(): Promise<{ bytes: number; rounds: number }> {
    return { bytes: await treeBytes(this.#dir), rounds: (await this.rounds()).length };
  }

  /** The bytes of `round`'s directory. */
  async roundBytes(round: number): Promise<number> {
    return await treeBytes(this.#round(round));
  }

  /**
   * Takes `round`'s directory out of the journal: moved to `archiveDir/round-R` (a suffix
   * `.N` when that exists) when given, else deleted; the journal directory is flushed so the
   * removal is durable. The caller decides that the round may go (`journal_retention.ts`);
   * this refuses nothing. Resolves to where it went (undefined: deleted).
   */
  async retire(round: number, archiveDir?: string): Promise<string | undefined> {
    const from = this.#round(round);
    this.#verified.delete(round);
    if (archiveDir === undefined) {
      await Deno.remove(from, { recursive: true });
      await syncDirectory(this.#dir);
      return undefined;
    }
    await ensureDirectory(archiveDir);
    let to = `${archiveDir}/round-${round}`;
    for (let k = 1; await exists(to); k++) to = `${archiveDir}/round-${round}.${k}`;
    try {
      await Deno.rename(from, to);
    } catch (err) {
      if ((err as { code?: string }).code !== "EXDEV") throw diskFull(err, to) ?? err;
      // Another file system: copy, flush, then delete the original.
      try {
        await copyTree(from, to);
      } catch (copyErr) {
        await Deno.remove(to, { recursive: true }).catch(() => {});
        throw diskFull(copyErr, to) ?? copyErr;
      }
      await Deno.remove(from, { recursive: true });
    }
    await syncDirectory(archiveDir);
    await syncDirectory(this.#dir);
    return to;
  }

  /**
   * Where a round's file lives (the layout the module doc lists). Nothing in the node reads
   * files through it; tests use it to inspect what was written.
   */
  path(round: number, name: RecordName): string {
    return `${this.#round(round)}/${name}`;
  }

  /**
   * Rounds with a journal directory, ascending. Throws `journal-unusable` when `journal/`
   * exists but cannot be listed (e.g. it is a file).
   */
  async rounds(): Promise<number[]> {
    const out: number[] = [];
    try {
      for await (const entry of Deno.readDir(this.#dir)) {
        const round = roundOf(entry.name);
        if (round === undefined) continue;
        const path = `${this.#dir}/${entry.name}`;
        if (entry.isDirectory || (entry.isSymlink && await isDirectory(path))) out.push(round);
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw this.#unusable(err);
    }
    return out.sort((a, b) => a - b);
  }

  /**
   * Whether a directory of `round` was moved to `journal/quarantine/` (its records, a
   * commitment among them, can no longer be trusted): a caller should refuse new work in that
   * round rather than start it afresh, since this member may have committed in it.
   */
  async quarantined(round: number): Promise<boolean> {
    try {
      for await (const entry of Deno.readDir(`${this.#dir}/quarantine`)) {
        if (entry.name.startsWith(`round-${round}.`)) return true;
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw this.#unusable(err);
    }
    return false;
  }

  #unusable(err: unknown): JournalError {
    const dir = this.#dir;
    if (err instanceof Deno.errors.NotADirectory) {
      return new JournalError(
        "journal-unusable",
        dir,
        `${dir} is not a directory: move it aside (mv ${dir} ${dir}.broken) and start again`,
      );
    }
    return new JournalError(
      "journal-unusable",
      dir,
      `${dir} cannot be read (${(err as Error).message}): give the node's user read and write ` +
        `access to it (chown -R USER ${dir} && chmod -R u+rwX ${dir})`,
    );
  }

  /**
   * The start-up scan; run it before anything else reads the journal. Checks every record of
   * every round (checksum, content, and each final certificate against the roster and its
   * aggregate) and then, per round:
   *
   * - removes leftover temporaries of interrupted writes (`*.tmp-*`);
   * - when the final certificate verifies, rewrites a missing, damaged or inconsistent
   *   `published.json` or `certificate.cbor` from it, and deletes a damaged `update.f32` (a
   *   final round no longer needs it);
   * - moves a round with any other damaged record, and an entry named like a round that is not
   *   a round directory, to `journal/quarantine/NAME.<UTC time>` — logged as an error with the
   *   path and the reason, and counted in `fedagg_journal_quarantined_total`.
   *
   * Refuses (JournalError `journal-unusable`, naming the path and the fix) a `journal/` that is
   * not a directory or cannot be read, and a damaged round it cannot move aside. Entries with
   * other names are left alone.
   */
  async open(options: JournalOpenOptions): Promise<JournalScan> {
    const repaired: { path: string; action: string }[] = [];
    const quarantined: {
      path: string;
      movedTo: string;
      reason: string;
      updateRound?: number;
    }[] = [];
    const rounds: number[] = [];
    const entries: Deno.DirEntry[] = [];
    try {
      const info = await Deno.stat(this.#dir); // a symbolic link to a directory is fine
      if (!info.isDirectory) throw new Deno.errors.NotADirectory(this.#dir);
      for await (const entry of Deno.readDir(this.#dir)) entries.push(entry);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return { rounds, repaired, quarantined };
      throw this.#unusable(err);
    }
    const moveAside = async (path: string, reason: string, updateRound?: number) => {
      const movedTo = await this.#quarantine(path, reason, options);
      quarantined.push({ path, movedTo, reason, updateRound });
    };
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const path = `${this.#dir}/${entry.name}`;
      if (!/^round-\d+$/.test(entry.name)) continue;
      const round = roundOf(entry.name);
      if (round === undefined) {
        await moveAside(path, "not a round number in canonical form (round-N, N < 2^48)");
      } else if (!entry.isDirectory && !(entry.isSymlink && await isDirectory(path))) {
        await moveAside(path, "not a directory");
      } else {
        const problems = await this.#scanRound(round, repaired, options);
        if (problems.length > 0) {
          const updated = await exists(`${path}/update.json`);
          await moveAside(path, problems.join("; "), updated ? round : undefined);
        } else rounds.push(round);
      }
    }
    return { rounds: rounds.sort((a, b) => a - b), repaired, quarantined };
  }

  /** Checks and repairs one round directory; resolves to what it could not repair. */
  async #scanRound(
    round: number,
    repaired: { path: string; action: string }[],
    options: JournalOpenOptions,
  ): Promise<string[]> {
    const dir = this.#round(round);
    const names = new Set<string>();
    try {
      for await (const entry of Deno.readDir(dir)) names.add(entry.name);
    } catch (err) {
      return [`${dir} cannot be listed (${(err as Error).message})`];
    }
    const repair = (path: string, action: string) => {
      repaired.push({ path, action });
      options.log("warn", "journal repaired", { path, action });
      options.metrics.inc(
        "fedagg_journal_repaired_total",
        "Journal files repaired at start-up (temporaries removed, records rebuilt)",
      );
    };
    for (const name of names) {
      if (!/\.tmp-/.test(name)) continue;
      await Deno.remove(`${dir}/${name}`, { recursive: true });
      names.delete(name);
      repair(`${dir}/${name}`, "removed the temporary of an interrupted write");
    }
    // Values without their update.json: a crash in the middle of an acknowledgement (the
    // metadata is written after the values, and the trainer told only after both): never
    // acknowledged, and plaintext nothing will ever read or delete. Removed.
    if (names.has("update.f32") && !names.has("update.json")) {
      await this.pruneUpdate(round);
      names.delete("update.f32");
      repair(
        `${dir}/update.f32`,
        "deleted: values of an update never acknowledged (no update.json)",
      );
    }
    // Each record alone: checksum, then content.
    const problems = new Map<RecordName, string>();
    const payloads = new Map<RecordName, Uint8Array>();
    const parsers: Record<RecordName, (p: Uint8Array) => unknown> = {
      "update.f32": (p) => readUpdateValues(this.#rosterOf(round), p),
      "update.json": (p) => readUpdateMeta(this.#rosterOf(round), p),
      "committed.json": readCommitted,
      "advertised.json": readCommitted,
      "masked.json": readCommitted,
      "renounced.json": readCommitted,
      "unmasking.cbor": (p) => readUnmasking(this.#rosterOf(round), p),
      "withdrawn.json": readCommitted,
      "failed.json": readCommitted,
      "aggregate.u32": (p) => readAggregate(this.#rosterOf(round), p),
      "certificate.cbor": (p) => readCertificate(this.#rosterOf(round), p),
      "final.cbor": (p) => readFinal(this.#rosterOf(round), p),
      "published.json": (p) => readPublished(this.#rosterOf(round), p),
    };
    for (const name of RECORD_NAMES.filter((n) => names.has(n))) {
      try {
        const payload = await this.#read(round, name, (p) => (parsers[name](p), p));
        if (payload !== undefined) payloads.set(name, payload);
      } catch (err) {
        if (!(err instanceof JournalError)) throw err;
        problems.set(name, err.message.replace(/ \(a restart repairs.*$/, ""));
      }
    }
    // A damaged leader's unmask record is only a way to resume a leader: deleted, not a reason
    // to move the round (and its update) aside.
    if (problems.has("unmasking.cbor")) {
      await Deno.remove(`${dir}/unmasking.cbor`);
      problems.delete("unmasking.cbor");
      repair(`${dir}/unmasking.cbor`, "deleted: a damaged leader's unmask record");
    }
    // The records together.
    const ok = (name: RecordName) => payloads.has(name) && !problems.has(name);
    let meta = ok("published.json")
      ? readPublished(this.#rosterOf(round), payloads.get("published.json")!)
      : undefined;
    const aggregateBytes = payloads.get("aggregate.u32");
    if (ok("final.cbor") && ok("aggregate.u32")) {
      const final = payloads.get("final.cbor")!;
      const aggregate = readAggregate(this.#rosterOf(round), aggregateBytes!);
      // Against the roster and aggregate alone: published.json may be what is damaged.
      const verified = await this.#verifyFinal(round, final, aggregate);
      if (typeof verified === "string") {
        problems.set("final.cbor", `${dir}/final.cbor: ${verified}`);
      } else {
        const certificate = splitFinalCertificate(this.#rosterOf(round), final).certificate;
        if (
          !ok("certificate.cbor") || !equalBytes(payloads.get("certificate.cbor")!, certificate)
        ) {
          await this.#write(round, "certificate.cbor", certificate);
          problems.delete("certificate.cbor");
          repair(`${dir}/certificate.cbor`, "rewritten from the verified final certificate");
        }
        if (meta === undefined || !sameMeta(verified, meta)) {
          await this.#write(round, "published.json", encodeJson(verified));
          problems.delete("published.json");
          meta = verified;
          repair(`${dir}/published.json`, "rewritten from the verified final certificate");
        }
        if (problems.has("update.f32")) {
          await this.pruneUpdate(round);
          problems.delete("update.f32");
          repair(`${dir}/update.f32`, "deleted: damaged, and its round is final");
        }
      }
    } else if (meta !== undefined && ok("aggregate.u32")) {
      try {
        readAggregate(this.#rosterOf(round), aggregateBytes!, meta.members.length);
      } catch (err) {
        if (!(err instanceof RecordProblem)) throw err;
        problems.set("aggregate.u32", `${dir}/aggregate.u32: ${err.message}`);
      }
    }
    return [...problems.values()];
  }

  /** Moves `path` to `journal/quarantine/`; resolves to where. Refuses `journal-unusable`. */
  async #quarantine(path: string, reason: string, options: JournalOpenOptions): Promise<string> {
    const quarantine = `${this.#dir}/quarantine`;
    const stamp = (options.now?.() ?? new Date()).toISOString().replace(/[-:]|\.\d+/g, "");
    const base = `${quarantine}/${path.slice(parent(path).length + 1)}.${stamp}`;
    let to = base;
    try {
      await ensureDirectory(quarantine);
      for (let k = 1; await exists(to); k++) to = `${base}-${k}`;
      await Deno.rename(path, to);
      await syncDirectory(this.#dir);
      await syncDirectory(quarantine);
    } catch (err) {
      throw new JournalError(
        "journal-unusable",
        path,
        `${path} is damaged (${reason}) and cannot be moved aside (${(err as Error).message}): ` +
          `move it out of ${this.#dir} by hand and start again`,
      );
    }
    options.log("error", "journal round quarantined", { path, movedTo: to, reason });
    options.metrics.inc(
      "fedagg_journal_quarantined_total",
      "Journal rounds moved to journal/quarantine/ at start-up because a record was damaged",
    );
    return to;
  }
}

/** The round a directory name `round-N` stands for, if canonical (no leading zeros, < 2^48). */
function roundOf(name: string): number | undefined {
  const m = /^round-(0|[1-9]\d{0,14})$/.exec(name);
  if (m === null) return undefined;
  const round = Number(m[1]);
  return round < MAX_ROUND ? round : undefined;
}

function sameMeta(a: PublishedMeta, b: PublishedMeta): boolean {
  return a.view === b.view && a.members.join() === b.members.join();
}

function differs(certified: PublishedMeta, stored: PublishedMeta): string {
  return `it says view ${stored.view} and members [${stored.members}], the final certificate ` +
    `view ${certified.view} and members [${certified.members}]`;
}

function encodeJson(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

/** Runs a check of data about to be written; its problem becomes NodeError `invalid-input`. */
function refuseInvalid(check: () => void): void {
  try {
    check();
  } catch (err) {
    if (err instanceof RecordProblem) {
      throw new NodeError("invalid-input", `refused to journal: ${err.message}`);
    }
    throw err;
  }
}

/** A {@link JournalError} `disk-full` for a write of `path` the disk had no room for. */
function diskFull(err: unknown, path: string): JournalError | undefined {
  const code = (err as { code?: string } | undefined)?.code;
  if (code !== "ENOSPC" && code !== "EDQUOT") return undefined;
  return new JournalError(
    "disk-full",
    path,
    `cannot write ${path}: the disk is full (${code}); nothing of this write was kept. Free ` +
      `space, or keep fewer rounds (--keep-rounds, --keep-bytes), and retry`,
  );
}

/** The bytes of the files under `path` (0 when it does not exist); links are not followed. */
async function treeBytes(path: string): Promise<number> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return 0;
    throw err;
  }
  if (!info.isDirectory) return info.size;
  let total = 0;
  try {
    for await (const entry of Deno.readDir(path)) total += await treeBytes(`${path}/${entry.name}`);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return total;
}

/** Copies the directory `from` to `to` (files and subdirectories), each file flushed. */
async function copyTree(from: string, to: string): Promise<void> {
  await ensureDirectory(to);
  for await (const entry of Deno.readDir(from)) {
    const src = `${from}/${entry.name}`;
    const dst = `${to}/${entry.name}`;
    if (entry.isDirectory) {
      await copyTree(src, dst);
    } else if (entry.isFile) {
      await writeFileAtomic(dst, await Deno.readFile(src), (await Deno.stat(src)).mode! & 0o777);
    }
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/**
 * The node's journal: what it must not lose across a crash. One directory per round under
 * `DIR/journal/`, every file written atomically (`atomic_file.ts`) before the action it
 * records is acknowledged or taken:
 *
 * - `update.f32` + `update.json`: the trainer's update, before the API answers 202. Once the
 *   round is final, `update.f32` (the raw values, the one thing secure aggregation exists to
 *   hide) is deleted; `update.json` (sample count and tensor layout) stays, so the round still
 *   counts as submitted and its aggregate keeps the upload's layout;
 * - `committed.json`: the view this member committed to, before the frame that commits is sent
 *   (so a restarted node never acts in a second view of that round);
 * - `aggregate.u32` + `certificate.cbor` + `published.json`: a verified published aggregate;
 * - `final.cbor`: the final certificate (≥ t co-signatures), after the published aggregate.
 *
 * @module
 */
import { bytesToU32, u32Bytes } from "../protocol/mod.ts";
import { readFileIfExists, writeFileAtomic } from "./atomic_file.ts";
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
  /** The final certificate, once ≥ t members co-signed. */
  readonly final: Uint8Array | undefined;
}

const decoder = new TextDecoder();

/** The journal of one node directory. */
export class Journal {
  readonly #dir: string;

  /** @param dir the node directory (the journal lives in `dir/journal`) */
  constructor(dir: string) {
    this.#dir = `${dir}/journal`;
  }

  #round(round: number): string {
    return `${this.#dir}/round-${round}`;
  }

  async #json<T>(path: string): Promise<T | undefined> {
    const raw = await readFileIfExists(path);
    return raw === undefined ? undefined : JSON.parse(decoder.decode(raw)) as T;
  }

  /** Stores the update for `round`. The caller acknowledges it only after this resolves. */
  async recordUpdate(round: number, update: StoredUpdate): Promise<void> {
    const dir = this.#round(round);
    const bytes = new Uint8Array(
      update.values.buffer,
      update.values.byteOffset,
      update.values.byteLength,
    );
    await writeFileAtomic(`${dir}/update.f32`, bytes);
    await writeFileAtomic(
      `${dir}/update.json`,
      JSON.stringify({ numSamples: update.numSamples, layout: update.layout }),
    );
  }

  /**
   * The weight and layout of the journaled update of `round`, if any (also after its values
   * were pruned), without reading its values.
   */
  async updateMeta(round: number): Promise<Omit<StoredUpdate, "values"> | undefined> {
    const dir = this.#round(round);
    const meta = await this.#json<{ numSamples: number; layout: TensorLayout }>(
      `${dir}/update.json`,
    );
    if (meta === undefined) return undefined;
    return { numSamples: meta.numSamples, layout: meta.layout };
  }

  /**
   * Deletes the raw values of `round`'s update (its metadata stays). Call once the round is
   * final: they are no longer needed to resume it.
   */
  async pruneUpdate(round: number): Promise<void> {
    try {
      await Deno.remove(`${this.#round(round)}/update.f32`);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }

  /** The journaled update of `round` with its values, if any and not pruned. */
  async update(round: number): Promise<StoredUpdate | undefined> {
    const dir = this.#round(round);
    const meta = await this.#json<{ numSamples: number; layout: TensorLayout }>(
      `${dir}/update.json`,
    );
    const raw = await readFileIfExists(`${dir}/update.f32`);
    if (meta === undefined || raw === undefined) return undefined;
    const values = new Float32Array(bytesToU32(raw).buffer);
    return { values, numSamples: meta.numSamples, layout: meta.layout };
  }

  /**
   * Records (`advertised.json`) that this member advertised keys in `view` of `round`, before the
   * advert is sent: a restarted node resumes in a later view, never advertising twice in one
   * session.
   */
  async recordAdvertised(round: number, view: number): Promise<void> {
    await writeFileAtomic(`${this.#round(round)}/advertised.json`, JSON.stringify({ view }));
  }

  /** The last view this member advertised keys in for `round`, if any. */
  async advertisedView(round: number): Promise<number | undefined> {
    return (await this.#json<{ view: number }>(`${this.#round(round)}/advertised.json`))?.view;
  }

  /** Records that this member committed to `view` of `round` (before the committing frame). */
  async recordCommit(round: number, view: number): Promise<void> {
    await writeFileAtomic(`${this.#round(round)}/committed.json`, JSON.stringify({ view }));
  }

  /** The view this member committed to in `round`, if any. */
  async committedView(round: number): Promise<number | undefined> {
    return (await this.#json<{ view: number }>(`${this.#round(round)}/committed.json`))?.view;
  }

  /** Stores a verified published aggregate (and, when given, its final certificate). */
  async recordAggregate(
    a: Omit<StoredAggregate, "final"> & { final?: Uint8Array },
  ): Promise<void> {
    const dir = this.#round(a.round);
    await writeFileAtomic(`${dir}/aggregate.u32`, u32Bytes(a.aggregate), 0o644);
    await writeFileAtomic(`${dir}/certificate.cbor`, a.certificate, 0o644);
    if (a.final !== undefined) await this.recordFinal(a.round, a.final);
    await writeFileAtomic(
      `${dir}/published.json`,
      JSON.stringify({ view: a.view, members: a.members }),
      0o644,
    );
  }

  /**
   * Stores the final certificate of `round`, whose aggregate {@link recordAggregate} stored
   * (the aggregate counts as final only with both).
   */
  async recordFinal(round: number, final: Uint8Array): Promise<void> {
    await writeFileAtomic(`${this.#round(round)}/final.cbor`, final, 0o644);
  }

  /**
   * Which records of `round` are complete, from the names in its directory alone: an accepted
   * update ({@link updateMeta} would return it; `update.json` is written after the values), a
   * published aggregate ({@link aggregate} would return it) and, with one, a final certificate.
   */
  async recorded(round: number): Promise<{ update: boolean; published: boolean; final: boolean }> {
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
    };
  }

  /** The stored aggregate of `round`, if one was published. */
  async aggregate(round: number): Promise<StoredAggregate | undefined> {
    const dir = this.#round(round);
    const meta = await this.#json<{ view: number; members: number[] }>(`${dir}/published.json`);
    if (meta === undefined) return undefined;
    const body = await readFileIfExists(`${dir}/aggregate.u32`);
    const certificate = await readFileIfExists(`${dir}/certificate.cbor`);
    if (body === undefined || certificate === undefined) return undefined;
    return {
      round,
      view: meta.view,
      members: meta.members,
      aggregate: bytesToU32(body),
      certificate,
      final: await readFileIfExists(`${dir}/final.cbor`),
    };
  }

  /**
   * Where a round's file lives (the layout the module doc lists). Nothing in the node reads
   * files through it; tests use it to inspect what was written.
   */
  path(round: number, name: "aggregate.u32" | "final.cbor" | "update.f32"): string {
    return `${this.#round(round)}/${name}`;
  }

  /** Rounds with a journal directory, ascending. */
  async rounds(): Promise<number[]> {
    const out: number[] = [];
    try {
      for await (const entry of Deno.readDir(this.#dir)) {
        const m = /^round-(\d+)$/.exec(entry.name);
        if (entry.isDirectory && m) out.push(Number(m[1]));
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return out.sort((a, b) => a - b);
  }
}

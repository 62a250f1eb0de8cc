/**
 * What each journal file may contain, checked against the roster the node runs: the payload
 * readers below return the file's content only when every field is well-formed and in range,
 * and otherwise throw a {@link RecordProblem} saying what is wrong (the journal adds the path).
 * The same checks refuse a record before it is written, so the journal never writes what it
 * would later refuse to read.
 *
 * @module
 */
import {
  decode,
  isGroupBodyLength,
  MAX_ROUND,
  maxFrameSize,
  readUnmaskRecord,
  type Roster,
  splitFinalCertificate,
  vectorLength,
} from "../protocol/mod.ts";
import { compareNames } from "./tensor_formats/safetensors.ts";
import type { TensorLayout } from "./tensor_formats/mod.ts";

/** Why a record's payload is not what its file must hold. */
export class RecordProblem extends Error {
  /** @param message what is wrong, e.g. "numSamples 1000000000 is outside [1, 10]" */
  constructor(message: string) {
    super(message);
    this.name = "RecordProblem";
  }
}

/** The weight and layout of a journaled update (`update.json`). */
export interface UpdateMeta {
  readonly numSamples: number;
  readonly layout: TensorLayout;
}

/** The view and members of a published aggregate (`published.json`). */
export interface PublishedMeta {
  readonly view: number;
  readonly members: readonly number[];
}

/** `bytes` itself when 4-aligned, else an aligned copy (little-endian hosts only, as the node). */
function aligned(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
}

function problem(condition: boolean, message: string): void {
  if (!condition) throw new RecordProblem(message);
}

function json(payload: Uint8Array, keys: readonly string[]): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch {
    throw new RecordProblem("not valid UTF-8 JSON");
  }
  problem(
    typeof value === "object" && value !== null && !Array.isArray(value),
    "not a JSON object",
  );
  const record = value as Record<string, unknown>;
  const found = Object.keys(record).sort();
  problem(
    found.join() === [...keys].sort().join(),
    `fields ${JSON.stringify(found)}, expected ${JSON.stringify([...keys].sort())}`,
  );
  return record;
}

function viewNumber(v: unknown): number {
  problem(
    typeof v === "number" && Number.isSafeInteger(v) && v >= 0 && v < MAX_ROUND,
    `view ${JSON.stringify(v)} is not an integer in [0, 2^48)`,
  );
  return v as number;
}

/** Refuses a layout that is not `roster.dim` values in named tensors of canonical order. */
export function checkLayout(roster: Roster, layout: unknown): TensorLayout {
  problem(
    typeof layout === "object" && layout !== null && !Array.isArray(layout) &&
      Object.keys(layout).join() === "tensors" &&
      Array.isArray((layout as { tensors: unknown }).tensors) &&
      (layout as { tensors: unknown[] }).tensors.length > 0,
    "layout is not { tensors: [...] } with at least one tensor",
  );
  const tensors = (layout as { tensors: unknown[] }).tensors;
  let total = 0;
  let previous: string | undefined;
  for (const [i, t] of tensors.entries()) {
    problem(
      typeof t === "object" && t !== null && !Array.isArray(t) &&
        Object.keys(t).sort().join() === "name,shape",
      `tensor ${i} is not { name, shape }`,
    );
    const { name, shape } = t as { name: unknown; shape: unknown };
    problem(
      typeof name === "string" && name.isWellFormed() && name !== "__metadata__",
      `tensor ${i} has a name that cannot be used`,
    );
    problem(
      previous === undefined || compareNames(previous, name as string) < 0,
      `tensor ${i}'s name is not after the previous one in code point order`,
    );
    previous = name as string;
    problem(
      Array.isArray(shape) && shape.every((n) => Number.isSafeInteger(n) && n >= 0),
      `tensor ${i}'s shape is not a list of non-negative integers`,
    );
    const count = (shape as number[]).reduce((a, n) => a * n, 1);
    total += count;
    problem(total <= roster.dim, `the layout holds more than the roster's d = ${roster.dim}`);
  }
  problem(
    total === roster.dim,
    `the layout holds ${total} values, the roster's d is ${roster.dim}`,
  );
  return layout as TensorLayout;
}

/** Refuses a sample count outside [1, the roster's maxWeight]. */
export function checkNumSamples(roster: Roster, n: unknown): number {
  const max = roster.quantization.maxWeight;
  problem(
    typeof n === "number" && Number.isSafeInteger(n) && n >= 1 && n <= max,
    `numSamples ${JSON.stringify(n)} is outside [1, ${max}] (the roster's maxWeight)`,
  );
  return n as number;
}

/** `update.f32`: d float32 values, all finite (a view into `payload` when it is 4-aligned). */
export function readUpdateValues(roster: Roster, payload: Uint8Array): Float32Array {
  problem(
    payload.length === 4 * roster.dim,
    `${payload.length} bytes, expected ${4 * roster.dim} (4 · d)`,
  );
  const a = aligned(payload);
  const values = new Float32Array(a.buffer, a.byteOffset, roster.dim);
  checkValues(roster, values);
  return values;
}

/** Refuses values that are not d finite numbers. */
export function checkValues(roster: Roster, values: Float32Array): void {
  problem(values.length === roster.dim, `${values.length} values, the roster's d is ${roster.dim}`);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new RecordProblem(`value ${i} is ${values[i]}`);
  }
}

/** `update.json`: `{ numSamples, layout }`. */
export function readUpdateMeta(roster: Roster, payload: Uint8Array): UpdateMeta {
  const r = json(payload, ["numSamples", "layout"]);
  return {
    numSamples: checkNumSamples(roster, r.numSamples),
    layout: checkLayout(roster, r.layout),
  };
}

/** `committed.json`, `advertised.json`, `masked.json` and `renounced.json`: `{ view }`. */
export function readCommitted(payload: Uint8Array): number {
  return viewNumber(json(payload, ["view"]).view);
}

/** Refuses members that are not a non-empty, strictly increasing list of roster indices. */
export function checkMembers(roster: Roster, members: unknown): readonly number[] {
  const n = roster.members.length;
  problem(
    Array.isArray(members) && members.length > 0 &&
      members.every((m, i) =>
        Number.isSafeInteger(m) && m >= 0 && m < n && (i === 0 || members[i - 1] < m)
      ),
    `members ${JSON.stringify(members)?.slice(0, 80)} are not increasing roster indices in ` +
      `[0, ${n})`,
  );
  return members as number[];
}

/** `published.json`: `{ view, members }`. */
export function readPublished(roster: Roster, payload: Uint8Array): PublishedMeta {
  const r = json(payload, ["view", "members"]);
  return { view: viewNumber(r.view), members: checkMembers(roster, r.members) };
}

/**
 * `aggregate.u32`: d sums then the total weight, little-endian u32 (a view into `payload` when
 * it is 4-aligned), the weight within [k, k · maxWeight] for the `k` members it sums (without
 * `k`: within [1, n · maxWeight]). With groups the whole certified body: the total, then 1..g
 * group sums of d + 1 words each (the certificate, checked on recovery, says how many).
 */
export function readAggregate(roster: Roster, payload: Uint8Array, k?: number): Uint32Array {
  const w = 4 * vectorLength(roster); // d + 1 words, or D + 1 in DP mode
  const g = roster.groups?.count;
  problem(
    g === undefined ? payload.length === w : isGroupBodyLength(roster, payload.length),
    g === undefined
      ? `${payload.length} bytes, expected ${w} (4 · ${w / 4} words)`
      : `${payload.length} bytes, expected 4 · (d + 1) · (1 + groups) for 1 to ${g} groups`,
  );
  const a = aligned(payload);
  const words = new Uint32Array(a.buffer, a.byteOffset, payload.length / 4);
  const weight = words[w / 4 - 1];
  const [min, max] = k === undefined
    ? [1, roster.members.length * roster.quantization.maxWeight]
    : [k, k * roster.quantization.maxWeight];
  problem(
    weight >= min && weight <= max,
    `total weight ${weight} is outside [${min}, ${max}]` +
      (k === undefined ? "" : ` for ${k} members`),
  );
  return words;
}

/** `certificate.cbor`: the leader's certificate frame without its body (canonical CBOR). */
export function readCertificate(roster: Roster, payload: Uint8Array): Uint8Array {
  try {
    decode(payload, maxFrameSize(roster), "certificate");
  } catch (err) {
    throw new RecordProblem(`not a certificate frame: ${(err as Error).message}`);
  }
  return payload;
}

/**
 * `unmasking.cbor`: a leader's public unmask state (`readUnmaskRecord`); resolves to the payload.
 * Only its shape is checked here: the endpoint opens its frames when it resumes the leader.
 */
export function readUnmasking(roster: Roster, payload: Uint8Array): Uint8Array {
  try {
    readUnmaskRecord(roster, payload);
  } catch (err) {
    throw new RecordProblem(`not an unmask record: ${(err as Error).message}`);
  }
  return payload;
}

/**
 * `final.cbor`: an encoded final certificate; resolves to its certificate frame (without
 * body). Only its shape is checked here: the journal verifies its signatures and aggregate.
 */
export function readFinal(roster: Roster, payload: Uint8Array): Uint8Array {
  try {
    return splitFinalCertificate(roster, payload).certificate;
  } catch (err) {
    throw new RecordProblem(`not a final certificate: ${(err as Error).message}`);
  }
}

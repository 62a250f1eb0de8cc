/**
 * The leader's unmask record (`docs/protocol.md` §4, "Restarts"): the public state a leader needs
 * to finish its session once the reveals arrive — the UnmaskRequest it sent, the adverts of U1,
 * U2, U3, the approvals and the masked sum(s) (with post-quantum pairs, the pair attachments
 * relayed in the share stage). It holds nothing secret: the adverts, lists, approvals and
 * attachments went to the members, and the masked sum reveals nothing without the seeds the
 * reveals reconstruct. A leader reports it (`unmasking`) before its UnmaskRequest leaves; a node
 * journals it, and after a restart its endpoint resumes the leader in the unmask stage
 * (`Endpoint.resumeLeader`), which asks its approvers for their reveals again — for the rounds
 * its restore plan names (`RestorePlan.lead`: neither published nor failed there).
 *
 * @module
 */
import { decode, encode, Fields, type Value } from "../encoding/codec.ts";
import { u32Bytes } from "../encoding/bytes.ts";
import { ensure } from "../errors.ts";
import { type Roster, vectorLength } from "../federation/roster.ts";
import type { MemberSet } from "../math/member_set.ts";
import { maxFrameSize } from "../wire/frame.ts";
import type { PairAttachment } from "./pair_terms.ts";

/** Record format version. */
const VERSION = 1;

/** What a leader in the unmask stage keeps of its session, all public. */
export interface UnmaskRecord {
  /** The UnmaskRequest frame it sent (its session names the round and view). */
  readonly request: Uint8Array;
  /** The accepted AdvertiseKeys frames of U1, by member ascending. */
  readonly adverts: readonly Uint8Array[];
  /** U2: the members whose shares were relayed. */
  readonly u2: MemberSet;
  /** U3: the members whose masked inputs are in the sum. */
  readonly u3: MemberSet;
  /** The approval frames the UnmaskRequest carries, by approver ascending. */
  readonly approvals: readonly Uint8Array[];
  /** The running sum of the masked inputs (without groups), else undefined. */
  readonly sum: Uint32Array | undefined;
  /** With groups: each group's running sum, by group. */
  readonly groupSums: ReadonlyMap<number, Uint32Array>;
  /** Post-quantum pair attachments, by "lo,hi". */
  readonly pairs: ReadonlyMap<string, PairAttachment>;
}

/** The canonical bytes of `record`. */
export function encodeUnmaskRecord(record: UnmaskRecord): Uint8Array {
  const value: Value = [
    VERSION,
    record.request,
    [...record.adverts],
    [...record.u2],
    [...record.u3],
    [...record.approvals],
    record.sum === undefined ? null : u32Bytes(record.sum),
    [...record.groupSums].sort(([a], [b]) => a - b).map(([j, s]) => [j, u32Bytes(s)]),
    [...record.pairs].sort(([a], [b]) => a < b ? -1 : 1).map(([key, p]) => {
      const [lo, hi] = key.split(",").map(Number);
      return [lo, hi, p.maskKemCt, p.wrap];
    }),
  ];
  return encode(value);
}

/**
 * Reads a record of a federation with `roster`. Refuses (ProtocolError `malformed` or
 * `wrong-length`) anything that is not one: a field of the wrong shape, a sum of the wrong
 * length, lists that are not member sets. The frames inside are opened and checked by the
 * leader that resumes from it.
 */
export function readUnmaskRecord(roster: Roster, bytes: Uint8Array): UnmaskRecord {
  const n = roster.members.length;
  const frameMax = maxFrameSize(roster);
  const words = vectorLength(roster);
  const value = decode(bytes, (n * 4 + 8) * frameMax + (n + 1) * 4 * words, "unmask record");
  const f = new Fields(value, 9, "unmask record");
  ensure(f.uint(0, "version") === VERSION, "malformed", "unmask record of another version");
  const frames = (i: number, name: string) => {
    const list = f.list(i, name, n);
    const lf = new Fields(list, list.length, name);
    return list.map((_, k) => lf.bytes(k, name, [1, frameMax]));
  };
  const sumOf = (b: Uint8Array) => new Uint32Array(b.slice().buffer);
  const sumBytes = (fields: Fields, i: number) => fields.bytes(i, "sum", 4 * words);
  const rawSum = (value as unknown[])[6];
  const groupSums = new Map<number, Uint32Array>();
  for (const g of f.list(7, "group sums", n)) {
    const gf = new Fields(g, 2, "group sum");
    groupSums.set(gf.uint(0, "group", n), sumOf(sumBytes(gf, 1)));
  }
  const pairs = new Map<string, PairAttachment>();
  for (const p of f.list(8, "pairs", n * n)) {
    const pf = new Fields(p, 4, "pair");
    const lo = pf.uint(0, "lo", n - 1);
    const hi = pf.uint(1, "hi", n - 1);
    ensure(lo < hi, "malformed", "unmask record: a pair not in order");
    pairs.set(`${lo},${hi}`, {
      maskKemCt: pf.bytes(2, "ciphertext", [1, frameMax]),
      wrap: pf.bytes(3, "wrap", [1, frameMax]),
    });
  }
  return {
    request: f.bytes(1, "request", [1, frameMax]),
    adverts: frames(2, "adverts"),
    u2: f.members(3, "U2", n),
    u3: f.members(4, "U3", n),
    approvals: frames(5, "approvals"),
    sum: rawSum === null ? undefined : sumOf(sumBytes(f, 6)),
    groupSums,
    pairs,
  };
}

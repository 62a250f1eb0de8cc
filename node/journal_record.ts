/**
 * The journal's record format: every journal file is a 44-byte header and its payload.
 *
 * ```
 * offset  size  field
 *      0     4  magic "FAGJ"
 *      4     1  version (1)
 *      5     3  zero
 *      8     4  payload length in bytes (u32, little-endian)
 *     12    32  digest: SHA-256("fedagg/journal/v1" ‖ 0 ‖ u16be(len(name)) ‖ name
 *                                ‖ u64be(round) ‖ u32be(length) ‖ SHA-256(payload))
 *     44     …  payload
 * ```
 *
 * The digest binds the payload to the file's name and round, so a record copied into another
 * file or round directory is refused like a flipped bit; the domain tag keeps it apart from
 * every other hash fedagg computes. SHA-256 is the platform's (WebCrypto): the payload is hashed
 * in place (an update can be 256 MiB) and the outer hash covers its digest. The payload starts
 * at a multiple of 4, so float32 and u32 payloads are read without a copy.
 *
 * A checksum detects accidental damage (bit rot, truncation, a half-restored backup, an edit
 * by hand); it is not a signature: whoever can write the node directory can also write a
 * record that passes. Final certificates are additionally verified against the roster.
 *
 * @module
 */
import nodeCrypto from "node:crypto";
import { equalBytes } from "../protocol/mod.ts";

/** Bytes before the payload; a multiple of 4. */
export const RECORD_HEADER_BYTES = 44;

const MAGIC = [0x46, 0x41, 0x47, 0x4a]; // "FAGJ"
const VERSION = 1;
const DOMAIN = new TextEncoder().encode("fedagg/journal/v1");
const MAX_PAYLOAD = 0xffffffff;

/**
 * SHA-256 by node:crypto, which hashes the bytes where they are: WebCrypto's `digest` first
 * copies its input, a fresh 4 MB buffer (≈14 ms of page faults on the test machines) for every
 * vector record.
 */
function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(nodeCrypto.createHash("sha256").update(data).digest());
}

function digest(name: string, round: number, payload: Uint8Array): Uint8Array {
  const nameBytes = new TextEncoder().encode(name);
  const input = new Uint8Array(DOMAIN.length + 1 + 2 + nameBytes.length + 8 + 4 + 32);
  const view = new DataView(input.buffer);
  let at = 0;
  input.set(DOMAIN, at);
  at += DOMAIN.length + 1; // a zero byte ends the tag
  view.setUint16(at, nameBytes.length);
  input.set(nameBytes, at += 2);
  view.setBigUint64(at += nameBytes.length, BigInt(round));
  view.setUint32(at += 8, payload.length);
  input.set(sha256(payload), at + 4);
  return sha256(input);
}

/**
 * The header of the record of `payload` as file `name` of `round`'s directory; the file is the
 * header followed by the payload. Refuses (RangeError) a payload of 2^32 bytes or more, a round
 * that is not a safe non-negative integer, or a name longer than 255 bytes.
 */
export function recordHeader(
  name: string,
  round: number,
  payload: Uint8Array,
): Uint8Array {
  if (payload.length > MAX_PAYLOAD) throw new RangeError(`record ${name} is too large`);
  if (!Number.isSafeInteger(round) || round < 0) throw new RangeError(`bad round ${round}`);
  if (new TextEncoder().encode(name).length > 255) throw new RangeError("record name too long");
  const header = new Uint8Array(RECORD_HEADER_BYTES);
  header.set(MAGIC, 0);
  header[4] = VERSION;
  new DataView(header.buffer).setUint32(8, payload.length, true);
  header.set(digest(name, round, payload), 12);
  return header;
}

/**
 * The payload of `file`, the bytes of record `name` of `round` (a view into `file`, no copy),
 * or why it is not a valid record: not the format's magic (e.g. a plain file from before the
 * format), another version, a length that does not match the file's, or a digest that does not
 * match (damaged, or moved from another file or round).
 */
export function openRecord(
  name: string,
  round: number,
  file: Uint8Array,
): { readonly payload: Uint8Array } | { readonly problem: string } {
  if (file.length < RECORD_HEADER_BYTES || MAGIC.some((b, i) => file[i] !== b)) {
    return { problem: "not a journal record (no record header: damaged or written by hand)" };
  }
  if (file[4] !== VERSION || file[5] !== 0 || file[6] !== 0 || file[7] !== 0) {
    return { problem: `unknown record version ${file[4]}` };
  }
  const length = new DataView(file.buffer, file.byteOffset, file.length).getUint32(8, true);
  if (length !== file.length - RECORD_HEADER_BYTES) {
    return {
      problem: `truncated or extended: the header says ${length} payload bytes, the file has ` +
        `${file.length - RECORD_HEADER_BYTES}`,
    };
  }
  const payload = file.subarray(RECORD_HEADER_BYTES);
  const expected = digest(name, round, payload);
  if (!equalBytes(expected, file.subarray(12, RECORD_HEADER_BYTES))) {
    return { problem: `checksum mismatch (damaged, or not this round's ${name})` };
  }
  return { payload };
}

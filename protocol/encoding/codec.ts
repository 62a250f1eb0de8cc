/**
 * The canonical encoding of everything that is signed or sent: CBOR (RFC 8949) restricted to
 * definite-length arrays, byte strings, text strings, unsigned integers, booleans and null.
 * Encoding is written here (see {@link encode}), decoding goes through `cborg`. Encoding is
 * deterministic (shortest integer forms, no maps, no floats), so
 * the bytes a signature covers are a function of the values alone.
 *
 * Decoding is defensive: a size limit is checked before parsing, parsing is strict (no
 * indefinite lengths, no non-minimal integers, no undefined, no tags), nesting is capped, and
 * {@link Fields} reads positional fields with a typed refusal naming the field on any mismatch.
 *
 * @module
 */
import { decode as cborDecode, Tokenizer, Type } from "npm:cborg@6.1.5";
import { ensure, ProtocolError } from "../errors.ts";
import { fromMemberBitmap } from "./member_bitmap.ts";

/** A value the canonical encoding can carry. */
export type Value = number | string | boolean | null | Uint8Array | readonly Value[];

/** Deepest array nesting any fedagg frame uses, with margin. */
const MAX_DEPTH = 8;

/**
 * Canonical CBOR bytes of `value`. Refuses (TypeError) non-integer or negative numbers and
 * anything that is not a {@link Value}.
 *
 * Written here rather than by `cborg` (which decodes): the size is computed first and the bytes
 * written into one array, where cborg's encoder collects byte strings of 64 bytes or more as
 * separate chunks and concatenates them at the end, which for a frame of a few hundred keys,
 * ciphertexts and signatures costs more than the copy itself. The bytes are the same (RFC 8949
 * preferred serialization: shortest heads, definite lengths), as the test suite checks against
 * known encodings and cborg's decoder.
 */
export function encode(value: Value): Uint8Array<ArrayBuffer> {
  const texts: Uint8Array[] = [];
  const out = new Uint8Array(encodedSize(value, texts));
  const end = writeValue(out, 0, value, texts, { next: 0 });
  if (end !== out.length) throw new Error(`encoded ${end} bytes, expected ${out.length}`);
  return out;
}

const TEXT = new TextEncoder();

/** Bytes of a head carrying argument `n`. */
function headSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9;
}

/** The encoded size of `value`; collects the UTF-8 of its text strings, in order, in `texts`. */
function encodedSize(value: Value, texts: Uint8Array[]): number {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new TypeError(`canonical encoding carries non-negative integers only, got ${value}`);
    }
    return headSize(value);
  }
  if (value instanceof Uint8Array) return headSize(value.length) + value.length;
  if (typeof value === "string") {
    const t = TEXT.encode(value);
    texts.push(t);
    return headSize(t.length) + t.length;
  }
  if (Array.isArray(value)) {
    let size = headSize(value.length);
    for (const v of value) size += encodedSize(v, texts);
    return size;
  }
  if (value === true || value === false || value === null) return 1;
  throw new TypeError(`canonical encoding cannot carry ${describe(value)}`);
}

function describe(value: unknown): string {
  return value === undefined ? "undefined" : (value as object)?.constructor?.name ?? typeof value;
}

/** Writes the head of major type `major` with argument `n` at `at`; returns the next offset. */
function writeHead(out: Uint8Array, at: number, major: number, n: number): number {
  const m = major << 5;
  if (n < 24) {
    out[at] = m | n;
    return at + 1;
  }
  if (n < 0x100) {
    out[at] = m | 24;
    out[at + 1] = n;
    return at + 2;
  }
  if (n < 0x10000) {
    out[at] = m | 25;
    out[at + 1] = n >>> 8;
    out[at + 2] = n & 0xff;
    return at + 3;
  }
  if (n < 0x100000000) {
    out[at] = m | 26;
    writeUint32(out, at + 1, n);
    return at + 5;
  }
  out[at] = m | 27;
  writeUint32(out, at + 1, Math.floor(n / 0x100000000));
  writeUint32(out, at + 5, n >>> 0);
  return at + 9;
}

function writeUint32(out: Uint8Array, at: number, n: number): void {
  out[at] = n >>> 24;
  out[at + 1] = (n >>> 16) & 0xff;
  out[at + 2] = (n >>> 8) & 0xff;
  out[at + 3] = n & 0xff;
}

/** Writes `value` (checked by {@link encodedSize}) at `at`; returns the next offset. */
function writeValue(
  out: Uint8Array,
  at: number,
  value: Value,
  texts: readonly Uint8Array[],
  text: { next: number },
): number {
  if (typeof value === "number") return writeHead(out, at, 0, value);
  if (value instanceof Uint8Array) {
    at = writeHead(out, at, 2, value.length);
    out.set(value, at);
    return at + value.length;
  }
  if (typeof value === "string") {
    const t = texts[text.next++];
    at = writeHead(out, at, 3, t.length);
    out.set(t, at);
    return at + t.length;
  }
  if (Array.isArray(value)) {
    at = writeHead(out, at, 4, value.length);
    for (const v of value) at = writeValue(out, at, v, texts, text);
    return at;
  }
  out[at] = value === true ? 0xf5 : value === false ? 0xf4 : 0xf6;
  return at + 1;
}

type Token = ReturnType<Tokenizer["next"]>;

/** The only CBOR major types fedagg frames contain (no maps, floats, tags or negative ints). */
const ALLOWED_TYPES = new Set([
  Type.uint,
  Type.bytes,
  Type.string,
  Type.array,
  Type.true,
  Type.false,
  Type.null,
]);

/**
 * Wraps cborg's tokenizer to admit only the canonical subset, to refuse text that is not valid
 * UTF-8 (cborg decodes it leniently, so two byte strings could decode to the same text), and to
 * cap array nesting (cborg itself recurses without limit, so a deeply nested input would
 * exhaust the stack).
 */
class DepthLimitedTokenizer {
  readonly #inner: Tokenizer;
  readonly #open: number[] = [];

  constructor(data: Uint8Array) {
    this.#inner = new Tokenizer(data, DECODE_OPTIONS);
  }

  done(): boolean {
    return this.#inner.done();
  }

  pos(): number {
    return this.#inner.pos();
  }

  next(): Token {
    const token = this.#inner.next();
    if (!ALLOWED_TYPES.has(token.type)) {
      throw new RangeError(`CBOR ${token.type.name} is not part of the canonical encoding`);
    }
    if (token.type === Type.string) STRICT_UTF8.decode(token.byteValue); // throws on bad UTF-8
    const open = this.#open;
    if (open.length > 0) open[open.length - 1]--;
    if (token.type === Type.array && token.value > 0) {
      if (open.length >= MAX_DEPTH) throw new RangeError("nesting too deep");
      open.push(token.value);
    }
    while (open.length > 0 && open[open.length - 1] === 0) open.pop();
    return token;
  }
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

const DECODE_OPTIONS = {
  retainStringBytes: true,
  strict: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowInfinity: false,
  allowNaN: false,
  allowBigInt: false,
  rejectDuplicateMapKeys: true,
};

/** A CBOR item's head, as {@link itemHead} reads it. */
export interface ItemHead {
  /** The major type (0–7). */
  readonly major: number;
  /** The argument: a length, a count or an integer's value. */
  readonly value: number;
  /** Where the item's content (or the next item) starts. */
  readonly next: number;
}

/**
 * The head of the CBOR item at `at`: its major type and argument, and where its content starts,
 * read in place. Undefined for an indefinite length, a reserved additional-information value, an
 * argument beyond 2^53 or a head that runs past the end. Minimal encoding is not checked (see
 * {@link byteStringArray} for a reader that does). For reading a few heads of untrusted bytes
 * without decoding the rest; nothing it returns is checked beyond its own head.
 */
export function itemHead(bytes: Uint8Array, at: number): ItemHead | undefined {
  if (at >= bytes.length) return undefined;
  const major = bytes[at] >> 5;
  const info = bytes[at] & 0x1f;
  if (info < 24) return { major, value: info, next: at + 1 };
  if (info > 27) return undefined;
  const size = 1 << (info - 24); // 1, 2, 4 or 8 bytes
  if (at + 1 + size > bytes.length) return undefined;
  let value = 0;
  for (let i = 0; i < size; i++) value = value * 256 + bytes[at + 1 + i];
  return Number.isSafeInteger(value) ? { major, value, next: at + 1 + size } : undefined;
}

/**
 * The CBOR text string at `at` (valid UTF-8) and where the next item starts, read in place;
 * undefined if the item there is not a text string that fits in `bytes`.
 */
export function itemText(
  bytes: Uint8Array,
  at: number,
): { readonly text: string; readonly next: number } | undefined {
  const h = itemHead(bytes, at);
  if (h?.major !== 3 || h.next + h.value > bytes.length) return undefined;
  try {
    return {
      text: STRICT_UTF8.decode(bytes.subarray(h.next, h.next + h.value)),
      next: h.next + h.value,
    };
  } catch {
    return undefined;
  }
}

/**
 * `bytes` as a canonical CBOR array of `count` byte strings — where `nullAt` (if given) may also
 * be null — and nothing after it: the elements as views of `bytes` (no copy). Undefined for
 * anything else, including a head that is not in its shortest form, an indefinite length and
 * trailing bytes; what it accepts, {@link decode} accepts with the same values (it only copies the
 * byte strings), so a caller falls back to {@link decode} for the refusal. Lets a frame be opened
 * without copying its multi-megabyte body.
 */
export function byteStringArray(
  bytes: Uint8Array,
  counts: readonly number[],
  nullAt?: number,
): (Uint8Array | null)[] | undefined {
  const canonical = (at: number) => {
    // Shortest form: the head is as long as the encoder would write it.
    const head = itemHead(bytes, at);
    return head !== undefined && head.next - at === headSize(head.value) ? head : undefined;
  };
  const array = canonical(0);
  if (array === undefined || array.major !== 4 || !counts.includes(array.value)) return undefined;
  const out: (Uint8Array | null)[] = [];
  let at = array.next;
  for (let i = 0; i < array.value; i++) {
    if (i === nullAt && bytes[at] === 0xf6) {
      out.push(null);
      at++;
      continue;
    }
    const item = canonical(at);
    if (item === undefined || item.major !== 2) return undefined;
    at = item.next + item.value;
    if (at > bytes.length) return undefined;
    out.push(bytes.subarray(item.next, at));
  }
  return at === bytes.length ? out : undefined;
}

/**
 * Decodes canonical CBOR from an untrusted peer. Refuses with `oversized` when `bytes` exceeds
 * `limit` (checked before any parsing) and with `malformed` for anything that does not parse
 * strictly, contains a map, float, tag or negative integer, nests deeper than 8 levels, or has
 * trailing bytes.
 */
export function decode(bytes: Uint8Array, limit: number, what: string, peer?: number): unknown {
  ensure(
    bytes.length <= limit,
    "oversized",
    `${what} is ${bytes.length} bytes, limit ${limit}`,
    peer,
  );
  try {
    return cborDecode(bytes, { ...DECODE_OPTIONS, tokenizer: new DepthLimitedTokenizer(bytes) });
  } catch (err) {
    throw new ProtocolError(
      "malformed",
      `${what} does not decode: ${(err as Error).message}`,
      peer,
    );
  }
}

/**
 * Positional reader over a decoded array, refusing with a typed error that names the field.
 * Construct with the exact number of fields expected.
 */
export class Fields {
  readonly #values: readonly unknown[];
  readonly #what: string;
  readonly #peer: number | undefined;

  /** Refuses `malformed` unless `value` is an array of exactly `count` elements. */
  constructor(value: unknown, count: number, what: string, peer?: number) {
    ensure(Array.isArray(value), "malformed", `${what} is not an array`, peer);
    ensure(
      value.length === count,
      "malformed",
      `${what} has ${value.length} fields, expected ${count}`,
      peer,
    );
    this.#values = value;
    this.#what = what;
    this.#peer = peer;
  }

  #fail(i: number, name: string, expected: string): never {
    throw new ProtocolError(
      "malformed",
      `${this.#what} field ${i} (${name}) is not ${expected}`,
      this.#peer,
    );
  }

  /** A non-negative safe integer ≤ `max`. */
  uint(i: number, name: string, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.#values[i];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0 || v > max) {
      this.#fail(i, name, `an integer in [0, ${max}]`);
    }
    return v;
  }

  /** A text string of at most `maxLength` UTF-16 units. */
  text(i: number, name: string, maxLength: number): string {
    const v = this.#values[i];
    if (typeof v !== "string" || v.length > maxLength) {
      this.#fail(i, name, `a string of at most ${maxLength} characters`);
    }
    return v;
  }

  /**
   * A byte string of exactly `length` bytes (a number) or of a length within `[min, max]`.
   * A wrong length is refused with `wrong-length`, a non-bytes value with `malformed`.
   */
  bytes(i: number, name: string, length: number | readonly [number, number]): Uint8Array {
    const v = this.#values[i];
    if (!(v instanceof Uint8Array)) this.#fail(i, name, "a byte string");
    const [min, max] = typeof length === "number" ? [length, length] : length;
    ensure(
      v.length >= min && v.length <= max,
      "wrong-length",
      `${this.#what} field ${i} (${name}) is ${v.length} bytes, expected ${
        min === max ? min : `${min}..${max}`
      }`,
      this.#peer,
    );
    return v;
  }

  /** An array of at most `maxLength` elements (elements unchecked: read them with `Fields`). */
  list(i: number, name: string, maxLength: number): readonly unknown[] {
    const v = this.#values[i];
    if (!Array.isArray(v) || v.length > maxLength) {
      this.#fail(i, name, `an array of at most ${maxLength} elements`);
    }
    return v;
  }

  /**
   * A member set of a roster of `n` members in its bitmap form (`member_bitmap.ts`): exactly
   * ⌈n/8⌉ bytes (else `wrong-length`), no bit set past n − 1 (else `not-member`).
   */
  memberBitmap(i: number, name: string, n: number): readonly number[] {
    const bytes = this.bytes(i, name, Math.ceil(n / 8));
    const set = fromMemberBitmap(bytes, n);
    ensure(
      set !== undefined,
      "not-member",
      `${this.#what} field ${i} (${name}) names a member past the roster's ${n}`,
      this.#peer,
    );
    return set;
  }

  /** A strictly increasing list of member indices, each < `n` (a canonical member set). */
  members(i: number, name: string, n: number): readonly number[] {
    const v = this.list(i, name, n);
    let previous = -1;
    for (const x of v) {
      if (typeof x !== "number" || !Number.isSafeInteger(x) || x <= previous || x >= n) {
        throw new ProtocolError(
          typeof x === "number" && Number.isSafeInteger(x) && x >= n ? "not-member" : "malformed",
          `${this.#what} field ${i} (${name}) is not a strictly increasing list of member indices`,
          this.#peer,
        );
      }
      previous = x;
    }
    return v as readonly number[];
  }
}

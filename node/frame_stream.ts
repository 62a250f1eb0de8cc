/**
 * Frames between members on one long-lived stream per sender and receiver
 * ({@link FRAME_STREAM_PROTOCOL}), with a fallback to a stream per frame
 * ({@link LEGACY_FRAME_PROTOCOL}) for members that do not speak it.
 *
 * Opening a libp2p stream costs a multistream-select round trip before the first byte of the
 * frame may leave (libp2p 3.3 has no optimistic negotiation), so a stream per frame paid one
 * round trip per frame on top of the frame's own. A sender here opens one stream to each member
 * at its first frame and keeps it: a frame then takes half a round trip
 * to arrive, and the acknowledgement half a round trip back.
 *
 * **Wire format of a frame stream**, in the length-prefixed messages of `sized_stream.ts`
 * (none above `CHUNK + 16` bytes): the sender writes a header of 8 bytes — a sequence number and
 * the frame's length, both 32-bit big-endian — then the frame in chunks of at most `CHUNK`; the
 * receiver answers each frame with its sequence number (4 bytes) and an {@link ANSWER} code,
 * followed by a reason in UTF-8 when refused. The sender writes one frame at a time and waits
 * for its answer before the next, so the receiver never holds more than one unread frame per
 * stream, frames arrive in the order they were sent, and flow control is the acknowledgement.
 *
 * **Failures.** Any error on a stream (a timeout, a reset, a dropped connection, a malformed
 * message) ends it on both sides; the sender's next attempt opens a new one, so a frame in
 * flight is resent by `Mesh.send`'s retries, or reported undelivered at its deadline, as with a
 * stream per frame (a frame received whose acknowledgement was lost may arrive twice: the
 * protocol drops duplicates). A frame above the receiver's limit is answered "refused" and the
 * stream ends (its body is never read); "busy" (the sender still holds a large-frame slot on
 * another stream) is answered after the receiver drained the frame, and the stream stays open.
 *
 * The receiving side ({@link FrameInbox}) is shared by both protocols: one frame's limits,
 * the large-frame slots and the hand-over are the same whichever stream carried it.
 *
 * @module
 */
import type { PeerId, Stream } from "npm:@libp2p/interface@3.3.0";
import type { LengthPrefixedStream } from "npm:@libp2p/utils@7.4.1";
import { lpStream } from "npm:@libp2p/utils@7.4.1";
import { collectGarbageBeyond } from "./collect_garbage.ts";
import { NodeError } from "./errors.ts";
import {
  CHUNK,
  lengthRefused,
  readBody,
  readLength,
  sizedStream,
  writeSized,
} from "./sized_stream.ts";

/** Protocol of the long-lived frame stream (one per sender and receiver). */
export const FRAME_STREAM_PROTOCOL = "/fedagg/2/frames";
/** Protocol of one frame per stream: what members before {@link FRAME_STREAM_PROTOCOL} speak. */
export const LEGACY_FRAME_PROTOCOL = "/fedagg/1/frame";
/** Frames from this size up count as large (vectors). */
export const LARGE_FRAME = 1 << 20;
/**
 * How many large frames are received or being processed at once. A leader receiving every
 * member's masked vector at the same moment keeps the others waiting instead of decoding n
 * vectors at once.
 */
export const MAX_LARGE_IN_FLIGHT = 2;
/**
 * Off-heap memory that large frames may leave behind (their ciphertext, decryption and
 * reassembly: ≈ 3 copies of each) before the receiver collects it (`collect_garbage.ts`), after
 * the frame is handled: 32 MiB, the copies of ≈ 3 vectors of a million parameters, where V8
 * alone lets 64 MB and more pile up. At d = 1M a 12-member leader collects ≈ 3 times per round.
 */
export const LARGE_FRAME_GARBAGE = 32 << 20;

/** First byte of the receiver's answer to a frame (after the sequence number on a stream). */
export const ANSWER = {
  /** Received whole (handed over to `onFrame` right after). */
  received: 0,
  /** Refused for good (larger than the receiver accepts): the sender gives up. */
  refused: 1,
  /** Refused for now (the receiver is busy with this sender's previous large frame): retry. */
  busy: 2,
} as const;

/** A structured log line (the mesh's). */
type Log = (level: "debug" | "info" | "warn" | "error", message: string, fields?: object) => void;

/** What the receiving side needs. */
export interface FrameInboxOptions {
  /** Largest frame accepted now (read for each frame). */
  readonly maxFrame: () => number;
  /** Roster index of a connected peer, or undefined when it is not (or no longer) a member. */
  readonly memberOf: (peer: PeerId) => number | undefined;
  /** A frame arrived from `from`; for a large frame the next large one waits for the promise. */
  readonly onFrame: (frame: Uint8Array, from: number) => void | Promise<void>;
  /** Counts the streams served and the frames handed over. */
  readonly counters: { framesReceived: number; frameStreams: number; bytesReceived: number };
  readonly log: Log;
}

/**
 * The receiving side of frames: serves {@link FRAME_STREAM_PROTOCOL} streams
 * ({@link serveStream}) and one-frame {@link LEGACY_FRAME_PROTOCOL} streams
 * ({@link serveLegacy}). Refuses a frame above `maxFrame` for good, a second large frame from
 * a member that still holds a large-frame slot for now ("busy"), and any frame from a peer that
 * is not a member (by ending its stream). At most {@link MAX_LARGE_IN_FLIGHT} large frames are
 * read or handled at once, at most one per member; after a large frame is handled, garbage
 * beyond {@link LARGE_FRAME_GARBAGE} is collected.
 */
export class FrameInbox {
  readonly #options: FrameInboxOptions;
  readonly #large: Semaphore;
  /** Members currently holding a large-frame slot: at most one each. */
  readonly #largeHolders = new Set<number>();
  /** Bytes of large frames waiting for a slot (their bodies sit in the streams' buffers). */
  #waitingBytes = 0;

  constructor(options: FrameInboxOptions) {
    this.#options = options;
    this.#large = new Semaphore(MAX_LARGE_IN_FLIGHT);
  }

  /**
   * Serves one frame stream until the sender ends it or it fails: reads each frame's header,
   * takes the frame ({@link #take}), answers with the sequence number. Never throws; ends (and
   * aborts) the stream on any error, logging it unless the stream simply closed.
   */
  async serveStream(stream: Stream, remote: PeerId): Promise<void> {
    const { log } = this.#options;
    // Sized by the limit in force as bytes arrive: it may change while the stream is open.
    const lp = new FrameReader(stream, this.#options.maxFrame, log);
    let from: number | undefined;
    this.#options.counters.frameStreams++;
    try {
      while (true) {
        const head = await readHeader(lp, stream);
        if (head === undefined) break; // closed by the sender between frames
        from = this.#options.memberOf(remote);
        if (from === undefined) throw new Error("not a member");
        const maxFrame = this.#options.maxFrame();
        const { seq, length } = head;
        const signal = AbortSignal.timeout(frameTimeoutMs(maxFrame));
        const answer = (code: number, reason = "") =>
          lp.write(answerBytes(seq, code, reason), { signal });
        const outcome = await this.#take(lp, from, length, signal, answer);
        if (outcome === "refused") break;
      }
      await stream.close().catch(() => {});
    } catch (err) {
      if (stream.status === "open") {
        log("warn", "frame stream failed", { from, error: String((err as Error)?.message ?? err) });
      }
      stream.abort(err as Error);
    }
  }

  /** Serves one {@link LEGACY_FRAME_PROTOCOL} stream: one frame, one answer. Never throws. */
  async serveLegacy(stream: Stream, remote: PeerId): Promise<void> {
    const { log } = this.#options;
    const maxFrame = this.#options.maxFrame();
    const from = this.#options.memberOf(remote);
    const signal = AbortSignal.timeout(frameTimeoutMs(maxFrame));
    const lp = new FrameReader(stream, this.#options.maxFrame, log);
    this.#options.counters.frameStreams++;
    try {
      if (from === undefined) throw new Error("not a member");
      const length = await readLength(lp, signal);
      await this.#take(lp, from, length, signal, async (code, reason = "") => {
        await lp.write(code === ANSWER.received ? Uint8Array.of(code) : refusal(code, reason), {
          signal,
        });
        await stream.close({ signal });
      });
    } catch (err) {
      log("warn", "frame transfer failed", { from, error: String((err as Error)?.message ?? err) });
      stream.abort(err as Error);
    }
  }

  /**
   * Takes one frame of `length` bytes whose header was read: refuses it (answering "refused",
   * without reading the body), answers "busy" after draining it, or waits for a large-frame slot,
   * reads it, answers "received" and hands it over (waiting for a large one to be handled).
   */
  async #take(
    lp: FrameReader,
    from: number,
    length: number,
    signal: AbortSignal,
    answer: (code: number, reason?: string) => Promise<void>,
  ): Promise<"received" | "busy" | "refused"> {
    const { log } = this.#options;
    const maxFrame = this.#options.maxFrame();
    if (lengthRefused(length, maxFrame)) {
      await answer(ANSWER.refused, `frame of ${length} bytes (limit ${maxFrame})`);
      log("warn", "refused an oversized frame", { from, bytes: length });
      return "refused";
    }
    const large = length >= LARGE_FRAME;
    if (large && this.#largeHolders.has(from)) {
      // One large frame per member at a time: a slow sender cannot take every slot. This one
      // may be a resend of a frame whose first stream is still waiting here for a slot (the
      // sender timed out): "busy" tells the sender to try again later.
      await readBody(lp, length, signal, "frame"); // drained: the stream stays usable
      await answer(ANSWER.busy, "one large frame at a time");
      log("info", "asked a member to resend a large frame later", { from, bytes: length });
      return "busy";
    }
    if (large) {
      this.#largeHolders.add(from);
      if (this.#large.free === 0) {
        this.#waitingBytes += length;
        log("debug", "large frame waits for a slot", {
          from,
          bytes: length,
          waitingBytes: this.#waitingBytes,
        });
        try {
          await this.#large.acquire();
        } finally {
          this.#waitingBytes -= length;
        }
      } else await this.#large.acquire();
    }
    try {
      const frame = await readBody(lp, length, signal, "frame");
      await answer(ANSWER.received);
      this.#options.counters.framesReceived++;
      this.#options.counters.bytesReceived += length;
      const handled = this.#options.onFrame(frame, from);
      if (large) {
        await handled;
        collectGarbageBeyond(LARGE_FRAME_GARBAGE);
      }
      return "received";
    } finally {
      if (large) {
        this.#large.release();
        this.#largeHolders.delete(from);
      }
    }
  }
}

/** Opens a stream to a member for the first protocol in `protocols` it speaks. */
export type DialFrames = (
  member: number,
  protocols: readonly string[],
  signal: AbortSignal,
) => Promise<Stream>;

/** One open frame stream to a member. */
interface Link {
  readonly stream: Stream;
  readonly lp: LengthPrefixedStream<Stream>;
  nextSeq: number;
}

/** What the sending side keeps per member. */
interface Outbox {
  /** The open (or opening) frame stream; undefined until needed or after it failed. */
  link?: Promise<Link>;
  /** The member answered only {@link LEGACY_FRAME_PROTOCOL} (until it disconnects). */
  legacy: boolean;
  /** The tail of this member's queue: frames go out one at a time, in order. */
  tail: Promise<unknown>;
}

/**
 * The sending side of frames: one {@link FRAME_STREAM_PROTOCOL} stream per member, opened at
 * the first frame and reopened after it failed; a member that does not speak
 * it gets a {@link LEGACY_FRAME_PROTOCOL} stream per frame. Frames to one member leave one at a
 * time, in the order {@link sendOnce} was called.
 */
export class FrameOutbox {
  readonly #dial: DialFrames;
  readonly #outboxes = new Map<number, Outbox>();
  #closed = false;

  constructor(dial: DialFrames) {
    this.#dial = dial;
  }

  /**
   * Sends `frame` to `member` once, within `timeoutMs` from its turn in the member's queue.
   * Resolves once the member acknowledged receipt. Throws `NodeError("frame-busy")` when the
   * member asked for a resend later, `NodeError("frame-refused")` when it refused the frame for
   * good, and whatever the stream threw otherwise (after ending the stream, so the next attempt
   * opens a new one).
   */
  sendOnce(member: number, frame: Uint8Array, timeoutMs: number): Promise<void> {
    const box = this.#outbox(member);
    const turn = box.tail.catch(() => {}).then(() => this.#send(box, member, frame, timeoutMs));
    box.tail = turn.catch(() => {});
    return turn;
  }

  /**
   * Forgets the member's stream and whether it speaks only the legacy protocol (its connection
   * closed: the stream is gone, and it may come back upgraded).
   */
  drop(member: number): void {
    const box = this.#outboxes.get(member);
    if (box === undefined) return;
    box.legacy = false;
    const link = box.link;
    box.link = undefined;
    link?.then((l) => l.stream.abort(new Error("connection closed")), () => {});
  }

  /** Ends every stream; later sends fail. */
  close(): void {
    this.#closed = true;
    for (const member of this.#outboxes.keys()) this.drop(member);
  }

  /** Whether a frame stream to `member` is open (for tests and status). */
  async streamOpen(member: number): Promise<boolean> {
    const link = this.#outboxes.get(member)?.link;
    if (link === undefined) return false;
    const l = await link.catch(() => undefined);
    return l !== undefined && usable(l.stream);
  }

  #outbox(member: number): Outbox {
    let box = this.#outboxes.get(member);
    if (box === undefined) {
      box = { legacy: false, tail: Promise.resolve() };
      this.#outboxes.set(member, box);
    }
    return box;
  }

  async #send(box: Outbox, member: number, frame: Uint8Array, timeoutMs: number): Promise<void> {
    if (this.#closed) throw new Error("mesh stopped");
    const signal = AbortSignal.timeout(timeoutMs);
    const opened = box.legacy ? undefined : await this.#link(box, member, signal);
    if (opened === undefined) return await this.#sendLegacy(member, frame, signal);
    const link = opened;
    const seq = link.nextSeq;
    link.nextSeq = (link.nextSeq + 1) >>> 0;
    // The answer is read while the frame is written: a receiver refusing the frame's length
    // answers before reading the body, and the sender stops writing.
    let answered = false;
    const reading = link.lp.read({ signal }).then((a) => {
      answered = true;
      return a.subarray();
    });
    reading.catch(() => {});
    try {
      const head = new Uint8Array(8);
      const view = new DataView(head.buffer);
      view.setUint32(0, seq);
      view.setUint32(4, frame.length);
      try {
        await link.lp.write(head, { signal });
        for (let o = 0; o < frame.length && !answered; o += CHUNK) {
          await link.lp.write(frame.subarray(o, Math.min(frame.length, o + CHUNK)), { signal });
        }
      } catch (err) {
        // The receiver may have refused the frame and ended the stream: its answer says why.
        if (await reading.then(() => false, () => true)) throw err;
      }
      const answer = await reading;
      if (answer.length < 5) throw new Error("malformed frame answer");
      const got = new DataView(answer.buffer, answer.byteOffset, 4).getUint32(0);
      if (got !== seq) throw new Error(`answer to frame ${got}, expected ${seq}`);
      throwUnlessReceived(answer[4], answer.subarray(5));
    } catch (err) {
      // Busy leaves the stream as it was: the receiver drained the frame.
      if (!(err instanceof NodeError && err.code === "frame-busy")) {
        if (box.link !== undefined && (await box.link.catch(() => undefined)) === link) {
          box.link = undefined;
        }
        link.stream.abort(err as Error);
      }
      throw err;
    }
  }

  /** The open frame stream to `member`, opened if needed; undefined if it speaks only legacy. */
  async #link(box: Outbox, member: number, signal: AbortSignal): Promise<Link | undefined> {
    if (box.link === undefined) {
      const opening = this.#open(member, signal);
      box.link = opening;
      opening.catch(() => {
        if (box.link === opening) box.link = undefined;
      });
    }
    try {
      // The stream may be opening for an earlier caller under its deadline: wait for it no
      // longer than this caller's.
      const link = await untilAborted(box.link, signal);
      if (usable(link.stream)) return link;
      box.link = undefined;
      return await this.#link(box, member, signal);
    } catch (err) {
      if (err instanceof LegacyPeer) {
        box.legacy = true;
        return undefined;
      }
      throw err;
    }
  }

  async #open(member: number, signal: AbortSignal): Promise<Link> {
    let stream: Stream;
    try {
      stream = await this.#dial(member, [FRAME_STREAM_PROTOCOL], signal);
    } catch (err) {
      // An older member: it answered the negotiation, without this protocol.
      if ((err as Error)?.name === "UnsupportedProtocolError") throw new LegacyPeer();
      throw err;
    }
    return { stream, lp: sizedStream(stream), nextSeq: 0 };
  }

  async #sendLegacy(member: number, frame: Uint8Array, signal: AbortSignal): Promise<void> {
    const stream = await this.#dial(member, [LEGACY_FRAME_PROTOCOL], signal);
    try {
      const lp = sizedStream(stream);
      await writeSized(lp, frame, signal);
      const answer = (await lp.read({ signal })).subarray();
      throwUnlessReceived(answer[0], answer.subarray(1));
      await stream.close({ signal });
    } catch (err) {
      stream.abort(err as Error);
      throw err;
    }
  }
}

/** `promise`, or a rejection with `signal`'s reason once it aborts first. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Whether both directions of `stream` are still open. */
function usable(stream: Stream): boolean {
  return stream.status === "open" && stream.writeStatus === "writable" &&
    stream.remoteWriteStatus === "writable";
}

/** The member answered the frame stream's negotiation with the legacy protocol. */
class LegacyPeer extends Error {}

/** One length-prefixed message as read (a list of byte arrays). */
type Message = Awaited<ReturnType<LengthPrefixedStream["read"]>>;

/**
 * The length-prefixed reader of a stream carrying frames (messages of at most `CHUNK + 16`
 * bytes, as `sizedStream`), with a bound on the bytes arrived and not yet read that follows the
 * frame limit (`maxFrame`, read as bytes arrive: a roster version may raise it while the stream
 * is open). The sender writes a whole frame before waiting for its answer, and yamux grants
 * window as bytes arrive, not as they are read: up to a whole frame may sit unread while it
 * waits for a large-frame slot, so the bound is one frame and two chunks (at least 4 MiB).
 * Anything beyond means the sender does not wait: the stream is aborted (logged as a warning),
 * which fails the read in progress.
 */
class FrameReader implements LengthPrefixedStream<Stream> {
  readonly #stream: Stream;
  readonly #lp: LengthPrefixedStream<Stream>;
  /** Bytes of messages arrived, and read (payloads with their varint prefixes). */
  #arrived = 0;
  #consumed = 0;

  constructor(stream: Stream, maxFrame: () => number, log: Log) {
    this.#stream = stream;
    // The library's own bound is fixed at creation: this one replaces it.
    this.#lp = lpStream(stream, { maxDataLength: CHUNK + 16, maxBufferSize: Infinity });
    let overflow = false;
    stream.addEventListener("message", (evt) => {
      if (overflow) return;
      this.#arrived += evt.data.byteLength;
      const unread = this.#arrived - this.#consumed;
      const bound = Math.max(4 * CHUNK, maxFrame() + 2 * CHUNK);
      if (unread > bound) {
        overflow = true;
        const err = new Error(`read buffer overflow: ${unread} bytes unread > ${bound}`);
        log("warn", "ended a frame stream whose sender did not wait", { bytes: unread, bound });
        queueMicrotask(() => stream.abort(err));
      }
    });
  }

  async read(options?: { signal?: AbortSignal }): Promise<Message> {
    const message = await this.#lp.read(options);
    this.#consumed += message.byteLength + varintLength(message.byteLength);
    return message;
  }

  write(...args: Parameters<LengthPrefixedStream["write"]>): Promise<void> {
    return this.#lp.write(...args);
  }

  writeV(...args: Parameters<LengthPrefixedStream["writeV"]>): Promise<void> {
    return this.#lp.writeV(...args);
  }

  unwrap(): Stream {
    this.#lp.unwrap();
    return this.#stream;
  }
}

/** Bytes of the unsigned varint that prefixes a message of `n` bytes. */
function varintLength(n: number): number {
  let bytes = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    bytes++;
  }
  return bytes;
}

/** How long one frame may take to arrive whole (30 s, plus 1 s per 10 MB). */
function frameTimeoutMs(maxFrame: number): number {
  return 30_000 + maxFrame / 10_000;
}

/**
 * Reads a frame header on a frame stream: undefined when the stream ended cleanly before it;
 * throws on a malformed header.
 */
async function readHeader(
  lp: LengthPrefixedStream<Stream>,
  stream: Stream,
): Promise<{ seq: number; length: number } | undefined> {
  let head: Uint8Array;
  try {
    head = (await lp.read()).subarray();
  } catch (err) {
    if (stream.status !== "open" || stream.remoteWriteStatus !== "writable") return undefined;
    throw err;
  }
  if (head.length !== 8) throw new Error("malformed frame header");
  const view = new DataView(head.buffer, head.byteOffset, 8);
  return { seq: view.getUint32(0), length: view.getUint32(4) };
}

function throwUnlessReceived(code: number | undefined, reason: Uint8Array): void {
  if (code === ANSWER.received) return;
  const text = new TextDecoder().decode(reason);
  // Busy is temporary (the receiver still holds this sender's previous large frame): resend
  // later. Anything else (too large) is permanent: resending cannot help.
  throw code === ANSWER.busy
    ? new NodeError("frame-busy", `receiver busy: ${text}`)
    : new NodeError("frame-refused", `refused by the receiver: ${text}`);
}

function answerBytes(seq: number, code: number, reason: string): Uint8Array {
  const text = new TextEncoder().encode(reason);
  const out = new Uint8Array(5 + text.length);
  new DataView(out.buffer).setUint32(0, seq);
  out[4] = code;
  out.set(text, 5);
  return out;
}

function refusal(code: number, reason: string): Uint8Array {
  const text = new TextEncoder().encode(reason);
  const out = new Uint8Array(1 + text.length);
  out[0] = code;
  out.set(text, 1);
  return out;
}

/** A counting semaphore. */
class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(count: number) {
    this.#free = count;
  }

  /** Permits free now. */
  get free(): number {
    return this.#free;
  }

  acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next();
    else this.#free++;
  }
}

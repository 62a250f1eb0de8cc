/**
 * A small scripted driver for adversarial protocol tests: a federation of real
 * {@link Endpoint}s (identities and roster from the simulator's `simulatedFederation`), a FIFO
 * network on a virtual clock that the test steps by hand, and hooks to intercept, hold, modify,
 * drop or inject frames between members. Every event every member reports is collected, every
 * call into an endpoint is checked not to throw nor to report an `internal-error`, and every
 * byte an endpoint's rng produced is recorded so that tests can check no refusal text leaks
 * secret material.
 *
 * Frame surgery helpers ({@link rawFrame}, {@link reframe}, {@link reseal}, ...) build forged or
 * replayed frames with the right or wrong signer.
 *
 * @module
 */
import { assert, assertEquals, assertGreaterOrEqual } from "../_assert.ts";
import { toHex } from "../../protocol/bytes.ts";
import { verifyFinalCertificate } from "../../protocol/certificate.ts";
import { decode, encode, type Value } from "../../protocol/codec.ts";
import { type Rng, seededRng, sha256 } from "../../protocol/crypto/mod.ts";
import { Endpoint } from "../../protocol/endpoint.ts";
import { ProtocolError, type RefusalCode } from "../../protocol/errors.ts";
import type { Output, ProtocolEvent } from "../../protocol/events.ts";
import { inlineExpander } from "../../protocol/masking.ts";
import {
  type MessageType,
  openFrame,
  readUnmask,
  sealFrame,
  TAG,
} from "../../protocol/messages.ts";
import { quantize } from "../../protocol/quantize.ts";
import { createRoster, type Roster } from "../../protocol/roster.ts";
import { leaderOf } from "../../protocol/schedule.ts";
import { type Session, sessionOf } from "../../protocol/session.ts";
import type { MemberSigner } from "../../protocol/signer.ts";
import { simulatedFederation } from "../../scripts/sim/network.ts";

/** A frame on the wire. */
export interface Wire {
  readonly from: number;
  readonly to: number;
  readonly frame: Uint8Array;
  /** Message type and session, read from the (unverified) header. */
  readonly type: MessageType;
  readonly session: Session;
}

/** What an interceptor does with a wire: undefined passes it, a list replaces it ([] drops). */
export type Interceptor = (
  wire: Wire,
  fed: Federation,
) => Wire[] | undefined | Promise<Wire[] | undefined>;

/** One reported event. */
export interface Logged {
  readonly member: number;
  readonly at: number;
  readonly event: ProtocolEvent;
}

/** Federation settings. */
export interface FederationOptions {
  readonly n: number;
  readonly dim: number;
  readonly pq?: boolean;
  readonly seed?: number;
  /** Overrides the default threshold ⌊2n/3⌋ + 1. */
  readonly threshold?: number;
  /** Overrides the simulator's federation name ("sim"). */
  readonly federation?: string;
  /** A Harary graph of this degree (SecAgg+), with threshold ⌊(k + 1)/2⌋ + 1. */
  readonly degree?: number;
}

type Refused = Extract<ProtocolEvent, { type: "refused" }>;
type Final = Extract<ProtocolEvent, { type: "final" }>;

function rngFor(seed: number, ...labels: (string | number)[]): Rng {
  return seededRng(sha256(new TextEncoder().encode(["fedagg-adv", seed, ...labels].join("/"))));
}

/** The identities and roster of a federation (the simulator's, with optional overrides). */
export async function federationRoster(
  options: FederationOptions,
): Promise<{ roster: Roster; signers: MemberSigner[] }> {
  const seed = options.seed ?? 1;
  const base = await simulatedFederation({
    nodes: options.n,
    dim: options.dim,
    seed,
    pq: options.pq ?? false,
    graph: options.degree === undefined ? "complete" : "sparse",
    degree: options.degree,
    dropout: 0,
  });
  if (options.threshold === undefined && options.federation === undefined) return base;
  const r = base.roster;
  const roster = createRoster({
    federation: options.federation ?? r.federation,
    members: r.members,
    mode: r.mode,
    dim: r.dim,
    clip: r.quantization.clip,
    maxWeight: r.quantization.maxWeight,
    threshold: options.threshold ?? r.threshold,
    graph: r.graph,
    stageTimeoutMs: r.stageTimeoutMs,
    viewTimeoutMs: r.viewTimeoutMs,
  });
  return { roster, signers: base.signers };
}

/** A scripted federation of real endpoints. */
export class Federation {
  readonly roster: Roster;
  readonly signers: readonly MemberSigner[];
  readonly endpoints: readonly Endpoint[];
  readonly n: number;
  readonly seed: number;
  now = 0;
  /** Frames waiting to be delivered, in order. */
  readonly queue: Wire[] = [];
  /** Frames the `hold` predicate set aside (delivered only when released). */
  readonly held: Wire[] = [];
  /** Every frame a machine emitted (before interception), in order. */
  readonly emitted: Wire[] = [];
  readonly events: Logged[] = [];
  /** Members that neither receive nor send any more. */
  readonly dead = new Set<number>();
  intercept: Interceptor | undefined;
  hold: ((wire: Wire) => boolean) | undefined;
  /** Every byte string the members' rngs produced (their ephemeral secrets). */
  readonly secrets: Uint8Array[] = [];
  readonly #inputs = new Map<number, Uint32Array[]>();

  private constructor(roster: Roster, signers: readonly MemberSigner[], seed: number) {
    this.roster = roster;
    this.signers = signers;
    this.n = roster.members.length;
    this.seed = seed;
    this.endpoints = signers.map((signer, self) => {
      const inner = rngFor(seed, "member", self);
      const rng: Rng = (length) => {
        const bytes = inner(length);
        this.secrets.push(bytes.slice());
        return bytes;
      };
      return new Endpoint({ roster, self, signer, rng, expander: inlineExpander });
    });
  }

  /** Builds a federation. */
  static async create(options: FederationOptions): Promise<Federation> {
    const { roster, signers } = await federationRoster(options);
    return new Federation(roster, signers, options.seed ?? 1);
  }

  /** The session of (`round`, `view`). */
  session(round: number, view = 0): Session {
    return sessionOf(this.roster, round, view);
  }

  /** The scheduled leader of (`round`, `view`). */
  leader(round: number, view = 0): number {
    return leaderOf(this.roster, round, view);
  }

  /** The first `count` members other than the ones in `except`, ascending. */
  others(except: readonly number[], count = this.n): number[] {
    return [...Array(this.n).keys()].filter((i) => !except.includes(i)).slice(0, count);
  }

  /** Member `i`'s quantized input for `round` (length d + 1; seeded, weight 1 + i mod 7). */
  input(round: number, i: number): Uint32Array {
    let list = this.#inputs.get(round);
    if (list === undefined) {
      const q = this.roster.quantization;
      list = [];
      for (let m = 0; m < this.n; m++) {
        const rng = rngFor(this.seed, "input", round, m);
        const raw = new Uint32Array(rng(4 * this.roster.dim).buffer);
        const x = new Float32Array(this.roster.dim);
        for (let j = 0; j < x.length; j++) x[j] = (raw[j] / 2 ** 32 * 2.2 - 1.1) * q.clip;
        const weight = Math.min(1 + (m % 7), q.maxWeight);
        list.push(quantize(x, weight, q, rngFor(this.seed, "rounding", round, m)));
      }
      this.#inputs.set(round, list);
    }
    return list[i];
  }

  /** The plaintext sum (mod 2^32) of `members`' quantized inputs for `round`. */
  expectedSum(round: number, members: readonly number[]): Uint32Array {
    const sum = new Uint32Array(this.roster.dim + 1);
    for (const m of members) {
      const v = this.input(round, m);
      for (let j = 0; j < sum.length; j++) sum[j] = sum[j] + v[j];
    }
    return sum;
  }

  // ---------------------------------------------------------------------------------------------
  // Driving.

  /** Every living member (or `members`) submits its input for `round` in `view`. */
  async submitAll(round: number, members?: readonly number[], view = 0): Promise<void> {
    for (const i of members ?? [...Array(this.n).keys()]) {
      if (this.dead.has(i)) continue;
      const out = await this.#call(
        i,
        () => this.endpoints[i].submit(round, this.input(round, i).slice(), this.now, view),
      );
      await this.#emit(i, out);
    }
  }

  /**
   * Delivers `frame` to member `to` as if it arrived from transport peer `from` (by default the
   * frame's signed sender), now. The outputs are processed like any other; returns the events
   * of this one call.
   */
  async inject(to: number, frame: Uint8Array, from?: number): Promise<ProtocolEvent[]> {
    const peer = from ?? peekSender(frame);
    const out = await this.#call(to, () => this.endpoints[to].receive(frame, peer, this.now));
    await this.#emit(to, out);
    return eventsOf(out);
  }

  /** Delivers the next queued frame; false when the queue is empty. */
  async step(): Promise<boolean> {
    const wire = this.queue.shift();
    if (wire === undefined) return false;
    if (this.dead.has(wire.to) || this.dead.has(wire.from)) return true;
    const out = await this.#call(
      wire.to,
      () => this.endpoints[wire.to].receive(wire.frame, wire.from, this.now),
    );
    await this.#emit(wire.to, out);
    return true;
  }

  /**
   * Delivers frames and, when the network is idle, advances the virtual clock to the next
   * timeout (unless `time` is false), until `until` holds, nothing is left to do, or the clock
   * would pass `maxTime` (default: now + 12 view timeouts).
   */
  async run(
    options: { until?: () => boolean; time?: boolean; maxTime?: number } = {},
  ): Promise<void> {
    const maxTime = options.maxTime ?? this.now + 12 * this.roster.viewTimeoutMs;
    for (;;) {
      if (options.until?.()) return;
      if (await this.step()) continue;
      if (options.time === false) return;
      const next = this.#nextTimeout();
      if (next === undefined || next > maxTime) return;
      this.now = Math.max(this.now, next);
      for (let i = 0; i < this.n; i++) {
        if (this.dead.has(i)) continue;
        const t = this.endpoints[i].nextTimeout();
        if (t === undefined || t > this.now) continue;
        const out = await this.#call(i, () => this.endpoints[i].tick(this.now));
        await this.#emit(i, out);
      }
    }
  }

  /** Runs until every living member in `members` (default: all) reported `final` for `round`. */
  async runToFinal(round: number, members?: readonly number[]): Promise<void> {
    const who = members ?? [...Array(this.n).keys()];
    await this.run({
      until: () => who.every((i) => this.dead.has(i) || this.final(round, i) !== undefined),
    });
  }

  /** Moves held wires matching `pred` (default: all) to the queue. */
  release(pred: (w: Wire) => boolean = () => true): Wire[] {
    const moved = this.take(pred, this.held);
    this.queue.push(...moved);
    return moved;
  }

  /** Removes and returns the wires of `list` (default: the queue) matching `pred`. */
  take(pred: (w: Wire) => boolean, list: Wire[] = this.queue): Wire[] {
    const taken: Wire[] = [];
    for (let i = 0; i < list.length;) {
      if (pred(list[i])) taken.push(...list.splice(i, 1));
      else i++;
    }
    return taken;
  }

  #nextTimeout(): number | undefined {
    let next: number | undefined;
    for (let i = 0; i < this.n; i++) {
      if (this.dead.has(i)) continue;
      const t = this.endpoints[i].nextTimeout();
      if (t !== undefined && (next === undefined || t < next)) next = t;
    }
    return next;
  }

  /** Calls into an endpoint; an exception or an `internal-error` event fails the test. */
  async #call(member: number, fn: () => Promise<Output[]>): Promise<Output[]> {
    let out: Output[];
    try {
      out = await fn();
    } catch (err) {
      throw new Error(`endpoint ${member} threw out of a call: ${(err as Error)?.stack ?? err}`);
    }
    for (const e of eventsOf(out)) {
      if (e.type === "internal-error") {
        throw new Error(`endpoint ${member} hit an internal error: ${e.message}`);
      }
    }
    return out;
  }

  async #emit(from: number, outputs: Output[]): Promise<void> {
    for (const o of outputs) {
      if (o.kind === "event") {
        this.events.push({ member: from, at: this.now, event: o.event });
        continue;
      }
      if (this.dead.has(from)) continue;
      const targets = o.kind === "send"
        ? [o.to]
        : [...Array(this.n).keys()].filter((i) => i !== from);
      const { type, session } = peekHeader(o.frame);
      for (const to of targets) {
        const wire: Wire = { from, to, frame: o.frame, type, session };
        this.emitted.push(wire);
        if (this.dead.has(from)) break; // an interceptor may kill the sender mid-broadcast
        const replaced = await this.intercept?.(wire, this);
        for (const w of replaced ?? [wire]) {
          if (this.hold?.(w)) this.held.push(w);
          else this.queue.push(w);
        }
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Inspection.

  /** Events of `member` (default: all members), optionally of one type. */
  eventsOf(member?: number): ProtocolEvent[] {
    return this.events.filter((e) => member === undefined || e.member === member).map((e) =>
      e.event
    );
  }

  /** Refusals reported by `member` (default: any member). */
  refusals(member?: number): { member: number; error: ProtocolError }[] {
    return this.events
      .filter((e) => (member === undefined || e.member === member) && e.event.type === "refused")
      .map((e) => ({ member: e.member, error: (e.event as Refused).error }));
  }

  /** Wires member `from` emitted, optionally of one type (and session view). */
  sentBy(from: number, type?: MessageType, view?: number): Wire[] {
    return this.emitted.filter((w) =>
      w.from === from && (type === undefined || w.type === type) &&
      (view === undefined || w.session.view === view)
    );
  }

  /** The first `final` event `member` reported for `round`. */
  final(round: number, member: number): Final | undefined {
    return this.events.find((e) =>
      e.member === member && e.event.type === "final" && e.event.round === round
    )?.event as Final | undefined;
  }

  /**
   * Asserts the round ended exactly: at least `min` members reported the same final
   * certificate, its aggregate is the plaintext sum of the certified members' inputs, and it
   * verifies offline. Returns the final event.
   */
  async assertExact(round: number, min = this.roster.threshold): Promise<Final> {
    const finals = this.events
      .filter((e) => e.event.type === "final" && e.event.round === round)
      .map((e) => e.event as Final);
    assertGreaterOrEqual(finals.length, min, `members with a final certificate for ${round}`);
    const first = finals[0];
    for (const f of finals) {
      assertEquals(f.view, first.view);
      assertEquals([...f.members], [...first.members]);
      assertEquals(toHex(u8(f.aggregate)), toHex(u8(first.aggregate)));
    }
    assertEquals(
      toHex(u8(first.aggregate)),
      toHex(u8(this.expectedSum(round, first.members))),
      "the aggregate is the plaintext sum of the certified members' inputs",
    );
    const verified = await verifyFinalCertificate(
      this.roster,
      first.certificate,
      u8(first.aggregate),
    );
    assertEquals([...verified.members], [...first.members]);
    // Published events agree with the final aggregate.
    for (const e of this.events) {
      if (e.event.type === "published" && e.event.round === round) {
        assertEquals(toHex(u8(e.event.aggregate)), toHex(u8(first.aggregate)));
      }
    }
    return first;
  }

  /**
   * Asserts no event text (refusal messages and details, failure reasons) carries secret
   * material: no long hex or decimal byte runs, and none of the secrets the members' rngs
   * produced or the shares they revealed, in hex or base64.
   */
  assertNoLeaks(): void {
    const secretHex: string[] = [];
    const secretB64: string[] = [];
    const addSecret = (s: Uint8Array) => {
      for (let i = 0; i + 8 <= s.length; i += 8) secretHex.push(toHex(s.subarray(i, i + 8)));
      if (s.length >= 12) secretB64.push(btoa(String.fromCharCode(...s.subarray(0, 12))));
    };
    for (const s of this.secrets) if (s.length >= 8) addSecret(s);
    for (const w of this.emitted) {
      if (w.type !== "unmask") continue;
      try {
        const u = readUnmask(openFrame(w.frame, this.roster), this.roster);
        for (const [, share] of [...u.selfShares, ...u.maskShares]) addSecret(share);
      } catch {
        // a forged unmask frame: nothing to learn
      }
    }
    for (const { event } of this.events) {
      const texts: string[] = [];
      if (event.type === "refused") {
        const err = event.error;
        assert(err instanceof ProtocolError, "refusals carry ProtocolErrors");
        texts.push(err.message, String(err.stack ?? ""));
        for (const [k, v] of Object.entries(err)) {
          assert(!(v instanceof Uint8Array), `refusal property ${k} holds bytes`);
          texts.push(String(v));
        }
      } else if (event.type === "round-failed") {
        texts.push(event.reason);
      } else if (event.type === "published" || event.type === "final") {
        continue; // certificates and aggregates are public by design
      } else {
        texts.push(JSON.stringify(event));
      }
      for (const text of texts) {
        const lower = text.toLowerCase();
        // Long hex runs (decimal numbers such as 2^53 − 1 are fine).
        for (const run of lower.match(/[0-9a-f]{16,}/g) ?? []) {
          assert(/^\d+$/.test(run), `event text carries a long hex run: ${text}`);
        }
        assert(!/(\d{1,3},){7,}\d{1,3}/.test(text), `event text carries byte lists: ${text}`);
        for (const h of secretHex) assert(!lower.includes(h), `event text leaks a secret: ${text}`);
        for (const b of secretB64) assert(!text.includes(b), `event text leaks a secret: ${text}`);
      }
    }
  }

  /** Closes every endpoint. */
  close(): void {
    for (const e of this.endpoints) e.close();
  }
}

/** The events among `outputs`. */
export function eventsOf(outputs: readonly Output[]): ProtocolEvent[] {
  return outputs.flatMap((o) => (o.kind === "event" ? [o.event] : []));
}

/** The refusal errors among `events`. */
export function refusalsIn(events: readonly ProtocolEvent[]): ProtocolError[] {
  return events.flatMap((e) => (e.type === "refused" ? [e.error] : []));
}

/**
 * Asserts `events` contain exactly one refusal and that it has `code` (and `peer` when given);
 * returns it.
 */
export function assertRefused(
  events: readonly ProtocolEvent[],
  code: RefusalCode,
  peer?: number,
): ProtocolError {
  const refused = refusalsIn(events);
  assertEquals(
    refused.map((e) => e.code),
    [code],
    `refusals: ${refused.map((e) => e.message).join(" | ") || "none"}`,
  );
  if (peer !== undefined) assertEquals(refused[0].peer, peer, refused[0].message);
  return refused[0];
}

/** A byte view of a `Uint32Array`. */
export function u8(v: Uint32Array): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

// -------------------------------------------------------------------------------------------------
// Frame surgery.

/** The parts of a frame, decoded without any check. */
export interface RawFrame {
  readonly payload: Uint8Array;
  readonly ed25519: Uint8Array;
  readonly mlDsa65: Uint8Array | null;
  readonly body?: Uint8Array;
  /** The decoded payload: [tag, federation, rosterHash, round, view, sender, ...fields]. */
  readonly fields: Value[];
}

const BIG = 1 << 26;

/** Decodes a frame into its parts (no checks beyond CBOR). */
export function rawFrame(frame: Uint8Array): RawFrame {
  const outer = decode(frame, BIG, "frame") as Value[];
  const payload = outer[0] as Uint8Array;
  return {
    payload,
    ed25519: outer[1] as Uint8Array,
    mlDsa65: outer[2] as Uint8Array | null,
    body: outer[3] as Uint8Array | undefined,
    fields: decode(payload, BIG, "payload") as Value[],
  };
}

/** Encodes frame parts. */
export function frameOf(parts: Omit<RawFrame, "fields">): Uint8Array {
  const outer: Value[] = [parts.payload, parts.ed25519, parts.mlDsa65];
  if (parts.body !== undefined) outer.push(parts.body);
  return encode(outer);
}

/** A copy of `frame` with its parts changed (the signature is kept unless replaced). */
export function reframe(frame: Uint8Array, change: (p: RawFrame) => Partial<RawFrame>): Uint8Array {
  const parts = rawFrame(frame);
  return frameOf({ ...parts, ...change(parts) });
}

/** A copy of `frame` whose payload is re-encoded after `mutate` (signature kept: now invalid). */
export function rewritePayload(
  frame: Uint8Array,
  mutate: (fields: Value[]) => Value[],
): Uint8Array {
  return reframe(frame, (p) => ({ payload: encode(mutate([...p.fields])) }));
}

/** A copy of `bytes` with bit `bit` inverted. */
export function flipBit(bytes: Uint8Array, bit = 0): Uint8Array {
  const out = new Uint8Array(bytes);
  out[bit >>> 3] ^= 1 << (bit & 7);
  return out;
}

/** A copy of `frame` with one bit of its Ed25519 (or ML-DSA-65) signature flipped. */
export function forgeSignature(frame: Uint8Array, part: "ed25519" | "mlDsa65" = "ed25519") {
  return reframe(
    frame,
    (p) =>
      part === "ed25519"
        ? { ed25519: flipBit(p.ed25519, 77) }
        : { mlDsa65: flipBit(p.mlDsa65!, 1001) },
  );
}

/** The message-specific fields of a frame's payload. */
export function fieldsOf(frame: Uint8Array): Value[] {
  return rawFrame(frame).fields.slice(6);
}

/** The signed sender of a frame (header only, unchecked). */
export function peekSender(frame: Uint8Array): number {
  return rawFrame(frame).fields[5] as number;
}

/** Type and session of a frame from its (unchecked) header; works for any roster. */
export function peekHeader(frame: Uint8Array): { type: MessageType; session: Session } {
  const [tag, federation, rosterHash, round, view] = rawFrame(frame).fields as [
    string,
    string,
    Uint8Array,
    number,
    number,
  ];
  const type = Object.entries(TAG).find(([, t]) => t === tag)?.[0] as MessageType;
  return { type, session: { federation, rosterHash, round, view } };
}

/** A wire carrying `frame` from `from` to `to`. */
export function wireOf(from: number, to: number, frame: Uint8Array): Wire {
  return { from, to, frame, ...peekHeader(frame) };
}

/**
 * Re-signs a frame with `signer` after applying changes: new message fields, session, sender,
 * type or body. The result carries a valid signature of `signer` over the new payload.
 */
export async function reseal(
  frame: Uint8Array,
  signer: MemberSigner,
  mode: Roster["mode"],
  change: {
    type?: MessageType;
    session?: Session;
    sender?: number;
    fields?: (fields: Value[]) => Value[];
    body?: Uint8Array | null;
  } = {},
): Promise<Uint8Array> {
  const raw = rawFrame(frame);
  const header = peekHeader(frame);
  const type = change.type ?? header.type;
  const session = change.session ?? header.session;
  const sender = raw.fields[5] as number;
  const fields = change.fields ? change.fields(raw.fields.slice(6)) : raw.fields.slice(6);
  const body = change.body === null ? undefined : change.body ?? raw.body;
  return await sealFrame(type, session, change.sender ?? sender, fields, signer, mode, body);
}

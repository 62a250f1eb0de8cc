/**
 * The round driver: runs this member's protocol {@link Endpoint} in real time. Every endpoint
 * call and the handling of its outputs run one at a time, in order; the endpoint's next timeout
 * is a timer (`protocol_timer.ts`: a timer that fires late after a pause first lets the frames
 * that arrived meanwhile in); frames to one member leave in the order the protocol produced them, each retried
 * until its view is over; a `committed` event is written to the journal (by the event sink)
 * before the frame that commits is sent; and frames from one member are capped while they wait.
 *
 * Broadcasts go to the certificate exchange (gossip), events to the event sink; the failure
 * detector's reports (`peer_watch.ts`) go to the endpoint as lost and back members. Nothing here
 * decides a protocol question.
 *
 * @module
 */
import {
  CallerError,
  type Endpoint,
  type Output,
  ProtocolError,
  type ProtocolEvent,
  type PublishedBody,
  type Roster,
  u32Bytes,
  viewPatienceMs,
} from "../protocol/mod.ts";
import { crashPoint, receivePoint, sendPoint } from "./crash_point.ts";
import type { Log, Mesh } from "./mesh.ts";
import { ProtocolTimer } from "./protocol_timer.ts";

/** Frames from one member waiting for the pipeline; beyond this its frames are refused. */
export const MAX_QUEUED_PER_PEER = 16;

/**
 * The calls the driver makes: an {@link Endpoint}'s, or a `ChainEndpoint`'s (members by
 * slot).
 */
export type DrivenEndpoint = Pick<
  Endpoint,
  "receive" | "tick" | "nextTimeout" | "memberLost" | "memberBack"
>;

/** Where the driver hands what the endpoint produced. */
export interface DriverSinks {
  /** A protocol event (awaited: a commitment is journaled before the next output). */
  event(e: ProtocolEvent): Promise<void>;
  /** A refusal the driver made itself (a member's queue was full). */
  refused(err: ProtocolError): void;
  /** A broadcast: a co-signature, or this member's certificate with its body (`published`). */
  broadcast(frame: Uint8Array, published: PublishedBody | undefined): Promise<void>;
  /** A verified aggregate body that this member can now serve by hash. */
  body(round: number, view: number, hash: Uint8Array, body: Uint8Array): void;
}

/** What the driver needs. */
export interface RoundDriverOptions {
  /** The roster (or the newest roster version: its timeouts bound how long a send is retried). */
  readonly roster: Roster | (() => Roster);
  /** This member's roster index (its slot, with a `ChainEndpoint`). */
  readonly self: number;
  readonly endpoint: DrivenEndpoint;
  readonly sinks: DriverSinks;
  readonly log: Log;
  /**
   * Told after each input how long (ms) the endpoint call took (`protocolMs`: the protocol's
   * own work, including mask expansion on worker threads it awaits) and how long handling its
   * outputs took (`outputsMs`: journaling, events, gossip, queueing sends). `what` names the
   * input (`receive`, `tick`, `submit`, …). `protocolCpuMs` is the process CPU time (all
   * threads, so mask workers count) that passed during the call, by {@link cpuMs}; NaN without
   * it. While the call awaits workers, whatever else the process runs meanwhile counts too.
   */
  readonly timed?: (
    what: string,
    protocolMs: number,
    outputsMs: number,
    protocolCpuMs: number,
  ) => void;
  /** The process's CPU time so far in ms (user + system, all threads), for {@link timed}. */
  readonly cpuMs?: () => number;
}

/** The monotonic clock the endpoint runs on (ms). */
export function now(): number {
  return performance.now();
}

/** One member's endpoint, driven in real time. */
export class RoundDriver {
  readonly #options: RoundDriverOptions;
  #mesh: Mesh | undefined;
  #pipeline: Promise<unknown> = Promise.resolve();
  readonly #timer: ProtocolTimer;
  readonly #sendQueues = new Map<number, Promise<unknown>>();
  /** Frames each member has waiting in the pipeline. */
  readonly #queued = new Map<number, number>();
  #stopped = false;

  /** A driver of `options.endpoint`; frames leave once {@link attach} gave it the mesh. */
  constructor(options: RoundDriverOptions) {
    this.#options = options;
    this.#timer = new ProtocolTimer({
      fire: () => void this.input(() => options.endpoint.tick(now()), "tick").catch(() => {}),
    });
  }

  /** The mesh frames are sent on. */
  attach(mesh: Mesh): void {
    this.#mesh = mesh;
  }

  /**
   * Runs an endpoint call and handles its outputs, after every earlier one, in order. Resolves
   * when they are handled; rejects with what the call threw (a `CallerError` is the caller's to
   * answer; anything else is also logged). `what` names the input for {@link
   * RoundDriverOptions.timed}.
   */
  input(call: () => Promise<Output[]>, what = "other"): Promise<void> {
    const run = this.#pipeline.then(async () => {
      if (this.#stopped) return;
      const { timed, cpuMs } = this.#options;
      const c0 = timed === undefined || cpuMs === undefined ? NaN : cpuMs();
      const t0 = now();
      const outputs = await call();
      const t1 = now();
      const c1 = Number.isNaN(c0) ? NaN : cpuMs!();
      for (const o of outputs) await this.#output(o);
      timed?.(what, t1 - t0, now() - t1, c1 - c0);
      this.#reschedule();
    });
    this.#pipeline = run.catch((err) => {
      if (err instanceof CallerError) return; // the caller's, answered by it
      this.#options.log("error", "node pipeline error", { error: String(err?.stack ?? err) });
    });
    return run;
  }

  /**
   * Queues a frame from member `from` (sent directly or gossiped). A member with
   * {@link MAX_QUEUED_PER_PEER} frames already waiting has the new one refused (logged): a flood
   * from one member cannot grow the queue or delay everyone else's frames without bound.
   */
  fromPeer(frame: Uint8Array, from: number): Promise<void> {
    const queued = this.#queued.get(from) ?? 0;
    if (queued >= MAX_QUEUED_PER_PEER) {
      this.#options.sinks.refused(
        new ProtocolError("oversized", `more than ${MAX_QUEUED_PER_PEER} frames waiting`, from),
      );
      return Promise.resolve();
    }
    this.#queued.set(from, queued + 1);
    return this.input(() => {
      crashPoint(() => receivePoint(frame)); // fault injection for tests
      return this.#options.endpoint.receive(frame, from, now());
    }, "receive")
      .catch(() => {})
      .finally(() => this.#queued.set(from, (this.#queued.get(from) ?? 1) - 1));
  }

  /**
   * The failure detector reports member `member` lost (`lost` true) or back: handed to the
   * endpoint in order with everything else, which decides what it means.
   */
  memberReport(member: number, lost: boolean): Promise<void> {
    const { endpoint, log } = this.#options;
    log("info", lost ? "member unreachable past the grace" : "member reachable again", { member });
    return this.input(
      () => lost ? endpoint.memberLost(member, now()) : endpoint.memberBack(member, now()),
      "member-report",
    ).catch(() => {});
  }

  /** Stops the timer and waits for the call in progress; later calls do nothing. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer.stop();
    await this.#pipeline.catch(() => {});
  }

  #reschedule(): void {
    if (!this.#stopped) this.#timer.set(this.#options.endpoint.nextTimeout());
  }

  async #output(o: Output): Promise<void> {
    const { sinks, self } = this.#options;
    if (o.kind === "event") {
      const e = o.event;
      if (e.type === "published") {
        sinks.body(e.round, e.view, e.aggregateHash, u32Bytes(e.aggregate));
      }
      return await sinks.event(e);
    }
    if (o.kind === "send") {
      if (o.to !== self) this.#enqueueSend(o.to, o.frame); // to itself: delivered by the endpoint
      return;
    }
    crashPoint(() => sendPoint(o.frame)); // fault injection for tests
    await sinks.broadcast(o.frame, o.published);
  }

  #enqueueSend(to: number, frame: Uint8Array): void {
    crashPoint(() => sendPoint(frame)); // fault injection for tests
    // Past this the frame's view is over for its recipient: retrying would only waste traffic.
    const { roster } = this.#options;
    const deadline = Date.now() + viewPatienceMs(typeof roster === "function" ? roster() : roster);
    const previous = this.#sendQueues.get(to) ?? Promise.resolve();
    const next = previous.then(() => this.#mesh!.send(to, frame, deadline)).catch(() => false);
    this.#sendQueues.set(to, next);
  }
}

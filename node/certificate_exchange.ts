/**
 * How certificates and co-signatures travel between nodes, and how aggregate bodies follow them.
 *
 * Both travel by gossip, as the canonical CBOR pair `[kind, frame]` with kind `"certificate"` or
 * `"cosign"`. A certificate is gossiped without its aggregate body (4·(d + 1) bytes, too large
 * for gossip); every member that has the body — the leader, and each member once the
 * certificate checked out — serves it by (round, view, certified hash) over the mesh's body
 * protocol. A member that receives a gossiped certificate asks its endpoint whether the body is
 * worth fetching (`Endpoint.wantsCertificate`: only for a round it would check, signed by the
 * session's leader with ≥ t valid approvals), fetches it from the publisher first and then from
 * any connected member, checks it against the certified hash (blaming a member that served
 * another body), and hands the whole certificate to the endpoint.
 *
 * Gossip alone is not relied on: gossipsub sends only to peers whose subscription it has seen,
 * and under connection churn it may know none (the publish then "reached no peer") or miss some.
 * So after each publish the same message is also sent straight to every admitted member gossip
 * did not send it to (`Mesh.deliver`, the mesh's `/fedagg/1/broadcast`: connected members first,
 * then those not connected, which it dials), in the background, {@link DIRECT_PARALLEL} at a
 * time, each retried until {@link DIRECT_DEADLINE_MS}. The receiver hands it to
 * {@link CertificateExchange.onGossip} exactly as a gossiped one: same checks, same per-member
 * caps, and a repeat (gossip and direct both arrived) is ignored by the endpoint (one
 * co-signature per member; a certificate's session is fetched once). With healthy gossip every
 * connected member is among gossip's recipients and nothing is sent directly to it.
 *
 * Fetches run one at a time, at most one per session, with at most {@link MAX_PENDING_FETCHES}
 * waiting; beyond that a certificate is dropped, logged and counted.
 *
 * @module
 */
import {
  decode,
  encode,
  type Endpoint,
  ProtocolError,
  type PublishedBody,
  toHex,
} from "../protocol/mod.ts";
import type { Log, Mesh } from "./mesh.ts";
import type { Metrics } from "./metrics.ts";
import { now, type RoundDriver } from "./round_driver.ts";

const GOSSIP_CERTIFICATE = "certificate";
const GOSSIP_COSIGN = "cosign";
/** Certified bodies waiting to be fetched or being fetched; beyond this, certificates are dropped. */
export const MAX_PENDING_FETCHES = 4;
/** Sessions whose certificate was taken up that are remembered (so each is fetched once). */
const MAX_FETCHED = 64;
/** Aggregate bodies kept to serve. */
const MAX_BODIES = 8;
/** How long a broadcast keeps trying to reach, directly, a member that gossip did not reach. */
export const DIRECT_DEADLINE_MS = 30_000;
/** Direct sends of one broadcast in flight at once. */
export const DIRECT_PARALLEL = 8;

/** What the exchange needs. */
export interface CertificateExchangeOptions {
  /** An endpoint, or a chain endpoint (members by slot). */
  readonly endpoint: Pick<Endpoint, "wantsCertificate" | "receive">;
  readonly driver: RoundDriver;
  readonly metrics: Metrics;
  readonly log: Log;
  /** Reports a refused input (logged and counted by the event sink). */
  readonly refused: (err: ProtocolError) => void;
}

function bodyKey(round: number, view: number, hash: Uint8Array): string {
  return `${round}/${view}/${toHex(hash)}`;
}

/** The gossip of certificates and co-signatures, and the bodies this node fetches and serves. */
export class CertificateExchange {
  readonly #options: CertificateExchangeOptions;
  #mesh: Mesh | undefined;
  /** Aggregate bodies this node can serve, by `round/view/hash`. */
  readonly #bodies = new Map<string, Uint8Array>();
  /** Sessions (`round/view`) whose certified body is queued, being fetched or was fetched. */
  readonly #fetching = new Set<string>();
  /** Body fetches queued or running. */
  #pendingFetches = 0;
  #fetches: Promise<unknown> = Promise.resolve();
  #stopped = false;

  /** An exchange over the mesh {@link attach} gives it. */
  constructor(options: CertificateExchangeOptions) {
    this.#options = options;
  }

  /** The mesh gossip and bodies travel on. */
  attach(mesh: Mesh): void {
    this.#mesh = mesh;
  }

  /**
   * Stops fetching and sending directly: fetches in progress give up at their next attempt,
   * direct sends not started are not started.
   */
  stop(): void {
    this.#stopped = true;
  }

  /** The aggregate body of (round, view) with certified hash `hash`, if this node has it. */
  body(round: number, view: number, hash: Uint8Array): Uint8Array | undefined {
    return this.#bodies.get(bodyKey(round, view, hash));
  }

  /** Keeps a verified aggregate body to serve by (round, view, its certified hash). */
  remember(round: number, view: number, hash: Uint8Array, body: Uint8Array): void {
    this.#bodies.set(bodyKey(round, view, hash), body);
    while (this.#bodies.size > MAX_BODIES) this.#bodies.delete(this.#bodies.keys().next().value!);
  }

  /**
   * Broadcasts a frame the endpoint produced: this member's certificate alone (its body kept to
   * serve: members fetch it by hash, from us first), or a co-signature. Resolves once gossiped;
   * the direct sends to members gossip did not reach carry on in the background.
   */
  async broadcast(frame: Uint8Array, published: PublishedBody | undefined): Promise<void> {
    if (published === undefined) return await this.#gossip([GOSSIP_COSIGN, frame]);
    const { round, view, aggregateHash, body, certificate } = published;
    this.remember(round, view, aggregateHash, body);
    await this.#gossip([GOSSIP_CERTIFICATE, certificate]);
  }

  /** A gossip message from roster member `from` (its publisher). */
  onGossip(data: Uint8Array, from: number): void {
    let message: unknown;
    try {
      message = decode(data, data.length, "gossip", from);
    } catch (err) {
      this.#options.refused(err as ProtocolError);
      return;
    }
    if (!Array.isArray(message) || typeof message[0] !== "string") return;
    const kind = message[0];
    if (kind === GOSSIP_COSIGN && message[1] instanceof Uint8Array) {
      // Same per-member cap as a frame sent directly: gossip is no way around it.
      this.#options.driver.fromPeer(message[1], from);
    } else if (kind === GOSSIP_CERTIFICATE && message[1] instanceof Uint8Array) {
      this.#onCertificate(message[1], from).catch((err) =>
        this.#options.log("warn", "certificate gossip failed", { from, error: String(err) })
      );
    }
  }

  async #gossip(message: [string, Uint8Array]): Promise<void> {
    const mesh = this.#mesh!;
    const kind = message[0];
    const data = encode(message);
    let reached: number[] = [];
    try {
      reached = await mesh.publish(data);
      if (reached.length === 0 && mesh.connected().length > 0) {
        this.#options.log("warn", "gossip reached no peer", { kind });
      }
    } catch (err) {
      this.#options.log("warn", "gossip failed", { kind, error: String(err) });
    }
    // Not awaited: the driver waits for this broadcast before its next input.
    void this.#sendDirect(kind, data, reached).catch((err) =>
      this.#options.log("warn", "direct broadcast failed", { kind, error: String(err) })
    );
  }

  /**
   * Sends `data` straight to every admitted member not in `reached` (connected ones first),
   * {@link DIRECT_PARALLEL} at a time, each until {@link DIRECT_DEADLINE_MS} from now; counts
   * each member reached and each given up on (not those cut short by {@link stop}).
   */
  async #sendDirect(kind: string, data: Uint8Array, reached: readonly number[]): Promise<void> {
    const mesh = this.#mesh!;
    const skip = new Set(reached);
    const connected = new Set(mesh.connected());
    const targets = mesh.admittedMembers().filter((i) => !skip.has(i))
      .sort((a, b) => Number(connected.has(b)) - Number(connected.has(a)) || a - b);
    if (targets.length === 0) return;
    const deadline = Date.now() + DIRECT_DEADLINE_MS;
    const failed: number[] = [];
    const { metrics } = this.#options;
    const worker = async () => {
      for (let to = targets.shift(); to !== undefined; to = targets.shift()) {
        if (this.#stopped) return;
        if (await mesh.deliver(to, data, deadline)) {
          metrics.inc("fedagg_broadcast_direct_total", "", { kind });
        } else if (!this.#stopped) {
          failed.push(to);
          metrics.inc("fedagg_broadcast_direct_failures_total", "", { kind });
        }
      }
    };
    const count = targets.length;
    await Promise.all(Array.from({ length: Math.min(DIRECT_PARALLEL, count) }, worker));
    this.#options.log(failed.length > 0 ? "warn" : "info", "sent a broadcast directly", {
      kind,
      members: count,
      failed,
    });
  }

  /**
   * A gossiped certificate (without its body). Only if the endpoint wants it is a fetch of its
   * body queued: at most one per session at a time (a session whose fetch failed is fetched
   * again on its next gossip), at most {@link MAX_PENDING_FETCHES} waiting or running
   * (beyond that it is dropped, logged and counted), one at a time.
   */
  async #onCertificate(frame: Uint8Array, from: number): Promise<void> {
    const interest = await this.#options.endpoint.wantsCertificate(frame, from);
    if (interest.kind === "refused") return this.#options.refused(interest.error);
    if (interest.kind === "ignore") return;
    const { round, view } = interest;
    const key = `${round}/${view}`;
    if (this.#fetching.has(key)) return;
    if (this.#pendingFetches >= MAX_PENDING_FETCHES) {
      this.#options.metrics.inc(
        "fedagg_certificate_fetches_dropped_total",
        "Certified aggregates not fetched: too many fetches were waiting",
      );
      this.#options.log("warn", "certificate dropped: too many body fetches waiting", {
        round,
        view,
        from,
      });
      return;
    }
    this.#fetching.add(key);
    while (this.#fetching.size > MAX_FETCHED) {
      this.#fetching.delete(this.#fetching.values().next().value!);
    }
    this.#pendingFetches++;
    const fetched = this.#fetches.then(() => this.#fetchBody(frame, from))
      .finally(() => this.#pendingFetches--);
    this.#fetches = fetched.catch(() => {});
    await fetched;
  }

  /**
   * Fetches the body of a wanted certificate (from the publisher first, then from any connected
   * member; up to 5 rounds of attempts) and hands the whole frame to the endpoint. A body that
   * is not the certified one is refused (blaming the member that served it), and the next member
   * is asked.
   */
  async #fetchBody(frame: Uint8Array, from: number): Promise<void> {
    // Asked again: the round may have been decided while this fetch waited its turn.
    const interest = await this.#options.endpoint.wantsCertificate(frame, from);
    if (interest.kind !== "fetch") return;
    const { round, view, aggregateHash: hash } = interest;
    const mesh = this.#mesh!;
    let body = this.body(round, view, hash);
    const junk = new Set<number>();
    for (let attempt = 0; body === undefined && attempt < 5 && !this.#stopped; attempt++) {
      const sources = [from, ...mesh.connected().filter((i) => i !== from)];
      for (const source of sources.filter((i) => !junk.has(i))) {
        const got = await mesh.fetchAggregate(
          source,
          { round, view, hash, maxBytes: interest.bodyLength },
          30_000,
        );
        if (got === undefined) continue;
        if (interest.isBody(got)) {
          body = got;
          break;
        }
        junk.add(source);
        this.#options.refused(
          new ProtocolError(
            "commitment-mismatch",
            `served a body for round ${round} view ${view} that does not match the certified hash`,
            source,
          ),
        );
      }
      if (body === undefined) await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
    }
    if (body === undefined) {
      this.#options.log("warn", "could not fetch a certified aggregate", { round, view, from });
      // Its publisher may be down and gossip it again once back (`Endpoint.recover`): the next
      // gossip of this session's certificate is fetched again.
      this.#fetching.delete(`${round}/${view}`);
      return;
    }
    const full = interest.withBody(body);
    await this.#options.driver.input(
      () => this.#options.endpoint.receive(full, from, now()),
      "certificate",
    );
  }
}

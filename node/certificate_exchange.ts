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

  /** Stops fetching: fetches in progress give up at their next attempt. */
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
   * serve: members fetch it by hash, from us first), or a co-signature.
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

  async #gossip(message: (string | Uint8Array)[]): Promise<void> {
    try {
      const mesh = this.#mesh!;
      const recipients = await mesh.publish(encode(message));
      if (recipients === 0 && mesh.connected().length > 0) {
        this.#options.log("warn", "gossip reached no peer", { kind: message[0] });
      }
    } catch (err) {
      this.#options.log("warn", "gossip failed", { kind: message[0], error: String(err) });
    }
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

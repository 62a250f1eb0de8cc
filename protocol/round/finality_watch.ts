/**
 * Missing co-signatures (`docs/protocol.md` §3, stage 6 Publish): a member that took a round's
 * certificate holds the final certificate once t co-signatures of it arrive. Co-signatures are
 * broadcast once (and gossiped), so a member that was restarting, reconnecting or cut off while
 * they went out can miss them, and nothing sends them again: without this watch it would hold
 * the round `published`, never `final`, with no timer left to run — a stall nobody would end.
 *
 * The watch starts when the certificate is taken. If the round is not final here one view
 * timeout later, it sends an OutcomeRequest of the certificate's session to one other member:
 * the certificate's leader first (it gathers the co-signatures too), then the next members in
 * roster order, one per attempt. A whole turn of the other members goes one view timeout apart;
 * each further turn doubles the gap, up to the longest backoff of an {@link OutcomeInquiry}
 * (`inquiryBackoffMs`), and it goes on until its owner stops it (the round became final here).
 * One member at a time, because the answer (an Outcome, from a member holding the final
 * certificate, at most once per asker and round) carries the whole aggregate: asking everyone at
 * once could bring n − 1 of them.
 *
 * Asking in the certificate's session is safe as evidence too: an OutcomeRequest of view v tells
 * the others that its sender is bound to v (`docs/protocol.md` §4, Rescue), and a member that
 * took v's certificate is — v is the round's decided view, and no other view can be unmasked.
 *
 * Sans-IO: `now` in, sends out.
 *
 * @module
 */
import { inquiryBackoffMs, type InquiryConfig, outcomeRequest } from "./outcome_inquiry.ts";
import type { Output } from "./events.ts";

/** One member's watch for the final certificate of a certificate it took. */
export class FinalityWatch {
  readonly #config: InquiryConfig;
  /** The round of the certificate. */
  readonly round: number;
  /** The certificate's view (the session the requests name). */
  readonly view: number;
  /** The members asked in turn: the certificate's leader first, then roster order. */
  readonly #order: readonly number[];
  #attempt = 0;
  #deadline: number | undefined;
  #request: Promise<Uint8Array> | undefined;

  /**
   * A watch over the certificate of (`round`, `view`) sent by `leader`, taken at `now`: it first
   * asks one view timeout from then.
   */
  constructor(config: InquiryConfig, round: number, view: number, leader: number, now: number) {
    const n = config.roster.members.length;
    this.#config = config;
    this.round = round;
    this.view = view;
    this.#order = [...Array(n).keys()].map((k) => (leader + k) % n).filter((m) =>
      m !== config.self
    );
    this.#deadline = this.#order.length === 0 ? undefined : now + config.roster.viewTimeoutMs;
  }

  /** When {@link handleTimeout} next needs to run, or undefined once stopped. */
  nextTimeout(): number | undefined {
    return this.#deadline;
  }

  /** Once the gap has passed: an OutcomeRequest to the next member in turn. */
  async handleTimeout(now: number): Promise<Output[]> {
    if (this.#deadline === undefined || now < this.#deadline) return [];
    const turn = Math.floor(this.#attempt / this.#order.length);
    const to = this.#order[this.#attempt % this.#order.length];
    this.#attempt++;
    this.#deadline = now + inquiryBackoffMs(this.#config.roster, turn);
    this.#request ??= outcomeRequest(this.#config, this.round, this.view);
    return [{ kind: "send", to, frame: await this.#request }];
  }

  /** Stops asking (the round is final here). */
  stop(): void {
    this.#deadline = undefined;
  }
}

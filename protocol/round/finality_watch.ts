/**
 * Missing co-signatures (`docs/protocol.md` §3, stage 6 Publish): a member that took a round's
 * certificate holds the final certificate once t co-signatures of it arrive. Co-signatures are
 * broadcast once (and gossiped), so a member that was restarting, reconnecting or cut off while
 * they went out can miss them, and nothing sends them again: without this watch it would hold
 * the round `published`, never `final`, with no timer left to run — a stall nobody would end.
 *
 * The watch starts when the certificate is taken. If the round is not final here two view
 * timeouts later (one is within reach of a slow but healthy round's co-signatures), it sends an
 * OutcomeRequest of the certificate's session to one other member: the next one after itself in
 * roster order, then the one after, one per attempt. A whole turn of the other members goes one
 * view timeout apart; each further turn doubles the gap, up to the longest backoff of an
 * {@link OutcomeInquiry} (`inquiryBackoffMs`), and it goes on until its owner stops it (the round
 * became final here). A member asked answers with an Outcome when it holds the final certificate
 * (at most once per asker and round), else with its own co-signature when it took the same
 * certificate (only for a request whose signature verifies, at most once per asker in a view
 * timeout: `Endpoint`). One member at a time, each asker starting after itself, because an
 * Outcome carries the whole aggregate: asking everyone at once, or every asker asking the same
 * member first (the leader), could bring up to n − 1 of them onto one member at one moment.
 *
 * As evidence, an OutcomeRequest of view v tells the others that its sender is bound to v
 * (`docs/protocol.md` §4, Rescue). A member that took v's certificate adds nothing a corrupt
 * member could not already claim: with an honest leader the certificate means t members revealed
 * in v, so v was unmasked and no other view can be; only a corrupt leader can have sealed a
 * certificate without reveals, and it can send its own OutcomeRequest of v to the same effect.
 *
 * A certificate that can never become final (a corrupt leader's that honest members refuse to
 * co-sign, or t co-signers dead) keeps the watch asking at its longest backoff, and the members
 * asked answering with their Cosigns, until the endpoint retires the round.
 *
 * Sans-IO: `now` in, a `final-asked` event and a send out.
 *
 * @module
 */
import { inquiryBackoffMs, type InquiryConfig, outcomeRequest } from "./outcome_inquiry.ts";
import { event, type Output } from "./events.ts";

/** One member's watch for the final certificate of a certificate it took. */
export class FinalityWatch {
  readonly #config: InquiryConfig;
  /** The round of the certificate. */
  readonly round: number;
  /** The certificate's view (the session the requests name). */
  readonly view: number;
  /** The members asked in turn: those after this member in roster order, wrapping around. */
  readonly #order: readonly number[];
  #attempt = 0;
  #deadline: number | undefined;

  /**
   * A watch over the certificate of (`round`, `view`) taken at `now`: it first asks two view
   * timeouts from then.
   */
  constructor(config: InquiryConfig, round: number, view: number, now: number) {
    const n = config.roster.members.length;
    this.#config = config;
    this.round = round;
    this.view = view;
    this.#order = [...Array(n - 1).keys()].map((k) => (config.self + 1 + k) % n);
    this.#deadline = n < 2 ? undefined : now + 2 * config.roster.viewTimeoutMs;
  }

  /** When {@link handleTimeout} next needs to run, or undefined once stopped. */
  nextTimeout(): number | undefined {
    return this.#deadline;
  }

  /**
   * Once the gap has passed: a `final-asked` event and an OutcomeRequest to the next member in
   * turn.
   */
  async handleTimeout(now: number): Promise<Output[]> {
    if (this.#deadline === undefined || now < this.#deadline) return [];
    const turn = Math.floor(this.#attempt / this.#order.length);
    const to = this.#order[this.#attempt % this.#order.length];
    this.#attempt++;
    this.#deadline = now + inquiryBackoffMs(this.#config.roster, turn);
    return [
      event({ type: "final-asked", round: this.round, view: this.view, to }),
      { kind: "send", to, frame: await outcomeRequest(this.#config, this.round, this.view) },
    ];
  }

  /** Stops asking (the round is final here). */
  stop(): void {
    this.#deadline = undefined;
  }
}

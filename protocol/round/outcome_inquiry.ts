/**
 * Asking the other members how a round ended (`docs/protocol.md` §4, "Outcome unknown"): a member
 * that committed to a view and then cannot tell how the round ended — its leader went quiet after
 * it committed, or it restarted after committing — must neither guess `round-failed` (its update
 * may well be in a certified aggregate: reporting it failed could make the trainer submit it again
 * and count it twice) nor act in another view. It sends every other member an OutcomeRequest of
 * the committed session, again after a backoff that doubles {@link INQUIRY_ATTEMPTS} times and then
 * stays at its longest (it never stops: a member that restarts, or a Leave signed later, may be
 * what ends the round, and the requests are what brings their answers); a member holding the final
 * certificate answers with an Outcome (once per asker and round), which ends the inquiry. Until
 * then the round is `outcome-unknown` for this member.
 *
 * Sans-IO: `now` in, sends and events out.
 *
 * @module
 */
import type { Roster } from "../federation/roster.ts";
import { sessionOf } from "../federation/session.ts";
import type { MemberSigner } from "../federation/signer.ts";
import { sealFrame } from "../wire/frame.ts";
import { outcomeRequestFields } from "../wire/messages.ts";
import { event, type Output } from "./events.ts";

/**
 * How many rounds of requests an inquiry sends with a growing backoff; from then on it asks at the
 * longest backoff, until its owner stops it.
 */
export const INQUIRY_ATTEMPTS = 6;

/**
 * How long an inquiry waits after its `attempt`-th round of requests (0-based) before the next:
 * one view timeout, doubling each time up to 2^(INQUIRY_ATTEMPTS − 1) view timeouts (so the first
 * six rounds span 63 view timeouts, and later ones come every 32).
 */
export function inquiryBackoffMs(roster: Pick<Roster, "viewTimeoutMs">, attempt: number): number {
  return roster.viewTimeoutMs * 2 ** Math.min(attempt, INQUIRY_ATTEMPTS - 1);
}

/** What an inquiry needs: the roster, this member's index and its signing keys. */
export interface InquiryConfig {
  /** The validated roster. */
  readonly roster: Roster;
  /** This member's roster index (it asks everyone else). */
  readonly self: number;
  /** This member's long-term keys, which sign its OutcomeRequests. */
  readonly signer: MemberSigner;
}

/**
 * One member's inquiry into how (`round`, `view`) ended. It never decides anything: its owner
 * ends it ({@link stop}) when an Outcome or a certificate decides the round.
 */
export class OutcomeInquiry {
  readonly #config: InquiryConfig;
  /** The round asked about. */
  readonly round: number;
  /** The view this member committed to (the session its requests name). */
  readonly view: number;
  #attempt = 0;
  #deadline: number | undefined;
  #stopped = false;

  /** An inquiry into `round`, asking in the session of `view`; it starts with {@link start}. */
  constructor(config: InquiryConfig, round: number, view: number) {
    this.#config = config;
    this.round = round;
    this.view = view;
  }

  /**
   * Starts asking: an `outcome-unknown` event naming `reason` (once), and an OutcomeRequest to
   * every other member.
   */
  async start(now: number, reason: string): Promise<Output[]> {
    return [
      event({
        type: "outcome-unknown",
        round: this.round,
        view: this.view,
        reason,
        asking: true,
      }),
      ...await this.#ask(now),
    ];
  }

  /** When {@link handleTimeout} next needs to run, or undefined once stopped. */
  nextTimeout(): number | undefined {
    return this.#deadline;
  }

  /**
   * Asks again once the backoff has passed (at most every 2^(INQUIRY_ATTEMPTS − 1) view timeouts
   * after the first {@link INQUIRY_ATTEMPTS} rounds): the round stays open for this member, and a
   * certificate or Outcome that reaches it still ends it.
   */
  async handleTimeout(now: number): Promise<Output[]> {
    if (this.#deadline === undefined || now < this.#deadline) return [];
    return await this.#ask(now);
  }

  /** Stops asking (the round was decided). */
  stop(): void {
    this.#deadline = undefined;
    this.#stopped = true;
  }

  async #ask(now: number): Promise<Output[]> {
    if (this.#stopped) return [];
    const { roster, self } = this.#config;
    const request = await outcomeRequest(this.#config, this.round, this.view);
    this.#deadline = now + inquiryBackoffMs(roster, this.#attempt);
    this.#attempt++;
    const out: Output[] = [];
    for (let to = 0; to < roster.members.length; to++) {
      if (to !== self) out.push({ kind: "send", to, frame: request });
    }
    return out;
  }
}

/**
 * This member's OutcomeRequest of (`round`, `view`): no fields, signed by this member in that
 * session (`docs/protocol.md` §4, Outcome). Signed evidence that the member is bound to `view`.
 */
export function outcomeRequest(
  config: InquiryConfig,
  round: number,
  view: number,
): Promise<Uint8Array> {
  const { roster, self, signer } = config;
  return sealFrame(
    "outcomeRequest",
    sessionOf(roster, round, view),
    self,
    outcomeRequestFields(),
    signer,
    roster.mode,
  );
}

/**
 * The stages of a round and every transition between them, in one place (the model is h11's
 * `_state.py`: the machines look their moves up here instead of spelling them out).
 *
 * A round is six stages, named by the first word of the spec's stage (`docs/protocol.md` §3):
 * in each, every member sends one message to the session's leader, and the leader, once the
 * stage closes, answers with one message that moves every member on:
 *
 * | stage         | each member sends | the leader answers   | next          |
 * | ------------- | ----------------- | -------------------- | ------------- |
 * | `advertise`   | AdvertiseKeys     | KeyList              | `share`       |
 * | `share`       | ShareKeys         | ShareDelivery        | `masked`      |
 * | `masked`      | MaskedInput       | ConsistencyRequest   | `consistency` |
 * | `consistency` | Approval          | UnmaskRequest        | `unmask`      |
 * | `unmask`      | Unmask            | Certificate          | `publish`     |
 * | `publish`     | Cosign            | (none: ≥ t co-signatures make the certificate final) | `final` |
 *
 * A leader collects each stage's member message ({@link collectedIn}) and, once the stage closes,
 * sends its answer and enters the next stage; a participant takes the answer it waits for
 * ({@link awaitedIn}) and enters the next stage. Beside these moves a member's view can change
 * and a round can end in `failed`: {@link participantTimeout} says what a participant's view
 * timeout does (a committed one asks how the round ended, and never fails on a timeout); a
 * leader whose stage stays short of t answers gives up (`failed`) a view timeout after the
 * stage's own timeout, and one whose unmasking fails ends there at once.
 *
 * @module
 */
import type { MessageType } from "../wire/frame.ts";

/** Every stage, in the order a round passes through them; `failed` ends a round early. */
export const STAGES = [
  "advertise",
  "share",
  "masked",
  "consistency",
  "unmask",
  "publish",
  "final",
  "failed",
] as const;

/** A stage of a round, as the `stage` events name it. */
export type Stage = typeof STAGES[number];

/** The stages in which members send a message the leader (or, for `publish`, every member) collects. */
export type ExchangeStage = Exclude<Stage, "final" | "failed">;

/** One row of {@link TRANSITIONS}. */
export interface Transition {
  /** What each member sends in this stage. */
  readonly sends: MessageType;
  /** What the leader answers when the stage closes (null for `publish`: nobody answers). */
  readonly answer: MessageType | null;
  /** The stage the answer (or, for `publish`, ≥ t co-signatures) moves every member to. */
  readonly next: Stage;
}

/** The round, stage by stage: the table of the module doc. */
export const TRANSITIONS: Readonly<Record<ExchangeStage, Transition>> = {
  advertise: { sends: "advertiseKeys", answer: "keyList", next: "share" },
  share: { sends: "shareKeys", answer: "shareDelivery", next: "masked" },
  masked: { sends: "maskedInput", answer: "consistencyRequest", next: "consistency" },
  consistency: { sends: "approval", answer: "unmaskRequest", next: "unmask" },
  unmask: { sends: "unmask", answer: "certificate", next: "publish" },
  publish: { sends: "cosign", answer: null, next: "final" },
};

/** The stages a leader runs: it publishes, and finality is up to the members. */
export type LeaderStage = Exclude<Stage, "final">;

/** The stages a leader collects members' messages in (co-signatures go to every member). */
export type CollectStage = Exclude<ExchangeStage, "publish">;

const COLLECT_STAGES: readonly CollectStage[] = [
  "advertise",
  "share",
  "masked",
  "consistency",
  "unmask",
];

/**
 * The stage in which a leader collects member messages of `type` (undefined for the types a
 * leader never takes: its own answers and co-signatures).
 */
export function collectedIn(type: MessageType): CollectStage | undefined {
  return COLLECT_STAGES.find((s) => TRANSITIONS[s].sends === type);
}

/**
 * The stages of a view whose answers a participant handles itself; in `unmask` it waits for the
 * Certificate, which its publication takes (`publication.ts`).
 */
export type ViewStage = Exclude<CollectStage, "unmask">;

/**
 * The stage in which a participant waits for the leader's answer `type`, after which it enters
 * that stage's `next` (undefined for anything else). The Certificate is not among them: a
 * participant takes it in any stage — a member that missed the end of a view still learns the
 * round's outcome — and it moves the participant to `publish`.
 */
export function awaitedIn(type: MessageType): ViewStage | undefined {
  return VIEW_STAGES.find((s) => TRANSITIONS[s].answer === type);
}

const VIEW_STAGES: readonly ViewStage[] = ["advertise", "share", "masked", "consistency"];

/**
 * What a participant's view timeout does: nothing, move to the next view, or — committed — ask
 * the other members how the round ended (`outcome-inquiry.ts`).
 */
export type TimeoutMove = "none" | "next-view" | "ask";

/**
 * What a participant's view timeout does in `stage` (see `docs/protocol.md` §4). A member that has
 * not committed to its view moves to the next view when its leader stalls in any stage up to
 * `consistency`; a committed member (sparse graphs commit on approving) whose leader stalls in
 * `consistency`, and any member whose leader stalls in `unmask` (it has revealed: it committed),
 * asks the other members for the round's Outcome and keeps waiting for the certificate — it never
 * reports the round failed on a timeout, since the round may have been certified with its update;
 * in the other cases, and from `publish` on, nothing happens.
 */
export function participantTimeout(stage: Stage, committed: boolean): TimeoutMove {
  switch (stage) {
    case "advertise":
    case "share":
    case "masked":
      return committed ? "none" : "next-view";
    case "consistency":
      return committed ? "ask" : "next-view";
    case "unmask":
      return "ask";
    default:
      return "none";
  }
}

/**
 * How many views of a round a participant runs before it gives the round up (`round-failed`):
 * the number of members, views 0 … n − 1. The leader of view v is the (v mod n)-th member of
 * the round's schedule, so by then every member has been the leader once, each for a whole view
 * timeout; a further view would only go back to a leader that already made no progress. Without
 * the bound a member whose round ended without it (or can never end) would cycle forever.
 */
export function viewLimit(members: number): number {
  return members;
}

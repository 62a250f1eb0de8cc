/**
 * Where the protocol's events land in the node: the journal (adverts, Leaves and commitments before
 * the frame they announce, published and final aggregates, the raw update deleted when its round ends
 * for this member or the trainer withdraws it), the metrics, the log, the status the API reports,
 * and the subscribers of the API's event stream. Nothing here decides anything about the round.
 *
 * @module
 */
import type { ProtocolError, ProtocolEvent, Roster } from "../protocol/mod.ts";
import { EventLog, type LoggedEvent, type Replay } from "./event_log.ts";
import type { Journal } from "./journal.ts";
import type { Log } from "./mesh.ts";
import type { Metrics } from "./metrics.ts";

/**
 * Events for API subscribers (server-sent events): `accepted` (an update journaled and
 * acknowledged; its `view` is always 0, the view it runs in is the next `stage` event's), `stage` (a machine of this node entered a stage; `role` says which),
 * `view-change` (this member moved on from a stalled leader), `published`, `final`,
 * `round-failed` (this member's update is in no aggregate), `withdrawn`, `outcome-unknown`.
 */
export interface NodeEvent {
  readonly type:
    | "accepted"
    | "stage"
    | "view-change"
    | "published"
    | "final"
    | "round-failed"
    | "withdrawn"
    | "outcome-unknown";
  readonly round: number;
  readonly view: number;
  readonly members?: readonly string[];
  readonly reason?: string;
  /** `stage`: the machine's role and the stage it entered. */
  readonly role?: "participant" | "leader";
  readonly stage?: string;
  /** `view-change`: the view left (`view` is the one entered). */
  readonly from?: number;
  /** `accepted`: the update's sample count. */
  readonly numSamples?: number;
}

/** The stage a machine of this node is in, as the status reports it. */
export interface StageStatus {
  readonly round: number;
  readonly view: number;
  readonly stage: string;
}

/** What the event sink needs. */
export interface EventSinkOptions {
  /** The roster, or the roster each round runs under (members in events are its indices). */
  readonly roster: Roster | ((round: number) => Roster);
  readonly journal: Journal;
  readonly metrics: Metrics;
  readonly log: Log;
  /** Events kept for replay to reconnecting subscribers (default: the event log's default). */
  readonly replayCapacity?: number;
}

/** The node's handling of protocol events, and what it remembers of them for the status. */
export class EventSink {
  readonly #options: EventSinkOptions;
  readonly #listeners = new Set<(e: LoggedEvent<NodeEvent>) => void>();
  readonly #events: EventLog<NodeEvent>;
  /** When each machine entered its current stage, by `role/round`. */
  readonly #stageSince = new Map<string, { stage: string; at: number }>();
  /** When this member submitted to each recent round (for the latency metric). */
  readonly #submittedAt = new Map<number, number>();
  /** The participant's stage in the newest round it reported. */
  current: StageStatus | undefined;
  /** The stage of the session this node last led. */
  leading: StageStatus | undefined;
  /** The newest round with a final certificate here. */
  lastFinalRound: number | undefined;
  /** The last refusal, internal error or failure reason. */
  lastError: string | undefined;

  /** A sink writing to `options.journal`, `options.metrics` and `options.log`. */
  constructor(options: EventSinkOptions) {
    this.#options = options;
    this.#events = new EventLog(options.replayCapacity);
  }

  /**
   * Subscribes to node events, each with its id; returns the unsubscribe function and what
   * is replayed first: the kept events after `lastEventId` (see {@link EventLog.since}: with a
   * `gap` when some may be missing). The replay and the subscription are taken at one instant:
   * no event falls between them.
   */
  subscribe(
    listener: (e: LoggedEvent<NodeEvent>) => void,
    lastEventId?: string,
  ): { unsubscribe: () => void; replay: Replay<NodeEvent> } {
    const replay = this.#events.since(lastEventId);
    this.#listeners.add(listener);
    return { unsubscribe: () => this.#listeners.delete(listener), replay };
  }

  /** Reports an update the node journaled and acknowledged (an `accepted` event). */
  accepted(round: number, numSamples: number): void {
    this.#emit({ type: "accepted", round, view: 0, numSamples });
  }

  /**
   * Notes when this member submitted to `round`, keeping only rounds within `window` of the
   * newest it submitted to (a round further behind is not timed).
   */
  submitted(round: number, at: number, window: number): void {
    this.#submittedAt.set(round, at);
    const newest = Math.max(...this.#submittedAt.keys());
    for (const r of this.#submittedAt.keys()) {
      if (r < newest - window) this.#submittedAt.delete(r);
    }
  }

  /** Logs and counts a refused input. */
  refused(err: ProtocolError): void {
    this.#options.metrics.inc("fedagg_refusals_total", "Inputs refused, by reason", {
      code: err.code,
    });
    this.lastError = err.message;
    this.#options.log("warn", "refused", { code: err.code, peer: err.peer, detail: err.message });
  }

  /**
   * Handles one protocol event. A `committed` event is journaled before this resolves (the frame
   * that commits leaves after it); a published or final aggregate too.
   */
  async handle(e: ProtocolEvent): Promise<void> {
    switch (e.type) {
      case "refused":
        return this.refused(e.error);
      case "internal-error":
        return this.#internalError(e.message);
      case "stage":
        if (e.role === "participant") {
          this.current = { round: e.round, view: e.view, stage: e.stage };
        } else this.leading = { round: e.round, view: e.view, stage: e.stage };
        this.#timeStage(e.role, e.round, e.stage);
        this.#options.log("debug", "stage", {
          role: e.role,
          round: e.round,
          view: e.view,
          stage: e.stage,
        });
        return this.#emit({
          type: "stage",
          round: e.round,
          view: e.view,
          role: e.role,
          stage: e.stage,
        });
      case "view-change":
        this.#options.metrics.inc("fedagg_view_changes_total", "View changes (a leader stalled)");
        this.#options.log("warn", "view change", { round: e.round, from: e.from, to: e.to });
        return this.#emit({ type: "view-change", round: e.round, view: e.to, from: e.from });
      case "advertised":
        // Durable before the advert (the next output) leaves: never two adverts in one session.
        return await this.#options.journal.recordAdvertised(e.round, e.view);
      case "left":
        // Durable before the Leave (the next outputs) leaves: after a restart this member
        // resumes no earlier than the view after it, so it never commits in a view it promised
        // to leave. A Leave's view is never below the last advertised one, so the advertised
        // record holds it (resume in the view after the later of the two).
        return await this.#options.journal.recordAdvertised(e.round, e.view);
      case "masked":
        // Durable before the masked input (the next output) leaves: a restarted member never
        // withdraws an update a leader may count, nor fails it on a guess.
        return await this.#options.journal.recordMasked(e.round, e.view);
      case "unmasking":
        // Durable before the UnmaskRequest (the next outputs) leaves: a restarted leader resumes
        // collecting the reveals (public state only).
        return await this.#options.journal.recordUnmasking(e.round, e.record);
      case "renounced":
        // Durable before the renouncement Leave (the next outputs) leaves: a restarted member
        // co-signs nothing of the round either.
        return await this.#options.journal.recordRenounced(e.round, e.view);
      case "committed":
        // Durable before the frame that commits (the next output) leaves.
        return await this.#options.journal.recordCommit(e.round, e.view);
      case "published":
        return await this.#published(e);
      case "final":
        // A leader machine ends in `publish` (the co-signatures that make a certificate final
        // are the publication's, not a stage of its own): the final certificate closes it.
        if (this.#stageSince.get(`leader/${e.round}`)?.stage === "publish") {
          this.#timeStage("leader", e.round, "final");
        }
        return await this.#final(e);
      case "round-failed":
        return await this.#roundFailed(e);
      case "withdrawn":
        return await this.#withdrawn(e);
      case "outcome-unknown":
        return await this.#outcomeUnknown(e);
      case "final-asked":
        this.#options.metrics.inc(
          "fedagg_final_requests_total",
          "Requests for a published round's final certificate (co-signatures missing)",
        );
        this.#options.log(
          "warn",
          "co-signatures missing: asking a member for the final certificate",
          {
            round: e.round,
            view: e.view,
            member: this.#ids(e.round, [e.to])[0],
          },
        );
        return;
    }
  }

  /**
   * A committed round whose end this member does not know yet (it asks its peers): logged, counted
   * when it starts, shown in the status and reported to subscribers (`outcome-unknown`), and its
   * raw update deleted — a
   * committed member never acts in another view, so the values are never needed again. Not a
   * failure: the update may be in a certified aggregate, so no `round-failed` is reported.
   */
  async #outcomeUnknown(e: Extract<ProtocolEvent, { type: "outcome-unknown" }>): Promise<void> {
    const { journal, metrics, log } = this.#options;
    log("warn", e.asking ? "round outcome unknown: asking the members" : "round outcome unknown", {
      round: e.round,
      view: e.view,
      reason: e.reason,
    });
    if (e.asking) {
      metrics.inc(
        "fedagg_rounds_outcome_unknown_total",
        "Committed rounds whose outcome this node had to ask its peers for",
      );
    }
    if (this.current === undefined || this.current.round <= e.round) {
      this.current = { round: e.round, view: e.view, stage: "outcome-unknown" };
    }
    // The trainer learns it too: not a failure (never resubmit it), not final yet.
    this.#emit({ type: "outcome-unknown", round: e.round, view: e.view, reason: e.reason });
    try {
      await journal.pruneUpdate(e.round);
    } catch (err) {
      log("error", "could not delete the update of a committed round", {
        round: e.round,
        error: String(err),
      });
    }
  }

  #internalError(message: string): void {
    this.lastError = message;
    this.#options.metrics.inc(
      "fedagg_internal_errors_total",
      "Unexpected errors caught in the protocol core",
    );
    this.#options.log("error", "internal error in the protocol core", { message });
  }

  #ids(round: number, members: readonly number[]): string[] {
    const { roster } = this.#options;
    const r = typeof roster === "function" ? roster(round) : roster;
    return members.map((i) => r.members[i].id);
  }

  /**
   * Observes how long the `role` machine of `round` spent in the stage it leaves for `stage`
   * (`fedagg_stage_duration_seconds`); a terminal stage (`final`, `failed`) ends the timing.
   * At most 64 machines are timed at once (the oldest entry goes first).
   */
  #timeStage(role: "participant" | "leader", round: number, stage: string): void {
    const key = `${role}/${round}`;
    const at = performance.now();
    const previous = this.#stageSince.get(key);
    if (previous !== undefined && previous.stage !== stage) {
      this.#options.metrics.observe(
        "fedagg_stage_duration_seconds",
        "Time a machine of this node spent in a stage, by role and stage",
        (at - previous.at) / 1000,
        { role, stage: previous.stage },
      );
    }
    this.#stageSince.delete(key);
    if (stage === "final" || stage === "failed") return;
    if (previous?.stage === stage) this.#stageSince.set(key, previous);
    else this.#stageSince.set(key, { stage, at });
    if (this.#stageSince.size > 64) {
      this.#stageSince.delete(this.#stageSince.keys().next().value!);
    }
  }

  #emit(e: NodeEvent): void {
    const logged = this.#events.append(e);
    for (const l of this.#listeners) {
      try {
        l(logged);
      } catch {
        // a subscriber's failure is its own
      }
    }
  }

  async #published(e: Extract<ProtocolEvent, { type: "published" }>): Promise<void> {
    try {
      await this.#options.journal.recordAggregate({
        round: e.round,
        view: e.view,
        members: e.members,
        aggregate: e.aggregate,
        certificate: e.certificate,
      });
    } catch (err) {
      // Not fatal to the round: this member's co-signature (the next output) still goes out,
      // and the final certificate writes the whole record again.
      this.#options.log("error", "could not journal the published aggregate", {
        round: e.round,
        error: String(err),
      });
      return;
    }
    this.#options.metrics.inc(
      "fedagg_rounds_published_total",
      "Rounds whose aggregate this node verified",
    );
    this.#emit({
      type: "published",
      round: e.round,
      view: e.view,
      members: this.#ids(e.round, e.members),
    });
  }

  async #final(e: Extract<ProtocolEvent, { type: "final" }>): Promise<void> {
    const { journal, metrics, log } = this.#options;
    if ((await journal.recorded(e.round)).published) {
      await journal.recordFinal(e.round, e.certificate);
    } else {
      // Its published record never landed (its write failed): write the whole record now.
      await journal.recordAggregate({
        round: e.round,
        view: e.view,
        members: e.members,
        aggregate: e.aggregate,
        certificate: e.leaderCertificate,
        final: e.certificate,
      });
    }
    // Final: this member's raw update is no longer needed to resume the round.
    await journal.pruneUpdate(e.round);
    this.lastFinalRound = Math.max(this.lastFinalRound ?? -1, e.round);
    metrics.inc("fedagg_rounds_final_total", "Rounds with a final certificate");
    const started = this.#submittedAt.get(e.round);
    if (started !== undefined) {
      this.#submittedAt.delete(e.round);
      metrics.observe(
        "fedagg_round_latency_seconds",
        "Time from this member's submission to the round's final certificate",
        (performance.now() - started) / 1000,
      );
    }
    log("info", "aggregate final", { round: e.round, view: e.view, members: e.members.length });
    this.#emit({
      type: "final",
      round: e.round,
      view: e.view,
      members: this.#ids(e.round, e.members),
    });
  }

  /**
   * The trainer withdrew this member's update: the withdrawal (with the view a new update would
   * start in) is journaled and the update deleted before this resolves, so a restart does not
   * resume it; counted, logged and reported, and the status shows the round `withdrawn`.
   */
  async #withdrawn(e: Extract<ProtocolEvent, { type: "withdrawn" }>): Promise<void> {
    const { journal, metrics, log } = this.#options;
    await journal.recordWithdrawn(e.round, e.nextView);
    this.#submittedAt.delete(e.round);
    metrics.inc("fedagg_updates_withdrawn_total", "Updates the trainer withdrew");
    log("info", "update withdrawn", { round: e.round, view: e.view });
    if (this.current?.round === e.round) this.current = { ...this.current, stage: "withdrawn" };
    this.#emit({ type: "withdrawn", round: e.round, view: e.view });
  }

  /**
   * A round that failed: counted and logged. When it failed for this member's update (the
   * participant's, or given up at a restart), that update is in no aggregate and never will be:
   * its raw values are deleted, the status shows the round `failed` and subscribers get a
   * `round-failed` event (a leader session's failure is not reported to them).
   */
  async #roundFailed(e: Extract<ProtocolEvent, { type: "round-failed" }>): Promise<void> {
    const { journal, metrics, log } = this.#options;
    metrics.inc("fedagg_rounds_failed_total", "Rounds that failed for this node");
    this.lastError = e.reason;
    log("warn", "round failed", { round: e.round, view: e.view, role: e.role, reason: e.reason });
    if (e.role === "participant") {
      if (this.current?.round === e.round) this.current = { ...this.current, stage: "failed" };
      try {
        // Before the values go: a restart then counts the round as ended for this member.
        await journal.recordFailed(e.round, e.view);
        await journal.pruneUpdate(e.round);
      } catch (err) {
        log("error", "could not record the failure or delete the update of a failed round", {
          round: e.round,
          error: String(err),
        });
      }
      // Subscribers (the trainer) hear of their update's end only: a leader session of this
      // node that cannot complete is the operator's matter (logged and counted above).
      this.#emit({ type: "round-failed", round: e.round, view: e.view, reason: e.reason });
    }
  }
}

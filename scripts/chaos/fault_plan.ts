/**
 * The faults of one chaos round, drawn from a seed: which members are killed and restarted,
 * frozen and continued, or submit late, and when. Pure: the same (seed, round, federation)
 * always gives the same plan; `scripts/chaos/chaos_run.ts` carries it out.
 *
 * @module
 */
import { labelledRng, leaderOf, type Roster } from "../../protocol/mod.ts";

/**
 * - `kill`: SIGKILL at the moment, `fedagg run` started again `durationMs` later (it resumes
 *   the round from its journal);
 * - `pause`: SIGSTOP at the moment, SIGCONT `durationMs` later;
 * - `late`: the member submits its update `durationMs` after the others did (no moment).
 */
export type FaultKind = "kill" | "pause" | "late";

/** The stages a fault can wait for (the participant's, or the leader's for a leader target). */
export const TRIGGER_STAGES = ["share", "masked", "consistency", "unmask", "publish"] as const;

/** When a kill or pause strikes. */
export type FaultMoment =
  /** This long after every on-time update was acknowledged. */
  | { readonly kind: "time"; readonly afterMs: number }
  /**
   * When the target (as a participant, or for a leader target as the round's leader) reports
   * this stage of the round or a later one in its status; at `fallbackMs` after the
   * acknowledgements at the latest (the stage may never come).
   */
  | {
    readonly kind: "stage";
    readonly stage: typeof TRIGGER_STAGES[number];
    readonly fallbackMs: number;
  };

/** One fault. */
export interface Fault {
  readonly kind: FaultKind;
  /** Roster index of the member it strikes. */
  readonly target: number;
  /** Whether the target leads view 0 of the round. */
  readonly leader: boolean;
  /** Kills and pauses only. */
  readonly moment?: FaultMoment;
  /** How long the member stays down or frozen, or how late it submits. */
  readonly durationMs: number;
}

/** The timeouts the plan scales its times by. */
export type PlanTimeouts = Pick<Roster, "stageTimeoutMs" | "advertiseTimeoutMs" | "viewTimeoutMs">;

/**
 * The faults of `round`: one or two (drawn), on distinct members; each kill or pause strikes
 * the round's view-0 leader with probability 1/2, else a member drawn from the others; a late
 * join is a member drawn from the others (the leader of view 0 still submits on time: a round
 * whose first leader is also late is one more draw). Moments are a time offset in
 * [0, 1.5 × stage timeout) (a fault-free small round takes about one stage timeout or less, so
 * most land inside it) or, with probability 1/2, a stage of the target (fallback at
 * 4 × view timeout). Kills and pauses last [0.2, 2) × the view timeout — from shorter than a
 * stage timeout (a blip the round may ride out) to long enough to force a view change; late
 * joins come [0.5, 1.5) × (advertise + view timeout) after the others — typically past the
 * submission deadline, as in issue 8's late member.
 */
export function planFaults(
  roster: Roster,
  t: PlanTimeouts,
  seed: number,
  round: number,
): Fault[] {
  const rng = labelledRng("chaos-faults", seed, round);
  const draw = (): number => rng(4).reduce((a, b) => a * 256 + b, 0) / 2 ** 32;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(draw() * xs.length)];
  const n = roster.members.length;
  const leader = leaderOf(roster, round, 0);
  const count = draw() < 0.5 ? 1 : 2;
  const used = new Set<number>();
  const faults: Fault[] = [];
  for (let k = 0; k < count; k++) {
    const kind = pick<FaultKind>(["kill", "pause", "late"]);
    const others = [...Array(n).keys()].filter((i) => i !== leader && !used.has(i));
    const onLeader = kind !== "late" && !used.has(leader) && draw() < 0.5;
    const target = onLeader ? leader : pick(others);
    used.add(target);
    if (kind === "late") {
      faults.push({
        kind,
        target,
        leader: false,
        durationMs: Math.round((0.5 + draw()) * (t.advertiseTimeoutMs + t.viewTimeoutMs)),
      });
      continue;
    }
    const moment: FaultMoment = draw() < 0.5
      ? { kind: "time", afterMs: Math.round(draw() * 1.5 * t.stageTimeoutMs) }
      : { kind: "stage", stage: pick(TRIGGER_STAGES), fallbackMs: 4 * t.viewTimeoutMs };
    faults.push({
      kind,
      target,
      leader: target === leader,
      moment,
      durationMs: Math.round((0.2 + 1.8 * draw()) * t.viewTimeoutMs),
    });
  }
  return faults;
}

/** A fault in words, e.g. `kill node-3 (leader) at stage masked for 4100 ms`. */
export function describeFault(f: Fault, name: (index: number) => string): string {
  const who = `${name(f.target)}${f.leader ? " (leader)" : ""}`;
  if (f.kind === "late") return `late ${who} by ${f.durationMs} ms`;
  const when = f.moment!.kind === "time"
    ? `at +${f.moment!.afterMs} ms`
    : `at stage ${f.moment!.stage}`;
  return `${f.kind} ${who} ${when} for ${f.durationMs} ms`;
}

/**
 * Golden simulations: fixed-seed runs of the in-process simulator whose report, timings aside,
 * must not change when the protocol core is refactored.
 *
 * @module
 */
import { type SimOptions, type SimReport, simulate } from "../../protocol/sim/mod.ts";

/** The simulations the golden file pins (small: the suite runs them). */
export const SIMULATIONS: Readonly<Record<string, SimOptions>> = {
  "complete-mixed-kill-consistency": {
    nodes: 10,
    dim: 300,
    dropout: 0.2,
    dropStage: "mixed",
    graph: "complete",
    seed: 7,
    pq: false,
    rounds: 3,
    killLeaderAt: "consistency",
  },
  "sparse-masked": {
    nodes: 12,
    dim: 200,
    dropout: 0.2,
    dropStage: "masked",
    graph: "sparse",
    degree: 4,
    seed: 11,
    pq: false,
    rounds: 2,
  },
  // A round that cannot finish: the killed leader and two dropouts are more than n − t = 2.
  "complete-too-many-losses": {
    nodes: 8,
    dim: 50,
    dropout: 0.2,
    dropStage: "mixed",
    graph: "complete",
    seed: 7,
    pq: false,
    rounds: 1,
    killLeaderAt: "consistency",
  },
  "post-quantum-kill-unmask": {
    nodes: 7,
    dim: 50,
    dropout: 0.15,
    dropStage: "share",
    graph: "complete",
    seed: 3,
    pq: true,
    rounds: 2,
    killLeaderAt: "unmask",
  },
};

/** The report of a simulation without its CPU timings (the only part that varies by run). */
export async function simulationGolden(options: SimOptions): Promise<unknown> {
  const report: SimReport = await simulate(options);
  return JSON.parse(JSON.stringify({
    ...report,
    rounds: report.rounds.map(({ timings: _, ...rest }) => rest),
  }));
}

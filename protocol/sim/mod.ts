/**
 * Simulation: an in-memory network of protocol nodes on a virtual clock ({@link SimNetwork}),
 * seeded federations ({@link simulatedFederation}) and whole simulated rounds with dropouts and
 * killed leaders ({@link simulate}), and Byzantine updates ({@link attackUpdates}). Sans-IO like the rest of the core; the simulator script, the
 * tests and the examples all run on it.
 *
 * @module
 */
export { labelledRng } from "../crypto/mod.ts";
export type { ExchangeStage } from "../round/stages.ts";
export {
  type EventOf,
  type Interceptor,
  type Logged,
  peekHeader,
  peekSender,
  recipients,
  type Role,
  type RunOptions,
  SimNetwork,
  type SimNetworkOptions,
  type SimNode,
  type Wire,
} from "./network.ts";
export {
  type SimulatedFederation,
  simulatedFederation,
  type SimulatedFederationSettings,
} from "./federation.ts";
export {
  byzantineMembers,
  type DropStage,
  type GroupReport,
  type KillStage,
  MEMBER_STAGES,
  type MemberStage,
  type RoundReport,
  type SimOptions,
  type SimReport,
  simulate,
  type StageTimings,
} from "./simulation.ts";
export {
  alieZ,
  type Attack,
  ATTACK_KINDS,
  type AttackInput,
  type AttackKind,
  attackUpdates,
  defaultAttack,
  GaussianSource,
  normalQuantile,
} from "./attacks.ts";
export type { DpRoundReport, SimDpOptions } from "./dp_report.ts";
export { DEFAULT_SPREAD, type HonestSpread, honestUpdates } from "./honest_updates.ts";

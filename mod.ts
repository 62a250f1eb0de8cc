/**
 * fedagg: peer-to-peer secure aggregation for federated learning.
 *
 * As a library this module exposes the sans-IO protocol core: build a roster, run members'
 * {@link Endpoint}s, quantize updates, simulate whole rounds in memory and verify final
 * certificates offline. Run as a program (`deno run mod.ts <command>` or the compiled `fedagg`
 * binary) it is the node's command line: see `fedagg --help`. `docs/architecture.md` maps the
 * code; `docs/protocol.md` is the specification.
 *
 * The main entry points carry runnable examples: {@link createRoster} (make a roster),
 * {@link SimNetwork} (run a round in memory) and {@link verifyFinalCertificate} (check a
 * certificate offline, as `fedagg verify` does).
 *
 * @module
 */

// The federation: members, parameters, signatures.
export {
  createRoster,
  DEFAULT_CLIP,
  DEFAULT_STAGE_TIMEOUT_MS,
  defaultRoundDeadlineMs,
  defaultTimeouts,
  type Member,
  type Mode,
  type Roster,
  type RosterSettings,
} from "./protocol/federation/roster.ts";
export {
  checkedLayout,
  describe as describeTensor,
  encodeLayout,
  firstDifference,
  FLAT_TENSOR_NAME,
  flatLayout,
  isFlatLayout,
  type LayoutDifference,
  layoutHash,
  layoutSize,
  MAX_LAYOUT_TENSORS,
  MAX_TENSOR_NAME,
  MAX_TENSOR_RANK,
  type ModelLayout,
  type TensorShape,
  tensorSize,
} from "./protocol/federation/layout.ts";
export { approveRoster, verifyRosterApproval } from "./protocol/federation/roster_approval.ts";
export { leaderOf } from "./protocol/federation/schedule.ts";
export type { Session } from "./protocol/federation/session.ts";
export { MemberSigner, type Signature } from "./protocol/federation/signer.ts";

// Neighbour graphs.
export { type GraphSettings } from "./protocol/graph/graphs.ts";
export {
  defaultHararyThreshold,
  defaultThreshold,
  type SecAggPlusBounds,
  secAggPlusGraph,
  type SecAggPlusParameters,
  secAggPlusParameters,
  type SecAggPlusSettings,
} from "./protocol/graph/secagg_plus.ts";

// Numbers.
export {
  countClipped,
  dequantizeMean,
  dequantizeSum,
  MAX_RELATIVE_ERROR,
  maxMembersWithinPrecision,
  type QuantizationParameters,
  quantizationParameters,
  type QuantizationSettings,
  quantize,
  withinPrecision,
} from "./protocol/math/quantize.ts";
export { inlineExpander, type MaskExpander } from "./protocol/math/masking.ts";

// Distributed differential privacy (a roster's `dp` section).
export type { Rational } from "./protocol/dp/discrete_gaussian.ts";
export type { DpMechanism, DpParameters, DpSettings } from "./protocol/dp/parameters.ts";
export {
  aggregateMean,
  type DpGuarantee,
  dpGuarantee,
  dpRoundUpdate,
} from "./protocol/round/dp_round.ts";
export type { DpUpdate } from "./protocol/dp/mechanism.ts";
export type { MemberSet } from "./protocol/math/member_set.ts";

// The round.
export {
  type CertificateInterest,
  Endpoint,
  type EndpointConfig,
} from "./protocol/round/endpoint.ts";
export type { Output, ProtocolEvent, PublishedBody } from "./protocol/round/events.ts";
export type { Leader } from "./protocol/round/leader.ts";
export type { Participant } from "./protocol/round/participant.ts";
export type { Commitment, Publication, PublicationConfig } from "./protocol/round/publication.ts";
export {
  type ExchangeStage,
  type LeaderStage,
  type Stage,
  STAGES,
  type Transition,
  TRANSITIONS,
} from "./protocol/round/stages.ts";
export type { Envelope, MessageType } from "./protocol/wire/frame.ts";

// Certificates.
export { type VerifiedCertificate, verifyFinalCertificate } from "./protocol/certificate/final.ts";

// Errors.
export {
  CallerError,
  type CallerErrorCode,
  ConfigError,
  ProtocolError,
  type RefusalCode,
} from "./protocol/errors.ts";

// Randomness.
export { type MaskTerm, type Rng, systemRng } from "./protocol/crypto/mod.ts";

// Simulation.
export {
  type DropStage,
  type EventOf,
  type Interceptor,
  type KillStage,
  labelledRng,
  type Logged,
  type MemberStage,
  type Role,
  type RoundReport,
  type RunOptions,
  SimNetwork,
  type SimNetworkOptions,
  type SimNode,
  type SimOptions,
  type SimReport,
  simulate,
  type SimulatedFederation,
  simulatedFederation,
  type SimulatedFederationSettings,
  type StageTimings,
  type Wire,
} from "./protocol/sim/mod.ts";

if (import.meta.main) {
  const { main } = await import("./node/cli/mod.ts");
  Deno.exit(await main(Deno.args));
}

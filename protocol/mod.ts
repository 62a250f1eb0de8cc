/**
 * The protocol core's surface for drivers: what the node (`node/`), the simulator and the
 * scripts use. Everything behind it is sans-IO — state machines and pure functions, no sockets,
 * clocks or files — in folders that follow the design (`docs/architecture.md`):
 *
 * - `encoding/`: bytes and the canonical CBOR codec;
 * - `crypto/`: the only module that touches cryptographic libraries;
 * - `math/`: GF(2^16), Shamir sharing, quantization, mask arithmetic, member sets;
 * - `graph/`: neighbour graphs and the SecAgg+ parameters;
 * - `federation/`: the roster, sessions, the leader schedule, member signatures;
 * - `wire/`: the frame envelope and every message's fields;
 * - `certificate/`: approvals, the leader's certificate, final certificates;
 * - `round/`: the stages, the participant, the leader, the publication and the endpoint;
 * - `dp/`: distributed differential privacy (sampler, rotation, rounding, accountant, planner);
 * - `robust/`: robust rules over group means (median, trimmed mean, multi-Krum, Bulyan, geometric
 *   median, norm filter).
 *
 * A driver runs one {@link Endpoint} per member: it hands it frames, local input and time, and
 * performs the {@link Output}s it returns (sends, broadcasts, events) in order.
 *
 * @module
 */

// The federation.
export {
  createRoster,
  DEFAULT_CLIP,
  DEFAULT_STAGE_TIMEOUT_MS,
  defaultRoundDeadlineMs,
  defaultTimeouts,
  MAX_ADDRESSES,
  MAX_DIM,
  MAX_MEMBERS,
  MAX_NAME_LENGTH,
  type Member,
  type Mode,
  type Roster,
  type RosterSettings,
  shareThreshold,
  vectorLength,
  viewPatienceMs,
} from "./federation/roster.ts";
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
} from "./federation/layout.ts";
export { approveRoster, verifyRosterApproval } from "./federation/roster_approval.ts";
export {
  AMENDABLE_PARAMETERS,
  type AmendableParameter,
  type Amendment,
  amendmentPayload,
  type AmendmentTally,
  applyAmendment,
  type Change,
  genesisVersion,
  joiningMembers,
  MAX_CHANGES,
  type ProposedVersion,
  proposeVersion,
  type RosterVersion,
  settingsOf,
  signAmendment,
  type SignedAmendment,
  successorDecision,
  tallyAmendment,
  type VerifiedAmendment,
  verifyAmendment,
  versionHash,
} from "./federation/amendment.ts";
export {
  admittedMembers,
  type CandidateVersion,
  type ForkEvidence,
  type RefusedAmendment,
  type RosterChain,
  versionAt,
  walkChain,
} from "./federation/roster_chain.ts";
export { leaderOf, leaderOrder } from "./federation/schedule.ts";
export { MAX_ROUND, type Session, sessionOf } from "./federation/session.ts";
export { MemberSigner, type Signature } from "./federation/signer.ts";

// Neighbour graphs.
export type { CommitteeSettings, GraphSettings, NeighbourGraph } from "./graph/graphs.ts";
export {
  approvalCommittee,
  approvalQuorum,
  type CommitteeBoundSettings,
  type CommitteeParameters,
  committeeParameters,
} from "./graph/committee.ts";
export type { GraphRound } from "./graph/session_graph.ts";
export {
  checkedGroupPlan,
  type GroupPlan,
  type GroupSettings,
  groupThreshold,
  type Partition,
  type PartitionRound,
  partitionSeed,
  SAFE_GROUP_SIZE,
} from "./graph/groups.ts";
export { type RoundGroups, roundGroups } from "./federation/round_groups.ts";
export {
  type CertifiedGroupSums,
  groupBodyLength,
  type GroupSum,
  isGroupBodyLength,
} from "./certificate/group_sums.ts";
export {
  type GroupInput,
  groupMean,
  type RobustOutcome,
  robustOutcome,
  robustResultHash,
  storedRobustOutcome,
} from "./certificate/robust_result.ts";
export {
  defaultHararyThreshold,
  defaultThreshold,
  type SecAggPlusBounds,
  secAggPlusGraph,
  type SecAggPlusParameters,
  secAggPlusParameters,
  type SecAggPlusSettings,
} from "./graph/secagg_plus.ts";

// Distributed differential privacy: planning, a roster's parameters, the mechanism in a round.
export type { Rational } from "./dp/discrete_gaussian.ts";
export {
  type DpMechanism,
  type DpParameters,
  dpParameters,
  type DpSettings,
  localVarianceSteps,
} from "./dp/parameters.ts";
export {
  decodeDpSum,
  type DpAggregate,
  dpMemberSeed,
  dpRotationKey,
  type DpUpdate,
  encodeDpUpdate,
  signedSteps,
  type WrapEvidence,
  wrapEvidence,
} from "./dp/mechanism.ts";
export { zcdpToEpsilon } from "./dp/accountant.ts";
export { budgetRefusal, type DpSpend, dpSpend } from "./dp/budget.ts";
export { aggregateMean, type DpGuarantee, dpGuarantee, dpRoundUpdate } from "./round/dp_round.ts";
export {
  DP_PLAN_DEFAULTS,
  type DpPlan,
  type DpPlanSettings,
  type DpPlanWarning,
  planDistributedDp,
  WRAP_WARNING_LEVEL,
} from "./dp/plan.ts";

// Robust rules over group means (pure functions; the group-wise rounds that use them are apart).
export {
  combine,
  type CombineResult,
  decodeRobustRule,
  describeRobustRule,
  minimumGroups,
  type NormFilter,
  parseRobustRule,
  type RobustRule,
  type RobustRuleKind,
  robustRuleValue,
  tolerates,
} from "./robust/mod.ts";

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
} from "./math/quantize.ts";
export { inlineExpander, type MaskExpander, type MaskTerm } from "./math/masking.ts";
export type { MemberSet } from "./math/member_set.ts";

// The round.
export {
  type CertificateInterest,
  Endpoint,
  type EndpointConfig,
  MAX_LEADERS,
  type RestorePlan,
  type Resumption,
  ROUND_WINDOW,
  VIEW_WINDOW,
} from "./round/endpoint.ts";
export {
  ChainEndpoint,
  type ChainEndpointConfig,
  type ChainRestoreState,
} from "./round/chain_endpoint.ts";
export type { Output, ProtocolEvent, PublishedBody } from "./round/events.ts";
export type { Leader } from "./round/leader.ts";
export type { Participant } from "./round/participant.ts";
export type { Commitment, Publication, PublicationConfig } from "./round/publication.ts";
export type { Observer, ObserverOptions } from "./round/observer.ts";
export { readUnmaskRecord, type UnmaskRecord } from "./round/unmask_record.ts";
export type { PairAttachment } from "./round/pair_terms.ts";
export {
  abandonQuorum,
  abandonSigners,
  corruptTolerance,
  RoundLeaves,
  syncThreshold,
} from "./round/leave_evidence.ts";
export {
  INQUIRY_ATTEMPTS,
  inquiryBackoffMs,
  type InquiryConfig,
  OutcomeInquiry,
} from "./round/outcome_inquiry.ts";
export {
  type ExchangeStage,
  type LeaderStage,
  type Stage,
  STAGES,
  type Transition,
  TRANSITIONS,
} from "./round/stages.ts";
export { type Envelope, maxFrameSize, type MessageType } from "./wire/frame.ts";

// Certificates.
export {
  splitFinalCertificate,
  type VerifiedCertificate,
  verifyFinalCertificate,
} from "./certificate/final.ts";
export {
  verifyFinalCertificateInChain,
  type VersionedCertificate,
} from "./certificate/chain_verification.ts";

// Errors.
export {
  CallerError,
  type CallerErrorCode,
  ConfigError,
  ProtocolError,
  type RefusalCode,
} from "./errors.ts";

// Randomness, the mask kernel and the few crypto facts drivers need.
export {
  applyMasks,
  constantTimeEqual,
  labelledRng,
  ML_DSA65_PUBLIC_KEY_LENGTH,
  PRG_BLOCK_WORDS,
  type Rng,
  seededRng,
  systemRng,
} from "./crypto/mod.ts";

// Bytes and the canonical codec (the node frames its gossip with it).
export {
  bytesToU32,
  equalBytes,
  fromBase64,
  fromHex,
  toBase64,
  toHex,
  u32Bytes,
  wipe,
} from "./encoding/bytes.ts";
export { decode, encode, type Value } from "./encoding/codec.ts";

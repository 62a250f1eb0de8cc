/**
 * fedagg: peer-to-peer secure aggregation for federated learning.
 *
 * As a library this module exposes the sans-IO protocol core: build a roster, run members'
 * {@link Endpoint}s, quantize updates and verify final certificates offline. Run as a program
 * (`deno run mod.ts <command>` or the compiled `fedagg` binary) it is the node's command line:
 * see `fedagg --help`.
 *
 * @module
 */
export { type VerifiedCertificate, verifyFinalCertificate } from "./protocol/certificate/final.ts";
export {
  type CertificateInterest,
  Endpoint,
  type EndpointConfig,
} from "./protocol/round/endpoint.ts";
export { CallerError, ConfigError, ProtocolError, type RefusalCode } from "./protocol/errors.ts";
export type { Output, ProtocolEvent } from "./protocol/round/events.ts";
export type { Stage } from "./protocol/round/stages.ts";
export {
  defaultHararyThreshold,
  defaultThreshold,
  type SecAggPlusBounds,
  secAggPlusGraph,
  type SecAggPlusParameters,
  secAggPlusParameters,
  type SecAggPlusSettings,
} from "./protocol/graph/secagg_plus.ts";
export type { Leader } from "./protocol/round/leader.ts";
export type { LeaderStage } from "./protocol/round/stages.ts";
export { inlineExpander, type MaskExpander } from "./protocol/math/masking.ts";
export type { MemberSet } from "./protocol/math/member_set.ts";
export type { Envelope, MessageType } from "./protocol/wire/frame.ts";
export type { Participant } from "./protocol/round/participant.ts";
export {
  dequantizeMean,
  dequantizeSum,
  type QuantizationParameters,
  quantizationParameters,
  type QuantizationSettings,
  quantize,
} from "./protocol/math/quantize.ts";
export {
  createRoster,
  type Member,
  type Mode,
  type Roster,
  type RosterSettings,
} from "./protocol/federation/roster.ts";
export { type GraphSettings } from "./protocol/graph/graphs.ts";
export { approveRoster, verifyRosterApproval } from "./protocol/federation/roster_approval.ts";
export { leaderOf } from "./protocol/federation/schedule.ts";
export type { Session } from "./protocol/federation/session.ts";
export { MemberSigner, type Signature } from "./protocol/federation/signer.ts";
export { type MaskTerm, type Rng, systemRng } from "./protocol/crypto/mod.ts";

if (import.meta.main) {
  const { main } = await import("./node/cli/mod.ts");
  Deno.exit(await main(Deno.args));
}

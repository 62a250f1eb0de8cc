/**
 * fedagg: peer-to-peer secure aggregation for federated learning.
 *
 * As a library this module exposes the sans-IO protocol core: build a roster, run members'
 * {@link Endpoint}s, quantize updates, simulate whole rounds in memory and verify final
 * certificates offline. Run as a program (`deno run mod.ts <command>` or the compiled `fedagg`
 * binary) it is the node's command line: see `fedagg --help`. `docs/architecture.md` maps the
 * code; `docs/protocol.md` is the specification.
 *
 * @example Make a roster: every member's long-term keys, the parameters, and its hash
 * ```ts
 * import { createRoster, MemberSigner, systemRng } from "./mod.ts";
 *
 * const signers = await Promise.all(
 *   ["hospital-a", "hospital-b", "lab-c"].map(() => MemberSigner.fromSeeds(systemRng(32))),
 * );
 * const roster = createRoster({
 *   federation: "example",
 *   members: signers.map((s, i) => ({ id: `member-${i}`, signingKey: s.signingKey })),
 *   dim: 4,
 *   maxWeight: 100,
 * });
 * if (roster.threshold !== 3) throw new Error("t = ⌊2n/3⌋ + 1 = 3 for three members");
 * ```
 *
 * @example Run a simulated round: three endpoints on the in-memory network, one update each
 * ```ts
 * import {
 *   dequantizeMean,
 *   Endpoint,
 *   inlineExpander,
 *   labelledRng,
 *   quantize,
 *   SimNetwork,
 *   simulatedFederation,
 * } from "./mod.ts";
 *
 * const { roster, signers } = await simulatedFederation({ nodes: 3, dim: 2, seed: 1 });
 * const endpoints = signers.map((signer, self) =>
 *   new Endpoint({ roster, self, signer, rng: labelledRng("ex", self), expander: inlineExpander })
 * );
 * const net = new SimNetwork(roster, endpoints);
 * const updates = [[0.5, -0.5], [0.25, 0], [0, 0.5]];
 * for (const [i, e] of endpoints.entries()) {
 *   const q = quantize(new Float32Array(updates[i]), 1, roster.quantization, labelledRng("q", i));
 *   await net.call(i, () => e.submit(0, q, net.now));
 * }
 * await net.run({ until: () => net.events("final").length === 3 });
 * const [final] = net.events("final");
 * const mean = dequantizeMean(final.aggregate, roster.quantization, final.members.length);
 * if (Math.abs(mean[0] - 0.25) > roster.quantization.errorBound) throw new Error("not the mean");
 * ```
 *
 * @example Verify a final certificate offline, as `fedagg verify` does, and refuse a forged body
 * ```ts
 * import {
 *   Endpoint,
 *   inlineExpander,
 *   labelledRng,
 *   ProtocolError,
 *   quantize,
 *   SimNetwork,
 *   simulatedFederation,
 *   verifyFinalCertificate,
 * } from "./mod.ts";
 *
 * const { roster, signers } = await simulatedFederation({ nodes: 4, dim: 3, seed: 2 });
 * const endpoints = signers.map((signer, self) =>
 *   new Endpoint({ roster, self, signer, rng: labelledRng("v", self), expander: inlineExpander })
 * );
 * const net = new SimNetwork(roster, endpoints);
 * for (const [i, e] of endpoints.entries()) {
 *   const q = quantize(new Float32Array([0.1, 0.2, 0.3]), 1 + i, roster.quantization, labelledRng("w", i));
 *   await net.call(i, () => e.submit(7, q, net.now));
 * }
 * await net.run({ until: () => net.events("final").length === 4 });
 * const [final] = net.events("final");
 * const body = new Uint8Array(final.aggregate.buffer);
 * const verified = await verifyFinalCertificate(roster, final.certificate, body);
 * if (verified.cosigners.length < roster.threshold) throw new Error("not final");
 * const forged = body.slice();
 * forged[0] ^= 1;
 * const refusal = await verifyFinalCertificate(roster, final.certificate, forged).catch((e) => e);
 * if (!(refusal instanceof ProtocolError)) throw new Error("a forged body passed");
 * ```
 *
 * @module
 */

// The federation: members, parameters, signatures.
export {
  createRoster,
  DEFAULT_STAGE_TIMEOUT_MS,
  defaultTimeouts,
  type Member,
  type Mode,
  type Roster,
  type RosterSettings,
} from "./protocol/federation/roster.ts";
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
  dequantizeMean,
  dequantizeSum,
  type QuantizationParameters,
  quantizationParameters,
  type QuantizationSettings,
  quantize,
} from "./protocol/math/quantize.ts";
export { inlineExpander, type MaskExpander } from "./protocol/math/masking.ts";
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

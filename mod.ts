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
export { type VerifiedCertificate, verifyFinalCertificate } from "./protocol/certificate.ts";
export { Endpoint, type EndpointConfig } from "./protocol/endpoint.ts";
export { CallerError, ConfigError, ProtocolError, type RefusalCode } from "./protocol/errors.ts";
export type { Output, ProtocolEvent, Stage } from "./protocol/events.ts";
export { secAggPlusParameters } from "./protocol/graph.ts";
export { inlineExpander, type MaskExpander } from "./protocol/masking.ts";
export {
  dequantizeMean,
  dequantizeSum,
  quantizationParameters,
  quantize,
} from "./protocol/quantize.ts";
export { createRoster, type Roster, type RosterSettings } from "./protocol/roster.ts";
export { leaderOf } from "./protocol/schedule.ts";
export { MemberSigner } from "./protocol/signer.ts";
export { systemRng } from "./protocol/crypto/mod.ts";

if (import.meta.main) {
  const { main } = await import("./node/cli.ts");
  Deno.exit(await main(Deno.args));
}

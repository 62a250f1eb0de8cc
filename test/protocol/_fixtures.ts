/**
 * Fixtures shared by the protocol tests and by both of their network drivers (`_harness.ts`, the
 * machine-level networks, and `_federation.ts`, the scripted attacks): labelled deterministic
 * rngs, federations (signers and a roster), member choice, machine configurations, quantized
 * inputs and their plaintext sums, events and refusals among outputs, and offline verification of
 * final certificates.
 *
 * Nothing here is random: every key and input comes from `labelledRng` (the core's seeded rng).
 *
 * @module
 */
import { assertEquals, assertThrows } from "../_assert.ts";
import {
  type VerifiedCertificate,
  verifyFinalCertificate,
} from "../../protocol/certificate/final.ts";
import { decode } from "../../protocol/encoding/codec.ts";
import { labelledRng, type Rng } from "../../protocol/crypto/mod.ts";
import type { EndpointConfig } from "../../protocol/round/endpoint.ts";
import { ProtocolError, type RefusalCode } from "../../protocol/errors.ts";
import type { Output, ProtocolEvent } from "../../protocol/round/events.ts";
import type { EventOf } from "../../protocol/sim/mod.ts";
import { inlineExpander, type MaskExpander } from "../../protocol/math/masking.ts";
import { quantize } from "../../protocol/math/quantize.ts";
import {
  createRoster,
  type Member,
  type Roster,
  type RosterSettings,
} from "../../protocol/federation/roster.ts";
import { advertiseKeysFields } from "../../protocol/wire/messages.ts";
import { sealFrame } from "../../protocol/wire/frame.ts";
import { RoundKeys } from "../../protocol/round/keys.ts";
import { leaderOf } from "../../protocol/federation/schedule.ts";
import { sessionHash, sessionOf } from "../../protocol/federation/session.ts";
import { MemberSigner } from "../../protocol/federation/signer.ts";
import { genesisVersion, proposeVersion } from "../../protocol/federation/amendment.ts";

// -------------------------------------------------------------------------------------------------
// Deterministic randomness.

export { labelledRng };

/** A deterministic rng for `label`, in the tests' domain `fedagg-test`. */
export function rngFor(...label: (string | number)[]): Rng {
  return labelledRng("fedagg-test", ...label);
}

/** A number in [0, bound) from the next four bytes of `rng` (big-endian, reduced mod bound). */
export function below(rng: Rng, bound: number): number {
  return new DataView(rng(4).buffer).getUint32(0) % bound;
}

// -------------------------------------------------------------------------------------------------
// Federations and members.

/** Options of {@link federation}: roster settings minus the members, plus their count. */
export type FederationOptions =
  & Partial<Omit<RosterSettings, "members">>
  & { readonly n: number; readonly seed?: string };

/** A federation's signers (index = roster index) and its roster. */
export interface Federation {
  readonly roster: Roster;
  readonly signers: readonly MemberSigner[];
}

const signerCache = new Map<string, MemberSigner>();

/** Signers for `n` members and a roster over them (ids `m-000`, … so roster order = creation). */
export async function federation(options: FederationOptions): Promise<Federation> {
  const pq = options.mode === "post-quantum";
  const signers: MemberSigner[] = [];
  const members: Member[] = [];
  for (let i = 0; i < options.n; i++) {
    const key = `${options.seed ?? "fed"}/${i}/${pq}`;
    let signer = signerCache.get(key);
    if (signer === undefined) {
      const rng = rngFor("identity", key);
      signer = await MemberSigner.fromSeeds(rng(32), pq ? rng(32) : undefined);
      signerCache.set(key, signer);
    }
    signers.push(signer);
    members.push({
      id: `m-${String(i).padStart(3, "0")}`,
      signingKey: signer.signingKey,
      pqSigningKey: signer.pqSigningKey,
    });
  }
  const roster = createRoster({
    federation: "test",
    dim: 8,
    // Pinned (not the library default): the roster hash, hence the leader schedule, that the
    // tests' expectations were written for.
    clip: 1,
    maxWeight: 10,
    stageTimeoutMs: 1000,
    advertiseTimeoutMs: 1000,
    viewTimeoutMs: 3000,
    ...options,
    members,
  });
  return { roster, signers };
}

/**
 * A roster chain: three members (`fed4`'s first three) in version 0, and version 1 adding a fourth
 * (`fed4`'s last) from round `firstRound`. Slots and version-1 indices are `fed4`'s indices.
 */
export async function joinChain(firstRound: number) {
  const fed3 = await federation({ n: 3 });
  const fed4 = await federation({ n: 4 });
  const v0 = genesisVersion(fed3.roster);
  const v1 = proposeVersion(v0, {
    previous: v0.hash,
    version: 1,
    firstRound,
    changes: [{ kind: "add", member: fed4.roster.members[3] }],
  }).next;
  return { fed4, v0, v1 };
}

/** A genuine AdvertiseKeys frame of `sender` for (round, view): fresh keys, signed as the roster says. */
export async function genuineAdvert(
  fed: Federation,
  sender: number,
  round: number,
  view: number,
): Promise<Uint8Array> {
  const session = sessionOf(fed.roster, round, view);
  const keys = await RoundKeys.generate(
    fed.roster.mode,
    sessionHash(session),
    sender,
    rngFor("ep/advert", round, view, sender),
  );
  return await sealFrame(
    "advertiseKeys",
    session,
    sender,
    advertiseKeysFields(keys.advertise),
    fed.signers[sender],
    fed.roster.mode,
  );
}

/** Every member of `fed`'s roster but those in `except`, ascending. */
export function all(fed: { readonly roster: Roster }, except: readonly number[] = []): number[] {
  return fed.roster.members.map((_, i) => i).filter((i) => !except.includes(i));
}

/** A member that leads none of the given views of `round` (and is not in `avoid`). */
export function follower(
  roster: Roster,
  round: number,
  views: readonly number[] = [0, 1],
  avoid: readonly number[] = [],
): number {
  const leaders = new Set(views.map((v) => leaderOf(roster, round, v)));
  const i = roster.members.findIndex((_, i) => !leaders.has(i) && !avoid.includes(i));
  if (i < 0) throw new Error("no follower available");
  return i;
}

/** The configuration of member `self`'s machines (endpoint, participant or leader). */
export function machineConfig(
  fed: Federation,
  self: number,
  rng: Rng,
  expander: MaskExpander = inlineExpander,
): EndpointConfig {
  return { roster: fed.roster, self, signer: fed.signers[self], rng, expander };
}

// -------------------------------------------------------------------------------------------------
// Inputs.

/**
 * A quantized input (length d + 1): d values drawn by `rng` uniformly from ±`spread`·clip (a
 * spread above 1 exercises clipping), with weight `weight` (default: drawn by `rng` next, in
 * [1, maxWeight]), stochastically rounded by `rounding`.
 */
export function quantizedInput(
  roster: Roster,
  rng: Rng,
  rounding: Rng,
  options: { readonly spread?: number; readonly weight?: number } = {},
): Uint32Array {
  const q = roster.quantization;
  const spread = options.spread ?? 1;
  const raw = new Uint32Array(rng(4 * roster.dim).buffer);
  const x = new Float32Array(roster.dim);
  for (let j = 0; j < x.length; j++) x[j] = (raw[j] / 2 ** 32 * 2 * spread - spread) * q.clip;
  const weight = options.weight ?? 1 + below(rng, q.maxWeight);
  return quantize(x, weight, q, rounding);
}

/** Quantized inputs (length d + 1) of every member for `round`, with weights in [1, maxWeight]. */
export function inputsFor(roster: Roster, round: number, label = "input"): Uint32Array[] {
  return roster.members.map((_, i) =>
    quantizedInput(roster, rngFor(label, round, i), rngFor(label, "rounding", round, i))
  );
}

/** The plaintext sum (mod 2^32) of the inputs of `members`. */
export function plainSum(inputs: readonly Uint32Array[], members: readonly number[]): Uint32Array {
  const sum = new Uint32Array(inputs[0].length);
  for (const m of members) for (let j = 0; j < sum.length; j++) sum[j] = sum[j] + inputs[m][j];
  return sum;
}

// -------------------------------------------------------------------------------------------------
// Events, refusals and final certificates.

/** A `final` event: the outcome of a round at one member. */
export type Final = EventOf<"final">;

/** The events among `outputs`. */
export function eventsOf(outputs: readonly Output[]): ProtocolEvent[] {
  return outputs.flatMap((o) => (o.kind === "event" ? [o.event] : []));
}

/** The refusal errors among `events`. */
export function refusalsIn(events: readonly ProtocolEvent[]): ProtocolError[] {
  return events.flatMap((e) => (e.type === "refused" ? [e.error] : []));
}

/**
 * Asserts `events` contain exactly one refusal and that it has `code` (and `peer` when given);
 * returns it.
 */
export function assertRefused(
  events: readonly ProtocolEvent[],
  code: RefusalCode,
  peer?: number,
): ProtocolError {
  const refused = refusalsIn(events);
  assertEquals(
    refused.map((e) => e.code),
    [code],
    `refusals: ${refused.map((e) => e.message).join(" | ") || "none"}`,
  );
  if (peer !== undefined) assertEquals(refused[0].peer, peer, refused[0].message);
  return refused[0];
}

/**
 * Asserts that `fn` throws a {@link ProtocolError} with `code` and returns it. `peer` is the
 * roster index the error must name, `null` that it must name none; omitted, it is not checked.
 */
export function assertThrowsRefusal(
  fn: () => unknown,
  code: RefusalCode,
  peer?: number | null,
): ProtocolError {
  const e = assertThrows(fn, ProtocolError) as ProtocolError;
  assertEquals(e.code, code, e.message);
  if (peer !== undefined) assertEquals(e.peer, peer ?? undefined, e.message);
  return e;
}

/** A byte view of a `Uint32Array` (an aggregate as the body it is certified as). */
export function u8(v: Uint32Array): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** Verifies a final event's certificate offline, against the event's own aggregate. */
export function verifyFinal(roster: Roster, final: Final): Promise<VerifiedCertificate> {
  return verifyFinalCertificate(roster, final.certificate, u8(final.aggregate));
}

/**
 * The parts of a final event's certificate, decoded without checks: its tag, the leader's
 * certificate frame (without the aggregate body) and the co-signature frames.
 */
export function finalParts(
  final: Final,
): { tag: string; certificate: Uint8Array; cosigns: Uint8Array[] } {
  const [tag, certificate, cosigns] = decode(final.certificate, 1 << 26, "final certificate") as [
    string,
    Uint8Array,
    Uint8Array[],
  ];
  return { tag, certificate, cosigns };
}

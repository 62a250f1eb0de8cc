/**
 * Shared pieces of the adversarial tests in this folder: scripted attacks on the round protocol
 * (forged, replayed, misdirected, malformed and equivocating messages, a lying leader, cheating
 * members, tampered deliveries and view changes), one file an attack family. Every attack must
 * be refused with a named {@link RefusalCode} (and the culprit's roster index where one is
 * meaningful), must never make an endpoint throw, must not leak secret material into event
 * text (each test runs in a {@link scenario}, which checks this), and — where the protocol
 * promises it — the round must still end with the exact aggregate of the certified members'
 * inputs.
 *
 * The federation is driven by hand through `_federation.ts`: real endpoints, a FIFO network on
 * a virtual clock, and hooks to hold, rewrite, drop or inject frames; forged and replayed frames
 * come from the frame surgery of `_frames.ts`.
 *
 * @module
 */
import { assertEquals } from "../../_assert.ts";
import type { Value } from "../../../protocol/encoding/codec.ts";
import type { RefusalCode } from "../../../protocol/errors.ts";
import { readCertificate } from "../../../protocol/wire/messages.ts";
import { type MessageType, openFrame } from "../../../protocol/wire/frame.ts";
import { Federation, type FederationOptions } from "../_federation.ts";
import { type Final, finalParts } from "../_fixtures.ts";
import { peekSender, reseal, type Wire } from "../_frames.ts";

/** The usual federation: five members (t = 4), short vectors. */
export const SMALL: FederationOptions = { n: 5, dim: 16 };
/** Room for two misbehaving or absent members above t = 5. */
export const SEVEN: FederationOptions = { n: 7, dim: 16 };
/** Both signature modes, for attacks that must be refused alike in each. */
export const MODES = [
  { name: "classical", pq: false },
  { name: "post-quantum", pq: true },
] as const;

/** Runs `body` on a fresh federation, then checks that no event text leaked a secret. */
export async function scenario(
  options: FederationOptions,
  body: (fed: Federation) => Promise<void>,
): Promise<void> {
  const fed = await Federation.create(options);
  try {
    await body(fed);
    fed.assertNoLeaks();
  } finally {
    fed.close();
  }
}

/** `[member, code, peer]` of every refusal, for compact comparisons. */
export function refusalTriples(fed: Federation, member?: number): [number, RefusalCode, number?][] {
  return fed.refusals(member).map((r) => [r.member, r.error.code, r.error.peer]);
}

/** The certificate inside a final event, parsed. */
export function certificateOf(fed: Federation, final: Final) {
  const { certificate, cosigns } = finalParts(final);
  const env = openFrame(certificate, fed.roster);
  return { env, certificate: readCertificate(env, fed.roster), cosigns };
}

/** Roster indices that signed the approvals a final certificate carries. */
export function approversOf(fed: Federation, final: Final): number[] {
  return certificateOf(fed, final).certificate.approvals.map(peekSender).sort((a, b) => a - b);
}

/** Asserts none of `members` sent an Unmask frame in `view` (they revealed nothing). */
export function assertRevealedNothing(fed: Federation, members: readonly number[], view = 0): void {
  for (const m of members) {
    assertEquals(fed.sent("unmask", m, view).length, 0, `member ${m} revealed shares`);
  }
}

/** Re-signs `frame` as member `signer`, with new message fields. */
export function resealBy(
  fed: Federation,
  signer: number,
  frame: Uint8Array,
  fields: (f: Value[]) => Value[],
): Promise<Uint8Array> {
  return reseal(frame, fed.signers[signer], fed.roster.mode, { fields });
}

/** A key list with `member`'s advert replaced by `replacement`, re-signed by `leader`. */
export function swapAdvert(
  fed: Federation,
  keyList: Uint8Array,
  leader: number,
  member: number,
  replacement: Uint8Array,
): Promise<Uint8Array> {
  const swap = (adverts: Value) =>
    (adverts as Uint8Array[]).map((a) => (peekSender(a) === member ? replacement : a));
  // A sparse graph's key list is [U1, adverts]; the complete graph's [adverts].
  return resealBy(fed, leader, keyList, (f) => f.length === 2 ? [f[0], swap(f[1])] : [swap(f[0])]);
}

/**
 * Has `fed` replace the first wire of `type` from member `from` by `replace(wire)` (later ones
 * pass); returns a count of the wires of that type `from` emitted so far.
 */
export function replaceFirst(
  fed: Federation,
  from: number,
  type: MessageType,
  replace: (w: Wire) => Wire[],
): () => number {
  let seen = 0;
  fed.intercept = (w) => {
    if (w.from !== from || w.type !== type || seen++ > 0) return undefined;
    return replace(w);
  };
  return () => seen;
}

/** Runs a whole round with no interference and returns its final event. */
export async function cleanRound(fed: Federation, round: number): Promise<Final> {
  await fed.submitAll(round);
  await fed.runToFinal(round);
  return await fed.assertExact(round, fed.n);
}

/**
 * Journal fixtures shared by the node tests: a genuine final round of a federation (run in
 * memory on an {@link EndpointNet}, every member submitting), in the shape
 * `Journal.recordAggregate` takes, so tests journal aggregates and certificates that verify.
 *
 * @module
 */
import { EndpointNet } from "../protocol/_harness.ts";
import { type Federation, inputsFor } from "../protocol/_fixtures.ts";

/** A final round's record: what the node journals for it. */
export interface FinalRecord {
  readonly round: number;
  readonly view: number;
  readonly members: readonly number[];
  readonly aggregate: Uint32Array;
  /** The leader's certificate frame without its body. */
  readonly certificate: Uint8Array;
  /** The encoded final certificate. */
  readonly final: Uint8Array;
}

/** Runs `round` of `fed` to its final certificate in memory; fails if it does not finish. */
export async function finalRound(fed: Federation, round: number): Promise<FinalRecord> {
  const net = new EndpointNet(fed);
  // The round before was decided: `round` is the federation's current round for every member.
  for (const e of net.endpoints) e.restore({ decided: round - 1 });
  try {
    await net.submit(round, inputsFor(fed.roster, round));
    await net.deliver();
    const final = net.events("final")[0];
    if (final === undefined) throw new Error(`round ${round} did not become final`);
    return {
      round,
      view: final.view,
      members: final.members,
      aggregate: final.aggregate,
      certificate: final.leaderCertificate,
      final: final.certificate,
    };
  } finally {
    net.close();
  }
}

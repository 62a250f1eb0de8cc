/**
 * The scripted driver of the adversarial protocol tests: a federation of real {@link Endpoint}s
 * (identities and roster from the simulator's `simulatedFederation`) on the protocol's in-memory
 * network (`protocol/sim/network.ts`, strict: an endpoint that throws or reports an
 * `internal-error` fails the test), with its hooks to intercept, hold, modify, drop or inject
 * frames between members. It adds what attacks need to check: every byte an endpoint's rng
 * produced is recorded, so that tests can check no refusal text leaks secret material; inputs,
 * plaintext sums and final-certificate checks are `_fixtures.ts`'s, shared with `_harness.ts`;
 * forged or replayed frames are built with the frame surgery of `_frames.ts`.
 *
 * @module
 */
import { assert, assertEquals, assertGreaterOrEqual } from "../_assert.ts";
import { toHex } from "../../protocol/encoding/bytes.ts";
import type { Rng } from "../../protocol/crypto/mod.ts";
import { Endpoint } from "../../protocol/round/endpoint.ts";
import { ProtocolError } from "../../protocol/errors.ts";
import type { ProtocolEvent } from "../../protocol/round/events.ts";
import { openFrame } from "../../protocol/wire/frame.ts";
import { readAdvertiseKeys, readUnmask } from "../../protocol/wire/messages.ts";
import { createRoster, type Roster } from "../../protocol/federation/roster.ts";
import type { GroupSettings } from "../../protocol/graph/groups.ts";
import type { RobustRule } from "../../protocol/robust/rule.ts";
import { RoundKeys } from "../../protocol/round/keys.ts";
import { leaderOf } from "../../protocol/federation/schedule.ts";
import { type Session, sessionHash, sessionOf } from "../../protocol/federation/session.ts";
import type { MemberSigner } from "../../protocol/federation/signer.ts";
import { simulatedFederation } from "../../protocol/sim/mod.ts";
import {
  all,
  type Federation as Members,
  type Final,
  labelledRng,
  machineConfig,
  plainSum,
  quantizedInput,
  u8,
  verifyFinal,
} from "./_fixtures.ts";
import { SimNetwork } from "../../protocol/sim/mod.ts";

/** Federation settings. */
export interface FederationOptions {
  readonly n: number;
  readonly dim: number;
  readonly pq?: boolean;
  readonly seed?: number;
  /** Overrides the default threshold ⌊2n/3⌋ + 1. */
  readonly threshold?: number;
  /** Overrides the simulator's federation name ("sim"). */
  readonly federation?: string;
  /** A Harary graph of this degree (SecAgg+), with threshold ⌊(k + 1)/2⌋ + 1. */
  readonly degree?: number;
  /** With `degree`: an approval committee of this size and quorum (`graph/committee.ts`). */
  readonly committee?: { readonly size: number; readonly quorum: number };
  /** Overrides the default round deadline. */
  readonly roundDeadlineMs?: number;
  /** Group-wise aggregation (`protocol/graph/groups.ts`). */
  readonly groups?: GroupSettings;
  /** The robust rule over the group means (needs `groups`). */
  readonly robust?: RobustRule;
}

/**
 * The driver's deterministic rng for `labels` under federation seed `seed` (its own domain
 * `fedagg-adv`, unlike `_fixtures.ts`'s `rngFor`).
 */
function adversaryRng(seed: number, ...labels: (string | number)[]): Rng {
  return labelledRng("fedagg-adv", seed, ...labels);
}

/** The identities and roster of a federation (the simulator's, with optional overrides). */
export async function federationRoster(options: FederationOptions): Promise<Members> {
  const seed = options.seed ?? 1;
  const base = await simulatedFederation({
    nodes: options.n,
    dim: options.dim,
    seed,
    pq: options.pq ?? false,
    graph: options.degree === undefined ? "complete" : "sparse",
    degree: options.degree,
    dropout: 0,
    ...(options.groups === undefined ? {} : { groups: options.groups }),
    ...(options.robust === undefined ? {} : { robust: options.robust }),
  });
  if (
    options.threshold === undefined && options.federation === undefined &&
    options.roundDeadlineMs === undefined && options.committee === undefined
  ) return base;
  const r = base.roster;
  const roster = createRoster({
    federation: options.federation ?? r.federation,
    members: r.members,
    mode: r.mode,
    dim: r.dim,
    clip: r.quantization.clip,
    maxWeight: r.quantization.maxWeight,
    threshold: options.threshold ?? r.threshold,
    graph: options.committee === undefined || r.graph.kind !== "harary"
      ? r.graph
      : { ...r.graph, committee: options.committee },
    ...(r.groups === undefined ? {} : { groups: r.groups }),
    ...(r.robust === undefined ? {} : { robust: r.robust }),
    stageTimeoutMs: r.stageTimeoutMs,
    advertiseTimeoutMs: r.advertiseTimeoutMs,
    viewTimeoutMs: r.viewTimeoutMs,
    roundDeadlineMs: options.roundDeadlineMs ?? r.roundDeadlineMs,
  });
  return { roster, signers: base.signers };
}

/** A scripted federation of real endpoints. */
export class Federation extends SimNetwork implements Members {
  readonly signers: readonly MemberSigner[];
  readonly endpoints: readonly Endpoint[];
  readonly seed: number;
  /** Every byte string the members' rngs produced (their ephemeral secrets). */
  readonly secrets: Uint8Array[] = [];
  readonly #inputs = new Map<number, Uint32Array[]>();

  private constructor(roster: Roster, signers: readonly MemberSigner[], seed: number) {
    const secrets: Uint8Array[] = [];
    const endpoints = signers.map((_, self) => {
      const inner = adversaryRng(seed, "member", self);
      const rng: Rng = (length) => {
        const bytes = inner(length);
        secrets.push(bytes.slice());
        return bytes;
      };
      return new Endpoint(machineConfig({ roster, signers }, self, rng));
    });
    super(roster, endpoints, { strict: true });
    this.signers = signers;
    this.seed = seed;
    this.endpoints = endpoints;
    this.secrets = secrets;
  }

  /** Builds a federation. */
  static async create(options: FederationOptions): Promise<Federation> {
    const { roster, signers } = await federationRoster(options);
    return new Federation(roster, signers, options.seed ?? 1);
  }

  /** The session of (`round`, `view`). */
  session(round: number, view = 0): Session {
    return sessionOf(this.roster, round, view);
  }

  /** The scheduled leader of (`round`, `view`). */
  leader(round: number, view = 0): number {
    return leaderOf(this.roster, round, view);
  }

  /** The first `count` members other than the ones in `except`, ascending. */
  others(except: readonly number[], count = this.n): number[] {
    return all(this, except).slice(0, count);
  }

  /**
   * Every member's quantized input for `round` (length d + 1; seeded, values up to 1.1 · clip so
   * that some are clipped, weight 1 + i mod 7).
   */
  inputs(round: number): readonly Uint32Array[] {
    let list = this.#inputs.get(round);
    if (list === undefined) {
      const maxWeight = this.roster.quantization.maxWeight;
      list = [...Array(this.n).keys()].map((m) =>
        quantizedInput(
          this.roster,
          adversaryRng(this.seed, "input", round, m),
          adversaryRng(this.seed, "rounding", round, m),
          { spread: 1.1, weight: Math.min(1 + (m % 7), maxWeight) },
        )
      );
      this.#inputs.set(round, list);
    }
    return list;
  }

  /** Member `i`'s quantized input for `round` (see {@link inputs}). */
  input(round: number, i: number): Uint32Array {
    return this.inputs(round)[i];
  }

  /** The plaintext sum (mod 2^32) of `members`' quantized inputs for `round`. */
  expectedSum(round: number, members: readonly number[]): Uint32Array {
    return plainSum(this.inputs(round), members);
  }

  // ---------------------------------------------------------------------------------------------
  // Driving.

  /** Every living member (or `members`) submits its input for `round` in `view`. */
  async submitAll(round: number, members?: readonly number[], view = 0): Promise<void> {
    for (const i of members ?? [...Array(this.n).keys()]) {
      await this.call(
        i,
        () => this.endpoints[i].submit(round, this.input(round, i).slice(), this.now, view),
      );
    }
  }

  /** Runs until every living member in `members` (default: all) reported `final` for `round`. */
  async runToFinal(round: number, members?: readonly number[]): Promise<void> {
    const who = members ?? [...Array(this.n).keys()];
    await this.run({
      until: () => who.every((i) => this.dead.has(i) || this.final(round, i) !== undefined),
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Inspection.

  /** Events of `member` (default: all members). */
  eventsOf(member?: number): ProtocolEvent[] {
    return this.log.filter((e) => member === undefined || e.member === member).map((e) => e.event);
  }

  /** Refusals reported by `member` (default: any member). */
  refusals(member?: number): { member: number; error: ProtocolError }[] {
    return this.events("refused", member).map((e) => ({
      member: e.member,
      error: e.error,
    }));
  }

  /**
   * The ephemeral keys of `member`'s first advert, rebuilt by replaying its rng from the start
   * and checked against the advert it sent: what an attacker who broke the member's keys would
   * hold. Call it once the member advertised; it is about its first view only.
   */
  async firstKeys(member: number): Promise<RoundKeys> {
    const advert = this.emitted.find((w) => w.from === member && w.type === "advertiseKeys");
    assert(advert !== undefined, `member ${member} advertised`);
    const keys = await RoundKeys.generate(
      this.roster.mode,
      sessionHash(advert.session),
      member,
      adversaryRng(this.seed, "member", member),
    );
    assertEquals(
      keys.advertise,
      readAdvertiseKeys(openFrame(advert.frame, this.roster), this.roster),
      `member ${member}'s replayed keys are the ones it advertised`,
    );
    return keys;
  }

  /** The first `final` event `member` reported for `round`. */
  final(round: number, member: number): Final | undefined {
    return this.events("final", member).find((e) => e.round === round);
  }

  /**
   * Asserts the round ended exactly: at least `min` members reported the same final
   * certificate, its aggregate is the plaintext sum of the certified members' inputs, and it
   * verifies offline. Returns the final event.
   */
  async assertExact(round: number, min = this.roster.threshold): Promise<Final> {
    const finals = this.events("final").filter((e) => e.round === round);
    assertGreaterOrEqual(finals.length, min, `members with a final certificate for ${round}`);
    const first = finals[0];
    for (const f of finals) {
      assertEquals(f.view, first.view);
      assertEquals([...f.members], [...first.members]);
      assertEquals(toHex(u8(f.aggregate)), toHex(u8(first.aggregate)));
    }
    assertEquals(
      toHex(u8(first.aggregate)),
      toHex(u8(this.expectedSum(round, first.members))),
      "the aggregate is the plaintext sum of the certified members' inputs",
    );
    const verified = await verifyFinal(this.roster, first);
    assertEquals([...verified.members], [...first.members]);
    // Published events agree with the final aggregate.
    for (const e of this.log) {
      if (e.event.type === "published" && e.event.round === round) {
        assertEquals(toHex(u8(e.event.aggregate)), toHex(u8(first.aggregate)));
      }
    }
    return first;
  }

  /**
   * Asserts no event text (refusal messages and details, failure reasons) carries secret
   * material: no long hex or decimal byte runs, and none of the secrets the members' rngs
   * produced or the shares they revealed, in hex or base64.
   */
  assertNoLeaks(): void {
    const secretHex: string[] = [];
    const secretB64: string[] = [];
    const addSecret = (s: Uint8Array) => {
      for (let i = 0; i + 8 <= s.length; i += 8) secretHex.push(toHex(s.subarray(i, i + 8)));
      if (s.length >= 12) secretB64.push(btoa(String.fromCharCode(...s.subarray(0, 12))));
    };
    for (const s of this.secrets) if (s.length >= 8) addSecret(s);
    for (const w of this.emitted) {
      if (w.type !== "unmask") continue;
      try {
        const u = readUnmask(openFrame(w.frame, this.roster), this.roster);
        for (const [, share] of [...u.selfShares, ...u.maskShares]) addSecret(share);
      } catch {
        // a forged unmask frame: nothing to learn
      }
    }
    for (const { event } of this.log) {
      const texts: string[] = [];
      if (event.type === "refused") {
        const err = event.error;
        assert(err instanceof ProtocolError, "refusals carry ProtocolErrors");
        texts.push(err.message, String(err.stack ?? ""));
        for (const [k, v] of Object.entries(err)) {
          assert(!(v instanceof Uint8Array), `refusal property ${k} holds bytes`);
          texts.push(String(v));
        }
      } else if (event.type === "round-failed") {
        texts.push(event.reason);
      } else if (event.type === "published" || event.type === "final") {
        continue; // certificates and aggregates are public by design
      } else {
        texts.push(JSON.stringify(event));
      }
      for (const text of texts) {
        const lower = text.toLowerCase();
        // Long hex runs (decimal numbers such as 2^53 − 1 are fine).
        for (const run of lower.match(/[0-9a-f]{16,}/g) ?? []) {
          assert(/^\d+$/.test(run), `event text carries a long hex run: ${text}`);
        }
        assert(!/(\d{1,3},){7,}\d{1,3}/.test(text), `event text carries byte lists: ${text}`);
        for (const h of secretHex) assert(!lower.includes(h), `event text leaks a secret: ${text}`);
        for (const b of secretB64) assert(!text.includes(b), `event text leaks a secret: ${text}`);
      }
    }
  }

  /** Closes every endpoint. */
  close(): void {
    for (const e of this.endpoints) e.close();
  }
}

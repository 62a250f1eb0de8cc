/**
 * A member's endpoint across roster versions: one {@link Endpoint} per version of the verified
 * chain that lists this member, each round routed to the endpoint of the version that governs
 * it (`versionAt`: the newest version whose first round is ≤ the round). A round runs under
 * exactly one version, which depends on its number alone, so a round in flight when a later
 * version takes effect finishes under its own version.
 *
 * Members are numbered by **slot** here, not by roster index: every member id any version lists
 * gets one slot, in order of first appearance (version 0's members keep their roster indices,
 * so with one version slots are roster indices). Frames come in from a slot and sends go out to
 * a slot; each is translated to the round's version's roster index, and a frame from a slot
 * that version does not list is refused (`not-member`, blaming the slot). Events keep the
 * indices of their round's version (`members` of `published` and `final`, `to` of
 * `final-asked`): a driver reads
 * them with {@link ChainEndpoint.rosterOf}.
 *
 * The federation's current round is the newest any of the endpoints knows (and, for a member
 * that joins, no less than its first version's first round): after every call each endpoint
 * learns it (`Endpoint.federationReached`), so the window of rounds taken and led moves across
 * versions. A running member adopts new versions with {@link ChainEndpoint.adopt}, which
 * refuses a version that starts within `ROUND_WINDOW` of the current round.
 *
 * @module
 */
import { CallerError, ProtocolError } from "../errors.ts";
import type { MaskExpander } from "../math/masking.ts";
import type { Rng } from "../crypto/mod.ts";
import { equalBytes } from "../encoding/bytes.ts";
import type { RosterVersion } from "../federation/amendment.ts";
import { layoutHash } from "../federation/layout.ts";
import type { Roster } from "../federation/roster.ts";
import { admittedMembers, versionAt } from "../federation/roster_chain.ts";
import type { MemberSigner } from "../federation/signer.ts";
import { frameRound } from "../wire/frame.ts";
import {
  type CertificateInterest,
  Endpoint,
  type RestorePlan,
  type Resumption,
  ROUND_WINDOW,
} from "./endpoint.ts";
import { event, type Output } from "./events.ts";
import type { Participant } from "./participant.ts";

/** What a chain endpoint needs. */
export interface ChainEndpointConfig {
  /** The verified chain, version 0 first (`walkChain`'s `versions`). */
  readonly versions: readonly RosterVersion[];
  /** This member's id (its keys are {@link signer}'s). */
  readonly self: string;
  /** This member's long-term signing keys. */
  readonly signer: MemberSigner;
  /** Source of the ephemeral secrets. */
  readonly rng: Rng;
  /** Runs the mask PRG work. */
  readonly expander: MaskExpander;
}

/** The state `restore` takes: `Endpoint.restore`'s, rounds of any version. */
export type ChainRestoreState = Parameters<Endpoint["restore"]>[0];

/** One member's endpoints over the versions of its federation's roster chain. */
export class ChainEndpoint {
  readonly #config: ChainEndpointConfig;
  #versions: RosterVersion[] = [];
  readonly #endpoints = new Map<number, Endpoint>();
  readonly #members: string[] = [];
  readonly #slots = new Map<string, number>();
  /** The first round of the first version that lists this member. */
  #floor = 0;

  /**
   * Endpoints for the versions of `config.versions` that list `config.self`. Refuses
   * (CallerError) a chain none of whose versions lists it (`not-a-member`), and one whose
   * versions change what a running member cannot (`amendment-refused`, as {@link adopt}).
   */
  constructor(config: ChainEndpointConfig) {
    this.#config = config;
    config.versions.forEach((v, k) => {
      const changed = k === 0
        ? undefined
        : unsupportedChange(config.versions[k - 1].roster, v.roster);
      if (changed !== undefined) {
        throw new CallerError(
          "amendment-refused",
          `version ${v.version} changes ${changed}, which a running member cannot adopt`,
        );
      }
    });
    this.#extend(config.versions);
    if (this.#endpoints.size === 0) {
      throw new CallerError("not-a-member", `no roster version lists member ${config.self}`);
    }
  }

  /** The versions known, version 0 first. */
  get versions(): readonly RosterVersion[] {
    return this.#versions;
  }

  /** Member ids by slot (every id any known version lists, in order of first appearance). */
  get members(): readonly string[] {
    return this.#members;
  }

  /** The slot of member `id`, if a known version lists it. */
  slotOf(id: string): number | undefined {
    return this.#slots.get(id);
  }

  /** The version that governs `round`. */
  versionOf(round: number): RosterVersion {
    return versionAt(this.#versions, round);
  }

  /** The roster `round` runs under. */
  rosterOf(round: number): Roster {
    return this.versionOf(round).roster;
  }

  /** This member's roster index in the version that governs `round`, if it lists it. */
  indexAt(round: number): number | undefined {
    return this.rosterOf(round).indexOf(this.#config.self);
  }

  /**
   * The slots a running member keeps connections with now, never its own: the members of every
   * version that governs a round from `ROUND_WINDOW` rounds before the current round on
   * (`admittedMembers`). A removed member is kept that long after its last round ended here, so
   * that its co-signatures and the aggregate bodies of its last rounds still reach the members
   * that are finishing them; its frames for rounds of versions without it are refused from its
   * removal round on (`receive`: `not-member`).
   */
  admitted(): Set<number> {
    const out = new Set<number>();
    const since = Math.max(0, this.currentRound - ROUND_WINDOW);
    for (const id of admittedMembers(this.#versions, since)) {
      if (id !== this.#config.self) out.add(this.#slots.get(id)!);
    }
    return out;
  }

  /**
   * Adopts `versions`, a verified chain that extends the known one (same versions first, then
   * more). Refuses (CallerError `amendment-refused`, naming why, adopting nothing) a chain that
   * does not extend the known one, a new version whose first round is ≤ the current round +
   * `ROUND_WINDOW` (a round this member may already be taking updates for would change
   * version), and one that changes what rounds of a running member cannot change: the vector's
   * length (`dim`), the layout, the mode, or differential privacy (whose spend is kept per
   * federation). Returns the versions added (none when `versions` is the known chain).
   */
  adopt(versions: readonly RosterVersion[]): RosterVersion[] {
    const added = this.checkAdoption(versions);
    this.#extend(added);
    this.#sync();
    return added;
  }

  /**
   * Refuses `versions` exactly as {@link adopt} would now, without adopting anything; returns
   * the versions it would add.
   */
  checkAdoption(versions: readonly RosterVersion[]): RosterVersion[] {
    const known = this.#versions;
    for (const [k, v] of known.entries()) {
      if (versions[k] === undefined || !equalBytes(versions[k].hash, v.hash)) {
        throw new CallerError(
          "amendment-refused",
          `the chain does not extend this member's: version ${k} differs (or is missing)`,
        );
      }
    }
    const added = versions.slice(known.length);
    let previous = known[known.length - 1].roster;
    for (const v of added) {
      this.checkFirstRound(v.version, v.firstRound);
      const changed = unsupportedChange(previous, v.roster);
      if (changed !== undefined) {
        throw new CallerError(
          "amendment-refused",
          `version ${v.version} changes ${changed}, which a running member cannot adopt`,
        );
      }
      previous = v.roster;
    }
    return added;
  }

  /**
   * Refuses (CallerError `amendment-refused`) version `version` taking effect at `firstRound`
   * when that is ≤ the current round + `ROUND_WINDOW`: updates may already be taken for those
   * rounds under the version before, and a round runs under one version only.
   */
  checkFirstRound(version: number, firstRound: number): void {
    const current = this.currentRound;
    if (firstRound <= current + ROUND_WINDOW) {
      throw new CallerError(
        "amendment-refused",
        `version ${version} takes effect at round ${firstRound}, but this member's current ` +
          `round is ${current}: a version must start after round ${current + ROUND_WINDOW} ` +
          `(the current round + ${ROUND_WINDOW}, the rounds updates are already taken for)`,
      );
    }
  }

  /** The federation's current round as this member knows it (see the module doc). */
  get currentRound(): number {
    let current = this.#floor;
    for (const e of this.#endpoints.values()) current = Math.max(current, e.currentRound);
    return current;
  }

  /** This member's participant of `round`, if any (for inspection). */
  participant(round: number): Participant | undefined {
    return this.#endpointOf(round)?.participant(round);
  }

  /** `Endpoint.submit` on the round's version; CallerError `not-a-member` if it lacks this member. */
  submit(round: number, input: Uint32Array, now: number, view = 0): Promise<Output[]> {
    const { endpoint, version } = this.#member(round);
    return this.#mapped(version, endpoint.submit(round, input, now, view));
  }

  /** `Endpoint.checkSubmit` on the round's version; CallerError `not-a-member` if it lacks this member. */
  checkSubmit(round: number): void {
    this.#member(round).endpoint.checkSubmit(round);
  }

  /** `Endpoint.withdraw` on the round's version. */
  withdraw(round: number): Promise<Output[]> {
    const { endpoint, version } = this.#member(round);
    return this.#mapped(version, endpoint.withdraw(round));
  }

  /** `Endpoint.ask` on the round's version (nothing for a version without this member). */
  ask(round: number, now: number): Promise<Output[]> {
    const found = this.#endpointAndVersion(round);
    if (found === undefined) return Promise.resolve([]);
    return this.#mapped(found.version, found.endpoint.ask(round, now));
  }

  /**
   * `Endpoint.resumeLeader` on `round`'s version: the leader of that round, restored from its
   * journaled unmask record (indices are that version's). CallerError `not-a-member` if the
   * version lacks this member.
   */
  resumeLeader(round: number, record: Uint8Array, now: number): Promise<Output[]> {
    const { endpoint, version } = this.#member(round);
    return this.#mapped(version, endpoint.resumeLeader(record, now));
  }

  /** `Endpoint.recover` of `round`'s certificate on its version. */
  recover(
    round: number,
    certificate: Uint8Array,
    body: Uint8Array,
    now: number,
    ownUpdate = false,
  ): Promise<Output[]> {
    const { endpoint, version } = this.#member(round);
    return this.#mapped(version, endpoint.recover(certificate, body, now, ownUpdate));
  }

  /**
   * A frame from slot `from`, handled by the endpoint of the version that governs the round its
   * header names. Refused (`malformed`) when no round can be read, (`not-member`) when that
   * version does not list `from`; ignored for a round whose version does not list this member.
   * Never throws on bad input.
   */
  receive(frame: Uint8Array, from: number, now: number): Promise<Output[]> {
    const routed = this.#routeFrame(frame, from);
    if (routed.kind !== "route") {
      return Promise.resolve(routed.kind === "refused" ? [refusal(routed.error)] : []);
    }
    const { endpoint, version, index } = routed;
    return this.#mapped(version, endpoint.receive(frame, index, now));
  }

  /** `Endpoint.wantsCertificate`, routed like {@link receive}. */
  async wantsCertificate(frame: Uint8Array, from: number): Promise<CertificateInterest> {
    const routed = this.#routeFrame(frame, from);
    if (routed.kind === "refused") return { kind: "refused", error: routed.error };
    if (routed.kind === "ignore") return { kind: "ignore", reason: routed.reason };
    const interest = await routed.endpoint.wantsCertificate(frame, routed.index);
    this.#sync();
    return interest.kind === "refused"
      ? { kind: "refused", error: this.#slotError(routed.version, interest.error) }
      : interest;
  }

  /** `Endpoint.memberLost` on every version that lists slot `member` and this member. */
  memberLost(member: number, now: number): Promise<Output[]> {
    return this.#each(member, (e, i, v) => this.#mapped(v, e.memberLost(i, now)));
  }

  /** `Endpoint.memberBack` on every version that lists slot `member` and this member. */
  memberBack(member: number, now: number): Promise<Output[]> {
    return this.#each(member, (e, i, v) => this.#mapped(v, e.memberBack(i, now)));
  }

  /** Runs every endpoint's timeouts. */
  async tick(now: number): Promise<Output[]> {
    const out: Output[] = [];
    for (const [k, e] of this.#endpoints) {
      out.push(...await this.#mapped(this.#versions[k], e.tick(now)));
    }
    return out;
  }

  /** The earliest time {@link tick} needs to run, or undefined. */
  nextTimeout(): number | undefined {
    let next: number | undefined;
    for (const e of this.#endpoints.values()) {
      const t = e.nextTimeout();
      if (t !== undefined && (next === undefined || t < next)) next = t;
    }
    return next;
  }

  /** Wipes every endpoint's secrets. */
  close(): void {
    for (const e of this.#endpoints.values()) e.close();
  }

  /**
   * `Endpoint.restore` with the journal's rounds split by version: each endpoint gets the
   * rounds of its version (and the newest and decided rounds as they are) and decides which of
   * them to resume, ask about, give up and lead again; a pending or damaged round of a version
   * without this member is given up (`round-failed`), and an unmask record of such a round
   * resumes no leader (this member leads none of its sessions).
   */
  restore(state: ChainRestoreState): RestorePlan {
    const resume: Resumption[] = [];
    const givenUp: Output[] = [];
    const ask: number[] = [];
    const lead: number[] = [];
    const mine = (k: number) => (round: number) => this.versionOf(round).version === k;
    const mapOf = (m: ReadonlyMap<number, number> | undefined, k: number) =>
      new Map([...m ?? []].filter(([r]) => mine(k)(r)));
    for (const [k, e] of this.#endpoints) {
      const plan = e.restore({
        newestRound: state.newestRound,
        decided: state.decided,
        failed: state.failed?.filter(mine(k)),
        withdrawn: mapOf(state.withdrawn, k),
        committed: mapOf(state.committed, k),
        advertised: mapOf(state.advertised, k),
        masked: mapOf(state.masked, k),
        renounced: [...state.renounced ?? []].filter(mine(k)),
        unmasked: state.unmasked?.filter(mine(k)),
        published: state.published?.filter(mine(k)),
        roundFailed: state.roundFailed?.filter(mine(k)),
        pending: state.pending?.filter(mine(k)),
        damaged: state.damaged?.filter((d) => mine(k)(d.round)),
      });
      resume.push(...plan.resume);
      givenUp.push(...plan.givenUp.map((o) => this.#toSlots(this.#versions[k], o)));
      ask.push(...plan.ask);
      lead.push(...plan.lead);
    }
    const orphans = [...state.pending ?? [], ...(state.damaged ?? []).map((d) => d.round)];
    for (const round of new Set(orphans)) {
      if (this.#endpointOf(round) !== undefined) continue;
      givenUp.push(event({
        type: "round-failed",
        role: "participant",
        round,
        view: 0,
        reason: `round ${round} runs under roster version ${this.versionOf(round).version}, ` +
          `which does not list this member`,
      }));
    }
    this.#sync();
    return { resume, givenUp, ask, lead: lead.sort((a, b) => a - b) };
  }

  // ------------------------------------------------------------------------------------------

  #extend(versions: readonly RosterVersion[]): void {
    for (const v of versions) {
      this.#versions.push(v);
      for (const m of v.roster.members) {
        if (!this.#slots.has(m.id)) {
          this.#slots.set(m.id, this.#members.length);
          this.#members.push(m.id);
        }
      }
      const self = v.roster.indexOf(this.#config.self);
      if (self === undefined) continue;
      if (this.#endpoints.size === 0) this.#floor = v.firstRound;
      const { signer, rng, expander } = this.#config;
      this.#endpoints.set(
        v.version,
        new Endpoint({ roster: v.roster, self, signer, rng, expander }),
      );
    }
    this.#sync();
  }

  /** Every endpoint learns the federation's current round (see the module doc). */
  #sync(): void {
    const current = this.currentRound;
    if (current === 0) return;
    for (const e of this.#endpoints.values()) {
      if (e.currentRound < current) e.federationReached(current - 1);
    }
  }

  #endpointAndVersion(
    round: number,
  ): { endpoint: Endpoint; version: RosterVersion } | undefined {
    if (!Number.isSafeInteger(round) || round < 0) return undefined;
    const version = this.versionOf(round);
    const endpoint = this.#endpoints.get(version.version);
    return endpoint === undefined ? undefined : { endpoint, version };
  }

  #endpointOf(round: number): Endpoint | undefined {
    return this.#endpointAndVersion(round)?.endpoint;
  }

  /** The round's endpoint; CallerError when the round is invalid or its version lacks this member. */
  #member(round: number): { endpoint: Endpoint; version: RosterVersion } {
    if (!Number.isSafeInteger(round) || round < 0) {
      throw new CallerError("invalid-input", `round must be an integer in [0, 2^48), got ${round}`);
    }
    const found = this.#endpointAndVersion(round);
    if (found === undefined) {
      throw new CallerError(
        "not-a-member",
        `round ${round} runs under roster version ${this.versionOf(round).version}, which does ` +
          `not list this member`,
      );
    }
    return found;
  }

  #routeFrame(frame: Uint8Array, from: number):
    | { kind: "route"; endpoint: Endpoint; version: RosterVersion; index: number }
    | { kind: "refused"; error: ProtocolError }
    | { kind: "ignore"; reason: string } {
    const round = frameRound(frame);
    if (round === undefined) {
      return {
        kind: "refused",
        error: new ProtocolError("malformed", "the frame names no round", from),
      };
    }
    const found = this.#endpointAndVersion(round);
    if (found === undefined) {
      return {
        kind: "ignore",
        reason: `round ${round} runs under roster version ${this.versionOf(round).version}, ` +
          `which does not list this member`,
      };
    }
    const id = this.#members[from];
    const index = id === undefined ? undefined : found.version.roster.indexOf(id);
    if (index === undefined) {
      return {
        kind: "refused",
        error: new ProtocolError(
          "not-member",
          `round ${round} runs under roster version ${found.version.version}, which does not ` +
            `list the sender`,
          from,
        ),
      };
    }
    return { kind: "route", ...found, index };
  }

  async #each(
    member: number,
    call: (e: Endpoint, index: number, v: RosterVersion) => Promise<Output[]>,
  ): Promise<Output[]> {
    const id = this.#members[member];
    if (id === undefined || id === this.#config.self) {
      throw new CallerError("invalid-input", `no other member in slot ${member}`);
    }
    const out: Output[] = [];
    for (const [k, e] of this.#endpoints) {
      const v = this.#versions[k];
      const index = v.roster.indexOf(id);
      if (index !== undefined) out.push(...await call(e, index, v));
    }
    return out;
  }

  async #mapped(version: RosterVersion, outputs: Promise<Output[]>): Promise<Output[]> {
    try {
      return (await outputs).map((o) => this.#toSlots(version, o));
    } finally {
      this.#sync();
    }
  }

  /** `o` with its roster indices of `version` as slots (sends and refusals). */
  #toSlots(version: RosterVersion, o: Output): Output {
    if (o.kind === "send") {
      return { ...o, to: this.#slots.get(version.roster.members[o.to].id)! };
    }
    if (o.kind === "event" && o.event.type === "refused" && o.event.error.peer !== undefined) {
      return event({ type: "refused", error: this.#slotError(version, o.event.error) });
    }
    return o;
  }

  #slotError(version: RosterVersion, err: ProtocolError): ProtocolError {
    if (err.peer === undefined) return err;
    const id = version.roster.members[err.peer]?.id;
    const slot = id === undefined ? undefined : this.#slots.get(id);
    if (slot === err.peer) return err;
    const prefix = `${err.code} from member ${err.peer}: `;
    const detail = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
    return new ProtocolError(err.code, detail, slot);
  }
}

/** What of `next` differs from `previous` that a running member cannot adopt, if anything. */
function unsupportedChange(previous: Roster, next: Roster): string | undefined {
  if (next.dim !== previous.dim) return `dim (${previous.dim} → ${next.dim})`;
  if (next.mode !== previous.mode) return `the mode (${previous.mode} → ${next.mode})`;
  if (!equalBytes(layoutHash(next.layout), layoutHash(previous.layout))) return "the layout";
  if (previous.dp !== undefined || next.dp !== undefined) return "a differential-privacy roster";
  return undefined;
}

function refusal(error: ProtocolError): Output {
  return event({ type: "refused", error });
}

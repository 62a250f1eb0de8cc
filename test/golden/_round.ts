/**
 * Golden rounds: fixed-seed rounds whose every frame is recorded, so that a refactor of the
 * protocol core can be checked not to change a single byte on the wire.
 *
 * The driver here is deliberately self-contained (a FIFO loop over real endpoints, with its own
 * clock), independent of the test networks it is meant to check the refactoring of: it uses only
 * the library's public pieces. One member of each round vanishes just before sending its
 * MaskedInput, so the round carries both kinds of unmask shares (self-mask seeds of U3, mask seeds
 * of U2 \ U3) and a stage that closes on its timeout.
 *
 * Classical frames are deterministic for fixed seeds and are compared byte for byte. Post-quantum
 * frames are not: ML-DSA-65 signing and ML-KEM-768 encapsulation draw their randomness from the
 * platform (WebCrypto takes no coins), and everything derived from an encapsulated secret (sealed
 * shares, wraps, masked vectors, signatures over them) changes from run to run. Those are
 * recorded as `{ random: length }` — found by recording twice and comparing — and the rest must
 * match exactly; every signature is verified instead.
 *
 * @module
 */
import {
  createRoster,
  Endpoint,
  type GraphSettings,
  type Member,
  MemberSigner,
  type Mode,
  type Output,
  quantize,
  type Roster,
} from "../../mod.ts";
import { fromHex, toHex } from "../../protocol/encoding/bytes.ts";
import { decode, type Value } from "../../protocol/encoding/codec.ts";
import { sha256 } from "../../protocol/crypto/mod.ts";
import { inlineExpander } from "../../protocol/math/masking.ts";
import { type MessageType, openFrame, TAG } from "../../protocol/wire/frame.ts";
import { labelledRng } from "../protocol/_fixtures.ts";

/** One fixed-seed round. */
export interface GoldenScenario {
  readonly name: string;
  readonly mode: Mode;
  readonly n: number;
  readonly dim: number;
  readonly graph: GraphSettings;
  /** The member that vanishes just before sending its MaskedInput (never the view-0 leader). */
  readonly drop: number;
}

/** The scenarios the golden files pin. */
export const SCENARIOS: readonly GoldenScenario[] = [
  {
    name: "classical-complete",
    mode: "classical",
    n: 5,
    dim: 6,
    graph: { kind: "complete" },
    drop: 2,
  },
  {
    name: "classical-sparse",
    mode: "classical",
    n: 7,
    dim: 5,
    graph: { kind: "harary", degree: 4, threshold: 3 },
    drop: 3,
  },
  {
    // A sparse graph with an approval committee: compact committee approvals in the unmask
    // request and the certificate, committee co-signatures (`docs/protocol.md` §3).
    name: "classical-committee",
    mode: "classical",
    n: 7,
    dim: 5,
    graph: { kind: "harary", degree: 4, threshold: 3, committee: { size: 5, quorum: 4 } },
    drop: 3,
  },
  {
    name: "post-quantum-complete",
    mode: "post-quantum",
    n: 4,
    dim: 3,
    graph: { kind: "complete" },
    drop: 1,
  },
];

/** One send or broadcast a member's endpoint produced, in order. */
export interface RecordedOutput {
  readonly from: number;
  /** The recipient, or null for a broadcast. */
  readonly to: number | null;
  readonly type: MessageType;
  /** The frame's wire tag (what the golden files name it by: message types are code names). */
  readonly tag: string;
  readonly frame: Uint8Array;
}

/** What a golden round produced. */
export interface RecordedRound {
  readonly roster: Roster;
  readonly outputs: readonly RecordedOutput[];
  /** The final certificate the first finishing member reported. */
  readonly certificate: Uint8Array;
  /** The certified aggregate (d sums, then the total weight). */
  readonly aggregate: Uint32Array;
  /** The plaintext sum of the certified members' quantized inputs. */
  readonly expected: Uint32Array;
}

const ROUND = 3;

function rng(scenario: GoldenScenario, ...labels: (string | number)[]) {
  return labelledRng("fedagg-golden", scenario.name, ...labels);
}

async function rosterOf(s: GoldenScenario): Promise<{ roster: Roster; signers: MemberSigner[] }> {
  const signers: MemberSigner[] = [];
  const members: Member[] = [];
  for (let i = 0; i < s.n; i++) {
    const r = rng(s, "identity", i);
    const signer = await MemberSigner.fromSeeds(
      r(32),
      s.mode === "post-quantum" ? r(32) : undefined,
    );
    signers.push(signer);
    members.push({
      id: `g-${i}`,
      signingKey: signer.signingKey,
      pqSigningKey: signer.pqSigningKey,
    });
  }
  const roster = createRoster({
    federation: "golden",
    members,
    mode: s.mode,
    dim: s.dim,
    clip: 1,
    maxWeight: 10,
    graph: s.graph,
    stageTimeoutMs: 1000,
    advertiseTimeoutMs: 1000,
    viewTimeoutMs: 3000,
  });
  return { roster, signers };
}

/** Runs the scenario's round and records every frame the living members sent. */
export async function recordRound(s: GoldenScenario): Promise<RecordedRound> {
  const { roster, signers } = await rosterOf(s);
  const endpoints = signers.map((signer, self) =>
    new Endpoint({ roster, self, signer, rng: rng(s, "member", self), expander: inlineExpander })
  );
  // Round ROUND − 1 was decided: ROUND is the federation's current round for every member.
  for (const e of endpoints) e.restore({ decided: ROUND - 1 });
  const inputs = signers.map((_, i) => {
    const r = rng(s, "input", i);
    const x = new Float32Array(s.dim);
    for (let j = 0; j < s.dim; j++) x[j] = (r(1)[0] / 255) * 2.2 - 1.1;
    return quantize(x, 1 + (i % 10), roster.quantization, rng(s, "rounding", i));
  });
  const outputs: RecordedOutput[] = [];
  const queue: { from: number; to: number; frame: Uint8Array }[] = [];
  const dead = new Set<number>();
  let final: Extract<Output, { kind: "event" }>["event"] | undefined;
  let now = 0;
  const emit = (from: number, out: readonly Output[]) => {
    for (const o of out) {
      if (dead.has(from)) return;
      if (o.kind === "event") {
        if (o.event.type === "internal-error") throw new Error(o.event.message);
        if (o.event.type === "final") final ??= o.event;
        continue;
      }
      const type = openFrame(o.frame, roster).type;
      if (from === s.drop && type === "maskedInput") {
        dead.add(from);
        return;
      }
      outputs.push({
        from,
        to: o.kind === "send" ? o.to : null,
        type,
        tag: TAG[type],
        frame: o.frame,
      });
      const targets = o.kind === "send" ? [o.to] : roster.members.map((_, i) => i);
      for (const to of targets) if (to !== from) queue.push({ from, to, frame: o.frame });
    }
  };
  for (let i = 0; i < s.n; i++) emit(i, await endpoints[i].submit(ROUND, inputs[i].slice(), now));
  const living = () => endpoints.map((_, i) => i).filter((i) => !dead.has(i));
  while (final === undefined && now < 60_000) {
    const next = queue.shift();
    if (next !== undefined) {
      if (!dead.has(next.to)) {
        emit(next.to, await endpoints[next.to].receive(next.frame, next.from, now));
      }
      continue;
    }
    const due = living().map((i) => endpoints[i].nextTimeout()).filter((t) => t !== undefined);
    if (due.length === 0) break;
    now = Math.max(now, Math.min(...due));
    for (const i of living()) {
      const t = endpoints[i].nextTimeout();
      if (t !== undefined && t <= now) emit(i, await endpoints[i].tick(now));
    }
  }
  for (const e of endpoints) e.close();
  if (final?.type !== "final") throw new Error(`golden round ${s.name} did not finish`);
  const expected = new Uint32Array(s.dim + 1);
  for (const m of final.members) for (let j = 0; j <= s.dim; j++) expected[j] += inputs[m][j];
  return {
    roster,
    outputs,
    certificate: final.certificate,
    aggregate: final.aggregate,
    expected,
  };
}

// ---------------------------------------------------------------------------------------------
// Normalized frames (post-quantum).

/** A decoded frame with its byte strings as hex, nested frames decoded too. */
export type Tree = Value | { readonly [key: string]: Tree } | readonly Tree[];

/** Which payload fields of each type hold a list of frames (by field index after the header). */
const NESTED_FRAMES: Partial<Record<MessageType, number>> = {
  keyList: 0,
  unmaskRequest: 2,
  certificate: 2,
};

function typeOfTag(tag: unknown): MessageType | undefined {
  return (Object.keys(TAG) as MessageType[]).find((t) => TAG[t] === tag);
}

function hexTree(value: unknown): Tree {
  if (value instanceof Uint8Array) return toHex(value);
  if (Array.isArray(value)) return value.map(hexTree);
  return value as Value;
}

/** The frame decoded: payload fields (header included), signatures and body, bytes as hex. */
export function frameTree(frame: Uint8Array): Tree {
  const outer = decode(frame, 1 << 28, "frame") as Value[];
  if (outer.length !== 3 && outer.length !== 4) throw new Error(`a frame of ${outer.length} parts`);
  const [payload, ed25519, mlDsa65, body] = outer;
  const fields = decode(payload as Uint8Array, 1 << 28, "payload") as Value[];
  const type = typeOfTag(fields[0]);
  const nested = type === undefined ? undefined : NESTED_FRAMES[type];
  const tree: { [key: string]: Tree } = {
    payload: fields.map((f, i) =>
      nested !== undefined && i === 6 + nested ? (f as Uint8Array[]).map(frameTree) : hexTree(f)
    ),
    ed25519: hexTree(ed25519),
    mlDsa65: hexTree(mlDsa65),
  };
  if (body !== undefined) tree.body = hexTree(body);
  return tree;
}

/** A final certificate decoded: its tag, the certificate frame and the co-signature frames. */
export function finalTree(bytes: Uint8Array): Tree {
  const outer = decode(bytes, 1 << 28, "final") as Value[];
  if (outer.length !== 3) throw new Error(`a final certificate of ${outer.length} parts`);
  const [tag, certificate, cosigns] = outer;
  return [
    tag as string,
    frameTree(certificate as Uint8Array),
    (cosigns as Uint8Array[]).map(frameTree),
  ];
}

const LONG = 64;

/**
 * The golden form of two recordings of one tree: a hex string where both agree (the SHA-256 of
 * it, as `{ sha256, length }`, when longer than 64 bytes), `{ random: length }` where they differ.
 * Refuses trees of different shapes.
 */
export function goldenOf(a: Tree, b: Tree, path = "$"): Tree {
  if (typeof a === "string" && typeof b === "string" && /^[0-9a-f]*$/.test(a)) {
    if (a.length !== b.length) throw new Error(`${path}: lengths differ between recordings`);
    if (a !== b) return { random: a.length / 2 };
    return a.length / 2 > LONG ? { sha256: sha256Hex(a), length: a.length / 2 } : a;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) throw new Error(`${path}: list lengths differ between recordings`);
    return a.map((x, i) => goldenOf(x, b[i], `${path}[${i}]`));
  }
  if (isRecord(a) && isRecord(b)) {
    const out: { [key: string]: Tree } = {};
    for (const k of Object.keys(a)) out[k] = goldenOf(a[k], b[k], `${path}.${k}`);
    return out;
  }
  if (a !== b) throw new Error(`${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  return a;
}

/**
 * The places where `actual` departs from `golden` (empty when it matches): hex must be equal,
 * `{ sha256, length }` must hash alike, `{ random: length }` only fixes the length.
 */
export function mismatches(actual: Tree, golden: Tree, path = "$"): string[] {
  if (isRecord(golden) && "random" in golden) {
    return typeof actual === "string" && actual.length === 2 * (golden.random as number)
      ? []
      : [`${path}: expected ${golden.random} random bytes`];
  }
  if (isRecord(golden) && "sha256" in golden) {
    return typeof actual === "string" && actual.length === 2 * (golden.length as number) &&
        sha256Hex(actual) === golden.sha256
      ? []
      : [`${path}: bytes differ from the recorded ones`];
  }
  if (Array.isArray(golden)) {
    if (!Array.isArray(actual) || actual.length !== golden.length) {
      return [`${path}: expected a list of ${golden.length}`];
    }
    return golden.flatMap((g, i) => mismatches(actual[i], g, `${path}[${i}]`));
  }
  if (isRecord(golden)) {
    if (!isRecord(actual)) return [`${path}: expected an object`];
    const keys = new Set([...Object.keys(golden), ...Object.keys(actual)]);
    return [...keys].flatMap((k) => mismatches(actual[k], golden[k], `${path}.${k}`));
  }
  return actual === golden
    ? []
    : [`${path}: ${JSON.stringify(actual)} ≠ ${JSON.stringify(golden)}`];
}

function isRecord(x: unknown): x is { readonly [key: string]: Tree } {
  return typeof x === "object" && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);
}

function sha256Hex(hex: string): string {
  return toHex(sha256(fromHex(hex)));
}

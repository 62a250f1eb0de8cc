/**
 * The in-memory network (protocol/sim/network.ts) on its own, with scripted nodes: delivery in
 * order of arrival (latency), timeouts before frames at equal times (in roster order), hold and
 * release, interception, dead members, strict mode, and the clock's limits (`until`, `maxTime`,
 * `deliver` without moving it).
 */
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import type { Output } from "../../../protocol/round/events.ts";
import { sessionOf } from "../../../protocol/federation/session.ts";
import { sealFrame } from "../../../protocol/wire/frame.ts";
import { cosignFields } from "../../../protocol/wire/messages.ts";
import { SimNetwork, type SimNode } from "../../../protocol/sim/mod.ts";
import { decode } from "../../../protocol/encoding/codec.ts";
import { federation } from "../_fixtures.ts";

const fed = await federation({ n: 3, dim: 2, seed: "network" });

/** A frame of member `from` (a Cosign; its hash field `tag` tells frames apart). */
function frameOf(from: number, tag: number): Promise<Uint8Array> {
  return sealFrame(
    "cosign",
    sessionOf(fed.roster, 0, 0),
    from,
    cosignFields({ certificateHash: new Uint8Array(32).fill(tag) }),
    fed.signers[from],
    fed.roster.mode,
  );
}

/** The tag {@link frameOf} put in a frame. */
function tagOf(frame: Uint8Array): number {
  const [payload] = decode(frame, frame.length, "frame") as Uint8Array[];
  const fields = decode(payload, payload.length, "payload") as unknown[];
  return (fields[6] as Uint8Array)[0];
}

/** What a scripted node saw: `rx <from> <tag> @<time>` and `tick @<time>`. */
type Trace = string[];

/**
 * A node that records what it receives and its ticks, answers a frame with what `reply` says,
 * and times out at the deadlines it is given.
 */
class Scripted implements SimNode {
  readonly trace: Trace = [];
  deadline: number | undefined;
  reply: (from: number, tag: number) => Promise<Output[]> = () => Promise.resolve([]);

  constructor(readonly self: number, readonly shared: Trace) {}

  async receive(frame: Uint8Array, from: number, now: number): Promise<Output[]> {
    const tag = tagOf(frame);
    this.#note(`${this.self} rx ${from} ${tag} @${now}`);
    return await this.reply(from, tag);
  }

  tick(now: number): Promise<Output[]> {
    if (this.deadline !== undefined && now >= this.deadline) {
      this.deadline = undefined;
      this.#note(`${this.self} tick @${now}`);
    }
    return Promise.resolve([]);
  }

  nextTimeout(): number | undefined {
    return this.deadline;
  }

  #note(line: string): void {
    this.trace.push(line);
    this.shared.push(line);
  }
}

function network(options: ConstructorParameters<typeof SimNetwork>[2] = {}) {
  const shared: Trace = [];
  const nodes = [0, 1, 2].map((i) => new Scripted(i, shared));
  return { net: new SimNetwork(fed.roster, nodes, options), nodes, shared };
}

async function send(from: number, to: number | "all", tag: number): Promise<Output[]> {
  const frame = await frameOf(from, tag);
  return [to === "all" ? { kind: "broadcast", frame } : { kind: "send", to, frame }];
}

Deno.test("sim network: frames arrive in order of arrival time; run moves the clock", async () => {
  const { net, shared } = network({ latency: (w) => (w.to === 1 ? 5 : 1) });
  await net.call(0, () => send(0, "all", 7));
  assertEquals(shared, [], "nothing arrives before its time");
  await net.deliver();
  assertEquals(shared, [], "deliver does not move the clock");
  await net.run();
  assertEquals(shared, ["2 rx 0 7 @1", "1 rx 0 7 @5"]);
  assertEquals(net.now, 5);
  assertEquals(net.emitted.map((w) => [w.from, w.to, w.type]), [[0, 1, "cosign"], [
    0,
    2,
    "cosign",
  ]]);
});

Deno.test("sim network: timeouts due at a frame's arrival run first, in roster order", async () => {
  const { net, nodes, shared } = network({ latency: 10 });
  nodes[2].deadline = 10;
  nodes[1].deadline = 10;
  nodes[0].deadline = 11;
  await net.call(0, () => send(0, 1, 3));
  await net.run();
  assertEquals(shared, ["1 tick @10", "2 tick @10", "1 rx 0 3 @10", "0 tick @11"]);
});

Deno.test("sim network: held frames wait until released; deliver then takes them", async () => {
  const { net, shared } = network();
  net.hold = (w) => w.to === 2;
  await net.call(0, () => send(0, "all", 4));
  await net.deliver();
  assertEquals(shared, ["1 rx 0 4 @0"]);
  assertEquals(net.held.map((w) => w.to), [2]);
  const moved = net.release();
  assertEquals([moved.length, net.held.length, net.queued().length], [1, 0, 1]);
  await net.deliver();
  assertEquals(shared, ["1 rx 0 4 @0", "2 rx 0 4 @0"]);
});

Deno.test("sim network: an interceptor replaces, multiplies or drops wires", async () => {
  const { net, shared } = network();
  const forged = await frameOf(0, 9);
  net.intercept = (w) =>
    w.to === 1
      ? [w, { ...w, frame: forged }] // delivered, then a forged copy
      : []; // the one to 2 is dropped
  await net.call(0, () => send(0, "all", 5));
  await net.deliver();
  assertEquals(shared, ["1 rx 0 5 @0", "1 rx 0 9 @0"]);
  assertEquals(net.emitted.length, 2, "emitted records the wires before interception");
});

Deno.test("sim network: dead members neither receive nor send; what they sent before arrives", async () => {
  const { net, nodes, shared } = network({ latency: 1 });
  await net.call(0, () => send(0, 1, 1)); // in flight when 0 dies
  net.dead.add(0);
  assertEquals(await net.call(0, () => send(0, 1, 2)), [], "a dead member is not called");
  nodes[1].reply = (from) => send(1, from, 6); // to 0, which is dead
  nodes[2].deadline = 5;
  net.dead.add(2);
  await net.run();
  assertEquals(shared, ["1 rx 0 1 @1"], "0's frame arrives; 1's answer to 0 and 2's tick do not");
  // A member that dies while sending: the rest of its outputs stay unsent.
  const { net: other, shared: seen } = network();
  other.intercept = (w, n) => {
    if (w.to === 1) n.dead.add(0);
    return undefined;
  };
  await other.call(0, async () => [...await send(0, 1, 1), ...await send(0, 2, 2)]);
  await other.deliver();
  assertEquals(seen, ["1 rx 0 1 @0"]);
});

Deno.test("sim network: strict mode fails at once on an exception or an internal error", async () => {
  const internal = (): Promise<Output[]> =>
    Promise.resolve([{ kind: "event", event: { type: "internal-error", message: "bug" } }]);
  const throwing = (): Promise<Output[]> => Promise.reject(new Error("boom"));
  for (const reply of [throwing, internal]) {
    const { net, nodes } = network({ strict: true });
    nodes[1].reply = reply;
    await net.call(0, () => send(0, 1, 1));
    await assertRejects(() => net.deliver(), Error, "node 1");
  }
  // Without strict mode an internal error is only logged.
  const { net, nodes } = network();
  nodes[1].reply = internal;
  await net.call(0, () => send(0, 1, 1));
  await net.deliver();
  assertEquals(net.events("internal-error").map((e) => e.member), [1]);
});

Deno.test("sim network: run stops when `until` holds, and before anything past maxTime", async () => {
  const { net, nodes, shared } = network({ latency: 2 });
  nodes[1].reply = (from, tag) => send(1, from, tag + 1);
  nodes[0].reply = (from, tag) => send(0, from, tag + 1);
  await net.call(0, () => send(0, 1, 0)); // a ping-pong, one step every 2 ms
  await net.run({ until: () => shared.length === 3 });
  assertEquals(shared.length, 3);
  await net.run({ maxTime: 11 });
  assertEquals(shared.at(-1), "1 rx 0 4 @10");
  assert(net.now <= 11, `the clock stayed at or before maxTime (${net.now})`);
  assertEquals(net.queued().length, 1, "the next frame, due at 12, still waits");
});

/**
 * One stream's throughput on the real mesh (`node/mesh.ts`): two members in this process, the
 * sender delivering frames to the receiver with `Mesh.send` (on its frame stream: the stream's
 * protocol negotiation once, then per frame the length-prefixed chunks and the receiver's
 * acknowledgement), either directly on loopback or through an emulated wide-area link
 * (`wan_proxy.ts`). For the benchmarks only.
 *
 * @module
 */
import "../../node/shims.ts";
import { createIdentity, type NodeIdentity } from "../../node/identity.ts";
import { Mesh } from "../../node/mesh.ts";
import { addMember, DEFAULT_PARAMETERS, newRosterFile, rosterOf } from "../../node/roster_file.ts";
import { closeUnrefdChannels } from "../../node/shims.ts";
import { freePort } from "./local_net.ts";
import { type LinkShape, WanProxy } from "./wan_proxy.ts";

/** What {@link meshThroughput} measured. */
export interface MeshThroughput {
  /** Bytes per frame. */
  readonly bytes: number;
  /** Seconds each `send` took, from the call to the acknowledgement, in order. */
  readonly seconds: readonly number[];
  /** bytes / median seconds. */
  readonly bytesPerSec: number;
}

/**
 * Sends `repeats` frames of `bytes` from one mesh to another (after one warm-up frame that also
 * lets the connection settle) and times each; through a {@link WanProxy} of `shape` when given.
 * Throws if a frame is not delivered.
 */
export async function meshThroughput(
  bytes: number,
  repeats: number,
  shape?: LinkShape,
): Promise<MeshThroughput> {
  const root = await Deno.makeTempDir({ prefix: "fedagg-throughput-" });
  const ids: NodeIdentity[] = [];
  for (let i = 0; i < 3; i++) ids.push(await createIdentity(`${root}/n${i}`));
  let file = newRosterFile({ ...DEFAULT_PARAMETERS, federation: "throughput", dim: 8 });
  for (const id of ids) file = addMember(file, id.card([]));
  const roster = rosterOf(file);
  const receiver = roster.indexOf(ids[1].peerId)!;
  const listenPort = freePort();
  const dialPort = shape === undefined ? listenPort : freePort();
  const proxy = shape === undefined
    ? undefined
    : WanProxy.start([{ listenPort: dialPort, targetPort: listenPort }], shape);
  const addresses = roster.members.map((_, i) =>
    i === receiver ? [`/ip4/127.0.0.1/tcp/${dialPort}`] : []
  );
  let received = 0;
  const start = (index: number, listen: string) =>
    Mesh.start({
      identity: ids[index],
      roster,
      addresses,
      listen: [listen],
      maxFrame: bytes + 1024,
      onFrame: () => {
        received++;
      },
      onGossip: () => {},
      aggregateBody: () => undefined,
      log: () => {},
    });
  const b = await start(1, `/ip4/127.0.0.1/tcp/${listenPort}`);
  const a = await start(0, "/ip4/127.0.0.1/tcp/0");
  try {
    const frame = new Uint8Array(bytes).fill(7);
    const seconds: number[] = [];
    for (let k = 0; k <= repeats; k++) {
      const t0 = performance.now();
      if (!await a.send(receiver, frame, Date.now() + 300_000)) {
        throw new Error(`frame ${k} of ${bytes} bytes not delivered`);
      }
      if (k > 0) seconds.push((performance.now() - t0) / 1000);
    }
    if (received !== repeats + 1) throw new Error(`received ${received} of ${repeats + 1}`);
    const sorted = [...seconds].sort((x, y) => x - y);
    const median = sorted[Math.floor(sorted.length / 2)];
    return { bytes, seconds, bytesPerSec: bytes / median };
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await proxy?.stop();
    closeUnrefdChannels();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}

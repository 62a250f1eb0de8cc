/**
 * Records the golden files (`frames.json`, `sim.json`) beside this script. Run it only on
 * purpose — when a change of the wire format or of the simulator's behaviour is intended — and
 * say so in the commit:
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-env --allow-sys=cpus test/golden/record.ts
 * ```
 *
 * @module
 */
import { toHex } from "../../protocol/encoding/bytes.ts";
import { finalTree, frameTree, goldenOf, recordRound, SCENARIOS } from "./_round.ts";
import { simulationGolden, SIMULATIONS } from "./_sim.ts";

const here = new URL(".", import.meta.url);
const frames: Record<string, unknown> = {};
for (const s of SCENARIOS) {
  const a = await recordRound(s);
  if (s.mode === "classical") {
    frames[s.name] = {
      outputs: a.outputs.map((o) => ({
        from: o.from,
        to: o.to,
        tag: o.tag,
        frame: toHex(o.frame),
      })),
      certificate: toHex(a.certificate),
      aggregate: toHex(new Uint8Array(a.aggregate.buffer)),
    };
    continue;
  }
  const b = await recordRound(s);
  frames[s.name] = {
    outputs: a.outputs.map((o, i) => ({
      from: o.from,
      to: o.to,
      tag: o.tag,
      frame: goldenOf(frameTree(o.frame), frameTree(b.outputs[i].frame), `outputs[${i}]`),
    })),
    certificate: goldenOf(finalTree(a.certificate), finalTree(b.certificate), "certificate"),
    aggregate: toHex(new Uint8Array(a.aggregate.buffer)),
  };
}
await Deno.writeTextFile(new URL("frames.json", here), JSON.stringify(frames, null, 2) + "\n");
const sims: Record<string, unknown> = {};
for (const [name, options] of Object.entries(SIMULATIONS)) {
  sims[name] = await simulationGolden(options);
}
await Deno.writeTextFile(new URL("sim.json", here), JSON.stringify(sims, null, 2) + "\n");
console.log(
  `recorded ${SCENARIOS.length} rounds and ${Object.keys(SIMULATIONS).length} simulations`,
);

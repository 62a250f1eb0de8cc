import { Federation, reseal, wireOf, forgeSignature } from "./_federation.ts";
import { advertiseFields } from "../../protocol/messages.ts";
// Probe 1: low-order share key advertised by member m (signed by m).
{
  const fed = await Federation.create({ n: 5, dim: 16 });
  const L = fed.leader(0);
  const m = fed.others([L])[0];
  fed.intercept = async (w) => {
    if (w.from === m && w.type === "advertise") {
      const f = await reseal(w.frame, fed.signers[m], fed.roster.mode, {
        fields: (fs) => [new Uint8Array(32), fs[1], fs[2]],
      });
      return [wireOf(w.from, w.to, f)];
    }
  };
  await fed.submitAll(0);
  try { await fed.runToFinal(0); console.log("no crash", fed.refusals().map(r => r.member + ":" + r.error.message)); }
  catch (e) { console.log("CRASH", String(e).slice(0, 300)); }
}
// Probe 2: forged copy after genuine
{
  const fed = await Federation.create({ n: 5, dim: 16 });
  const L = fed.leader(0);
  const m = fed.others([L])[0];
  fed.intercept = (w) => {
    if (w.from === m && w.type === "advertise") return [w, wireOf(w.from, w.to, forgeSignature(w.frame))];
  };
  await fed.submitAll(0);
  await fed.runToFinal(0);
  console.log(fed.refusals().map(r => r.member + ":" + r.error.code + ":" + r.error.message));
}

import { Federation } from "./_federation.ts";
for (const pq of [false, true]) {
  const t0 = performance.now();
  const fed = await Federation.create({ n: 5, dim: 16, pq });
  await fed.submitAll(0);
  await fed.runToFinal(0);
  const f = await fed.assertExact(0, 5);
  fed.assertNoLeaks();
  console.log(pq, f.view, f.members, fed.now, fed.refusals().map(r=>r.error.message), performance.now()-t0);
}

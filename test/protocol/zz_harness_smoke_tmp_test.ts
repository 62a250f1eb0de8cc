import { EndpointNet, federation, inputsFor, MachineNet, plainSum } from "./_harness.ts";
import { leaderOf } from "../../protocol/schedule.ts";
Deno.test("smoke", async () => {
  const fed = await federation({ n: 5, dim: 20 });
  const inputs = inputsFor(fed.roster, 0);
  const net = new MachineNet(fed, 0, inputs);
  await net.start();
  await net.run();
  console.log(net.events("final").length, net.events("refused").map((e) => e.error.message), net.participants.map((p) => p.stage));
  console.log(net.events("stage").filter(e => e.member === leaderOf(fed.roster, 0, 0)).map(e => `${e.role}:${e.stage}`).join(" "));
  const f = net.events("final")[0];
  console.log(f.members, f.aggregate.join() === plainSum(inputs, [0,1,2,3,4]).join());
  const en = new EndpointNet(fed);
  await en.submit(0, inputs);
  await en.run();
  console.log(en.events("final").length, en.events("refused").length, en.sent.length);
  en.close();
});

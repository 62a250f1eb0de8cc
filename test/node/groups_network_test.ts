/**
 * Group-wise aggregation with four real `fedagg run` processes (two groups of two, explicitly
 * allowed): every node journals and serves the certified body — the total, then each group's
 * sum — the mean is the total's (the members' weighted mean within the proven bound), and
 * `fedagg verify` accepts the downloaded body and mean and reports both groups.
 *
 * @module
 */
import { assert, assertEquals } from "../_assert.ts";
import "../../node/shims.ts";
import { encodeRaw, parseUpdate } from "../../node/tensor_formats/mod.ts";
import { LocalNet, waitFor } from "../../scripts/testnet/local_net.ts";

const DIM = 32;

function update(m: number): Float32Array<ArrayBuffer> {
  return new Float32Array(DIM).map((_, j) => Math.sin(m * 7 + j * 0.3) * 2);
}

Deno.test({
  name: "groups network: four nodes in two groups publish the total and both group sums",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "fedagg-groups-net-" });
    const net = await LocalNet.create(out, 4, {
      dim: DIM,
      maxWeight: 10,
      stageTimeoutMs: 800,
      advertiseTimeoutMs: 3000,
      viewTimeoutMs: 4000,
      groups: { count: 2, allowSmallGroups: true },
    });
    try {
      assertEquals(net.roster.groups?.count, 2);
      await Promise.all(net.nodes.map((n) => net.start(n)));
      await Promise.all(net.nodes.map((n) => net.connected(n)));
      const weights = [3, 1, 2, 4];
      const answers = await Promise.all([0, 1, 2, 3].map(async (m) => {
        const res = await net.api(
          net.node(m),
          `/v1/rounds/0/update?num_samples=${weights[m]}`,
          { method: "POST", body: encodeRaw(update(m)) },
        );
        return { status: res.status, json: await res.json() };
      }));
      for (const a of answers) assertEquals(a.status, 202, JSON.stringify(a.json));
      for (const m of [0, 1, 2, 3]) {
        await waitFor(`round 0 final at member ${m}`, async () => {
          const s = await net.status(net.node(m));
          return s?.lastFinalRound === 0 ? true : undefined;
        }, 120_000);
      }
      const dir = `${out}/downloads`;
      await Deno.mkdir(dir);
      const fetchTo = async (m: number, path: string, name: string) => {
        const res = await net.api(net.node(m), path);
        assertEquals(res.status, 200, path);
        const bytes = new Uint8Array(await res.arrayBuffer());
        await Deno.writeFile(`${dir}/${name}`, bytes);
        return bytes;
      };
      await fetchTo(2, "/v1/rounds/0/certificate", "certificate.cbor");
      const sums = await Promise.all(
        [0, 1, 2, 3].map((m) => fetchTo(m, "/v1/rounds/0/aggregate?format=sum", `sum.${m}`)),
      );
      assertEquals(sums[0].length, 4 * (DIM + 1) * 3, "the total and two group sums");
      for (const s of sums) assertEquals(s, sums[0]);
      const raw = await fetchTo(1, "/v1/rounds/0/aggregate?format=raw", "mean.raw");
      const mean = parseUpdate(raw, DIM, { format: "raw", layout: net.roster.layout, flat: true })
        .values;
      const total = weights.reduce((a, b) => a + b, 0);
      let worst = 0;
      for (let j = 0; j < DIM; j++) {
        const meant = [0, 1, 2, 3].reduce((a, m) => a + weights[m] * update(m)[j], 0) / total;
        worst = Math.max(worst, Math.abs(mean[j] - meant));
      }
      const bound = net.roster.quantization.errorBound;
      assert(worst <= bound, `the mean is ${worst} away from the members' (bound ${bound})`);
      const verify = await net.cli([
        "verify",
        ...["--certificate", `${dir}/certificate.cbor`, "--roster", net.rosterPath, "--json"],
        ...["--aggregate", `${dir}/sum.0`, "--aggregate", `${dir}/mean.raw`],
      ]);
      assertEquals(verify.code, 0, verify.stdout + verify.stderr);
      const result = JSON.parse(verify.stdout);
      assertEquals(result.meanMatches, true);
      assertEquals(result.groups.included.map((g: { group: number }) => g.group), [0, 1]);
      assertEquals(
        result.groups.included.map((g: { weight: number }) => g.weight).reduce(
          (a: number, b: number) => a + b,
        ),
        total,
      );
    } finally {
      await net.stopAll();
      await Deno.remove(out, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "groups network: under a robust rule every node serves the rule's result, the plain mean " +
    "on request, and verify recomputes it",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "fedagg-robust-net-" });
    // Three groups of one (signed plaintext, explicitly allowed), all three needed: the median
    // of three tolerates one poisoned member.
    const net = await LocalNet.create(out, 3, {
      dim: DIM,
      stageTimeoutMs: 800,
      advertiseTimeoutMs: 3000,
      viewTimeoutMs: 4000,
      groups: { size: 1, allowSmallGroups: true, minGroups: 3 },
      robust: { kind: "median" },
    });
    const poisoned = (m: number) => m === 0 ? new Float32Array(DIM).fill(7.5) : update(m);
    try {
      assertEquals(net.roster.robust, { kind: "median" });
      await Promise.all(net.nodes.map((n) => net.start(n)));
      await Promise.all(net.nodes.map((n) => net.connected(n)));
      for (const m of [0, 1, 2]) {
        const res = await net.api(net.node(m), `/v1/rounds/0/update?num_samples=1`, {
          method: "POST",
          body: encodeRaw(poisoned(m)),
        });
        assertEquals(res.status, 202, await res.text());
      }
      for (const m of [0, 1, 2]) {
        await waitFor(`round 0 final at member ${m}`, async () => {
          const s = await net.status(net.node(m));
          return s?.lastFinalRound === 0 ? true : undefined;
        }, 120_000);
      }
      const dir = `${out}/downloads`;
      await Deno.mkdir(dir);
      const fetchTo = async (m: number, path: string, name: string) => {
        const res = await net.api(net.node(m), path);
        assertEquals(res.status, 200, path);
        const bytes = new Uint8Array(await res.arrayBuffer());
        await Deno.writeFile(`${dir}/${name}`, bytes);
        return { bytes, kind: res.headers.get("x-fedagg-mean") };
      };
      await fetchTo(2, "/v1/rounds/0/certificate", "certificate.cbor");
      await fetchTo(0, "/v1/rounds/0/aggregate?format=sum", "sum");
      const served = await Promise.all(
        [0, 1, 2].map((m) => fetchTo(m, "/v1/rounds/0/aggregate?format=raw", `robust.${m}`)),
      );
      for (const s of served) {
        assertEquals(s.kind, "robust");
        assertEquals(s.bytes, served[0].bytes, "every node serves the same result");
      }
      const plain = await fetchTo(1, "/v1/rounds/0/aggregate?format=raw&mean=plain", "plain");
      assertEquals(plain.kind, "plain");
      const read = (b: Uint8Array) =>
        parseUpdate(b, DIM, { format: "raw", layout: net.roster.layout, flat: true }).values;
      const robust = read(served[0].bytes);
      const mean = read(plain.bytes);
      const bound = net.roster.quantization.errorBound;
      for (let j = 0; j < DIM; j++) {
        const values = [0, 1, 2].map((m) => poisoned(m)[j]);
        const median = [...values].sort((a, b) => a - b)[1];
        const average = values.reduce((a, b) => a + b) / 3;
        assert(Math.abs(robust[j] - median) <= bound, `coordinate ${j}: ${robust[j]} vs ${median}`);
        assert(Math.abs(mean[j] - average) <= bound, `coordinate ${j}: ${mean[j]} vs ${average}`);
      }
      const bad = await net.api(net.node(0), "/v1/rounds/0/aggregate?format=raw&mean=median");
      assertEquals(bad.status, 400, await bad.text());
      // `fedagg aggregate` serves both: the published (robust) mean, and --plain the total's.
      const download = async (name: string, ...extra: string[]) => {
        const r = await net.cli([
          "aggregate",
          ...["--dir", net.node(2).dir, "--round", "0", "--format", "raw"],
          ...["--out", `${dir}/${name}`, "--json", ...extra],
        ]);
        assertEquals(r.code, 0, r.stdout + r.stderr);
        return { json: JSON.parse(r.stdout), bytes: await Deno.readFile(`${dir}/${name}`) };
      };
      const cliRobust = await download("cli.robust");
      assertEquals(cliRobust.json.mean, "robust");
      assertEquals(cliRobust.bytes, served[0].bytes);
      const cliPlain = await download("cli.plain", "--plain");
      assertEquals(cliPlain.json.mean, "plain");
      assertEquals(cliPlain.bytes, plain.bytes);
      const sumPlain = await net.cli([
        "aggregate",
        ...["--dir", net.node(2).dir, "--round", "0", "--format", "sum", "--plain"],
        ...["--out", `${dir}/never`],
      ]);
      assertEquals(sumPlain.code, 2, sumPlain.stdout + sumPlain.stderr);
      const verify = await net.cli([
        "verify",
        ...["--certificate", `${dir}/certificate.cbor`, "--roster", net.rosterPath, "--json"],
        ...["--aggregate", `${dir}/sum`, "--aggregate", `${dir}/robust.1`],
        ...["--aggregate", `${dir}/plain`],
      ]);
      assertEquals(verify.code, 0, verify.stdout + verify.stderr);
      const result = JSON.parse(verify.stdout);
      assertEquals(result.files.map((f: { of?: string }) => f.of), [undefined, "robust", "plain"]);
      assertEquals(result.groups.robust.rule, "median");
    } finally {
      await net.stopAll();
      await Deno.remove(out, { recursive: true }).catch(() => {});
    }
  },
});

/**
 * The node's metric catalog (node/metric_catalog.ts) as Prometheus sees it: a fresh node's
 * exposition parses with the Python client and passes `promtool check metrics` (its lint of the
 * naming conventions included); every series the operator guide documents exists from start-up;
 * counters (bytes, frames, send failures, …) end in `_total`, durations are histograms; the build
 * and roster info series carry the version and the roster; the open exposition (the `--metrics`
 * listener's) holds only catalog families marked open.
 */
import { assert, assertEquals } from "../_assert.ts";
import {
  FEDAGG_VERSION,
  nodeMetrics,
  nodeMetricSpecs,
  rosterHashPrefix,
} from "../../node/metric_catalog.ts";
import { federation } from "../protocol/_fixtures.ts";
import { parseWithPrometheusClient, promtoolProblems } from "./_prometheus.ts";

/** The metric names the operator guide documents (its "Metrics" list). */
async function documented(): Promise<string[]> {
  const guide = await Deno.readTextFile(new URL("../../docs/operator-guide.md", import.meta.url));
  const start = guide.indexOf("- **Metrics**");
  assert(start >= 0, "the operator guide has a Metrics list");
  const end = guide.indexOf("\n- **", start + 1);
  const names = guide.slice(start, end).match(/\bfedagg_[a-z_]+[a-z]/g) ?? [];
  return [...new Set(names)].sort();
}

Deno.test("metric catalog: a fresh node's metrics parse, lint clean, and every documented series exists", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "catalog" });
  const text = nodeMetrics(fed.roster).render();
  assertEquals(await promtoolProblems(text), [], "promtool check metrics");
  const families = await parseWithPrometheusClient(text);
  const samples = new Map<string, number>();
  for (const f of families) for (const s of f.samples) samples.set(s.name, s.value);
  const docs = await documented();
  assert(docs.length >= 30, `the guide lists the metrics (${docs.length} found)`);
  const missing = docs.filter((name) =>
    !samples.has(name) && !samples.has(`${name}_count`) && !samples.has(`${name}_total`)
  );
  assertEquals(missing, [], "documented series present at start-up");
  // And the other way round: nothing undocumented is served.
  const served = families.map((f) => f.type === "counter" ? `${f.name}_total` : f.name);
  assertEquals(served.filter((n) => !docs.includes(n)), [], "served series documented");

  const typeOf = new Map(
    families.map((f) => [f.type === "counter" ? `${f.name}_total` : f.name, f.type]),
  );
  for (
    const counter of [
      "fedagg_bytes_sent_total",
      "fedagg_bytes_received_total",
      "fedagg_frames_sent_total",
      "fedagg_frames_received_total",
      "fedagg_send_failures_total",
      "fedagg_refused_peers_total",
      "fedagg_rounds_final_total",
    ]
  ) assertEquals(typeOf.get(counter), "counter", counter);
  assertEquals(typeOf.get("fedagg_round_latency_seconds"), "histogram");
  assertEquals(typeOf.get("fedagg_stage_duration_seconds"), "histogram");
  for (const [name, type] of typeOf) {
    if (type === "counter") assert(name.endsWith("_total"), name);
  }
});

Deno.test("metric catalog: build and roster info, and refusal codes at zero", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "catalog2" });
  const families = await parseWithPrometheusClient(nodeMetrics(fed.roster).render());
  const family = (name: string) => families.find((f) => f.name === name)!;
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
  );
  assertEquals(FEDAGG_VERSION, config.version, "the version is deno.json's");
  assertEquals(family("fedagg_build_info").samples, [{
    name: "fedagg_build_info",
    labels: { version: config.version, deno: Deno.version.deno },
    value: 1,
  }]);
  assertEquals(family("fedagg_roster_info").samples[0].labels, {
    federation: fed.roster.federation,
    roster_hash: rosterHashPrefix(fed.roster),
    members: "4",
    threshold: "3",
    dim: String(fed.roster.dim),
  });
  assertEquals(rosterHashPrefix(fed.roster).length, 16);
  assertEquals(family("fedagg_roster_members").samples[0].value, 4);
  const refusals = family("fedagg_refusals").samples;
  assert(refusals.length >= 15, "one series per refusal code");
  assert(refusals.every((s) => s.value === 0));
  assert(refusals.some((s) => s.labels.code === "bad-signature"));
});

Deno.test("metric catalog: the open exposition holds exactly the families marked open", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "catalog3" });
  const m = nodeMetrics(fed.roster);
  m.inc("fedagg_values_clipped_total", "A series derived from a private update");
  const open = await parseWithPrometheusClient(m.render({ exposure: "open" }));
  const openSpecs = nodeMetricSpecs({ version: FEDAGG_VERSION, roster: fed.roster })
    .filter((s) => s.exposure === "open").map((s) => s.name).sort();
  assertEquals(
    open.map((f) => f.type === "counter" ? `${f.name}_total` : f.name).sort(),
    openSpecs,
  );
  assert(!open.some((f) => f.name === "fedagg_values_clipped"));
  const all = await parseWithPrometheusClient(m.render());
  assert(all.some((f) => f.name === "fedagg_values_clipped"), "served behind the token");
});

Deno.test("metric catalog: the Grafana dashboard queries open series only, in valid PromQL", async () => {
  const dashboard = JSON.parse(
    await Deno.readTextFile(new URL("../../docs/grafana-dashboard.json", import.meta.url)),
  );
  const fed = await federation({ n: 4, threshold: 3, seed: "catalog4" });
  const specs = nodeMetricSpecs({ version: FEDAGG_VERSION, roster: fed.roster });
  const open = new Map(specs.filter((s) => s.exposure === "open").map((s) => [s.name, s.type]));
  const exprs: string[] = dashboard.panels.flatMap((p: { targets: { expr: string }[] }) =>
    p.targets.map((t) => t.expr)
  );
  assert(exprs.length >= 20, `${exprs.length} queries`);
  const used = new Set<string>();
  for (const expr of exprs) {
    for (const [name] of expr.matchAll(/\bfedagg_[a-z_]+\b/g)) {
      const base = name.replace(/_(bucket|sum|count)$/, "");
      const family = open.has(name) ? name : base;
      assert(open.has(family), `${name} in "${expr}" is not an open series`);
      if (name !== family) assertEquals(open.get(family), "histogram", name);
      if (/\b(rate|increase)\(/.test(expr) && open.get(family) === "counter") {
        assert(name.endsWith("_total"));
      }
      used.add(family);
    }
  }
  for (
    const needed of [
      "fedagg_build_info",
      "fedagg_roster_info",
      "fedagg_round_latency_seconds",
      "fedagg_stage_duration_seconds",
      "fedagg_bytes_sent_total",
      "fedagg_journal_bytes",
    ]
  ) assert(used.has(needed), `the dashboard shows ${needed}`);
  // Every query is PromQL promtool accepts (as recording rules; Grafana's variables filled in).
  const dir = await Deno.makeTempDir({ prefix: "fedagg-dashboard-" });
  try {
    const rules = exprs.map((e, i) =>
      `      - record: fedagg:panel_${i}\n        expr: ${
        JSON.stringify(e.replaceAll("$__rate_interval", "5m").replaceAll("$instance", ".*"))
      }`
    );
    await Deno.writeTextFile(
      `${dir}/rules.yml`,
      `groups:\n  - name: dashboard\n    rules:\n${rules.join("\n")}\n`,
    );
    const out = await new Deno.Command("promtool", { args: ["check", "rules", `${dir}/rules.yml`] })
      .output();
    const said = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert(out.success, said);
    assert(said.includes(`SUCCESS: ${exprs.length} rules found`), said);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

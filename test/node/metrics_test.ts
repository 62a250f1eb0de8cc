/**
 * The Prometheus registry (node/metrics.ts): counters accumulate per label set (label order
 * does not matter), gauges are set, `get` reads both (0 when never set); the text exposition
 * has one HELP and one TYPE line per family, families sorted by name, every sample line valid
 * in the 0.0.4 text format, label values escaped (quote, backslash, newline); using a counter
 * as a gauge or the other way round throws.
 */
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { Metrics } from "../../node/metrics.ts";
import { parseWithPrometheusClient, promtoolProblems } from "./_prometheus.ts";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** A label value in the exposition: anything but an unescaped quote, backslash or newline. */
const LABEL_VALUE = String.raw`"(?:[^"\\\n]|\\\\|\\"|\\n)*"`;
const SAMPLE = new RegExp(
  String.raw`^([a-zA-Z_:][a-zA-Z0-9_:]*)` +
    String
      .raw`(?:\{([a-zA-Z_][a-zA-Z0-9_]*=${LABEL_VALUE}(?:,[a-zA-Z_][a-zA-Z0-9_]*=${LABEL_VALUE})*)\})?` +
    String.raw` (-?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?|NaN|\+Inf|-Inf))$`,
);

/** Unescapes a label value of the exposition format. */
function unescape(v: string): string {
  return v.replace(/\\(["\\n])/g, (_, c) => (c === "n" ? "\n" : c));
}

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/**
 * Parses a text exposition strictly: comment lines are `# HELP name text` or `# TYPE name
 * counter|gauge`, each family's HELP then TYPE precede its samples, sample names belong to the
 * family announced last, every line matches the grammar, the text ends with a newline.
 */
function parseExposition(text: string): {
  types: Map<string, string>;
  help: Map<string, string>;
  samples: Sample[];
} {
  assert(text.endsWith("\n"), "ends with a newline");
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  let family: string | undefined;
  for (const line of text.slice(0, -1).split("\n")) {
    if (line.startsWith("# HELP ")) {
      const n = line.split(" ")[2];
      assert(METRIC_NAME.test(n), `metric name ${n}`);
      assert(!help.has(n), `one HELP for ${n}`);
      help.set(n, line.slice(`# HELP ${n} `.length));
      family = n;
      continue;
    }
    if (line.startsWith("# TYPE ")) {
      const [, , n, type] = line.split(" ");
      assertEquals(n, family, "TYPE follows its HELP");
      assert(type === "counter" || type === "gauge" || type === "histogram", `type ${type}`);
      assert(!types.has(n), `one TYPE for ${n}`);
      types.set(n, type);
      continue;
    }
    const m = SAMPLE.exec(line);
    assert(m !== null, `invalid sample line: ${JSON.stringify(line)}`);
    assertEquals(m[1], family, `sample ${m[1]} under its family`);
    assert(types.has(m[1]), `sample ${m[1]} after its TYPE`);
    const labels: Record<string, string> = {};
    if (m[2] !== undefined) {
      const pair = new RegExp(`([a-zA-Z_][a-zA-Z0-9_]*)=(${LABEL_VALUE})`, "g");
      for (const [, k, v] of m[2].matchAll(pair)) {
        assert(LABEL_NAME.test(k));
        assert(!(k in labels), `label ${k} once`);
        labels[k] = unescape(v.slice(1, -1));
      }
    }
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return { types, help, samples };
}

Deno.test("metrics: counters accumulate per label set, gauges are set", () => {
  const m = new Metrics();
  assertEquals(m.get("fedagg_nothing_total"), 0);
  m.inc("fedagg_updates_accepted_total", "Updates accepted");
  m.inc("fedagg_updates_accepted_total", "Updates accepted");
  m.inc("fedagg_updates_accepted_total", "Updates accepted", {}, 5);
  assertEquals(m.get("fedagg_updates_accepted_total"), 7);
  m.inc("fedagg_refusals_total", "Refusals", { code: "bad-signature" });
  m.inc("fedagg_refusals_total", "Refusals", { code: "bad-signature" }, 2);
  m.inc("fedagg_refusals_total", "Refusals", { code: "malformed" });
  assertEquals(m.get("fedagg_refusals_total", { code: "bad-signature" }), 3);
  assertEquals(m.get("fedagg_refusals_total", { code: "malformed" }), 1);
  assertEquals(m.get("fedagg_refusals_total", { code: "other" }), 0);
  assertEquals(m.get("fedagg_refusals_total"), 0, "the unlabelled series is another series");
  // Label order does not matter.
  m.inc("fedagg_x_total", "X", { a: "1", b: "2" });
  m.inc("fedagg_x_total", "X", { b: "2", a: "1" });
  assertEquals(m.get("fedagg_x_total", { b: "2", a: "1" }), 2);
  // Gauges: the last value wins, including decreases and fractions.
  m.set("fedagg_peers_connected", "Peers", 4);
  m.set("fedagg_peers_connected", "Peers", 2);
  assertEquals(m.get("fedagg_peers_connected"), 2);
  m.set("fedagg_round_latency_seconds", "Latency", 1.25, { role: "leader" });
  assertEquals(m.get("fedagg_round_latency_seconds", { role: "leader" }), 1.25);
});

Deno.test("metrics: the exposition is valid Prometheus text with HELP and TYPE lines", () => {
  const m = new Metrics();
  m.set("fedagg_peers_connected", "Roster members connected", 3);
  m.inc("fedagg_refusals_total", "Inputs refused, by reason", { code: "bad-signature" }, 2);
  m.inc("fedagg_refusals_total", "Inputs refused, by reason", { code: "malformed" });
  m.inc("fedagg_updates_accepted_total", "Updates accepted from the trainer");
  m.set("fedagg_round_latency_seconds", "Submission to final certificate", 0.5);
  m.set("fedagg_bytes_sent", "Bytes sent", 12345678901);
  const text = m.render();
  const { types, help, samples } = parseExposition(text);
  assertEquals([...types.keys()], [
    "fedagg_bytes_sent",
    "fedagg_peers_connected",
    "fedagg_refusals_total",
    "fedagg_round_latency_seconds",
    "fedagg_updates_accepted_total",
  ], "families sorted by name");
  assertEquals(types.get("fedagg_refusals_total"), "counter");
  assertEquals(types.get("fedagg_peers_connected"), "gauge");
  assertEquals(help.get("fedagg_refusals_total"), "Inputs refused, by reason");
  assertEquals(samples, [
    { name: "fedagg_bytes_sent", labels: {}, value: 12345678901 },
    { name: "fedagg_peers_connected", labels: {}, value: 3 },
    { name: "fedagg_refusals_total", labels: { code: "bad-signature" }, value: 2 },
    { name: "fedagg_refusals_total", labels: { code: "malformed" }, value: 1 },
    { name: "fedagg_round_latency_seconds", labels: {}, value: 0.5 },
    { name: "fedagg_updates_accepted_total", labels: {}, value: 1 },
  ]);
  // The exact lines of one family.
  assert(
    text.includes(
      "# HELP fedagg_refusals_total Inputs refused, by reason\n" +
        "# TYPE fedagg_refusals_total counter\n" +
        'fedagg_refusals_total{code="bad-signature"} 2\n' +
        'fedagg_refusals_total{code="malformed"} 1\n',
    ),
    text,
  );
  assert(text.includes("\nfedagg_peers_connected 3\n"), text);
});

Deno.test("metrics: label values with quotes, backslashes and newlines are escaped", () => {
  const m = new Metrics();
  const nasty = [
    'say "hi"',
    "C:\\path\\to",
    "line one\nline two",
    '\\"\n',
    "trailing backslash \\",
    "ünïcødé ✓",
    "",
  ];
  for (const v of nasty) m.inc("fedagg_refusals_total", "Refusals", { code: v });
  const text = m.render();
  assert(text.includes('code="say \\"hi\\""'), text);
  assert(text.includes('code="C:\\\\path\\\\to"'), text);
  assert(text.includes('code="line one\\nline two"'), text);
  assert(text.includes('code="\\\\\\"\\n"'), text);
  assert(text.includes('code="trailing backslash \\\\"'), text);
  const { samples } = parseExposition(text);
  assertEquals(samples.map((s) => s.labels.code), nasty, "values unescape to the originals");
  // Exactly one line per sample plus HELP and TYPE: no raw newline leaked.
  assertEquals(text.split("\n").length - 1, nasty.length + 2);
});

Deno.test("metrics: several labels render in the order given and parse back", () => {
  const m = new Metrics();
  m.set("fedagg_stage", "Stage", 1, { role: "leader", stage: "masked", round: "7" });
  const text = m.render();
  assert(text.includes('fedagg_stage{role="leader",stage="masked",round="7"} 1\n'), text);
  assertEquals(parseExposition(text).samples[0].labels, {
    role: "leader",
    stage: "masked",
    round: "7",
  });
});

Deno.test({
  name: "metrics: label values containing ',' or '=' do not merge distinct series",
  fn: () => {
    const m = new Metrics();
    m.inc("fedagg_x_total", "X", { a: "1,b=2" });
    m.inc("fedagg_x_total", "X", { a: "1", b: "2" });
    assertEquals(m.get("fedagg_x_total", { a: "1,b=2" }), 1);
    assertEquals(m.get("fedagg_x_total", { a: "1", b: "2" }), 1);
    assertEquals(parseExposition(m.render()).samples.length, 2);
  },
});

Deno.test("metrics: a counter used as a gauge, or a gauge as a counter, throws", () => {
  const m = new Metrics();
  m.inc("fedagg_events_total", "Events");
  assertThrows(() => m.set("fedagg_events_total", "Events", 3), Error, "is a counter");
  assertThrows(() => m.set("fedagg_events_total", "Events", 3, { a: "b" }), Error, "counter");
  m.set("fedagg_level", "Level", 1);
  assertThrows(() => m.inc("fedagg_level", "Level"), Error, "is a gauge");
  assertThrows(() => m.inc("fedagg_level", "Level", { a: "b" }, 2), Error, "gauge");
  // The failed calls changed nothing.
  assertEquals(m.get("fedagg_events_total"), 1);
  assertEquals(m.get("fedagg_level"), 1);
  const { types, samples } = parseExposition(m.render());
  assertEquals(types.get("fedagg_events_total"), "counter");
  assertEquals(types.get("fedagg_level"), "gauge");
  assertEquals(samples.length, 2);
});

Deno.test("metrics: a counter's name ends in _total, and only a counter's", () => {
  const m = new Metrics();
  assertThrows(() => m.inc("fedagg_bytes_sent", "Bytes"), Error, "must end in _total");
  assertThrows(() => m.set("fedagg_peers_total", "Peers", 1), Error, "must not end in _total");
  assertThrows(() => m.observe("fedagg_x_total", "X", 1), Error, "must not end in _total");
  assertThrows(() => m.inc("fedagg_x_total", "X", {}, -1), Error, "cannot be increased by -1");
  assertThrows(() => m.inc("fedagg-bad_total", "X"), Error, "invalid");
  // A counter fed from a running total never goes down.
  m.setTotal("fedagg_bytes_sent_total", "Bytes", 10);
  m.setTotal("fedagg_bytes_sent_total", "Bytes", 7);
  assertEquals(m.get("fedagg_bytes_sent_total"), 10);
});

Deno.test("metrics: histograms render cumulative buckets, +Inf, sum and count (real parsers)", async () => {
  const m = new Metrics([{
    name: "fedagg_stage_duration_seconds",
    type: "histogram",
    help: "Stage time",
    buckets: [0.5, 1, 5],
    series: [{ stage: "share" }, { stage: "masked" }],
  }]);
  for (const v of [0.2, 0.7, 0.7, 3, 9]) {
    m.observe("fedagg_stage_duration_seconds", "Stage time", v, { stage: "share" });
  }
  const text = m.render();
  assertEquals(await promtoolProblems(text), []);
  const [family] = await parseWithPrometheusClient(text);
  assertEquals(family.type, "histogram");
  const of = (stage: string) =>
    family.samples.filter((s) => s.labels.stage === stage).map((s) => [
      s.name.replace("fedagg_stage_duration_seconds", ""),
      s.labels.le ?? "",
      s.value,
    ]);
  assertEquals(of("share"), [
    ["_bucket", "0.5", 1],
    ["_bucket", "1", 3],
    ["_bucket", "5", 4],
    ["_bucket", "+Inf", 5],
    ["_sum", "", 13.6],
    ["_count", "", 5],
  ]);
  // Declared: present at zero before any observation.
  assertEquals(of("masked"), [
    ["_bucket", "0.5", 0],
    ["_bucket", "1", 0],
    ["_bucket", "5", 0],
    ["_bucket", "+Inf", 0],
    ["_sum", "", 0],
    ["_count", "", 0],
  ]);
  assertEquals(m.get("fedagg_stage_duration_seconds", { stage: "share" }), 5, "get: the count");
});

Deno.test("metrics: declared families exist at zero; undeclared ones are token-only", async () => {
  const m = new Metrics([
    { name: "fedagg_a_total", type: "counter", help: "A", exposure: "open" },
    {
      name: "fedagg_b_total",
      type: "counter",
      help: "B",
      series: [{ code: "x" }, { code: "y" }],
      exposure: "open",
    },
    { name: "fedagg_secret_total", type: "counter", help: "Token only (declared)" },
  ]);
  m.inc("fedagg_clipped_values_total", "Derived from a private update");
  const all = await parseWithPrometheusClient(m.render());
  assertEquals(all.map((f) => f.name), [
    "fedagg_a",
    "fedagg_b",
    "fedagg_clipped_values",
    "fedagg_secret",
  ]);
  assertEquals(all[1].samples.map((s) => [s.labels.code, s.value]), [["x", 0], ["y", 0]]);
  const open = await parseWithPrometheusClient(m.render({ exposure: "open" }));
  assertEquals(open.map((f) => f.name), ["fedagg_a", "fedagg_b"]);
});

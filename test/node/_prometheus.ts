/**
 * Real Prometheus parsers for the metrics tests, not string matching: the official Python
 * client's parser (Debian `python3-prometheus-client`) and `promtool check metrics` (Debian
 * `prometheus`), which also lints the names against Prometheus's conventions. `.ci/run`
 * installs both; a missing one fails the test with the package to install.
 *
 * @module
 */

/** One sample as the parser read it. */
export interface ParsedSample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** One family as the parser read it (a counter's `name` has no `_total`, as the client says). */
export interface ParsedFamily {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: readonly ParsedSample[];
}

const PYTHON = "/usr/bin/python3";

const SCRIPT = `
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "help": f.documentation, "samples": [
        {"name": s.name, "labels": s.labels,
         "value": s.value if math.isfinite(s.value) else str(s.value)} for s in f.samples]})
print(json.dumps(out))
`;

async function run(
  cmd: string,
  args: string[],
  input: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const out = await child.output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/**
 * Parses `text` with the Python client's parser; throws with its error when it refuses the text,
 * or naming the package when the parser is missing.
 */
export async function parseWithPrometheusClient(text: string): Promise<ParsedFamily[]> {
  let r;
  try {
    r = await run(PYTHON, ["-c", SCRIPT], text);
  } catch (err) {
    throw new Error(`${PYTHON} cannot run (${err}): apt-get install python3-prometheus-client`);
  }
  if (r.code !== 0) {
    if (/No module named 'prometheus_client'/.test(r.stderr)) {
      throw new Error(
        "the Prometheus parser is missing: apt-get install python3-prometheus-client",
      );
    }
    throw new Error(`prometheus_client refused the exposition: ${r.stderr}`);
  }
  return JSON.parse(r.stdout);
}

/**
 * `promtool check metrics` on `text`: resolves to its lint problems (empty when it passes);
 * throws naming the package when promtool is missing.
 */
export async function promtoolProblems(text: string): Promise<string[]> {
  let r;
  try {
    r = await run("promtool", ["check", "metrics"], text);
  } catch (err) {
    throw new Error(`promtool cannot run (${err}): apt-get install prometheus`);
  }
  if (r.code === 0) return [];
  const problems = (r.stdout + r.stderr).split("\n").filter((l) => l.trim() !== "");
  return problems.length > 0 ? problems : [`promtool exited ${r.code}`];
}

/**
 * A minimal Prometheus registry: counters and gauges with optional labels, rendered in the text
 * exposition format (version 0.0.4). Names follow `fedagg_<what>_<unit>`.
 *
 * @module
 */

type Labels = Record<string, string>;

interface Family {
  readonly type: "counter" | "gauge";
  readonly help: string;
  readonly values: Map<string, { labels: Labels; value: number }>;
}

function key(labels: Labels): string {
  return JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** A set of metric families. */
export class Metrics {
  readonly #families = new Map<string, Family>();

  #family(name: string, type: Family["type"], help: string): Family {
    let f = this.#families.get(name);
    if (f === undefined) this.#families.set(name, f = { type, help, values: new Map() });
    if (f.type !== type) throw new Error(`metric ${name} is a ${f.type}`);
    return f;
  }

  /** Adds `by` (default 1) to a counter. */
  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    const f = this.#family(name, "counter", help);
    const k = key(labels);
    const v = f.values.get(k);
    if (v === undefined) f.values.set(k, { labels, value: by });
    else v.value += by;
  }

  /** Sets a gauge. */
  set(name: string, help: string, value: number, labels: Labels = {}): void {
    this.#family(name, "gauge", help).values.set(key(labels), { labels, value });
  }

  /** The current value of a metric (0 when never set). */
  get(name: string, labels: Labels = {}): number {
    return this.#families.get(name)?.values.get(key(labels))?.value ?? 0;
  }

  /** The text exposition of every metric. */
  render(): string {
    const lines: string[] = [];
    for (const [name, f] of [...this.#families].sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
      for (const { labels, value } of f.values.values()) {
        const l = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",");
        lines.push(`${name}${l ? `{${l}}` : ""} ${value}`);
      }
    }
    return lines.join("\n") + "\n";
  }
}

/**
 * A small Prometheus registry: counters, gauges and histograms with optional labels, rendered in
 * the text exposition format (version 0.0.4). Names follow `fedagg_<what>_<unit>`, and a counter's
 * name ends in `_total` (refused otherwise), as Prometheus's conventions ask.
 *
 * Families may be declared up front ({@link MetricSpec}, the node's are in `metric_catalog.ts`):
 * a declared family and its declared label sets are rendered from the start, at zero, so a
 * dashboard or an alert never sees a documented series missing. A family used without being
 * declared is created on first use.
 *
 * Every family has an {@link Exposure}: `open` families may be served on the separate scrape
 * listener (no token); `token` families only behind the API token. A family created on first use
 * is `token`: a new series is never published without a token by accident (anything derived from
 * a private update must stay `token`).
 *
 * @module
 */

/** A label set: label name to value. */
export type Labels = Readonly<Record<string, string>>;

/** The Prometheus type of a family. */
export type MetricType = "counter" | "gauge" | "histogram";

/**
 * Where a family may be served: `open` also on the token-free scrape listener, `token` only on
 * the token-protected API.
 */
export type Exposure = "open" | "token";

/** A family declared up front. */
export interface MetricSpec {
  /** The metric name (`fedagg_…`; a counter's ends in `_total`). */
  readonly name: string;
  readonly type: MetricType;
  /** The HELP text. */
  readonly help: string;
  /** Label sets rendered (at zero) from the start; default: the unlabelled series. */
  readonly series?: readonly Labels[];
  /** A histogram's bucket upper bounds, ascending (default {@link DEFAULT_BUCKETS_SECONDS}). */
  readonly buckets?: readonly number[];
  /** Default `token`. */
  readonly exposure?: Exposure;
}

/** Histogram buckets for durations in seconds, from 50 ms to 20 minutes. */
export const DEFAULT_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  120,
  300,
  600,
  1200,
]);

interface Series {
  readonly labels: Labels;
  value: number;
  /** Histograms: cumulative-free counts per bucket, and the sum. */
  counts?: number[];
  sum?: number;
}

interface Family {
  readonly type: MetricType;
  readonly help: string;
  readonly exposure: Exposure;
  readonly buckets: readonly number[];
  readonly values: Map<string, Series>;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function key(labels: Labels): string {
  return JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function renderLabels(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels);
  if (extra !== undefined) pairs.push(extra);
  if (pairs.length === 0) return "";
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
}

/** A set of metric families. */
export class Metrics {
  readonly #families = new Map<string, Family>();
  readonly #collectors: (() => void)[] = [];

  /** A registry with `specs` declared (see {@link declare}). */
  constructor(specs: readonly MetricSpec[] = []) {
    for (const s of specs) this.declare(s);
  }

  /**
   * Declares a family and creates its declared series at zero. Refuses (throws) a bad name, a
   * counter not ending in `_total`, or a family already known with another type.
   */
  declare(spec: MetricSpec): void {
    const f = this.#family(spec.name, spec.type, spec.help, spec.exposure, spec.buckets);
    for (const labels of spec.series ?? [{}]) this.#series(f, labels);
  }

  #family(
    name: string,
    type: MetricType,
    help: string,
    exposure: Exposure = "token",
    buckets: readonly number[] = DEFAULT_BUCKETS_SECONDS,
  ): Family {
    let f = this.#families.get(name);
    if (f === undefined) {
      if (!METRIC_NAME.test(name)) {
        throw new Error(`metric name ${JSON.stringify(name)} is invalid`);
      }
      if (type === "counter" && !name.endsWith("_total")) {
        throw new Error(`counter ${name} must end in _total`);
      }
      if (type !== "counter" && name.endsWith("_total")) {
        throw new Error(`${type} ${name} must not end in _total (a counter's suffix)`);
      }
      if (buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]))) {
        throw new Error(`histogram ${name}: buckets must be finite and ascending`);
      }
      f = { type, help, exposure, buckets: [...buckets], values: new Map() };
      this.#families.set(name, f);
    }
    if (f.type !== type) throw new Error(`metric ${name} is a ${f.type}`);
    return f;
  }

  #series(f: Family, labels: Labels): Series {
    const k = key(labels);
    let s = f.values.get(k);
    if (s === undefined) {
      for (const l of Object.keys(labels)) {
        if (!LABEL_NAME.test(l) || l === "le") throw new Error(`label name ${l} is invalid`);
      }
      s = { labels: { ...labels }, value: 0 };
      if (f.type === "histogram") {
        s.counts = f.buckets.map(() => 0);
        s.sum = 0;
      }
      f.values.set(k, s);
    }
    return s;
  }

  /** Adds `by` (default 1, never negative) to a counter. */
  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new Error(`counter ${name} cannot be increased by ${by}`);
    this.#series(this.#family(name, "counter", help), labels).value += by;
  }

  /**
   * Sets a counter to `total`, the running total of a source that counts by itself (e.g. the
   * mesh's byte counters). A counter never goes down: a smaller `total` is ignored.
   */
  setTotal(name: string, help: string, total: number, labels: Labels = {}): void {
    const s = this.#series(this.#family(name, "counter", help), labels);
    if (total > s.value) s.value = total;
  }

  /** Sets a gauge. */
  set(name: string, help: string, value: number, labels: Labels = {}): void {
    this.#series(this.#family(name, "gauge", help), labels).value = value;
  }

  /** Records one observation (e.g. a duration in seconds) in a histogram. */
  observe(name: string, help: string, value: number, labels: Labels = {}): void {
    const f = this.#family(name, "histogram", help);
    const s = this.#series(f, labels);
    s.value++;
    s.sum! += value;
    const i = f.buckets.findIndex((b) => value <= b);
    if (i >= 0) s.counts![i]++;
  }

  /**
   * The current value of a counter or gauge, a histogram's observation count (0 when never
   * set).
   */
  get(name: string, labels: Labels = {}): number {
    return this.#families.get(name)?.values.get(key(labels))?.value ?? 0;
  }

  /** The type of a family, if known. */
  typeOf(name: string): MetricType | undefined {
    return this.#families.get(name)?.type;
  }

  /** Runs `collect` before every render (to read values kept elsewhere: counters, memory). */
  collect(collect: () => void): void {
    this.#collectors.push(collect);
  }

  /**
   * The text exposition, families sorted by name. `exposure: "open"` renders only the `open`
   * families (for the token-free listener); the default renders all.
   */
  render(options: { readonly exposure?: Exposure } = {}): string {
    for (const c of this.#collectors) c();
    const lines: string[] = [];
    for (const [name, f] of [...this.#families].sort(([a], [b]) => a.localeCompare(b))) {
      if (options.exposure === "open" && f.exposure !== "open") continue;
      lines.push(`# HELP ${name} ${escapeHelp(f.help)}`, `# TYPE ${name} ${f.type}`);
      for (const s of f.values.values()) {
        if (f.type !== "histogram") {
          lines.push(`${name}${renderLabels(s.labels)} ${formatValue(s.value)}`);
          continue;
        }
        let cumulative = 0;
        f.buckets.forEach((b, i) => {
          cumulative += s.counts![i];
          lines.push(`${name}_bucket${renderLabels(s.labels, ["le", String(b)])} ${cumulative}`);
        });
        lines.push(`${name}_bucket${renderLabels(s.labels, ["le", "+Inf"])} ${s.value}`);
        lines.push(`${name}_sum${renderLabels(s.labels)} ${formatValue(s.sum!)}`);
        lines.push(`${name}_count${renderLabels(s.labels)} ${s.value}`);
      }
    }
    return lines.join("\n") + "\n";
  }
}

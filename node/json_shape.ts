/**
 * Strict reading of the JSON files operators edit (roster files, amendments, member cards): a
 * {@link Shape} says which keys an object has and the type of each value, and refuses anything
 * else with a {@link ConfigError} whose `setting` is the path of the offending key
 * (`members[2].name`, `treshold`). Unknown keys are refused (with the known key it most likely
 * misspells), wrong types are named (`"threshold": "2"` is a string, not a number). Ranges and
 * cross-field rules are not checked here: the protocol's own checks do that on the typed value.
 *
 * @module
 */
import { ConfigError } from "../protocol/mod.ts";

/** Checks `value` found at `path` and returns it typed; refuses (ConfigError at `path`). */
export type Shape<T> = (value: unknown, path: string) => T;

/** A short description of a value's type for error messages (never the value itself). */
function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "string") return "a string";
  if (typeof v === "object") return "an object";
  return `a ${typeof v}`;
}

function refuse(path: string, expected: string, v: unknown): never {
  throw new ConfigError(path, `must be ${expected}, got ${kindOf(v)}`);
}

/** A string (any length; the protocol checks lengths). */
export const string: Shape<string> = (v, path) =>
  typeof v === "string" ? v : refuse(path, "a string", v);

/** A finite number. */
export const number: Shape<number> = (v, path) =>
  typeof v === "number" && Number.isFinite(v) ? v : refuse(path, "a number", v);

/** A safe integer ≥ 0. */
export const count: Shape<number> = (v, path) =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= 0
    ? v
    : refuse(path, "an integer ≥ 0", v);

/** true or false. */
export const boolean: Shape<boolean> = (v, path) =>
  typeof v === "boolean" ? v : refuse(path, "true or false", v);

/**
 * A JSON object whose keys and values are left to whoever interprets it (checked there), e.g.
 * the roster's `robust` rule.
 */
export const opaqueObject: Shape<Readonly<Record<string, unknown>>> = (v, path) =>
  typeof v === "object" && v !== null && !Array.isArray(v)
    ? v as Record<string, unknown>
    : refuse(path, "an object", v);

/** One of the given strings. */
export function oneOf<const T extends string>(...values: T[]): Shape<T> {
  const expected = values.map((x) => JSON.stringify(x)).join(" or ");
  return (v, path) => {
    if ((values as unknown[]).includes(v)) return v as T;
    if (typeof v !== "string") refuse(path, expected, v);
    throw new ConfigError(path, `must be ${expected}, got ${JSON.stringify(v.slice(0, 64))}`);
  };
}

/** `shape`, or null. */
export function nullable<T>(shape: Shape<T>): Shape<T | null> {
  return (v, path) => v === null ? null : shape(v, path);
}

/** A list whose every element has `shape` (at most `max` of them). */
export function listOf<T>(shape: Shape<T>, max = Infinity): Shape<T[]> {
  return (v, path) => {
    if (!Array.isArray(v)) refuse(path, "a list", v);
    if (v.length > max) throw new ConfigError(path, `must have at most ${max} entries`);
    return v.map((x, i) => shape(x, `${path}[${i}]`));
  };
}

/** An object whose keys are free (ids) and whose every value has `shape`. */
export function mapOf<T>(shape: Shape<T>): Shape<Record<string, T>> {
  return (v, path) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) refuse(path, "an object", v);
    const out: Record<string, T> = {};
    for (const [k, x] of Object.entries(v)) out[k] = shape(x, `${path}.${k}`);
    return out;
  };
}

type Fields = Record<string, Shape<unknown>>;
type Typed<F extends Fields> = { [K in keyof F]: F[K] extends Shape<infer T> ? T : never };

/**
 * An object with exactly the keys of `required` (each present) and possibly those of
 * `optional`. Refuses a missing required key, an unknown key (naming the known key it is
 * closest to, when one is within two edits) and any value of the wrong shape.
 */
export function object<R extends Fields, O extends Fields = Record<never, never>>(
  required: R,
  optional?: O,
): Shape<Typed<R> & Partial<Typed<O>>> {
  const known = [...Object.keys(required), ...Object.keys(optional ?? {})];
  return (v, path) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      refuse(path || "the file", "an object", v);
    }
    const at = (k: string) => path === "" ? k : `${path}.${k}`;
    const record = v as Record<string, unknown>;
    for (const k of Object.keys(record)) {
      if (!known.includes(k)) {
        const near = closest(k, known);
        throw new ConfigError(
          at(k),
          `unknown key${near === undefined ? "" : ` (did you mean "${near}"?)`}; the keys are ${
            known.join(", ")
          }`,
        );
      }
    }
    const out: Record<string, unknown> = {};
    for (const [k, shape] of Object.entries(required)) {
      if (!Object.hasOwn(record, k)) throw new ConfigError(at(k), "is missing");
      out[k] = shape(record[k], at(k));
    }
    for (const [k, shape] of Object.entries(optional ?? {})) {
      if (Object.hasOwn(record, k)) out[k] = shape(record[k], at(k));
    }
    return out as Typed<R> & Partial<Typed<O>>;
  };
}

/** The known key within two edits of `key` (the nearest), if any. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

/** Levenshtein distance with adjacent transpositions (`treshold`/`threshold` is 1). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

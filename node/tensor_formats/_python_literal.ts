/**
 * A parser for the small subset of Python literals that `.npy` headers are written in (NumPy
 * reads them with `ast.literal_eval`): strings without escapes or prefixes, non-negative
 * decimal integers, True/False/None, tuples, lists and dicts with string keys. It only builds
 * a {@link PyValue}; what the header must contain is checked by `npy.ts`. Every refusal is a
 * `malformed` {@link FormatError} naming the character position. Private to the `.npy` format.
 *
 * @module
 */
import { quote } from "./_helpers.ts";
import { FormatError } from "./errors.ts";

/** A Python literal of the subset `.npy` headers use. */
export type PyValue =
  | { readonly kind: "str"; readonly value: string }
  | { readonly kind: "int"; readonly value: number }
  | { readonly kind: "bool"; readonly value: boolean }
  | { readonly kind: "none" }
  | { readonly kind: "tuple" | "list"; readonly items: readonly PyValue[] }
  | { readonly kind: "dict"; readonly entries: ReadonlyMap<string, PyValue> };

const MAX_NESTING = 16;

/**
 * Parses `text` as one Python literal, surrounded by whitespace at most. Guarantees: integers
 * are safe integers; dict keys are unique strings; `(x)` is `x`, not a tuple. Accepts trailing
 * commas, any whitespace, and (when `python2Longs`) the `L` suffix Python 2 wrote after
 * integers. Refuses with a `malformed` {@link FormatError}: comments, escapes, string prefixes,
 * floats, signs, leading zeros, expressions, nesting beyond depth 16, duplicate keys, non-string
 * keys, integers above 2^53 − 1 and any text after the literal.
 */
export function parsePythonLiteral(text: string, python2Longs: boolean): PyValue {
  return new PyLiteralParser(text, python2Longs).document();
}

/**
 * Recursive descent over Python literals: strings without escapes or prefixes, non-negative
 * decimal integers, True/False/None, tuples, lists and dicts with string keys (no duplicates),
 * trailing commas and whitespace allowed; anything else (comments, escapes, expressions,
 * floats, signs) is refused.
 */
class PyLiteralParser {
  #pos = 0;
  constructor(readonly text: string, readonly python2Longs: boolean) {}

  document(): PyValue {
    const value = this.value(0);
    this.#skipSpace();
    if (this.#pos !== this.text.length) this.#fail("unexpected text after the dictionary");
    return value;
  }

  value(depth: number): PyValue {
    if (depth > MAX_NESTING) this.#fail("literal nested too deeply");
    this.#skipSpace();
    const c = this.text[this.#pos];
    if (c === "'" || c === '"') return { kind: "str", value: this.#string() };
    if (c === "{") return this.#dict(depth);
    if (c === "(" || c === "[") return this.#sequence(depth);
    if (c !== undefined && c >= "0" && c <= "9") return { kind: "int", value: this.#int() };
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.#pos, this.#pos + 64));
    if (name) {
      this.#pos += name[0].length;
      if (name[0] === "True") return { kind: "bool", value: true };
      if (name[0] === "False") return { kind: "bool", value: false };
      if (name[0] === "None") return { kind: "none" };
    }
    return this.#fail(c === undefined ? "unexpected end" : `unexpected ${quote(c)}`);
  }

  #dict(depth: number): PyValue {
    this.#pos++; // {
    const entries = new Map<string, PyValue>();
    for (;;) {
      this.#skipSpace();
      if (this.#eat("}")) return { kind: "dict", entries };
      const c = this.text[this.#pos];
      if (c !== "'" && c !== '"') this.#fail("dictionary keys must be strings");
      const key = this.#string();
      if (entries.has(key)) this.#fail(`duplicate key ${quote(key)}`);
      this.#skipSpace();
      if (!this.#eat(":")) this.#fail("expected ':'");
      entries.set(key, this.value(depth + 1));
      this.#skipSpace();
      if (this.#eat("}")) return { kind: "dict", entries };
      if (!this.#eat(",")) this.#fail("expected ',' or '}'");
    }
  }

  #sequence(depth: number): PyValue {
    const open = this.text[this.#pos++];
    const close = open === "(" ? ")" : "]";
    const items: PyValue[] = [];
    let comma = false;
    for (;;) {
      this.#skipSpace();
      if (this.#eat(close)) break;
      items.push(this.value(depth + 1));
      this.#skipSpace();
      if (this.#eat(close)) {
        comma = false;
        break;
      }
      if (!this.#eat(",")) this.#fail(`expected ',' or '${close}'`);
      comma = true;
    }
    if (open === "(" && items.length === 1 && !comma) return items[0]; // (x) is x, not a tuple
    return { kind: open === "(" ? "tuple" : "list", items };
  }

  #string(): string {
    const quoteChar = this.text[this.#pos++];
    const start = this.#pos;
    for (;;) {
      const c = this.text[this.#pos];
      if (c === undefined || c === "\n" || c === "\r") this.#fail("unterminated string");
      if (c === "\\") this.#fail("escape sequences in strings are not supported");
      if (c === quoteChar) break;
      this.#pos++;
    }
    return this.text.slice(start, this.#pos++);
  }

  #int(): number {
    const digits = /^[0-9]+/.exec(this.text.slice(this.#pos, this.#pos + 32))![0];
    if (digits.length > 1 && digits[0] === "0") this.#fail(`invalid integer ${quote(digits)}`);
    this.#pos += digits.length;
    if (this.python2Longs && this.text[this.#pos] === "L") this.#pos++; // Python 2 wrote 3L
    if (/[A-Za-z0-9_.]/.test(this.text[this.#pos] ?? "")) this.#fail("invalid number");
    const value = Number(digits);
    if (!Number.isSafeInteger(value)) this.#fail(`integer ${digits} is too large`);
    return value;
  }

  #skipSpace(): void {
    for (;;) {
      const c = this.text[this.#pos];
      if (c !== " " && c !== "\t" && c !== "\n" && c !== "\r") return;
      this.#pos++;
    }
  }

  #eat(c: string): boolean {
    if (this.text[this.#pos] !== c) return false;
    this.#pos++;
    return true;
  }

  #fail(what: string): never {
    throw new FormatError("malformed", `.npy header: ${what} at character ${this.#pos}`);
  }
}

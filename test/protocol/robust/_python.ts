/**
 * Runs `reference.py` (the independent NumPy reference of protocol/robust/, with Debian's
 * /usr/bin/python3) for the robust rules' tests: all requests of a test file in one process.
 * When python3 with NumPy and SciPy is absent the tests that need it are skipped (`ignore`),
 * with one line on stderr saying why.
 *
 * @module
 */

const SCRIPT = new URL("./reference.py", import.meta.url).pathname;
/** Debian's interpreter, whose python3-numpy and python3-scipy packages the reference uses. */
const PYTHON = "/usr/bin/python3";

async function probe(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(PYTHON, {
      args: ["-c", "import numpy, scipy"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success ? undefined : `${PYTHON} cannot import numpy and scipy`;
  } catch {
    return `${PYTHON} is not installed`;
  }
}

const missing = await probe();
if (missing !== undefined) {
  console.error(
    `SKIPPING the NumPy reference tests of protocol/robust: ${missing} ` +
      `(apt-get install python3-numpy python3-scipy)`,
  );
}

/** Whether the reference is available: tests pass `ignore: !NUMPY.available`. */
export const NUMPY = { available: missing === undefined } as const;

/** Collects requests and runs them in one python3 process on the first {@link Batch.result}. */
export class Batch {
  readonly #requests: Record<string, unknown>[] = [];
  #answers: Promise<unknown[]> | undefined;

  /** Adds a request; returns its index for {@link Batch.result}. Refuses after the run. */
  add(request: Record<string, unknown>): number {
    if (this.#answers !== undefined) throw new Error("Batch: already run");
    return this.#requests.push(request) - 1;
  }

  /** The answer to request `index` (runs the batch the first time). */
  async result<T>(index: number): Promise<T> {
    this.#answers ??= run({ op: "batch", requests: this.#requests });
    return (await this.#answers)[index] as T;
  }
}

async function run(request: Record<string, unknown>): Promise<unknown[]> {
  const child = new Deno.Command(PYTHON, {
    args: [SCRIPT],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(request)));
  await writer.close();
  const out = await child.output();
  if (!out.success) {
    throw new Error(`reference.py failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** The big-endian IEEE-754 bytes of `v` in hex: how the reference returns vectors, bit exact. */
export function float64Hex(v: Float64Array): string {
  const bytes = new Uint8Array(8 * v.length);
  const view = new DataView(bytes.buffer);
  v.forEach((x, i) => view.setFloat64(8 * i, x));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

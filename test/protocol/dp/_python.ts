/**
 * Runs the independent reference computations of `reference.py` (NumPy and SciPy from Debian's
 * /usr/bin/python3) for the tests of protocol/dp/. When python3 with SciPy is absent the tests
 * that need it are skipped (`ignore`), with one line on stderr saying why.
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
    `SKIPPING the SciPy reference tests of protocol/dp: ${missing} ` +
      `(install Debian's python3-scipy: apt-get install python3-scipy)`,
  );
}

/** Whether the reference is available: tests pass `ignore: !SCIPY.available`. */
export const SCIPY = { available: missing === undefined } as const;

/** Runs one request of `reference.py`; rejects with its stderr if it fails. */
export async function reference<T = Record<string, unknown>>(
  request: Record<string, unknown>,
): Promise<T> {
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
    throw new Error(`reference.py ${request.op} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout)) as T;
}

/**
 * Collects requests and runs them in one python3 process on the first {@link Batch.result}
 * (SciPy takes about a second to import; one process per test file keeps the tests fast).
 */
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
    this.#answers ??= reference<unknown[]>({ op: "batch", requests: this.#requests });
    return (await this.#answers)[index] as T;
  }
}

/**
 * Runs an independent reference script (NumPy and SciPy from Debian's /usr/bin/python3) for the
 * tests of one protocol folder: one JSON request on stdin, one JSON answer on stdout. When python3
 * with NumPy and SciPy is absent the tests that need it are skipped (`ignore: !available`), with
 * one line on stderr saying why. Shared by `test/protocol/dp/_python.ts` and
 * `test/protocol/robust/_python.ts`.
 *
 * @module
 */

/** Debian's interpreter, whose python3-numpy and python3-scipy packages the references use. */
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

/** One reference script: whether it can run, and a runner of its requests. */
export interface PythonReference {
  readonly available: boolean;
  /** Runs one request; rejects with the script's stderr if it fails. */
  run<T = Record<string, unknown>>(request: Record<string, unknown>): Promise<T>;
}

/** The reference `script` of the tests of `folder` (named in the skip message). */
export function pythonReference(script: URL, folder: string): PythonReference {
  if (missing !== undefined) {
    console.error(
      `SKIPPING the NumPy/SciPy reference tests of ${folder}: ${missing} ` +
        `(apt-get install python3-numpy python3-scipy)`,
    );
  }
  const path = script.pathname;
  return {
    available: missing === undefined,
    async run<T>(request: Record<string, unknown>): Promise<T> {
      const child = new Deno.Command(PYTHON, {
        args: [path],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(JSON.stringify(request)));
      await writer.close();
      const out = await child.output();
      if (!out.success) {
        const err = new TextDecoder().decode(out.stderr);
        throw new Error(`${path} ${request.op} failed: ${err}`);
      }
      return JSON.parse(new TextDecoder().decode(out.stdout)) as T;
    },
  };
}

/**
 * Collects requests and runs them in one python3 process on the first {@link ReferenceBatch.result}
 * (SciPy takes about a second to import; one process per test file keeps the tests fast).
 */
export class ReferenceBatch {
  readonly #reference: PythonReference;
  readonly #requests: Record<string, unknown>[] = [];
  #answers: Promise<unknown[]> | undefined;

  constructor(reference: PythonReference) {
    this.#reference = reference;
  }

  /** Adds a request; returns its index for {@link ReferenceBatch.result}. Refuses after the run. */
  add(request: Record<string, unknown>): number {
    if (this.#answers !== undefined) throw new Error("Batch: already run");
    return this.#requests.push(request) - 1;
  }

  /** The answer to request `index` (runs the batch the first time). */
  async result<T>(index: number): Promise<T> {
    this.#answers ??= this.#reference.run<unknown[]>({ op: "batch", requests: this.#requests });
    return (await this.#answers)[index] as T;
  }
}

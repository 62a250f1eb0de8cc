/**
 * Runs `_api_server_main.ts` (a real node's trainer API) as a child process, optionally under an
 * open-file limit (`prlimit`, else `ulimit` in a shell), and talks to it: its memory figures
 * (after a full garbage collection), its
 * stderr log so far, whether it is still running.
 *
 * @module
 */
import type { ApiLimits } from "../../node/http_api.ts";

const MAIN = new URL("./_api_server_main.ts", import.meta.url).pathname;

/** The figures the child reports on `mem`. */
export interface ChildMemory {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  /** Open API connections (the `fedagg_api_connections` gauge). */
  readonly connections: number;
  /** Update bodies being read (the `fedagg_api_uploads_in_progress` gauge). */
  readonly uploads: number;
}

/** A running child. */
export interface ApiProcess {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Its memory and gauges now. */
  mem(): Promise<ChildMemory>;
  /** Its stderr so far. */
  stderr(): string;
  /** Its exit code once it exited, else undefined. */
  exited(): number | undefined;
  /** Asks it to stop (then kills it after 10 s) and resolves to its exit code. */
  stop(): Promise<number>;
}

/** Whether `prlimit` is on the PATH. */
async function hasPrlimit(): Promise<boolean> {
  try {
    const out = await new Deno.Command("prlimit", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return out.success;
  } catch {
    return false;
  }
}

/** Starts the child with `config` (`dim`, `limits`) and, if given, `nofile` as its fd limit. */
export async function spawnApiServer(
  config: { dim?: number; limits?: Partial<ApiLimits> },
  nofile?: number,
): Promise<ApiProcess> {
  // expose-gc: `mem` collects garbage first, so heap figures count what is still reachable.
  const deno = [
    Deno.execPath(),
    "run",
    "--allow-all",
    "--v8-flags=--expose-gc",
    MAIN,
    JSON.stringify(config),
  ];
  const [cmd, args] = nofile === undefined
    ? [deno[0], deno.slice(1)]
    : await hasPrlimit()
    ? ["prlimit", [`--nofile=${nofile}:${nofile}`, ...deno]]
    : ["bash", ["-c", `ulimit -n ${nofile} && exec "$@"`, "bash", ...deno]];
  const child = new Deno.Command(cmd, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let code: number | undefined;
  const status = child.status.then((s) => code = s.code);
  let err = "";
  const errDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (t) => void (err += t) }),
  ).catch(() => {});
  const lines: string[] = [];
  let waiting: (() => void) | undefined;
  let out = "";
  const outDone = child.stdout.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({
      write: (t) => {
        out += t;
        for (let nl; (nl = out.indexOf("\n")) >= 0;) {
          lines.push(out.slice(0, nl));
          out = out.slice(nl + 1);
        }
        waiting?.();
      },
    }),
  ).catch(() => {});
  const nextLine = async (): Promise<string> => {
    while (lines.length === 0) {
      if (code !== undefined) throw new Error(`the API process exited (${code}): ${err}`);
      await Promise.race([new Promise<void>((r) => waiting = r), status]);
    }
    return lines.shift()!;
  };
  const writer = child.stdin.getWriter();
  const command = (line: string) => writer.write(new TextEncoder().encode(line + "\n"));
  const ready = JSON.parse(await nextLine()) as { url: string; port: number; pid: number };
  return {
    ...ready,
    async mem() {
      await command("mem");
      return JSON.parse(await nextLine()) as ChildMemory;
    },
    stderr: () => err,
    exited: () => code,
    async stop() {
      if (code === undefined) {
        await command("quit").catch(() => {});
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // already gone
          }
        }, 10_000);
        await status;
        clearTimeout(timer);
      }
      await writer.close().catch(() => {});
      await Promise.all([errDone, outDone]);
      return code!;
    },
  };
}

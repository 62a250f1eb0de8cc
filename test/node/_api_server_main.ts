/**
 * The trainer API of a real node as a separate process, for tests and measurements that need the
 * server alone in its process (an open-file limit of its own, its own memory figures).
 *
 * `deno run --allow-all test/node/_api_server_main.ts '{"dim": 6, "limits": {...}}'` prints one
 * JSON line `{"url", "port", "pid"}` on stdout once serving, then answers each stdin line:
 * `mem` → a JSON line of `Deno.memoryUsage()` (after a full garbage collection when the process
 * runs with `--v8-flags=--expose-gc`, as `_api_process.ts` starts it) with the open API
 * connections and uploads (`connections`, `uploads`); `quit` (or the end of stdin) → stops and
 * exits 0.
 * Log lines go to stderr as JSON.
 *
 * @module
 */
import { startApiNode, stopApiNode } from "./_api_node.ts";

const config = JSON.parse(Deno.args[0] ?? "{}");
// As `fedagg run` does before its node starts, SIGINT and SIGTERM are bound at once. Without
// this, something in the process binds a signal stream later, and at the open-file limit Deno
// 2.9.6 panics doing so (ext/signals/lib.rs:58, unwrap on EMFILE): 2 of 3 runs of the
// out-of-descriptors test died that way. The process is stopped by `quit` or SIGKILL, never by a
// signal, so the listeners do nothing.
for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, () => {});
const f = await startApiNode({
  dim: config.dim,
  limits: config.limits,
  onLog: (level, message, fields) => console.error(JSON.stringify({ level, message, ...fields })),
});
console.log(JSON.stringify({ url: f.api.url, port: f.port, pid: Deno.pid }));
let pending = "";
read: for await (const text of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  pending += text;
  for (let nl; (nl = pending.indexOf("\n")) >= 0;) {
    const line = pending.slice(0, nl).trim();
    pending = pending.slice(nl + 1);
    if (line === "mem") {
      (globalThis as { gc?: () => void }).gc?.();
      console.log(JSON.stringify({
        ...Deno.memoryUsage(),
        connections: f.node.metrics.get("fedagg_api_connections"),
        uploads: f.node.metrics.get("fedagg_api_uploads_in_progress"),
      }));
    }
    if (line === "quit") break read;
  }
}
await stopApiNode(f);
Deno.exit(0);

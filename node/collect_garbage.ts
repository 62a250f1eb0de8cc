/**
 * A full garbage collection on demand, for a thread that just dropped megabytes of ArrayBuffers.
 *
 * V8 frees an ArrayBuffer's memory only when a collection finds the buffer unreachable, and it
 * schedules collections by its JavaScript heap and by external memory growing past a soft limit
 * (64 MB above the last collection). A leader taking in n masked vectors makes about three
 * arrays of each (the ciphertext read, its decryption, the reassembled frame): ≈ 12 MB of
 * garbage per vector at d = 1M, which piled up to that limit and more before a collection came
 * by; the frame inbox collects once that garbage passes a bound instead (`frame_stream.ts`).
 *
 * Not free: a forced collection runs on the calling thread, and measured in a mask worker
 * (one after each job) it tripled the CPU of a d = 1M, 11-term job (≈ 115 → ≈ 330 ms, the minor
 * collection alike), so the workers do not use it (`docs/performance.md`).
 *
 * Uses `--expose-gc`, set at run time through `node:v8` (the flag is read when the function is
 * created, in a new `node:vm` context), or the `gc` of a process started with
 * `--v8-flags=--expose-gc`.
 *
 * @module
 */
import v8 from "node:v8";
import vm from "node:vm";

let collector: (() => void) | null | undefined;

/** The runtime's `gc` function, exposed once per isolate; null when the runtime refuses. */
function gcFunction(): (() => void) | null {
  if (collector !== undefined) return collector;
  const global = (globalThis as { gc?: unknown }).gc;
  if (typeof global === "function") return collector = global as () => void;
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc");
    collector = typeof gc === "function" ? gc as () => void : null;
  } catch {
    collector = null;
  }
  return collector;
}

/**
 * Runs a full collection on this thread now (synchronously). Returns false, having done
 * nothing, when the runtime does not let it (no `gc` can be exposed); never throws.
 */
export function collectGarbage(): boolean {
  const gc = gcFunction();
  if (gc === null) return false;
  gc();
  return true;
}

/**
 * The lowest external memory seen since this thread's last collection here (0 before the
 * first): right after a collection it is what was live then, and it ratchets down on every call,
 * so memory freed since by V8's own collections does not raise the bar for the next one.
 */
let liveExternal = 0;

/**
 * Runs a full collection (as {@link collectGarbage}) when this thread's external memory
 * (`Deno.memoryUsage().external`: ArrayBuffers) is more than `slackBytes` above the lowest it
 * has been since the last collection made here; else does nothing. Returns whether it collected;
 * never throws.
 */
export function collectGarbageBeyond(slackBytes: number): boolean {
  const external = Deno.memoryUsage().external;
  liveExternal = Math.min(liveExternal, external);
  if (external <= liveExternal + slackBytes) return false;
  if (!collectGarbage()) return false;
  liveExternal = Deno.memoryUsage().external;
  return true;
}

/**
 * Deno compatibility shims for js-libp2p, loaded before anything else by the node's entry
 * point. Without them a node never exits after `stop()`:
 *
 * - mortice (libp2p's peer-store locks) opens a `BroadcastChannel` and calls `unref?.()`, which
 *   Deno's BroadcastChannel lacks, so the channel keeps the event loop alive. Deno offers no way
 *   to unref a channel, so the shim's `unref` records it and the node closes the recorded
 *   channels once libp2p has stopped ({@link closeUnrefdChannels}).
 * - `AbortSignal.timeout(ms)` keeps Deno alive until it fires; the shim builds the same signal
 *   on an unref'd timer (`Deno.unrefTimer`), which is what Node does.
 *
 * Importing this module applies the shims once; it exports nothing else of use.
 *
 * @module
 */

const unrefd = new Set<BroadcastChannel>();

// deno-lint-ignore no-explicit-any
const proto = BroadcastChannel.prototype as any;
if (typeof proto.unref !== "function") {
  proto.unref = function (this: BroadcastChannel) {
    unrefd.add(this);
    return this;
  };
  proto.ref = function (this: BroadcastChannel) {
    unrefd.delete(this);
    return this;
  };
}

/** Closes the BroadcastChannels libraries asked to unref (call after stopping libp2p). */
export function closeUnrefdChannels(): void {
  for (const channel of unrefd) channel.close();
  unrefd.clear();
}

const originalTimeout = AbortSignal.timeout.bind(AbortSignal);
AbortSignal.timeout = (ms: number): AbortSignal => {
  if (!Number.isFinite(ms) || ms < 0) return originalTimeout(ms);
  const controller = new AbortController();
  const id = setTimeout(() => {
    controller.abort(new DOMException("The operation timed out.", "TimeoutError"));
  }, ms);
  Deno.unrefTimer(id);
  return controller.signal;
};

/**
 * The timer that runs the endpoint's `tick`: one deadline at a time (the endpoint's
 * `nextTimeout()`), on the monotonic clock, with one rule for a timer that fires much later than
 * it was due.
 *
 * **Late timers yield to pending I/O first.** A process that was paused (SIGSTOP, a frozen VM,
 * a long GC or swap stall) finds on resuming both its overdue timers and the frames that arrived
 * meanwhile, still in socket buffers. The event loop runs due timers before it reads sockets, and
 * a frame takes several reads (noise, yamux, the frame protocol) before it reaches the driver's
 * pipeline, so a tick handed over at once would be judged on stale state: a leader whose answers
 * are waiting in its buffers would time its stage out as if they never came. So a timer that
 * fires more than {@link LATE_TIMER_MS} after its deadline waits {@link PAUSE_YIELD_MS} more
 * before firing; the frames read in that window enter the pipeline ahead of the tick, which is
 * FIFO, and the protocol sees them first. Lateness is counted from the deadline, so a deadline
 * that passed while the process was busy (a long call, a starved CPU) is treated the same way:
 * frames may have queued meanwhile too.
 *
 * Why that is safe: a protocol timeout only ever gives up waiting (a stage closes with what it
 * has, a view is left); running it a little later than due is what a slower clock would do, and
 * no protocol guarantee depends on a timeout firing on time. The one rule stated against the
 * clock — a member never approves or reveals after its round deadline — does not rest on this
 * timer: the participant checks its deadline on every frame it reads first, so frames read ahead
 * of a late tick are judged with the deadline already applied. The delay is bounded (one yield per
 * late firing) and only taken when the process demonstrably did not run for a while. A hung
 * process is unaffected: its timers do not fire at all until it runs again.
 *
 * @module
 */

/** A timer firing more than this (ms) after its deadline is taken as a pause of the process. */
export const LATE_TIMER_MS = 500;
/** How long (ms) a late timer yields to pending I/O before it fires. */
export const PAUSE_YIELD_MS = 200;

/** The clock and timer functions the adapter uses (real ones by default; fakes in tests). */
export interface TimerClock {
  /** Monotonic time in ms, on the scale of the deadlines given to {@link ProtocolTimer.set}. */
  now(): number;
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realClock: TimerClock = {
  now: () => performance.now(),
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** What a {@link ProtocolTimer} needs. */
export interface ProtocolTimerOptions {
  /** Called when the deadline passed (after the yield, for a late timer). */
  readonly fire: () => void;
  readonly clock?: TimerClock;
  /** See {@link LATE_TIMER_MS}. */
  readonly lateMs?: number;
  /** See {@link PAUSE_YIELD_MS}. */
  readonly yieldMs?: number;
}

/** One deadline at a time, fired on time or, when late, after a yield (see the module doc). */
export class ProtocolTimer {
  readonly #options: ProtocolTimerOptions;
  readonly #clock: TimerClock;
  #handle: unknown;
  #at: number | undefined;
  #yielding: unknown;
  #stopped = false;

  /** A timer with no deadline yet. */
  constructor(options: ProtocolTimerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? realClock;
  }

  /**
   * Sets the deadline to `at` (ms on the clock), replacing the previous one; undefined clears it.
   * Setting the same deadline again changes nothing. A late firing already yielding still fires
   * (one more tick, which the protocol treats like any other).
   */
  set(at: number | undefined): void {
    if (at === this.#at || this.#stopped) return;
    if (this.#handle !== undefined) this.#clock.clear(this.#handle);
    this.#handle = undefined;
    this.#at = at;
    if (at === undefined) return;
    this.#handle = this.#clock.set(() => this.#due(at), Math.max(0, at - this.#clock.now()));
  }

  /** Clears the deadline and any yield in progress; nothing fires any more. */
  stop(): void {
    this.#stopped = true;
    if (this.#handle !== undefined) this.#clock.clear(this.#handle);
    if (this.#yielding !== undefined) this.#clock.clear(this.#yielding);
    this.#handle = this.#yielding = this.#at = undefined;
  }

  #due(at: number): void {
    this.#handle = undefined;
    this.#at = undefined;
    const late = this.#clock.now() - at;
    if (late <= (this.#options.lateMs ?? LATE_TIMER_MS)) return this.#options.fire();
    if (this.#yielding !== undefined) return; // one yield is already on its way to firing
    this.#yielding = this.#clock.set(() => {
      this.#yielding = undefined;
      if (!this.#stopped) this.#options.fire();
    }, this.#options.yieldMs ?? PAUSE_YIELD_MS);
  }
}

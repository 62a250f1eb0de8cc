/**
 * A fake clock with timers for unit tests of the node's timer adapters: time moves only when the
 * test says, and due timers run in deadline order (then in order of setting).
 *
 * @module
 */

/** A manual clock whose `set`/`clear` fit `TimerClock` and `WatchTimers`. */
export class FakeClock {
  #now = 0;
  #seq = 0;
  readonly #timers = new Map<number, { at: number; seq: number; fn: () => void }>();

  /** The current time (ms). */
  now(): number {
    return this.#now;
  }

  set(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), seq: id, fn });
    return id;
  }

  clear(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers still set. */
  get pending(): number {
    return this.#timers.size;
  }

  /**
   * Moves the clock to `to`, running every timer due by then, each at its own time — unless
   * `paused`: then the process was not running, and the clock jumps to `to` before any timer
   * due in between runs (all of them late, as after a SIGSTOP).
   */
  advance(to: number, paused = false): void {
    if (paused) this.#now = to;
    for (;;) {
      const due = [...this.#timers.entries()]
        .filter(([, t]) => t.at <= to)
        .sort(([, a], [, b]) => a.at - b.at || a.seq - b.seq)[0];
      if (due === undefined) break;
      this.#timers.delete(due[0]);
      this.#now = Math.max(this.#now, due[1].at);
      due[1].fn();
    }
    this.#now = to;
  }
}

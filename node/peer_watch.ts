/**
 * The node's failure detector: turns the mesh's connection facts (a member's last connection
 * closed; a connection to it opened) into the protocol's lost-member input. A member whose
 * connection is down for longer than a grace is reported lost once; when it is connected again
 * after that, it is reported back once. A connection that comes back within the grace (a
 * redial, a restart of the member's process, libp2p replacing a duplicate connection) reports
 * nothing. What a lost member means is the protocol's decision (`Endpoint.memberLost`), not
 * this file's.
 *
 * It only sees connections: a member that is hung but still connected (paused, deadlocked) is
 * not detected here, and the protocol's timers catch it.
 *
 * @module
 */

/**
 * Default grace (ms) between a member's last connection closing and reporting it lost: 1 s,
 * which is one election timeout of etcd's default settings and covers the mesh's immediate
 * redial of a dropped connection (a dial on loopback or a LAN takes tens of ms) and a process
 * restarted by a supervisor that is quick about it. A member whose process died is noticed
 * after this grace instead of a view timeout (seconds to minutes). Raise it on links where
 * connections drop and recover often; it is the node option `peerLossGraceMs` and the `fedagg
 * run --peer-loss-grace MS` flag.
 */
export const PEER_LOSS_GRACE_MS = 1000;

/** The timer functions the watch uses (the global ones by default; fakes in tests). */
export interface WatchTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: WatchTimers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** What a {@link PeerWatch} needs. */
export interface PeerWatchOptions {
  /** Grace before a disconnected member is reported lost (ms, ≥ 0). */
  readonly graceMs: number;
  /** Member `member` has been disconnected for the grace (called once per loss). */
  readonly lost: (member: number) => void;
  /** Member `member`, reported lost, is connected again (called once per return). */
  readonly back: (member: number) => void;
  readonly timers?: WatchTimers;
}

/** Connection facts in, lost and back reports out (see the module doc). */
export class PeerWatch {
  readonly #options: PeerWatchOptions;
  readonly #timers: WatchTimers;
  /** Members disconnected and still within their grace, with their pending timer. */
  readonly #pending = new Map<number, unknown>();
  /** Members reported lost and not back since. */
  readonly #lost = new Set<number>();
  #stopped = false;

  /** A watch reporting to `options.lost` / `options.back`. Refuses (RangeError) a bad grace. */
  constructor(options: PeerWatchOptions) {
    if (!Number.isFinite(options.graceMs) || options.graceMs < 0) {
      throw new RangeError(`peer loss grace must be a number of ms ≥ 0, got ${options.graceMs}`);
    }
    this.#options = options;
    this.#timers = options.timers ?? realTimers;
  }

  /** Members currently reported lost, ascending. */
  get lost(): number[] {
    return [...this.#lost].sort((a, b) => a - b);
  }

  /** Member `member` has no connection any more: reported lost unless it is back within the grace. */
  down(member: number): void {
    if (this.#stopped || this.#pending.has(member) || this.#lost.has(member)) return;
    const handle = this.#timers.set(() => {
      this.#pending.delete(member);
      if (this.#stopped) return;
      this.#lost.add(member);
      this.#options.lost(member);
    }, this.#options.graceMs);
    this.#pending.set(member, handle);
  }

  /** Member `member` is connected: cancels a pending loss; reports it back if it was lost. */
  up(member: number): void {
    if (this.#stopped) return;
    const pending = this.#pending.get(member);
    if (pending !== undefined) {
      this.#timers.clear(pending);
      this.#pending.delete(member);
    }
    if (this.#lost.delete(member)) this.#options.back(member);
  }

  /** Cancels every pending timer; reports nothing more. */
  stop(): void {
    this.#stopped = true;
    for (const handle of this.#pending.values()) this.#timers.clear(handle);
    this.#pending.clear();
  }
}

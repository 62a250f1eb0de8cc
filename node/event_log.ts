/**
 * The replay buffer behind the API's event stream (`GET /v1/events`): every event gets an id, the
 * newest `capacity` events are kept in memory, and a client that reconnects with the id of the
 * last event it saw (`Last-Event-ID`) gets the events after it before the live ones.
 *
 * Ids are `<epoch>-<seq>`: `seq` counts from 1 in each process, `epoch` tells processes apart (a
 * restarted node starts a new epoch). When the events after a client's id are no longer all here
 * — the id is older than the buffer, comes from another epoch (the node restarted) or is not an
 * id at all — {@link EventLog.since} says so (`gap`), and the API sends a `gap` event first: the
 * client may have missed events and should read `GET /v1/status` (and the rounds it cares about)
 * rather than trust the stream alone. Nothing here is persisted.
 *
 * @module
 */

/** One event as it is stored and replayed: its id, its type and its JSON-able data. */
export interface LoggedEvent<T> {
  readonly id: string;
  readonly event: T;
}

/** What {@link EventLog.since} found for a `Last-Event-ID`. */
export interface Replay<T> {
  /** The kept events after the given id (all kept events when there is a gap), oldest first. */
  readonly events: readonly LoggedEvent<T>[];
  /**
   * Why events may be missing, when they may: the id is older than the oldest kept event
   * (`too-old`), from another run of the node (`other-epoch`), or malformed (`unknown-id`).
   */
  readonly gap?: "too-old" | "other-epoch" | "unknown-id";
  /** The oldest id still kept (undefined when nothing is kept). */
  readonly oldest?: string;
}

/** The default number of events kept for replay. */
export const DEFAULT_EVENT_CAPACITY = 1024;

/** A bounded, in-memory log of events with ids. */
export class EventLog<T> {
  readonly #epoch: string;
  readonly #capacity: number;
  readonly #events: LoggedEvent<T>[] = [];
  #seq = 0;

  /**
   * @param capacity events kept (at least 1)
   * @param epoch this run's id prefix (default: the start time in base 36, which differs
   *   between runs of a node)
   */
  constructor(capacity = DEFAULT_EVENT_CAPACITY, epoch = Date.now().toString(36)) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`event log capacity must be a positive integer, got ${capacity}`);
    }
    if (!/^[0-9a-z]+$/.test(epoch)) throw new RangeError(`event log epoch must be [0-9a-z]+`);
    this.#capacity = capacity;
    this.#epoch = epoch;
  }

  /** This run's epoch (the part of every id before the dash). */
  get epoch(): string {
    return this.#epoch;
  }

  /** Appends `event` with the next id (dropping the oldest beyond the capacity); returns it. */
  append(event: T): LoggedEvent<T> {
    const logged = { id: `${this.#epoch}-${++this.#seq}`, event };
    this.#events.push(logged);
    if (this.#events.length > this.#capacity) this.#events.shift();
    return logged;
  }

  /** The kept events after `lastId` (see {@link Replay}); undefined `lastId`: none. */
  since(lastId: string | undefined): Replay<T> {
    const oldest = this.#events[0]?.id;
    if (lastId === undefined) return { events: [], oldest };
    const m = /^([0-9a-z]+)-([1-9][0-9]{0,15})$/.exec(lastId.trim());
    if (m === null) return { events: [...this.#events], gap: "unknown-id", oldest };
    if (m[1] !== this.#epoch) return { events: [...this.#events], gap: "other-epoch", oldest };
    const seq = Number(m[2]);
    if (seq > this.#seq) return { events: [...this.#events], gap: "unknown-id", oldest };
    const first = this.#seq - this.#events.length + 1; // the seq of the oldest kept event
    // Events first..seq were seen; seq + 1 must still be here for nothing to be missing.
    if (seq + 1 < first) return { events: [...this.#events], gap: "too-old", oldest };
    return { events: this.#events.slice(seq + 1 - first), oldest };
  }
}

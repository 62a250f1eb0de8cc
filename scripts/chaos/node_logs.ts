/**
 * What the nodes of a local federation said about each round, read from their logs
 * (`DIR/node.log`, one JSON object a line, written by `fedagg run` and kept across restarts).
 *
 * The log, not the `/v1/events` stream, is the record the chaos run judges by: it survives a
 * node's restart (events emitted while no stream is connected are lost), and its `round failed`
 * line names the role — a `leader` session failing says nothing about this member's update; only
 * the `participant`'s failure ends the update (the event stream does not carry the role).
 *
 * @module
 */
import type { LocalNode } from "../testnet/local_net.ts";

/** A `round failed` line. */
export interface FailedLine {
  /** Wall-clock ms (`Date.now()` scale). */
  readonly at: number;
  readonly role: string;
  readonly view: number;
  readonly reason: string;
}

/** What one node's log says about one round so far. */
export interface RoundLog {
  /** `round failed` lines of the participant (this member's update ended). */
  readonly participantFailed: FailedLine[];
  /** `round failed` lines of sessions this node led. */
  readonly leaderFailed: FailedLine[];
  /** When the node logged `aggregate final` (wall-clock ms), and for which view. */
  final: { at: number; view: number } | undefined;
  /** View changes (from → to). */
  readonly viewChanges: string[];
}

/**
 * Follows the logs of a federation's nodes incrementally: each {@link poll} reads what was
 * appended since the last one (whole lines only) and files it by round.
 */
export class NodeLogs {
  readonly #offsets = new Map<LocalNode, number>();
  readonly #partial = new Map<LocalNode, string>();
  readonly #rounds = new Map<LocalNode, Map<number, RoundLog>>();
  /** Error-level lines and unparsable output, by node (for the notes). */
  readonly errors = new Map<LocalNode, string[]>();

  constructor(readonly nodes: readonly LocalNode[]) {}

  /** What `node`'s log says about `round` (an empty record if nothing yet). */
  round(node: LocalNode, round: number): RoundLog {
    let byRound = this.#rounds.get(node);
    if (byRound === undefined) this.#rounds.set(node, byRound = new Map());
    let r = byRound.get(round);
    if (r === undefined) {
      byRound.set(
        round,
        r = {
          participantFailed: [],
          leaderFailed: [],
          final: undefined,
          viewChanges: [],
        },
      );
    }
    return r;
  }

  /**
   * Reads every node's new lines. Each is stamped with its own time (`t`, wall clock in ms since
   * the epoch, as `Date.now()`), or `now` where it has none.
   */
  async poll(now: number): Promise<void> {
    for (const node of this.nodes) await this.#pollOne(node, now);
  }

  async #pollOne(node: LocalNode, now: number): Promise<void> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(`${node.dir}/node.log`, { read: true });
    } catch {
      return; // not started yet
    }
    let text = "";
    try {
      await file.seek(this.#offsets.get(node) ?? 0, Deno.SeekMode.Start);
      const chunks: Uint8Array[] = [];
      const buf = new Uint8Array(64 * 1024);
      for (;;) {
        const n = await file.read(buf);
        if (n === null) break;
        chunks.push(buf.slice(0, n));
      }
      const length = chunks.reduce((a, c) => a + c.length, 0);
      this.#offsets.set(node, (this.#offsets.get(node) ?? 0) + length);
      const all = new Uint8Array(length);
      let o = 0;
      for (const c of chunks) {
        all.set(c, o);
        o += c.length;
      }
      text = (this.#partial.get(node) ?? "") + new TextDecoder().decode(all);
    } finally {
      file.close();
    }
    const lines = text.split("\n");
    this.#partial.set(node, lines.pop() ?? "");
    for (const line of lines) if (line !== "") this.#file(node, line, now);
  }

  #file(node: LocalNode, line: string, now: number): void {
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line);
    } catch {
      if (/error|uncaught|panic/i.test(line)) this.#error(node, line.slice(0, 200));
      return;
    }
    const round = typeof e.round === "number" ? e.round : undefined;
    const stamped = typeof e.t === "string" ? Date.parse(e.t) : NaN;
    now = Number.isFinite(stamped) ? stamped : now;
    if (e.msg === "round failed" && round !== undefined) {
      const f: FailedLine = {
        at: now,
        role: String(e.role),
        view: Number(e.view),
        reason: String(e.reason),
      };
      const r = this.round(node, round);
      (f.role === "participant" ? r.participantFailed : r.leaderFailed).push(f);
    } else if (e.msg === "aggregate final" && round !== undefined) {
      const r = this.round(node, round);
      r.final ??= { at: now, view: Number(e.view) };
    } else if (e.msg === "view change" && round !== undefined) {
      this.round(node, round).viewChanges.push(`${e.from}→${e.to}`);
    } else if (e.level === "error") {
      this.#error(node, `${e.msg}${round !== undefined ? ` (round ${round})` : ""}`);
    }
  }

  #error(node: LocalNode, what: string): void {
    const list = this.errors.get(node) ?? [];
    if (list.length < 20) list.push(what);
    this.errors.set(node, list);
  }
}

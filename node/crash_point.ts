/**
 * Crash points: fault injection for tests, in the manner of SQLite's crash tests. A few places
 * where a crash matters (each durable journal write, before its rename and after its directory
 * sync; each frame before it leaves this node) call {@link crashPoint} with a name. Two
 * environment variables, read once when this module loads, decide what a call does:
 *
 * - `FEDAGG_CRASH_AT="<point>[#<nth>]"` (nth ≥ 1, default 1): at the nth call of that point the
 *   process sends itself SIGKILL — a real crash, no `finally`, no cleanup, no flush of anything
 *   not yet handed to the operating system;
 * - `FEDAGG_CRASH_LOG=<path>`: every call appends one line `<point>#<nth>` to that file,
 *   synchronously (so the line of the point that kills is written first). A test harness runs a
 *   normal round with it to enumerate the points a round passes through; each line is a valid
 *   `FEDAGG_CRASH_AT` value.
 *
 * Without either variable (production), a call returns at once without evaluating its name: no
 * I/O, no allocation beyond the caller's closure. The variables are read only when the process
 * already holds the permission to read them (no prompt); a malformed `FEDAGG_CRASH_AT` is reported
 * on stderr once and disarms the hook (the harness then sees its point was never hit). This is
 * harmless in production: it does something only when an operator sets a variable whose only
 * purpose is to kill the process.
 *
 * Point names: `journal:<file>:before-rename` / `journal:<file>:after-sync` for a write under a
 * `journal/` directory (`file:<name>:…` for any other atomic write), `send:<messageType>` for a
 * frame about to leave, and `receive:<messageType>` for a frame from a peer about to be handled
 * (see {@link filePoint}, {@link sendPoint}, {@link receivePoint}).
 *
 * @module
 */
import { decode } from "../protocol/mod.ts";

/** The variable that arms one point. */
export const CRASH_AT_VAR = "FEDAGG_CRASH_AT";
/** The variable naming the file every hit is appended to. */
export const CRASH_LOG_VAR = "FEDAGG_CRASH_LOG";

/** A parsed `FEDAGG_CRASH_AT` value. */
export interface CrashTarget {
  readonly point: string;
  readonly nth: number;
}

/**
 * Parses `<point>[#<nth>]`. Returns undefined for anything else (an empty point, a point with
 * whitespace, an nth that is not an integer ≥ 1).
 */
export function parseCrashTarget(value: string): CrashTarget | undefined {
  const m = /^([^\s#]+)(?:#([1-9][0-9]{0,8}))?$/.exec(value);
  if (m === null) return undefined;
  return { point: m[1], nth: m[2] === undefined ? 1 : Number(m[2]) };
}

function readVar(name: string): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
      return undefined;
    }
    const v = Deno.env.get(name);
    return v === "" ? undefined : v;
  } catch {
    return undefined;
  }
}

const rawTarget = readVar(CRASH_AT_VAR);
const target = rawTarget === undefined ? undefined : parseCrashTarget(rawTarget);
if (rawTarget !== undefined && target === undefined) {
  console.error(
    `${CRASH_AT_VAR}=${JSON.stringify(rawTarget)} is not "<point>[#<nth>]"; crash points disarmed`,
  );
}
const logPath = readVar(CRASH_LOG_VAR);
const armed = target !== undefined || logPath !== undefined;
const hits = new Map<string, number>();

/**
 * Marks a crash point. `name` is the point's name, or a function computing it (called only when
 * a variable is set, so a costly name costs nothing in production). Kills this process with
 * SIGKILL at the armed hit; otherwise returns.
 */
export function crashPoint(name: string | (() => string)): void {
  if (!armed) return;
  const point = typeof name === "string" ? name : name();
  const nth = (hits.get(point) ?? 0) + 1;
  hits.set(point, nth);
  if (logPath !== undefined) {
    try {
      Deno.writeTextFileSync(logPath, `${point}#${nth}\n`, { append: true });
    } catch {
      // the log is a test aid: losing a line must not change what the node does
    }
  }
  if (target !== undefined && target.point === point && target.nth === nth) {
    Deno.kill(Deno.pid, "SIGKILL");
  }
}

/**
 * The point name of an atomic write of `path` at `moment`: `journal:<base name>:<moment>` for a
 * file directly under a `journal/round-R/` directory, `file:<base name>:<moment>` otherwise.
 */
export function filePoint(path: string, moment: "before-rename" | "after-sync"): string {
  const parts = path.split("/");
  const base = parts.at(-1) ?? path;
  const inJournal = parts.length >= 3 && parts.at(-3) === "journal";
  return `${inJournal ? "journal" : "file"}:${base}:${moment}`;
}

/**
 * The point name of handling `frame`, received from a peer: `receive:<messageType>` (as
 * {@link sendPoint} names it), or `receive:unknown`.
 */
export function receivePoint(frame: Uint8Array): string {
  return `receive:${sendPoint(frame).slice("send:".length)}`;
}

const TAG_PREFIX = "fedagg/v1/msg/";

/**
 * The point name of sending `frame`: `send:<messageType>` (the wire tag in camel case, e.g.
 * `send:maskedInput`), or `send:unknown` for bytes that are not a frame.
 */
export function sendPoint(frame: Uint8Array): string {
  try {
    const outer = decode(frame, Infinity, "frame");
    const payload = Array.isArray(outer) ? outer[0] : undefined;
    if (!(payload instanceof Uint8Array)) return "send:unknown";
    const fields = decode(payload, Infinity, "payload");
    const tag = Array.isArray(fields) ? fields[0] : undefined;
    if (typeof tag !== "string" || !tag.startsWith(TAG_PREFIX)) return "send:unknown";
    const type = tag.slice(TAG_PREFIX.length).replace(
      /-([a-z])/g,
      (_, c: string) => c.toUpperCase(),
    );
    return `send:${type}`;
  } catch {
    return "send:unknown";
  }
}

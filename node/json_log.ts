/**
 * The node's log: one JSON object per line on stderr (`t`, `level`, `msg`, then the fields),
 * filtered by a minimum level (`fedagg run --log-level`, default `info`).
 *
 * @module
 */
import { NodeError } from "./errors.ts";
import type { Log, LogLevel } from "./mesh.ts";

/** The levels, least severe first. */
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** The level `fedagg run` logs from unless `--log-level` says otherwise. */
export const DEFAULT_LOG_LEVEL: LogLevel = "info";

/** `text` as a level; refuses (NodeError `usage`) anything but the four names. */
export function parseLogLevel(text: string, option = "--log-level"): LogLevel {
  const level = LOG_LEVELS.find((l) => l === text);
  if (level === undefined) {
    throw new NodeError(
      "usage",
      `${option} must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(text)}`,
    );
  }
  return level;
}

/**
 * A {@link Log} writing lines at `min` or above to `write` (default: stderr); lines below `min`
 * are dropped before anything is formatted.
 */
export function jsonLog(
  min: LogLevel = DEFAULT_LOG_LEVEL,
  write: (line: string) => void = (line) => console.error(line),
): Log {
  const floor = LOG_LEVELS.indexOf(min);
  return (level, message, fields = {}) => {
    if (LOG_LEVELS.indexOf(level) < floor) return;
    write(JSON.stringify({ t: new Date().toISOString(), level, msg: message, ...fields }));
  };
}

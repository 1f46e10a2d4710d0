/**
 * Parsing of command-line values shared by the commands.
 * @module
 */
import parseDuration from "npm:parse-duration@^2.1.4";
import { UsageError } from "./errors.ts";

/** A day and a year, in ms: the longest slow-request threshold and the longest duration. */
export const DAY_MS = 86_400_000;
export const YEAR_MS = 365 * DAY_MS;
/** The most keys a bpftrace map may be given. */
export const MAX_MAP_KEYS = 1 << 24;
/** The kernel's largest pid (PID_MAX_LIMIT on 64-bit). */
export const PID_MAX = 4_194_304;

/**
 * A duration (`10s`, `500ms`, `2m`; a bare number is seconds) in milliseconds, up to `max`.
 * @throws {UsageError} on anything else, or a duration that is not positive
 */
export function parseDurationMs(text: string, what = "duration", max = YEAR_MS): number {
  const t = text.trim();
  const ms = /^\d+(\.\d+)?$/.test(t)
    ? Number(t) * 1000
    : /^\d+(\.\d+)?\s*[a-zµ]+$/i.test(t)
    ? parseDuration(t)
    : null;
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms <= 0) {
    throw new UsageError(`Invalid ${what} "${text}": use e.g. 10s, 500ms, 2m`);
  }
  if (ms > max) {
    throw new UsageError(`Invalid ${what} "${text}": longer than ${max / DAY_MS} days`);
  }
  return ms;
}

/**
 * A positive integer up to `max`.
 * @throws {UsageError} otherwise
 */
export function parsePositiveInt(
  text: string,
  what: string,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) <= 0 || Number(text) > max) {
    throw new UsageError(
      `Invalid ${what} "${text}": expected a positive integer${
        max < Number.MAX_SAFE_INTEGER ? ` up to ${max}` : ""
      }`,
    );
  }
  return Number(text);
}

/**
 * A process id (1 … 4 194 304).
 * @throws {UsageError} otherwise
 */
export function parsePid(text: string, what: string): number {
  return parsePositiveInt(text, what, PID_MAX);
}

/**
 * A command name as the kernel keeps it: 1–15 bytes, printable.
 * @throws {UsageError} otherwise
 */
export function checkComm(name: string): void {
  // deno-lint-ignore no-control-regex
  if (!name || new TextEncoder().encode(name).length > 15 || /[\x00-\x1f\x7f]/.test(name)) {
    throw new UsageError(
      // deno-lint-ignore no-control-regex
      `Invalid --comm "${name.replace(/[\x00-\x1f\x7f]/g, "?")}": a command name is 1 to 15 ` +
        "printable bytes, as in /proc/PID/comm",
    );
  }
}

/** The number of a signal name (SIGKILL → 9), for a 128 + N exit status. */
export function signalNumber(name: string): number {
  return ({
    SIGHUP: 1,
    SIGINT: 2,
    SIGQUIT: 3,
    SIGABRT: 6,
    SIGKILL: 9,
    SIGSEGV: 11,
    SIGPIPE: 13,
    SIGTERM: 15,
  } as Record<string, number>)[name] ?? 1;
}

/** Splits `a,b , c` into names. */
export function parseList(text: string): string[] {
  return text.split(",").map((s) => s.trim()).filter(Boolean);
}

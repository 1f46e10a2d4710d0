/**
 * Parsing of command-line values shared by the commands.
 * @module
 */
import parseDuration from "parse-duration";
import { UsageError } from "./errors.ts";

/**
 * A duration (`10s`, `500ms`, `2m`; a bare number is seconds) in milliseconds.
 * @throws {UsageError} on anything else, or a duration that is not positive
 */
export function parseDurationMs(text: string, what = "duration"): number {
  const t = text.trim();
  const ms = /^\d+(\.\d+)?$/.test(t)
    ? Number(t) * 1000
    : /^[\d.]+\s*[a-zµ]+$/i.test(t)
    ? parseDuration(t)
    : null;
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms <= 0) {
    throw new UsageError(`Invalid ${what} "${text}": use e.g. 10s, 500ms, 2m`);
  }
  return ms;
}

/**
 * A positive integer.
 * @throws {UsageError} otherwise
 */
export function parsePositiveInt(text: string, what: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) <= 0) {
    throw new UsageError(`Invalid ${what} "${text}": expected a positive integer`);
  }
  return Number(text);
}

/** Splits `a,b , c` into names. */
export function parseList(text: string): string[] {
  return text.split(",").map((s) => s.trim()).filter(Boolean);
}

/**
 * testfs's injected behaviour: service time per operation (fixed or from a stated distribution)
 * and errors with a probability.
 * @module
 */
import { UsageError } from "../util/errors.ts";
import { errnoNumber } from "../util/errno.ts";
import { parseDurationMs } from "../util/options.ts";

/** Operations testfs serves. */
export const TESTFS_OPS = [
  "lookup",
  "getattr",
  "open",
  "read",
  "release",
  "opendir",
  "readdir",
  "releasedir",
  "flush",
] as const;
/** One of {@link TESTFS_OPS}. */
export type TestfsOp = typeof TESTFS_OPS[number];

/** A service time distribution, in ms. */
export type Latency =
  | { kind: "fixed"; ms: number }
  | { kind: "exp"; meanMs: number }
  | { kind: "uniform"; minMs: number; maxMs: number };

/** Draws one service time (ms). */
export function sample(l: Latency, rnd: () => number): number {
  switch (l.kind) {
    case "fixed":
      return l.ms;
    case "exp":
      return -Math.log(1 - rnd()) * l.meanMs;
    case "uniform":
      return l.minMs + rnd() * (l.maxMs - l.minMs);
  }
}

function op(name: string, what: string): TestfsOp {
  if (!(TESTFS_OPS as readonly string[]).includes(name)) {
    throw new UsageError(`Unknown operation "${name}" in ${what}; valid: ${TESTFS_OPS.join(", ")}`);
  }
  return name as TestfsOp;
}

function ms(text: string, what: string): number {
  if (text.trim() === "0") return 0;
  return parseDurationMs(text, what);
}

/**
 * Parses `lookup=2ms,getattr=exp:1ms,read=uniform:1ms-3ms`.
 * @throws {UsageError} on anything else
 */
export function parseLatency(text: string): Partial<Record<TestfsOp, Latency>> {
  const out: Partial<Record<TestfsOp, Latency>> = {};
  for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [name, spec] = part.split("=");
    if (!name || !spec) throw new UsageError(`Invalid --latency "${part}": expected OP=TIME`);
    const key = op(name, "--latency");
    const [kind, arg] = spec.includes(":") ? spec.split(":") : ["fixed", spec];
    if (kind === "fixed") out[key] = { kind, ms: ms(arg!, `latency "${part}"`) };
    else if (kind === "exp") out[key] = { kind, meanMs: ms(arg!, `latency "${part}"`) };
    else if (kind === "uniform") {
      const [a, b] = (arg ?? "").split("-");
      const lo = ms(a ?? "", `latency "${part}"`);
      const hi = ms(b ?? "", `latency "${part}"`);
      if (hi < lo) throw new UsageError(`Invalid --latency "${part}": max below min`);
      out[key] = { kind, minMs: lo, maxMs: hi };
    } else {
      throw new UsageError(`Invalid --latency "${part}": use TIME, exp:MEAN or uniform:MIN-MAX`);
    }
  }
  return out;
}

/** An injected error. */
export interface InjectedError {
  errno: number;
  /** Probability 0…1. */
  p: number;
}

/**
 * Parses `lookup=ENOENT:1%,read=EIO:0.5%`.
 * @throws {UsageError} on anything else
 */
export function parseErrors(text: string): Partial<Record<TestfsOp, InjectedError>> {
  const out: Partial<Record<TestfsOp, InjectedError>> = {};
  for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\w+)=(E[A-Z0-9]+):(\d+(?:\.\d+)?)%$/.exec(part);
    const errno = m ? errnoNumber(m[2]!) : undefined;
    if (!m || errno === undefined || Number(m[3]) > 100) {
      throw new UsageError(
        `Invalid --errors "${part}": expected OP=ERRNO:P% (e.g. lookup=ENOENT:1%)`,
      );
    }
    out[op(m[1]!, "--errors")] = { errno, p: Number(m[3]) / 100 };
  }
  return out;
}

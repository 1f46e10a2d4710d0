/**
 * Which sources a trace uses on a machine: the fuse request tracepoints (`request`, kernel ≥ 6.12)
 * and the kernel callback functions (`kernel`, fentry/fexit else kprobe/kretprobe). `auto` takes the
 * best one available. Pure functions of a `Capabilities` value, so tests replay recorded machines.
 * @module
 */
import type { Capabilities } from "./capabilities.ts";
import type { KernelFunction, RequestKey } from "./compose.ts";
import { UsageError } from "../util/errors.ts";
import type { ProbePlugin } from "./plugin.ts";

/** A source name a user may ask for. */
export type SourceChoice = "auto" | "request" | "kernel" | "daemon";
/** The sources a user may ask for, for help texts. */
export const SOURCE_CHOICES: readonly SourceChoice[] = ["auto", "request", "kernel", "daemon"];

/** The sources chosen for a machine. */
export interface ChosenSources {
  request: boolean;
  kernel: boolean;
  /** The daemon's read()/writev() on /dev/fuse (syscall tracepoints). */
  daemon: boolean;
  /**
   * The daemon's side from fuse:fuse_request_sent instead (queue / served), chosen for `daemon`
   * with the request source where the kernel has it: no syscall probes, and io_uring is seen too.
   */
  sent: boolean;
  /** Kernel functions via fentry/fexit (else kprobe/kretprobe). */
  fentry: boolean;
  /**
   * How the request source pairs a send with its end: by (connection, unique) on the fuse
   * tracepoints, or — where the kernel sends unique 0 (Linux 6.12–6.17) — by the request pointer
   * on the raw tracepoints.
   */
  requestKey: RequestKey;
}

/** The chosen sources in one word, as summaries print them: `request/pointer`, `kernel/fentry`, … */
export function sourcesLabel(s: ChosenSources): string {
  return s.request
    ? `request/${s.requestKey}`
    : s.kernel
    ? `kernel/${s.fentry ? "fentry" : "kprobe"}`
    : "daemon";
}

/** How the request source pairs on a machine (meaningful where the tracepoints exist). */
export function requestKey(caps: Capabilities): RequestKey {
  return caps.uniqueAtSend ? "unique" : "pointer";
}

/** Why a source cannot run on a machine, or undefined when it can. */
export function unavailable(
  source: "request" | "kernel" | "daemon",
  caps: Capabilities,
): string | undefined {
  if (source === "daemon") {
    return caps.syscallTracepoints
      ? undefined
      : "this kernel has no syscall tracepoints (CONFIG_FTRACE_SYSCALLS) or tracefs is missing";
  }
  if (source === "request") {
    if (caps.fuseTracepoints && (caps.uniqueAtSend || caps.rawTracepoints)) return undefined;
    if (caps.fuseTracepoints) {
      return `this kernel (${caps.kernel}) sends unique 0 at fuse_request_send (Linux 6.12–6.17), ` +
        `and bpftrace ${caps.bpftrace} cannot pair by request pointer (raw tracepoints need ` +
        "bpftrace ≥ 0.18 and BTF)";
    }
    return caps.tracefs
      ? `this kernel (${caps.kernel}) has no fuse:fuse_request_* tracepoints (Linux 6.12 or newer has them)`
      : "tracefs is not mounted and could not be mounted (mount -t tracefs nodev /sys/kernel/tracing)";
  }
  if (caps.fentry || caps.kprobes) return undefined;
  return `this kernel (${caps.kernel}) allows neither kprobes nor fentry`;
}

/**
 * Kernel function names → their symbols on this kernel, clones (`.isra.N`, `.constprop.N`)
 * included: the plain name where it exists, else the first clone.
 */
export function symbolsByName(symbols: readonly string[]): Map<string, string> {
  const bySymbol = new Map<string, string>();
  for (const s of symbols) {
    const base = s.replace(/(\.(isra|constprop)\.\d+)+$/, "");
    if (!bySymbol.has(base) || s === base) bySymbol.set(base, s);
  }
  return bySymbol;
}

/**
 * Resolves the chosen sources against a machine.
 * @throws {UsageError} when a requested source is unavailable, or none is
 */
export function chooseSources(
  requested: readonly SourceChoice[],
  caps: Capabilities,
): ChosenSources {
  const want = new Set(requested.length ? requested : ["auto"]);
  const chosen: ChosenSources = {
    request: false,
    kernel: false,
    daemon: false,
    sent: false,
    fentry: caps.fentry,
    requestKey: requestKey(caps),
  };
  for (const s of ["request", "kernel", "daemon"] as const) {
    if (!want.has(s)) continue;
    const why = unavailable(s, caps);
    if (why) {
      const here = (["request", "kernel", "daemon"] as const).filter((x) => !unavailable(x, caps));
      throw new UsageError(
        `Source "${s}" is not available: ${why}; available here: ${here.join(", ") || "none"}`,
      );
    }
    chosen[s] = true;
  }
  // auto: the best kernel-side source; the daemon source when there is none.
  if (want.has("auto") && !chosen.request && !chosen.kernel) {
    const best = (["request", "kernel", "daemon"] as const).find((s) => !unavailable(s, caps));
    if (!best && !chosen.daemon) {
      throw new UsageError(
        `No FUSE source is available: ${unavailable("request", caps)}; ${
          unavailable("kernel", caps)
        }; and ${unavailable("daemon", caps)}`,
      );
    }
    if (best) chosen[best] = true;
  }
  if (chosen.daemon && chosen.request && caps.requestSent && chosen.requestKey === "unique") {
    chosen.daemon = false;
    chosen.sent = true;
  }
  return chosen;
}

/** Result of resolving plugin kernel function tables against a kernel's symbols. */
export interface ResolvedFunctions {
  found: KernelFunction[];
  /** `plugin:function` names this kernel does not have (or cannot trace). */
  missing: string[];
}

/**
 * Maps each plugin's kernel function names onto the symbols of a kernel, accepting compiler clones
 * (`.isra.N`, `.constprop.N`). The first clone wins when there are several.
 */
export function resolveKernelFunctions(
  plugins: readonly ProbePlugin[],
  symbols: readonly string[],
): ResolvedFunctions {
  const bySymbol = symbolsByName(symbols);
  const found: KernelFunction[] = [];
  const missing: string[] = [];
  for (const p of plugins) {
    for (const name of p.kernelFunctions ?? []) {
      const symbol = bySymbol.get(name);
      if (symbol) found.push({ plugin: p.name, name, symbol });
      else missing.push(`${p.name}:${name}`);
    }
  }
  return { found, missing };
}

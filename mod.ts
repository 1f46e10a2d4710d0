/**
 * fusetrace: latency and counters of FUSE filesystems (CernVM-FS first), measured with ONE composed
 * bpftrace program built from probe plugins.
 *
 * Data flows one way: options → capabilities → compose → bpftrace → decode → `Report` → reporters.
 *
 * @example p99 of LOOKUP on one mount, after 10 seconds
 * ```ts ignore
 * import { findRow, summarize, trace } from "./mod.ts";
 * const report = await trace({ plugins: ["lookup"], mounts: ["/cvmfs/sft.cern.ch"], durationMs: 10_000 });
 * const row = findRow(report, { operation: "LOOKUP" });
 * console.log(row ? summarize(row).p99 : "no lookups");
 * ```
 * @module
 */
import type { Report } from "./probes/report.ts";
export * from "./probes/plugin.ts";
export * from "./probes/opcodes.ts";
export * from "./probes/hist.ts";
export * from "./probes/report.ts";
export * from "./probes/capabilities.ts";
export * from "./probes/compose.ts";
export * from "./probes/decode.ts";
export * from "./probes/sources.ts";
export * from "./probes/mounts.ts";
export * from "./util/errors.ts";
export * from "./probes/runner.ts";
export * from "./plugins/mod.ts";
export * from "./reporters/table.ts";
export * from "./reporters/histogram.ts";
export * from "./reporters/csv.ts";
export * from "./reporters/diff.ts";
export * from "./reporters/legacy.ts";
export * from "./testfs/fs.ts";
export * from "./testfs/spawn.ts";
export * from "./testfs/tree.ts";
export * from "./testfs/options.ts";
export * from "./util/signals.ts";
export * from "./probes/dialect.ts";
export * from "./probes/daemon.ts";
export * from "./probes/doctor.ts";
export * from "./probes/bpfstats.ts";
export * from "./reporters/diff_render.ts";
export * from "./util/format.ts";
export * from "./util/options.ts";
export * from "./util/version.ts";
export * from "./util/install.ts";
export * from "./reporters/sections.ts";
export * from "./reporters/prometheus.ts";
export * from "./reporters/merge.ts";
export * from "./reporters/cvmfs.ts";
export * from "./reporters/html.ts";
export * from "./serve/serve.ts";
export * from "./reporters/json.ts";

import * as engine from "./probes/runner.ts";
import { builtinRegistry } from "./plugins/mod.ts";

/** Options with the built-in plugins as the registry when none is given. */
function withBuiltins(o: engine.TraceOptions): engine.TraceOptions {
  return o.registry ? o : { ...o, registry: builtinRegistry() };
}

/**
 * Runs a trace with the built-in plugins known by name (see the engine's `trace` in
 * probes/runner.ts, which takes a registry).
 * @throws {UsageError} on bad options; {Error} when bpftrace fails
 */
export function trace(o: engine.TraceOptions = {}): Promise<Report> {
  return engine.trace(withBuiltins(o));
}

/** `prepare` with the built-in plugins known by name. */
export function prepare(o: engine.TraceOptions = {}): engine.Prepared {
  return engine.prepare(withBuiltins(o));
}

/** `traceDuring` with the built-in plugins known by name. */
export function traceDuring<T>(
  o: engine.TraceOptions,
  work: (bpftracePid: number) => Promise<T>,
): Promise<{ result: T; report: Report }> {
  return engine.traceDuring(withBuiltins(o), work);
}

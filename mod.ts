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
export * from "./probes/plugin.ts";
export * from "./probes/opcodes.ts";
export * from "./probes/hist.ts";
export * from "./probes/report.ts";
export * from "./probes/capabilities.ts";
export * from "./probes/compose.ts";
export * from "./probes/decode.ts";
export * from "./probes/sources.ts";
export * from "./probes/mounts.ts";
export * from "./probes/errors.ts";
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
export * from "./probes/signals.ts";

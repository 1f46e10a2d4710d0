/**
 * A plugin defined in a script and composed with built-in ones into the same bpftrace program:
 * it times the statx() system call next to the FUSE requests it causes.
 *
 *   deno run -A examples/custom_plugin.ts /cvmfs/sft.cern.ch 10
 */
import { definePlugin, findRow, formatTable, summarize, trace } from "../mod.ts";

/** statx() as seen by the calling process, from the syscall tracepoints. */
export const statx = definePlugin({
  name: "statx",
  description: "statx() system calls, entry to exit",
  probes: [{
    operation: "statx",
    enter: "tracepoint:syscalls:sys_enter_statx",
    exit: "tracepoint:syscalls:sys_exit_statx",
  }],
});

if (import.meta.main) {
  const [mount, seconds = "10", comm] = Deno.args;
  if (!mount) {
    console.error("usage: custom_plugin.ts MOUNT [SECONDS] [COMM]");
    Deno.exit(2);
  }
  const report = await trace({
    plugins: ["lookup", "getattr", statx],
    mounts: [mount],
    ...(comm ? { comm } : {}),
    durationMs: Number(seconds) * 1000,
    onReady: () => console.error("attached"),
  });
  console.error(formatTable(report));
  const row = findRow(report, { plugin: "statx" });
  console.log(JSON.stringify({ statx: row?.count ?? 0, p50_ns: row ? summarize(row).p50 : null }));
}

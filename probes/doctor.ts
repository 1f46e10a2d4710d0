/**
 * `doctor`: what this machine can trace, as a checklist, and how to get what is missing.
 * @module
 */
import type { Capabilities } from "./capabilities.ts";
import { fuseMounts, type MountInfo } from "./mounts.ts";
import { unavailable } from "./sources.ts";
import { daemonsOf, fuseDaemons } from "./daemon.ts";

/** A FUSE mount with the daemon serving it. */
export interface MountDiagnosis extends MountInfo {
  /** Connection number as in /sys/fs/fuse/connections (the minor device number). */
  connection: number;
  /** PIDs of processes holding /dev/fuse whose command line names the mount point. */
  daemons: number[];
}

/** Every FUSE mount with its connection and daemon PIDs. */
export function diagnoseMounts(): MountDiagnosis[] {
  const daemons = fuseDaemons();
  return fuseMounts().map((m) => ({
    ...m,
    connection: m.dev & 0xfffff,
    daemons: daemonsOf(m, daemons),
  }));
}

const APT = "apt-get install";
const DNF = "dnf install";

/** The checklist as text, and whether tracing is possible (exit 0) or not (exit 1). */
export function formatDiagnosis(
  caps: Capabilities,
  binPath: string,
  mounts: MountDiagnosis[],
): { text: string; ok: boolean } {
  const lines: string[] = [];
  const item = (ok: boolean, what: string, fix = "") =>
    lines.push(`[${ok ? "ok" : "--"}] ${what}${!ok && fix ? `\n       ${fix}` : ""}`);
  item(caps.root, "privileges: root", "run as root (bpftrace needs CAP_BPF and CAP_PERFMON)");
  item(true, `bpftrace ${caps.bpftrace} at ${binPath}`);
  item(true, `kernel ${caps.kernel}`);
  item(
    !!caps.tracefs,
    `tracefs ${caps.tracefs || "not mounted"}`,
    "mount -t tracefs nodev /sys/kernel/tracing",
  );
  item(
    caps.fuseTracepoints,
    "fuse request tracepoints (fuse:fuse_request_send/end)",
    "needs Linux 6.12 or newer; without them per-request latency comes from kernel callbacks",
  );
  item(
    caps.kprobes,
    "kprobes",
    "kernel built without CONFIG_KPROBES: the kernel source needs kprobes or fentry",
  );
  item(
    caps.fentry,
    "fentry (kfunc)",
    `needs BTF and a bpftrace with fentry support (${APT} bpftrace / ${DNF} bpftrace)`,
  );
  item(caps.btf, "BTF (/sys/kernel/btf/vmlinux)", "a kernel with CONFIG_DEBUG_INFO_BTF");
  item(caps.uprobes, "uprobes", "kernel built without CONFIG_UPROBE_EVENTS: no daemon-side probes");
  item(
    caps.syscallTracepoints,
    "syscall tracepoints",
    "kernel built without CONFIG_FTRACE_SYSCALLS",
  );
  item(
    caps.functions.length > 0,
    `fuse kernel functions: ${caps.functions.length} traceable`,
    "no fuse symbols readable in /proc/kallsyms",
  );
  lines.push("", mounts.length ? "FUSE mounts:" : "FUSE mounts: none");
  for (const m of mounts) {
    lines.push(
      `  ${m.mountPoint}  type ${m.fsType}  connection ${m.connection}  daemon pid ${
        m.daemons.length ? m.daemons.join(",") : "?"
      }`,
    );
  }
  const req = unavailable("request", caps);
  const ker = unavailable("kernel", caps);
  lines.push("", "trace will use:");
  lines.push(`  request source: ${req ? `no — ${req}` : "yes (auto picks it)"}`);
  lines.push(
    `  kernel source:  ${ker ? `no — ${ker}` : `yes (${caps.fentry ? "fentry" : "kprobe"})`}`,
  );
  const ok = caps.root && (!req || !ker);
  lines.push("", ok ? "Tracing is possible." : "Tracing is NOT possible here.");
  return { text: lines.join("\n"), ok };
}

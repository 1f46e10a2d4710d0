/**
 * `doctor`: what this machine can trace, as a checklist, and how to get what is missing.
 * @module
 */
import type { Capabilities } from "./capabilities.ts";
import { fuseMounts, type MountInfo } from "./mounts.ts";
import { unavailable } from "./sources.ts";
import { sanitize } from "../util/format.ts";
import { connectionUnreadable, fuseDaemons, ioUringDaemons, servedBy } from "./daemon.ts";
import { type CvmfsInstance, cvmfsInstance } from "./cvmfs.ts";

/** A FUSE mount with the daemon serving it. */
export interface MountDiagnosis extends MountInfo {
  /** Connection number as in /sys/fs/fuse/connections (the minor device number). */
  connection: number;
  /** PIDs of the processes seen replying to its requests (empty: none replied). */
  daemons: number[];
  /** The CernVM-FS client serving it, where its daemon maps a CVMFS library. */
  cvmfs?: CvmfsInstance;
}

/** What doctor found: the mounts, and what it could not tell. */
export interface Diagnosis {
  mounts: MountDiagnosis[];
  /** Why daemons cannot be attributed to mounts here (then: --daemon-pid), if so. */
  daemonsUnknown?: string;
  /** /dev/fuse holders serving over io_uring (`pid N (command)`). */
  ioUring: string[];
}

/**
 * Every FUSE mount with its connection and, by evidence, its daemon: the process whose replies
 * go to its connection while doctor asks each mount a statfs() (see {@link servedBy}).
 */
export async function diagnoseMounts(bin: string, caps: Capabilities): Promise<Diagnosis> {
  const mounts = fuseMounts();
  const holders = fuseDaemons();
  const why = holders.length && mounts.length ? connectionUnreadable(bin, caps) : undefined;
  const served = why || !caps.root
    ? new Map<number, number[]>()
    : await servedBy(bin, caps, mounts, holders);
  return {
    mounts: await Promise.all(mounts.map(async (m) => {
      const daemons = served.get(m.dev) ?? [];
      const cvmfs = daemons.length === 1
        ? await cvmfsInstance(daemons[0]!, m.mountPoint)
        : undefined;
      return { ...m, connection: m.dev & 0xfffff, daemons, ...(cvmfs ? { cvmfs } : {}) };
    })),
    ...(why ? { daemonsUnknown: why } : {}),
    ioUring: ioUringDaemons(!!caps.fuseUring, holders),
  };
}

/** One checklist item: present or not; when not, what it costs and how to get it. */
interface Check {
  ok: boolean;
  what: string;
  cost: string;
  fix: string;
}

function checks(caps: Capabilities, binPath: string): Check[] {
  return [
    {
      ok: caps.root,
      what: "privileges: root",
      cost: "bpftrace cannot load programs",
      fix: "run as root (or with CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN)",
    },
    { ok: true, what: `bpftrace ${caps.bpftrace} at ${binPath}`, cost: "", fix: "" },
    { ok: true, what: `kernel ${caps.kernel}`, cost: "", fix: "" },
    {
      ok: !!caps.tracefs,
      what: caps.root
        ? `tracefs ${caps.tracefs || "not mounted"}`
        : "tracefs: not checked (it needs root to be seen or mounted)",
      cost: caps.root ? "no tracepoints at all" : "unknown until run as root",
      fix: caps.root ? "mount -t tracefs nodev /sys/kernel/tracing" : "run as root",
    },
    {
      ok: caps.fuseTracepoints,
      what: "fuse request tracepoints (fuse:fuse_request_send/end)",
      cost: "no per-request latency from the kernel: kernel callbacks or the daemon source instead",
      fix: "a kernel ≥ 6.12 (Debian 13, Ubuntu 25.04, Fedora 41, EL10)",
    },
    {
      ok: !!caps.requestSent,
      what: "fuse:fuse_request_sent (the daemon's receipt of a request)",
      cost: "the queue/service split needs syscall probes on /dev/fuse, blind to io_uring daemons",
      fix: "a Linux 7.x kernel",
    },
    {
      ok: true,
      what: `FUSE over io_uring: ${caps.fuseUring ? "enabled (fuse.enable_uring=Y)" : "off"}`,
      cost: "",
      fix: "",
    },
    {
      ok: caps.kprobes,
      what: "kprobes",
      cost: "no kernel callback timing (--source kernel without fentry) and no `count`",
      fix: "a kernel built with CONFIG_KPROBES (every distribution kernel is)",
    },
    {
      ok: caps.fentry,
      what: "fentry (kfunc)",
      cost: "kernel callbacks use kprobes (about 2× the cost per call)",
      // Every bpftrace fusetrace runs (≥ 0.16) has fentry: with BTF, the kernel is the limit.
      fix: caps.btf
        ? "the kernel: it has BTF but lets no fentry program attach (built without " +
          "DYNAMIC_FTRACE_WITH_DIRECT_CALLS, or locked down); no bpftrace changes that"
        : "a kernel with BTF (CONFIG_DEBUG_INFO_BTF: Debian ≥ 11, Ubuntu ≥ 20.10, EL ≥ 8.2)",
    },
    {
      ok: caps.btf,
      what: "BTF (/sys/kernel/btf/vmlinux)",
      cost: "no fentry; bpftrace ≥ 0.25 also needs it for tracepoint arguments",
      fix: "a kernel with CONFIG_DEBUG_INFO_BTF (Debian ≥ 11, Ubuntu ≥ 20.10, EL ≥ 8.2)",
    },
    {
      ok: caps.uprobes,
      what: "uprobes",
      cost: "no --uprobe, --daemon cvmfs, --daemon libfuse",
      fix: "a kernel built with CONFIG_UPROBE_EVENTS",
    },
    {
      ok: caps.syscallTracepoints,
      what: "syscall tracepoints",
      cost: "no daemon source (queue / service / transit split)",
      fix: "a kernel built with CONFIG_FTRACE_SYSCALLS",
    },
    {
      ok: caps.functions.length > 0,
      what: `fuse kernel functions: ${caps.functions.length} traceable${
        caps.skippedFunctions?.length
          ? ` (${caps.skippedFunctions.length} not by name: shared names or .part fragments)`
          : ""
      }`,
      cost: "no kernel callback names to probe",
      fix: "readable /proc/kallsyms (root, kernel.kptr_restrict ≤ 1)",
    },
  ];
}

/** The checklist as text, and whether tracing is possible (exit 0) or not (exit 1). */
export function formatDiagnosis(
  caps: Capabilities,
  binPath: string,
  d: Diagnosis,
): { text: string; ok: boolean } {
  const mounts = d.mounts;
  const lines: string[] = [];
  for (const c of checks(caps, binPath)) {
    lines.push(`[${c.ok ? "ok" : "--"}] ${c.what}`);
    if (!c.ok) lines.push(`       costs: ${c.cost}`, `       get it: ${c.fix}`);
  }
  lines.push("", mounts.length ? "FUSE mounts:" : "FUSE mounts: none");
  for (const m of mounts) {
    lines.push(
      `  ${sanitize(m.mountPoint)}  type ${sanitize(m.fsType)}  connection ${m.connection}  ` +
        `daemon pid ${m.daemons.length ? m.daemons.join(",") : "?"}`,
    );
    if (m.cvmfs) lines.push(...cvmfsLines(m.cvmfs));
  }
  if (mounts.length && d.daemonsUnknown) {
    lines.push(`  daemon pid ?: ${d.daemonsUnknown}; give it to trace with --daemon-pid`);
  } else if (mounts.some((m) => !m.daemons.length)) {
    lines.push(
      "  daemon pid ?: no process replied to that mount's statfs() within a second " +
        "(stopped, hung, or serving over io_uring)",
    );
  }
  for (const u of d.ioUring) {
    lines.push(
      `  ${u} serves FUSE over io_uring: the daemon source (read/writev) sees none of its requests`,
    );
  }
  const req = unavailable("request", caps);
  const ker = unavailable("kernel", caps);
  lines.push("", "trace will use:");
  const how = caps.uniqueAtSend
    ? "paired by unique"
    : "paired by request pointer: this kernel sends unique 0 at fuse_request_send";
  lines.push(`  request source: ${req ? `no — ${req}` : `yes (auto picks it; ${how})`}`);
  lines.push(
    `  kernel source:  ${ker ? `no — ${ker}` : `yes (${caps.fentry ? "fentry" : "kprobe"})`}`,
  );
  const ok = caps.root && (!req || !ker);
  lines.push("", ok ? "Tracing is possible." : "Tracing is NOT possible here.");
  return { text: lines.join("\n"), ok };
}

/** What doctor says of a CernVM-FS client. */
function cvmfsLines(c: CvmfsInstance): string[] {
  const lines = [
    `    CernVM-FS repository ${sanitize(c.repository)}: the daemon runs ${sanitize(c.library)}` +
    (c.version ? ` (version ${sanitize(c.version)})` : ""),
  ];
  if (c.talkError) {
    lines.push(`    cvmfs_talk: no answer at ${sanitize(c.socket)}: ${sanitize(c.talkError)}`);
  } else {
    lines.push(
      `    cvmfs_talk answers at ${sanitize(c.socket)}; CVMFS_INSTRUMENT_FUSE ` +
        (c.instrumented
          ? "on: `cvmfs_talk latency` has the callbacks' own times (report --cvmfs-latency)"
          : "off: set CVMFS_INSTRUMENT_FUSE=yes for `cvmfs_talk latency`"),
    );
  }
  return lines;
}

/** The checklist when bpftrace itself is missing or too old: tracing is not possible. */
export function formatMissingBpftrace(why: string): string {
  return [
    `[ok] kernel ${Deno.osRelease()}`,
    `[--] bpftrace: ${why}`,
    "       costs: everything — fusetrace runs bpftrace",
    "       get it: apt-get install bpftrace (Debian/Ubuntu) or dnf install bpftrace (EL/Fedora)",
    "",
    "Tracing is NOT possible here.",
  ].join("\n");
}

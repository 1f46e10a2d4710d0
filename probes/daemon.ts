/**
 * The daemon's side: which process serves a mount, where its libraries are, and which of its
 * functions uprobes can time (CVMFS's callbacks, libfuse's fuse_reply_*).
 * @module
 */
import type { DaemonTarget, UprobeTarget } from "./compose.ts";
import { UsageError } from "./errors.ts";
import type { MountInfo } from "./mounts.ts";
import type { ProbePlugin } from "./plugin.ts";

/** A process with /dev/fuse open. */
export interface FuseDaemon {
  pid: number;
  cmdline: string;
  /** Command-line arguments. */
  args: string[];
}

function link(p: string): string {
  try {
    return Deno.readLinkSync(p);
  } catch {
    return "";
  }
}

/** Processes with /dev/fuse open, with their command lines. */
export function fuseDaemons(): FuseDaemon[] {
  const out: FuseDaemon[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const fds = [...Deno.readDirSync(`/proc/${e.name}/fd`)];
      if (!fds.some((fd) => link(`/proc/${e.name}/fd/${fd.name}`) === "/dev/fuse")) continue;
      const args = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0").filter(Boolean);
      out.push({ pid: Number(e.name), cmdline: args.join(" "), args });
    } catch { /* gone, or a kernel thread */ }
  }
  return out;
}

/**
 * Whether a process holds an io_uring instance — with FUSE over io_uring enabled in the kernel, the
 * sign that a libfuse ≥ 3.18 daemon serves its requests on rings rather than read()/writev().
 */
export function holdsIoUring(pid: number): boolean {
  try {
    for (const fd of Deno.readDirSync(`/proc/${pid}/fd`)) {
      if (link(`/proc/${pid}/fd/${fd.name}`) === "anon_inode:[io_uring]") return true;
    }
  } catch { /* gone */ }
  return false;
}

/**
 * The mounts (of `mounts`) whose daemon holds an io_uring instance, where the kernel enables FUSE
 * over io_uring: their requests never pass through the daemon's read()/writev().
 */
export function ioUringMounts(mounts: readonly MountInfo[], kernelEnables: boolean): string[] {
  if (!kernelEnables) return [];
  const daemons = fuseDaemons();
  return mounts.filter((m) => daemonsOf(m, daemons).some(holdsIoUring)).map((m) => m.mountPoint);
}

/**
 * The daemons serving a mount: those whose command line names the mount point — absolute, or
 * relative (libfuse daemons chdir to / once mounted, so a relative path is matched by its end).
 */
export function daemonsOf(mount: MountInfo, daemons: FuseDaemon[] = fuseDaemons()): number[] {
  const names = (a: string) => {
    const p = a.replace(/\/+$/, "");
    return p === mount.mountPoint ||
      (!p.startsWith("/") && !!p && mount.mountPoint.endsWith(`/${p.replace(/^(\.\/)+/, "")}`));
  };
  return daemons.filter((d) => d.args.slice(1).some(names)).map((d) => d.pid);
}

/**
 * Daemon targets for the daemon source: the daemon of each mount, or `pids` for the one mount.
 * @throws {UsageError} when `pids` are given for several mounts, or no daemon is found
 */
export function daemonTargets(mounts: MountInfo[], pids: readonly number[] = []): DaemonTarget[] {
  if (pids.length) {
    if (mounts.length !== 1) {
      throw new UsageError("--daemon-pid needs exactly one --mount (the mount it serves)");
    }
    for (const pid of pids) {
      try {
        Deno.statSync(`/proc/${pid}`);
      } catch {
        throw new UsageError(`No process with pid ${pid}`);
      }
    }
    return pids.map((pid) => ({ pid, connection: mounts[0]!.dev }));
  }
  const all = fuseDaemons();
  const targets = mounts.flatMap((m) =>
    daemonsOf(m, all).map((pid) => ({ pid, connection: m.dev }))
  );
  if (!targets.length) {
    throw new UsageError(
      `No daemon found for ${mounts.map((m) => m.mountPoint).join(", ") || "any FUSE mount"} ` +
        "(a process with /dev/fuse open naming the mount point); give it with --daemon-pid",
    );
  }
  return targets;
}

/** The path of a mapped library of a process whose file name matches `re`. */
export function libraryOf(pid: number, re: RegExp): string | undefined {
  try {
    for (const line of Deno.readTextFileSync(`/proc/${pid}/maps`).split("\n")) {
      const path = line.split(/\s+/)[5];
      if (path && re.test(path.slice(path.lastIndexOf("/") + 1))) return path;
    }
  } catch { /* process gone */ }
  return undefined;
}

/**
 * Symbols of `binary` matching a glob pattern that uprobes can attach to (`bpftrace -l`).
 * @throws {UsageError} when the binary does not exist
 */
export function uprobeSymbols(bpftrace: string, binary: string, pattern: string): string[] {
  try {
    Deno.statSync(binary);
  } catch {
    throw new UsageError(`Cannot read "${binary}" for uprobes`);
  }
  const o = new Deno.Command(bpftrace, {
    args: ["-l", `uprobe:${binary}:${pattern}`],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  return new TextDecoder().decode(o.stdout).split("\n").filter(Boolean)
    .map((l) => l.slice(l.lastIndexOf(":") + 1));
}

/**
 * Is `symbol` the function `name`: the same C name, or a C++ name whose last component is `name`
 * (`_ZN5cvmfsL12cvmfs_lookupEP8fuse_reqmPKc` is `cvmfs_lookup`, not `cvmfs_lookup_x`)?
 */
export function symbolIs(symbol: string, name: string): boolean {
  if (symbol === name) return true;
  if (!symbol.startsWith("_ZN")) return false;
  // Nested name: (L? <length> <identifier>)+ E …; the last component is the function.
  let at = 3;
  let last = "";
  for (;;) {
    if (symbol[at] === "L") at++;
    const m = /^\d+/.exec(symbol.slice(at));
    if (!m) break;
    at += m[0].length;
    last = symbol.slice(at, at + Number(m[0]));
    at += Number(m[0]);
  }
  return symbol[at] === "E" && last === name;
}

/**
 * Parses `BINARY:PATTERN` of `--uprobe`.
 * @throws {UsageError} when malformed
 */
export function parseUprobeSpec(spec: string): { binary: string; pattern: string } {
  const i = spec.lastIndexOf(":");
  if (i <= 0 || i === spec.length - 1) {
    throw new UsageError(`Invalid --uprobe "${spec}": expected BINARY:SYMBOL_PATTERN`);
  }
  return { binary: spec.slice(0, i), pattern: spec.slice(i + 1) };
}

/** CVMFS's FUSE library: libcvmfs_fuse3.so* (libfuse 3) or libcvmfs_fuse.so* (libfuse 2). */
export const CVMFS_LIBRARY = /^libcvmfs_fuse3?\.so/;

/**
 * Uprobe targets of the CVMFS preset: each plugin's `daemonSymbols` (`cvmfs_lookup`, …) found in
 * the CVMFS library mapped by the daemons.
 * @throws {UsageError} when no daemon maps a CVMFS library
 */
export function cvmfsTargets(
  bpftrace: string,
  pids: readonly number[],
  plugins: readonly ProbePlugin[],
): UprobeTarget[] {
  const libs = [...new Set(pids.map((p) => libraryOf(p, CVMFS_LIBRARY)).filter(Boolean))];
  if (!libs.length) {
    throw new UsageError(
      "--daemon cvmfs: no traced daemon maps libcvmfs_fuse3.so or libcvmfs_fuse.so",
    );
  }
  const out: UprobeTarget[] = [];
  for (const lib of libs as string[]) {
    const symbols = uprobeSymbols(bpftrace, lib, "*cvmfs_*");
    for (const p of plugins) {
      for (const name of p.daemonSymbols ?? []) {
        const symbol = symbols.find((s) => symbolIs(s, name));
        if (symbol) out.push({ plugin: p.name, operation: name, binary: lib, symbol });
      }
    }
  }
  return out;
}

/**
 * `binary:symbol` of libfuse3's reply functions (fuse_reply_*) in the daemons, for counting.
 * @throws {UsageError} when no daemon maps libfuse3
 */
export function libfuseReplyTargets(bpftrace: string, pids: readonly number[]): string[] {
  const libs = [...new Set(pids.map((p) => libraryOf(p, /^libfuse3?\.so/)).filter(Boolean))];
  if (!libs.length) throw new UsageError("--daemon libfuse: no traced daemon maps libfuse3.so");
  return (libs as string[]).flatMap((lib) =>
    uprobeSymbols(bpftrace, lib, "fuse_reply_*").map((s) => `${lib}:${s}`)
  );
}

/**
 * What this machine can trace: bpftrace and its version, privileges, tracefs (mounted here when
 * missing), fuse tracepoints, kprobes, fentry, BTF, uprobes, syscall tracepoints, and the fuse kernel
 * functions that can be probed. A `Capabilities` value is plain data, so tests replay recorded sets.
 * @module
 */
import { UsageError } from "../util/errors.ts";
import { dialectFor, MIN_BPFTRACE, parseVersion, type Version, versionAtLeast } from "./dialect.ts";

export { MIN_BPFTRACE, parseVersion, type Version, versionAtLeast };

/** What a machine can trace. */
export interface Capabilities {
  /** bpftrace version, e.g. "0.17.0". */
  bpftrace: string;
  /** Kernel release (`uname -r`). */
  kernel: string;
  /** Running as root (or with CAP_BPF + CAP_PERFMON). */
  root: boolean;
  /** tracefs mount point, or "" when it is not mounted and could not be. */
  tracefs: string;
  fuseTracepoints: boolean;
  /**
   * The kernel assigns a request's `unique` before `fuse:fuse_request_send` fires. False on Linux
   * 6.12–6.17, where every send carries unique 0 (fixed in 6.18): pairing send and end then needs
   * the request pointer both raw tracepoints receive.
   */
  uniqueAtSend: boolean;
  /** bpftrace can attach raw tracepoints and read `struct fuse_req` through BTF. */
  rawTracepoints: boolean;
  /**
   * `fuse:fuse_request_sent` exists (Linux 7.x): the daemon's receipt of a request, on /dev/fuse
   * and io_uring alike.
   */
  requestSent?: boolean;
  /** The kernel lets daemons serve requests over io_uring (`fuse.enable_uring`). */
  fuseUring?: boolean;
  kprobes: boolean;
  fentry: boolean;
  btf: boolean;
  uprobes: boolean;
  syscallTracepoints: boolean;
  /**
   * A syscall's saved user registers can be read through the task's kernel stack (x86-64 with
   * BTF): the daemon source then sees the reads a daemon's threads began before tracing.
   */
  savedUserRegs?: boolean;
  /** Traceable fuse kernel function symbols (with clone suffixes as the kernel has them). */
  functions: string[];
  /** Fuse kernel functions that cannot be probed by name (see {@link FuseFunctions}). */
  skippedFunctions?: string[];
}

/** Install lines for bpftrace, for error messages. */
export const INSTALL_BPFTRACE = "install it: apt-get install bpftrace (Debian/Ubuntu) or " +
  "dnf install bpftrace (EL/Fedora)";

/**
 * The bpftrace binary: `$FUSETRACE_BPFTRACE`, else `bpftrace` on PATH.
 * @throws {UsageError} when there is none
 */
export function findBpftrace(): string {
  const env = Deno.env.get("FUSETRACE_BPFTRACE");
  if (env) {
    if (!isExecutable(env)) throw new UsageError(`FUSETRACE_BPFTRACE="${env}" is not executable`);
    return env;
  }
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin").split(":")) {
    const p = `${dir}/bpftrace`;
    if (isExecutable(p)) return p;
  }
  throw new UsageError(`bpftrace not found on PATH; ${INSTALL_BPFTRACE}`);
}

function isExecutable(path: string): boolean {
  try {
    const st = Deno.statSync(path);
    return st.isFile && ((st.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

function run(cmd: string, args: string[]): { ok: boolean; out: string } {
  try {
    const o = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
    const dec = new TextDecoder();
    return { ok: o.success, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
  } catch {
    return { ok: false, out: "" };
  }
}

/**
 * The version of a bpftrace binary.
 * @throws {UsageError} when it cannot be run or is older than 0.16
 */
export function bpftraceVersion(bin: string): Version {
  const { out } = run(bin, ["--version"]);
  const v = parseVersion(out);
  if (!v) throw new UsageError(`Cannot run "${bin} --version"; ${INSTALL_BPFTRACE}`);
  if (!versionAtLeast(v, MIN_BPFTRACE)) {
    throw new UsageError(
      `bpftrace ${v.join(".")} is too old: fusetrace needs 0.16 or newer (${INSTALL_BPFTRACE})`,
    );
  }
  return v;
}

/**
 * Whether a kernel release sets `unique` before the send tracepoint: every release except
 * 6.12–6.17 (the tracepoints appeared in 6.12; 6.18 moved the send event after the assignment).
 */
export function uniqueAtSend(release: string): boolean {
  const v = parseVersion(release);
  return !v || !versionAtLeast(v, [6, 12, 0]) || versionAtLeast(v, [6, 18, 0]);
}

/**
 * Whether this bpftrace attaches fentry (kfunc) probes: its `--info` says so up to 0.26; 0.27
 * dropped the line, so there it is BTF with bpftrace ≥ 0.20, confirmed by attaching one probe.
 */
export function fentryAvailable(
  bin: string,
  o: { version: Version; info: string; btf: boolean },
): boolean {
  const said = /(?:kfunc|fentry): (yes|no)/.exec(o.info);
  if (said) return said[1] === "yes";
  if (!o.btf || !dialectFor(o.version).fentrySpelled) return false;
  return run(bin, ["-e", "fentry:vfs_read { exit(); } BEGIN { exit(); }"]).ok;
}

/** Is the caller root? */
export function isRoot(): boolean {
  return Deno.uid() === 0;
}

/**
 * @throws {UsageError} unless running as root
 */
export function requireRoot(): void {
  if (!isRoot()) {
    throw new UsageError("fusetrace needs root (or CAP_BPF and CAP_PERFMON) to run bpftrace");
  }
}

const TRACEFS = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/**
 * The tracefs mount point; mounts it at /sys/kernel/tracing when it is missing and we are root.
 * Returns "" when there is none (bpftrace then cannot find tracepoints).
 */
export function ensureTracefs(): string {
  for (const d of TRACEFS) {
    try {
      Deno.statSync(`${d}/events`);
      return d;
    } catch { /* not mounted here */ }
  }
  if (!isRoot()) return "";
  const r = run("mount", ["-t", "tracefs", "nodev", TRACEFS[0]!]);
  return r.ok ? TRACEFS[0]! : "";
}

function readTrimmed(path: string): string {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return "";
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Fuse kernel functions found, and those that cannot be probed by name. */
export interface FuseFunctions {
  /** Probeable by name (with `.isra.N`/`.constprop.N` clone suffixes as the kernel has them). */
  functions: string[];
  /**
   * Listed but not probeable by name: names two static functions share (a kprobe on the name is
   * ambiguous) and `.part.N` fragments of partly inlined functions (not a function's entry).
   */
  skipped: string[];
}

/** The traceable fuse/cuse kernel functions, from available_filter_functions or kallsyms. */
export function fuseFunctions(tracefs: string): FuseFunctions {
  const seen = new Map<string, number>();
  const add = (name: string) => seen.set(name, (seen.get(name) ?? 0) + 1);
  try {
    for (const line of Deno.readTextFileSync(`${tracefs}/available_filter_functions`).split("\n")) {
      const name = line.split(" ")[0] ?? "";
      if (/^(__)?(fuse|cuse)_/.test(name)) add(name);
    }
  } catch {
    try {
      for (const line of Deno.readTextFileSync("/proc/kallsyms").split("\n")) {
        const [, type, name] = line.split(/\s+/);
        if (name && /^[tT]$/.test(type ?? "") && /^(__)?(fuse|cuse)_/.test(name)) {
          if (!name.endsWith(".cold")) add(name);
        }
      }
    } catch { /* no symbols readable */ }
  }
  const ok = (name: string, n: number) => n === 1 && !/\.part\.\d+/.test(name);
  const sorted = [...seen].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  return {
    functions: sorted.filter(([n, c]) => ok(n, c)).map(([n]) => n),
    skipped: sorted.filter(([n, c]) => !ok(n, c)).map(([n]) => n),
  };
}

/**
 * Probes this machine. Mounts tracefs when it is missing (root only).
 * @throws {UsageError} when bpftrace is missing or too old
 */
export function detectCapabilities(bin: string = findBpftrace()): Capabilities {
  const version = bpftraceVersion(bin);
  const tracefs = ensureTracefs();
  const info = run(bin, ["--info"]).out;
  const btf = exists("/sys/kernel/btf/vmlinux");
  const kernel = Deno.osRelease();
  const fns = fuseFunctions(tracefs);
  return {
    bpftrace: version.join("."),
    kernel,
    root: isRoot(),
    tracefs,
    fuseTracepoints: !!tracefs && exists(`${tracefs}/events/fuse/fuse_request_send`),
    uniqueAtSend: uniqueAtSend(kernel),
    requestSent: !!tracefs && exists(`${tracefs}/events/fuse/fuse_request_sent`),
    fuseUring: readTrimmed("/sys/module/fuse/parameters/enable_uring") === "Y",
    rawTracepoints: btf && dialectFor(version).rawTracepoints,
    kprobes: exists("/sys/bus/event_source/devices/kprobe"),
    fentry: fentryAvailable(bin, { version, info, btf }),
    btf,
    uprobes: exists("/sys/bus/event_source/devices/uprobe"),
    syscallTracepoints: !!tracefs && exists(`${tracefs}/events/syscalls/sys_enter_read`),
    savedUserRegs: btf && Deno.build.arch === "x86_64",
    functions: fns.functions,
    ...(fns.skipped.length ? { skippedFunctions: fns.skipped } : {}),
  };
}

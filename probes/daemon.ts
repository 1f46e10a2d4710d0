/**
 * The daemon's side: which process serves a mount, where its libraries are, and which of its
 * functions uprobes can time (CVMFS's callbacks, libfuse's fuse_reply_*).
 * @module
 */
import { type Capabilities, parseVersion } from "./capabilities.ts";
import {
  composeServedBy,
  type DaemonTarget,
  dryRunArgs,
  READY_MARK,
  type UprobeTarget,
} from "./compose.ts";
import { UsageError } from "../util/errors.ts";
import type { MountInfo } from "./mounts.ts";
import type { ProbePlugin } from "./plugin.ts";

/** A process with /dev/fuse open. */
export interface FuseDaemon {
  pid: number;
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
      out.push({ pid: Number(e.name), args });
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
 * The processes holding /dev/fuse and an io_uring instance, as `pid N (command)`, where the kernel
 * enables FUSE over io_uring: the requests they serve on rings never pass through read()/writev().
 */
export function ioUringDaemons(
  kernelEnables: boolean,
  daemons: FuseDaemon[] = fuseDaemons(),
): string[] {
  if (!kernelEnables) return [];
  return daemons.filter((d) => holdsIoUring(d.pid)).map((d) =>
    `pid ${d.pid} (${d.args[0]?.split("/").pop() ?? "?"})`
  );
}

/** Why the daemon of a mount cannot be told on this machine, or undefined when it can. */
export function connectionUnreadable(bin: string, caps: Capabilities): string | undefined {
  if (!caps.btf) {
    return "this kernel has no BTF (/sys/kernel/btf/vmlinux), through which a daemon's " +
      "/dev/fuse descriptor shows the mount it serves";
  }
  const version = parseVersion(caps.bpftrace) ?? [0, 16, 0];
  const key = `${bin} ${caps.bpftrace}`;
  if (!READABLE.has(key)) {
    const file = Deno.makeTempFileSync({ prefix: "fusetrace-check-", suffix: ".bt" });
    try {
      Deno.writeTextFileSync(file, composeServedBy(version, [1], 1));
      const o = new Deno.Command(bin, {
        args: dryRunArgs(version, file),
        stdout: "null",
        stderr: "piped",
      }).outputSync();
      READABLE.set(key, o.success ? "" : new TextDecoder().decode(o.stderr));
    } finally {
      Deno.removeSync(file);
    }
  }
  const err = READABLE.get(key);
  return err
    ? `bpftrace ${caps.bpftrace} cannot read struct fuse_dev here (${
      err.split("\n").find((l) => l.includes("ERROR"))?.trim() ?? "compile error"
    })`
    : undefined;
}
const READABLE = new Map<string, string>();

/**
 * Which process serves which connection, by evidence: for about a second, the connection each
 * /dev/fuse holder's replies go to (its descriptor's struct fuse_dev), while a statfs() of every
 * mount makes each daemon answer once. A daemon that does not reply (stopped, or serving over
 * io_uring) is not attributed. Returns connection → pids.
 */
export async function servedBy(
  bin: string,
  caps: Capabilities,
  mounts: readonly MountInfo[],
  daemons: FuseDaemon[] = fuseDaemons(),
): Promise<Map<number, number[]>> {
  const out = new Map<number, number[]>();
  if (!daemons.length || !mounts.length || connectionUnreadable(bin, caps)) return out;
  const version = parseVersion(caps.bpftrace) ?? [0, 16, 0];
  const child = new Deno.Command(bin, {
    args: ["-e", composeServedBy(version, daemons.map((d) => d.pid), 1500)],
    env: { [READY_MARK]: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let asking: Promise<unknown> | undefined;
  // statfs() is never cached: every live daemon answers it. A hung one must not hang us.
  const ask = () =>
    asking ??= Promise.all(mounts.map(async (m) => {
      const stat = new Deno.Command("stat", {
        args: ["-f", m.mountPoint],
        stdout: "null",
        stderr: "null",
      }).spawn();
      const t = setTimeout(() => stat.kill("SIGKILL"), 1000);
      await stat.status;
      clearTimeout(t);
    }));
  // The mark comes on stdout or stderr, by bpftrace version.
  const read = async (stream: ReadableStream<Uint8Array>) => {
    let seen = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      seen += chunk;
      if (seen.includes(READY_MARK)) ask();
    }
    return seen;
  };
  const [text] = await Promise.all([read(child.stdout), read(child.stderr), child.status]);
  await asking;
  for (const m of text.matchAll(/^@served\[(\d+), (\d+)\]: \d+$/gm)) {
    const conn = Number(m[2]);
    out.set(conn, [...(out.get(conn) ?? []), Number(m[1])]);
  }
  return out;
}

/**
 * Daemon targets for the daemon source: `pids` for the one mount (`--daemon-pid`), else every
 * process holding /dev/fuse — which connection each of its reads and replies serves is read in the
 * kernel from its descriptor, so requests are attributed by evidence (see compose.ts).
 * @throws {UsageError} when `pids` are given for several mounts, no process holds /dev/fuse, or
 * this machine cannot tell the connection of a descriptor (then: `--daemon-pid`)
 */
export function daemonTargets(
  mounts: MountInfo[],
  pids: readonly number[],
  bin: string,
  caps: Capabilities,
): DaemonTarget[] {
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
  if (!all.length) {
    throw new UsageError("No process holds /dev/fuse: no FUSE daemon runs here to trace");
  }
  const why = connectionUnreadable(bin, caps);
  if (why) {
    throw new UsageError(
      `Cannot tell which daemon serves which mount: ${why}; give it with --daemon-pid and --mount`,
    );
  }
  return all.map((d) => ({ pid: d.pid }));
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
  if (!SAFE_PATH.test(binary)) {
    throw new UsageError(
      `Cannot probe "${binary.replace(/[^\x20-\x7e]/g, "?")}": only paths of letters, digits ` +
        "and ._+-/ go into a bpftrace program",
    );
  }
  const o = new Deno.Command(bpftrace, {
    args: ["-l", `uprobe:${binary}:${pattern}`],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  const all = new TextDecoder().decode(o.stdout).split("\n").filter(Boolean)
    .map((l) => l.slice(l.lastIndexOf(":") + 1));
  // A symbol name is text from the binary: one that is not an identifier (a crafted library can
  // export `f{printf("x");exit();}BEGIN`) never reaches the program.
  const bad = all.filter((x) => !SAFE_SYMBOL.test(x));
  if (bad.length) {
    console.error(
      `fusetrace: ${binary}: ${bad.length} symbol(s) skipped: not plain identifiers ` +
        `(${bad.slice(0, 3).map((x) => JSON.stringify(x)).join(", ")})`,
    );
  }
  return all.filter((x) => SAFE_SYMBOL.test(x));
}

/** What a symbol and a binary path may be to go into a program: identifiers, plain paths. */
const SAFE_SYMBOL = /^[A-Za-z_][A-Za-z0-9_.]*$/;
const SAFE_PATH = /^\/?[A-Za-z0-9_.+\-]+(\/[A-Za-z0-9_.+\-]+)*$/;

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
    const callbacks: string[] = [];
    for (const p of plugins) {
      for (const name of p.daemonSymbols ?? []) {
        const symbol = symbols.find((s) => symbolIs(s, name));
        if (!symbol) continue;
        out.push({ plugin: p.name, operation: name, binary: lib, symbol });
        callbacks.push(name);
      }
    }
    // Its downloads (a cache miss: an object over HTTP), also as a part of the callback they
    // serve (`cvmfs_open fetching`).
    const download = uprobeSymbols(bpftrace, lib, `${CVMFS_DOWNLOAD}*`)[0];
    if (download && callbacks.length) {
      out.push({
        plugin: "uprobe",
        operation: "download",
        binary: lib,
        symbol: download,
        within: callbacks,
      });
    }
  }
  return out;
}

/** CVMFS's download of one object: download::DownloadManager::Fetch(download::JobInfo*). */
export const CVMFS_DOWNLOAD = "_ZN8download15DownloadManager5FetchE";

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

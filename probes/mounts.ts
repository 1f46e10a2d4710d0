/**
 * FUSE mounts from /proc/self/mountinfo, keyed by the connection number the fuse tracepoints carry
 * (the kernel dev_t of the mount: major << 20 | minor).
 * @module
 */
import { UsageError } from "../util/errors.ts";

/** One mount of mountinfo. */
export { deviceOf, waitForMount } from "../util/fs.ts";

export interface MountInfo {
  /** Kernel dev_t (major << 20 | minor) = the fuse `connection`. */
  dev: number;
  majorMinor: string;
  mountPoint: string;
  fsType: string;
  source: string;
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
}

/** Parses mountinfo text (see proc(5)). */
export function parseMountinfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const [left, right] = line.split(" - ");
    if (!left || !right) continue;
    const f = left.split(" ");
    const [fsType, source] = right.split(" ");
    const [maj, min] = (f[2] ?? "0:0").split(":").map(Number);
    out.push({
      dev: (maj! << 20) | min!,
      majorMinor: f[2] ?? "0:0",
      mountPoint: unescape(f[4] ?? ""),
      fsType: fsType ?? "",
      source: unescape(source ?? ""),
    });
  }
  return out;
}

/** Is this a FUSE filesystem type (`fuse`, `fuse.sshfs`, `fuseblk`)? */
export function isFuse(fsType: string): boolean {
  return fsType === "fuse" || fsType === "fuseblk" || fsType.startsWith("fuse.");
}

/** The FUSE mounts of this machine's mount namespace. */
export function fuseMounts(mountinfo?: string): MountInfo[] {
  const text = mountinfo ?? Deno.readTextFileSync("/proc/self/mountinfo");
  return parseMountinfo(text).filter((m) => isFuse(m.fsType));
}

/**
 * The FUSE mount at or containing `path`.
 * @throws {UsageError} when the path is unreadable or not on a FUSE mount
 */
export function resolveMount(path: string, mounts: MountInfo[] = fuseMounts()): MountInfo {
  const under = (p: string) =>
    mounts
      .filter((m) => p === m.mountPoint || p.startsWith(m.mountPoint.replace(/\/$/, "") + "/"))
      .sort((a, b) => b.mountPoint.length - a.mountPoint.length)[0];
  // Lexically first: a path at or below a mount point is never looked up through FUSE (a
  // stopped daemon would hang the lookup).
  const lexical = under(normalize(path.startsWith("/") ? path : `${Deno.cwd()}/${path}`));
  if (lexical) return lexical;
  let real: string;
  try {
    real = Deno.realPathSync(path);
  } catch (e) {
    throw new UsageError(`Cannot read mount "${path}": ${(e as Error).message.split(":")[0]}`);
  }
  const hit = under(real);
  if (!hit) throw new UsageError(`"${path}" is not on a FUSE mount`);
  return hit;
}

/** `/a/./b/../c/` → `/a/c`, without looking at the filesystem. */
function normalize(p: string): string {
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return `/${out.join("/")}`;
}

const FUSECTL = "/sys/fs/fuse/connections";

/**
 * Whether the kernel aborted a FUSE connection — its daemon exited or was killed (the mount stays,
 * answering ENOTCONN): fuse_abort_conn() sets max_background to UINT_MAX, which fusectl shows.
 * Mounts fusectl when it is not (root). False when it cannot tell.
 */
export function connectionAborted(dev: number): boolean {
  const file = `${FUSECTL}/${dev & 0xfffff}/max_background`;
  const read = () => Deno.readTextFileSync(file).trim();
  try {
    return read() === "4294967295";
  } catch {
    try {
      new Deno.Command("mount", { args: ["-t", "fusectl", "none", FUSECTL], stderr: "null" })
        .outputSync();
      return read() === "4294967295";
    } catch {
      return false;
    }
  }
}

/** Every mount point of this mount namespace. */
export function mountPoints(): string[] {
  return parseMountinfo(Deno.readTextFileSync("/proc/self/mountinfo")).map((m) => m.mountPoint);
}

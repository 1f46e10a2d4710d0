/**
 * A real FUSE filesystem for the demo and the live tests: a generated tree, packed with mksquashfs
 * and mounted with squashfuse in the foreground (so we own its process and can unmount cleanly).
 * @module
 */
import { UsageError } from "../util/errors.ts";
import { deviceOf, waitForMount } from "../util/fs.ts";

/** Shape of a generated tree: `dirs` top directories × `subdirs` × `filesPerDir` files. */
export interface TreeShape {
  dirs: number;
  subdirs: number;
  filesPerDir: number;
}

/** The shape with about `files` files in 3 levels. */
export function shapeFor(files: number): TreeShape {
  const dirs = Math.max(1, Math.min(8, Math.ceil(files / 300)));
  const subdirs = Math.max(1, Math.min(10, Math.ceil(files / dirs / 30)));
  return { dirs, subdirs, filesPerDir: Math.max(1, Math.ceil(files / dirs / subdirs)) };
}

/** Size in bytes of file number i (deterministic, 1 B … 12 KiB, all below 128 KiB one-read). */
export function fileSize(i: number): number {
  return 1 + ((i * 2654435761) % 12288);
}

/** Relative paths of the tree: directories first (parents before children), then files. */
export function treeLayout(s: TreeShape): { dirs: string[]; files: string[] } {
  const dirs: string[] = [];
  const files: string[] = [];
  for (let d = 0; d < s.dirs; d++) {
    dirs.push(`pkg${d}`);
    for (let e = 0; e < s.subdirs; e++) {
      dirs.push(`pkg${d}/lib${e}`);
      for (let f = 0; f < s.filesPerDir; f++) files.push(`pkg${d}/lib${e}/mod${f}.py`);
    }
  }
  return { dirs, files };
}

/** Writes the tree under `root`. */
export function writeTree(root: string, s: TreeShape): { dirs: string[]; files: string[] } {
  const t = treeLayout(s);
  for (const d of t.dirs) Deno.mkdirSync(`${root}/${d}`, { recursive: true });
  t.files.forEach((f, i) => {
    const n = fileSize(i);
    const line = `# ${f}\n`;
    Deno.writeTextFileSync(`${root}/${f}`, line.repeat(Math.ceil(n / line.length)).slice(0, n));
  });
  return t;
}

/** A command on PATH, or (an absolute path) a file such as a header. */
function has(cmd: string): boolean {
  if (cmd.startsWith("/")) {
    try {
      return Deno.statSync(cmd).isFile;
    } catch {
      return false;
    }
  }
  return (Deno.env.get("PATH") ?? "").split(":").some((d) => {
    try {
      return Deno.statSync(`${d}/${cmd}`).isFile;
    } catch {
      return false;
    }
  });
}

/** Commands the demo and the squashfs helpers need, and the packages that have them. */
const TOOLS: Record<string, string> = {
  bpftrace: "bpftrace",
  fusermount3: "fuse3",
  squashfuse: "squashfuse",
  mksquashfs: "squashfs-tools",
};

/**
 * Installs bpftrace, squashfuse, squashfs-tools and fuse3 (or other `tools`: command → package)
 * from the distribution when missing, saying so first. A `tools` key that is an absolute path is a
 * file the package brings (a header).
 * @throws {UsageError} when they are missing and cannot be installed
 */
export async function ensureTools(
  log: (s: string) => void = console.error,
  tools: Record<string, string> = TOOLS,
): Promise<void> {
  const missing = [...new Set(Object.entries(tools).filter(([c]) => !has(c)).map(([, p]) => p))];
  if (!missing.length) return;
  const apt = has("apt-get");
  const cmd = apt
    ? ["apt-get", "install", "-y", ...missing]
    : has("dnf")
    ? ["dnf", "install", "-y", ...missing]
    : undefined;
  if (!cmd || Deno.uid() !== 0) {
    throw new UsageError(
      `Missing ${missing.join(", ")}: install with apt-get install ${missing.join(" ")} ` +
        `(or dnf install ${missing.join(" ")}) as root`,
    );
  }
  log(`Installing ${missing.join(", ")} from the distribution: ${cmd.join(" ")}`);
  if (apt) {
    await new Deno.Command("apt-get", { args: ["update", "-q"], stdout: "null" }).output();
  }
  const r = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdout: "null",
    env: { DEBIAN_FRONTEND: "noninteractive" },
  }).output();
  if (!r.success) throw new UsageError(`"${cmd.join(" ")}" failed`);
}

/** A mounted squashfs image. */
export interface SquashMount {
  dir: string;
  mountPoint: string;
  daemon: Deno.ChildProcess;
  layout: { dirs: string[]; files: string[] };
  /** Unmounts, stops the daemon and removes the temporary directory. Idempotent. */
  close(): Promise<void>;
}

/**
 * Generates a tree, packs it and mounts it with squashfuse under a new temporary directory
 * (`DIR/image.sqfs` on `DIR/mnt`).
 * @throws {Error} when mksquashfs or squashfuse fail
 */
export async function mountSquashfs(
  shape: TreeShape,
  o: { relative?: boolean } = {},
): Promise<SquashMount> {
  const dir = Deno.makeTempDirSync({ prefix: "fusetrace-sqfs-" });
  const src = `${dir}/src`;
  const image = `${dir}/image.sqfs`;
  const mountPoint = `${dir}/mnt`;
  Deno.mkdirSync(src);
  Deno.mkdirSync(mountPoint);
  const layout = writeTree(src, shape);
  const mk = await new Deno.Command("mksquashfs", {
    args: [src, image, "-noappend", "-quiet", "-no-progress"],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!mk.success) throw new Error(`mksquashfs failed: ${new TextDecoder().decode(mk.stderr)}`);
  Deno.removeSync(src, { recursive: true });
  const before = deviceOf(mountPoint);
  // relative: `squashfuse -f image.sqfs mnt` run in the directory, as users type it.
  const daemon = new Deno.Command("squashfuse", {
    args: o.relative ? ["-f", "image.sqfs", "mnt"] : ["-f", image, mountPoint],
    cwd: dir,
    stdout: "null",
    stderr: "null",
  }).spawn();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await new Deno.Command("fusermount3", { args: ["-u", "-z", mountPoint], stderr: "null" })
      .output().catch(() => undefined);
    try {
      daemon.kill("SIGTERM");
    } catch { /* already exited */ }
    await daemon.status;
    Deno.removeSync(dir, { recursive: true });
  };
  try {
    await waitForMount(mountPoint, before);
  } catch (e) {
    await close();
    throw e;
  }
  return { dir, mountPoint, daemon, layout, close };
}

/**
 * Guest machines for the kernel matrix: root images built on demand with mmdebstrap from the
 * Debian mirror this machine's apt uses, cached outside the repository; booted under qemu (TCG)
 * with this working tree, Deno and its caches on a second disk; results read back from that disk.
 * @module
 */
import type { Guest } from "./guests.ts";
import { GUEST_PACKAGES } from "./guests.ts";

/** Where images are cached: `$FUSETRACE_VM_CACHE`, else /var/cache/fusetrace-vm. */
export const CACHE = Deno.env.get("FUSETRACE_VM_CACHE") ?? "/var/cache/fusetrace-vm";

/** Bumped whenever the image layout or the init script changes. */
const IMAGE_FORMAT = 1;

/**
 * The guest's init (PID 1): the bare mounts (tracefs stays unmounted, as on a fresh machine: the
 * tool must mount it), the payload disk, its run.sh, then power off.
 */
const INIT = `#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm && mount -t devpts pts /dev/pts && mount -t tmpfs shm /dev/shm
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
mkdir -p /payload && mount /dev/vdb /payload && sh /payload/run.sh
sync
echo o > /proc/sysrq-trigger
sleep 30
`;

/** A built guest image. */
export interface Image {
  kernel: string;
  initrd: string;
  root: string;
  /** Kernel release and bpftrace version of the image (from its package database). */
  release: string;
  bpftrace: string;
}

/** Runs a command; throws with its output when it fails. */
export async function sh(cmd: string, args: string[], o: { cwd?: string } = {}): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", ...o })
    .output();
  const dec = new TextDecoder();
  if (!out.success) {
    const err = (dec.decode(out.stdout) + dec.decode(out.stderr)).trim().split("\n").slice(-8);
    throw new Error(`${cmd} ${args.slice(0, 3).join(" ")} … failed:\n${err.join("\n")}`);
  }
  return dec.decode(out.stdout);
}

/** The Debian archive this machine's apt uses (from its sources), for the guests' roots. */
export function debianMirror(): string {
  const files = ["/etc/apt/sources.list"];
  try {
    for (const e of Deno.readDirSync("/etc/apt/sources.list.d")) {
      files.push(`/etc/apt/sources.list.d/${e.name}`);
    }
  } catch { /* none */ }
  for (const f of files) {
    let text = "";
    try {
      text = Deno.readTextFileSync(f);
    } catch {
      continue;
    }
    for (const m of text.matchAll(/^(?:URIs:|deb(?:\s+\[[^\]]*\])?)\s+(\S+)/gm)) {
      if (/\/debian\/?$/.test(m[1]!)) return m[1]!.replace(/\/$/, "");
    }
  }
  throw new Error("No Debian archive found in this machine's apt sources");
}

async function sha(text: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(d)].slice(0, 6).map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Does a path exist? */
export function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * The image of a guest: from the cache (keyed by suite, packages, format), else built (~1 min).
 * @param log progress lines
 */
export async function guestImage(g: Guest, log: (s: string) => void): Promise<Image> {
  const packages = [...GUEST_PACKAGES, ...g.packages ?? []];
  const key = await sha(JSON.stringify([g.suite, packages, IMAGE_FORMAT, INIT]));
  const dir = `${CACHE}/${g.name}-${key}`;
  if (exists(`${dir}/image.json`)) {
    return JSON.parse(Deno.readTextFileSync(`${dir}/image.json`)) as Image;
  }
  log(`building the ${g.name} image (${g.suite}, mmdebstrap, about a minute)`);
  Deno.mkdirSync(CACHE, { recursive: true });
  const tmp = Deno.makeTempDirSync({ dir: CACHE, prefix: `.${g.name}-` });
  try {
    const mirror = debianMirror();
    await sh("mmdebstrap", [
      "--variant=apt",
      `--aptopt=Acquire::Check-Valid-Until "false"`,
      `--include=${packages.join(",")}`,
      g.suite,
      `${tmp}/root.tar`,
      `deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror} ${g.suite} main`,
    ]);
    Deno.mkdirSync(`${tmp}/root`);
    await sh("tar", ["-xf", `${tmp}/root.tar`, "-C", `${tmp}/root`, "--numeric-owner"]);
    Deno.removeSync(`${tmp}/root.tar`);
    Deno.writeTextFileSync(`${tmp}/root/sbin/fusetrace-init`, INIT, { mode: 0o755 });
    const boot = [...Deno.readDirSync(`${tmp}/root/boot`)].map((e) => e.name);
    const vmlinuz = boot.find((n) => n.startsWith("vmlinuz-"));
    const initrd = boot.find((n) => n.startsWith("initrd.img-"));
    if (!vmlinuz || !initrd) throw new Error(`No kernel in the ${g.suite} root`);
    const status = Deno.readTextFileSync(`${tmp}/root/var/lib/dpkg/status`);
    const bpftrace = /Package: bpftrace\n(?:.*\n)*?Version: (\S+)/.exec(status)?.[1] ?? "?";
    Deno.mkdirSync(`${tmp}/out`);
    Deno.copyFileSync(`${tmp}/root/boot/${vmlinuz}`, `${tmp}/out/vmlinuz`);
    Deno.copyFileSync(`${tmp}/root/boot/${initrd}`, `${tmp}/out/initrd.img`);
    await sh("truncate", ["-s", "3G", `${tmp}/out/root.img`]);
    await sh("mkfs.ext4", ["-q", "-F", "-d", `${tmp}/root`, `${tmp}/out/root.img`]);
    const image: Image = {
      kernel: `${dir}/vmlinuz`,
      initrd: `${dir}/initrd.img`,
      root: `${dir}/root.img`,
      release: vmlinuz.slice("vmlinuz-".length),
      bpftrace: bpftrace.replace(/-.*$/, ""),
    };
    Deno.writeTextFileSync(`${tmp}/out/image.json`, JSON.stringify(image));
    Deno.renameSync(`${tmp}/out`, dir);
    // Older images of this guest (another package list or format) are not used again.
    for (const e of Deno.readDirSync(CACHE)) {
      if (e.name.startsWith(`${g.name}-`) && `${CACHE}/${e.name}` !== dir) {
        Deno.removeSync(`${CACHE}/${e.name}`, { recursive: true });
      }
    }
    return image;
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
}

/** What a guest run returns. */
export interface BootResult {
  /** The serial console (\r stripped). */
  console: string;
  /** Files the guest wrote under /payload/out, by name. */
  out: Record<string, string>;
  timedOut: boolean;
  seconds: number;
}

/**
 * Boots a guest with a payload directory as its second disk (`/payload`, whose run.sh the init
 * runs) and reads back what it wrote to /payload/out. A guest that does not power off within
 * `timeoutS` is killed and reported.
 */
export async function boot(
  g: Guest,
  image: Image,
  payload: string,
  o: { timeoutS: number; onLine?: (line: string) => void },
): Promise<BootResult> {
  const t0 = Date.now();
  const disk = `${payload}.img`;
  const mb = Math.ceil(Number((await sh("du", ["-sm", payload])).split("\t")[0]) * 1.3) + 256;
  Deno.mkdirSync(`${payload}/out`, { recursive: true });
  await sh("truncate", ["-s", `${mb}M`, disk]);
  await sh("mkfs.ext4", ["-q", "-F", "-d", payload, disk]);
  const child = new Deno.Command("qemu-system-x86_64", {
    args: [
      ...["-accel", "tcg", "-cpu", "max", "-m", "3072", "-smp", "2"],
      ...["-kernel", image.kernel, "-initrd", image.initrd],
      ...["-drive", `file=${image.root},if=virtio,format=raw,snapshot=on`],
      ...["-drive", `file=${disk},if=virtio,format=raw`],
      "-append",
      [
        "console=ttyS0 root=/dev/vda rw init=/sbin/fusetrace-init quiet loglevel=3 panic=-1",
        ...g.append,
      ].join(" "),
      ...["-nographic", "-no-reboot", "-nic", "none"],
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, o.timeoutS * 1000);
  const chunks: string[] = [];
  let rest = "";
  for await (const c of child.stdout.pipeThrough(new TextDecoderStream())) {
    rest += c.replaceAll("\r", "");
    let i;
    while ((i = rest.indexOf("\n")) >= 0) {
      const line = rest.slice(0, i);
      rest = rest.slice(i + 1);
      chunks.push(line);
      o.onLine?.(line);
    }
  }
  chunks.push(rest);
  await child.status;
  clearTimeout(timer);
  const out: Record<string, string> = {};
  const listing = await sh("debugfs", ["-R", "ls -p /out", disk]).catch(() => "");
  for (const m of listing.matchAll(/^\/\d+\/\d+\/\d+\/\d+\/([^/]+)\//gm)) {
    if (m[1] === "." || m[1] === "..") continue;
    out[m[1]!] = await sh("debugfs", ["-R", `cat /out/${m[1]}`, disk]);
  }
  Deno.removeSync(disk);
  return { console: chunks.join("\n"), out, timedOut, seconds: (Date.now() - t0) / 1000 };
}

/** The C stand-in for CVMFS's daemon (tests/fixtures): built once per test run, mounted on demand. */
import { deviceOf, waitForMount } from "../probes/mounts.ts";
import { assert, root } from "./_helpers.ts";

/** Builds the stand-in CVMFS daemon once: cvmfs2 + libcvmfs_fuse3.so.2.99. */
let stubDir: string | undefined;
export async function buildStub(): Promise<string> {
  // Built elsewhere (the kernel matrix's io_uring guest gets one linked to its own libfuse).
  const prebuilt = Deno.env.get("FUSETRACE_STUB_DIR");
  if (prebuilt) return prebuilt;
  if (stubDir) return stubDir;
  const dir = Deno.makeTempDirSync({ prefix: "fusetrace-stub-" });
  const flags = new TextDecoder().decode(
    (await new Deno.Command("pkg-config", { args: ["--cflags", "--libs", "fuse3"] }).output())
      .stdout,
  ).trim().split(/\s+/);
  await compileStub(dir, flags);
  return stubDir = dir;
}

/**
 * Compiles the stand-in (libcvmfs_fuse3.so.2.99 and cvmfs2) into `dir` with libfuse's `flags`; both
 * find their libraries through `rpath` (default: `dir`).
 */
export async function compileStub(dir: string, flags: string[], rpath = dir): Promise<void> {
  const fx = `${root}tests/fixtures`;
  const lib = "libcvmfs_fuse3.so.2.99";
  const link = [...flags, `-Wl,-rpath,${rpath}`];
  for (
    const [cc, args] of [
      ["g++", ["-O0", "-shared", "-fPIC", "-o", `${dir}/${lib}`, `${fx}/cvmfs_stub.cc`]],
      ["gcc", ["-o", `${dir}/cvmfs2`, `${fx}/cvmfs_stub_main.c`, `-L${dir}`, `-l:${lib}`]],
    ] as const
  ) {
    const o = await new Deno.Command(cc, { args: [...args, ...link], stderr: "piped" }).output();
    assert(o.success, new TextDecoder().decode(o.stderr));
  }
}

/**
 * Runs `fn` with the stand-in daemon mounted (lookups sleeping `lookupMs`; `fuseOpts` adds session
 * options such as io_uring); unmounts after.
 */
export async function withStub<T>(
  lookupMs: number,
  fn: (mnt: string, pid: number) => Promise<T>,
  o: { fuseOpts?: string; afterReplyMs?: number } = {},
) {
  const dir = await buildStub();
  const mnt = Deno.makeTempDirSync({ prefix: "fusetrace-stub-mnt-" });
  const before = deviceOf(mnt);
  const daemon = new Deno.Command(`${dir}/cvmfs2`, {
    args: [mnt],
    env: {
      STUB_LOOKUP_MS: String(lookupMs),
      STUB_AFTER_REPLY_MS: String(o.afterReplyMs ?? 0),
      STUB_FUSE_OPTS: o.fuseOpts ?? "",
    },
    stderr: "null",
  }).spawn();
  try {
    await waitForMount(mnt, before);
    return await fn(mnt, daemon.pid);
  } finally {
    daemon.kill("SIGTERM");
    await daemon.status;
    await new Deno.Command("fusermount3", { args: ["-u", "-z", mnt], stderr: "null" }).output();
    Deno.removeSync(mnt);
  }
}

/**
 * FUSE over io_uring for a guest: Debian builds libfuse without liburing, so its `-o io_uring` only
 * logs "failed to start io-uring". This builds the guest suite's own libfuse source package on the
 * host with liburing (cached beside the images) and the C stand-in daemon against it, for the
 * payload's uring/ folder (tests/_stub.ts takes it from $FUSETRACE_STUB_DIR).
 * @module
 */
import type { Guest } from "./guests.ts";
import { CACHE, debianMirror, exists, sh } from "./vm.ts";
import { compileStub } from "../_stub.ts";

/** Host tools the build needs: command (or header) → package. */
export const URING_BUILD_TOOLS: Record<string, string> = {
  meson: "meson",
  ninja: "ninja-build",
  gcc: "gcc",
  "g++": "g++",
  "/usr/include/liburing.h": "liburing-dev",
  "/usr/include/numa.h": "libnuma-dev",
};

/** libfuse with io_uring from the suite's source package: the install prefix (cached). */
async function libfuse(g: Guest, log: (s: string) => void): Promise<string> {
  const dir = `${CACHE}/libfuse-uring-${g.suite}`;
  if (exists(`${dir}/done`)) return `${dir}/inst`;
  log(`building libfuse with io_uring from ${g.suite}'s fuse3 source`);
  try {
    Deno.removeSync(dir, { recursive: true }); // a build that did not finish
  } catch { /* none */ }
  Deno.mkdirSync(`${dir}/apt/lists/partial`, { recursive: true });
  Deno.mkdirSync(`${dir}/apt/cache/archives/partial`, { recursive: true });
  Deno.writeTextFileSync(
    `${dir}/apt/sources.list`,
    `deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${debianMirror()} ${g.suite} main\n`,
  );
  const apt = [
    `-oDir::Etc::SourceList=${dir}/apt/sources.list`,
    "-oDir::Etc::SourceParts=/dev/null",
    `-oDir::State::Lists=${dir}/apt/lists`,
    `-oDir::Cache=${dir}/apt/cache`,
    "-oAcquire::Check-Valid-Until=false",
  ];
  await sh("apt-get", [...apt, "update", "-q"]);
  await sh("apt-get", [...apt, "source", "--download-only", "fuse3"], { cwd: dir });
  const orig = [...Deno.readDirSync(dir)].find((e) => /^fuse3_.*\.orig\.tar\.gz$/.test(e.name));
  if (!orig) throw new Error(`No fuse3 source in ${g.suite}`);
  await sh("tar", ["-xzf", orig.name, "--one-top-level=src", "--strip-components=1"], { cwd: dir });
  await sh("meson", [
    "setup",
    `${dir}/build`,
    `${dir}/src`,
    "-Dexamples=false",
    "-Dutils=false",
    "-Dtests=false",
    "-Duseroot=false",
    `--prefix=${dir}/inst`,
    "--libdir=lib",
  ]);
  await sh("ninja", ["-C", `${dir}/build`, "install"]);
  const config = Deno.readTextFileSync(`${dir}/build/fuse_config.h`);
  if (!/#define HAVE_URING/.test(config)) throw new Error("libfuse was built without io_uring");
  Deno.writeTextFileSync(`${dir}/done`, "");
  return `${dir}/inst`;
}

/**
 * Stages `payload/uring`: libfuse with io_uring and the stand-in daemon linked to it (found in the
 * guest at /payload/uring through its run path).
 */
export async function stageUring(g: Guest, payload: string, log: (s: string) => void) {
  const inst = await libfuse(g, log);
  const out = `${payload}/uring`;
  Deno.mkdirSync(out, { recursive: true });
  for (const e of Deno.readDirSync(`${inst}/lib`)) {
    if (e.name.startsWith("libfuse3.so.")) await sh("cp", ["-a", `${inst}/lib/${e.name}`, out]);
  }
  await compileStub(out, [`-I${inst}/include/fuse3`, `-L${inst}/lib`, "-lfuse3"], "/payload/uring");
}

/**
 * Run by `deno task test` before the suite: installs from the distribution what the live tests
 * need (bpftrace, FUSE tools, bindfs, a C compiler and libfuse's headers for the stand-in daemon,
 * Prometheus and Chromium),
 * saying so, as the demo does, and `fusetrace` on the PATH (the README's commands are tested as
 * typed). Exits 2 with one line when they are missing and cannot be installed.
 * @module
 */
import { ensureTools } from "../demo/squashfs.ts";
import { UsageError } from "../util/errors.ts";

/** Command (or file) → the Debian package that brings it. */
export const TEST_TOOLS: Record<string, string> = {
  bpftrace: "bpftrace",
  fusermount3: "fuse3",
  squashfuse: "squashfuse",
  mksquashfs: "squashfs-tools",
  bindfs: "bindfs",
  setpriv: "util-linux",
  gcc: "gcc",
  "g++": "g++",
  "pkg-config": "pkg-config",
  "/usr/include/fuse3/fuse_lowlevel.h": "libfuse3-dev",
  // serve is tested against a real Prometheus, the HTML report in a real browser.
  prometheus: "prometheus",
  chromium: "chromium",
};

if (import.meta.main) {
  try {
    await ensureTools((s) => console.error(`test setup: ${s}`), TEST_TOOLS);
    const { main } = await import("../cli.ts");
    if (await main(["install"]) !== 0) Deno.exit(2);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`test setup: ${e.message}`);
    Deno.exit(2);
  }
}

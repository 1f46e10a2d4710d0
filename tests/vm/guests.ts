/**
 * The guests of the kernel matrix: Debian releases whose kernel and bpftrace fusetrace must run
 * on. Each is booted under qemu from an image built on demand (see image.ts).
 * @module
 */

/** A guest of the matrix. */
export interface Guest {
  /** Short name: `bookworm`, `trixie`, `sid`. */
  name: string;
  /** Debian suite the root is built from. */
  suite: string;
  /** What the guest stands for in the summary. */
  about: string;
  /** Kernel modules to load before the tests (fuse and squashfs are modules in some kernels). */
  modules: string[];
  /** Extra kernel command-line arguments. */
  append: string[];
  /** What `auto` must pick there: `request/unique`, `request/pointer`, `kernel/fentry`, … */
  source: string;
  /** Packages beyond {@link GUEST_PACKAGES}. */
  packages?: string[];
  /** Test FUSE over io_uring there (a libfuse with io_uring and a daemon built for it). */
  uring?: boolean;
  /**
   * Run the real CernVM-FS client there: the client built on this machine (Debian 12: the same
   * release) and a repository made here, staged on the payload disk (tests/vm/matrix.ts).
   */
  cvmfs?: boolean;
}

/** The CernVM-FS client's runtime libraries (what its ldd lists beyond the guest's packages). */
export const CVMFS_RUNTIME = [
  "libcurl4",
  "libc-ares2",
  "libleveldb1d",
  "libpacparser1",
  "libprotobuf-lite32",
  "libsqlite3-0",
  "libssl3",
  "libuuid1",
  // Its server is on loopback, which a guest without a network brings up itself (ip link).
  "iproute2",
];

/** Packages every guest root gets. */
export const GUEST_PACKAGES = [
  "bpftrace",
  "fuse3",
  "squashfuse",
  "squashfs-tools",
  "python3",
  "linux-image-cloud-amd64",
  "kmod",
  "procps",
  "util-linux",
  "mount",
];

/** The matrix. EL9 (5.14) is covered in kind by bookworm's 6.1: no fuse tracepoints, kprobes
 * and fentry on the same callback functions. */
export const GUESTS: readonly Guest[] = [
  {
    name: "bookworm",
    suite: "bookworm",
    about: "Debian 12: 6.1, bpftrace 0.17 — no fuse tracepoints (as EL9's 5.14)",
    modules: ["fuse", "squashfs", "loop"],
    append: [],
    source: "kernel/fentry",
    // The seed's own method on the client it was made for: kernel callbacks under CVMFS.
    packages: CVMFS_RUNTIME,
    cvmfs: true,
  },
  {
    name: "trixie",
    suite: "trixie",
    about: "Debian 13: 6.12, bpftrace 0.23 — tracepoints with unique 0 at send (as EL10)",
    modules: ["squashfs", "loop"],
    append: [],
    source: "request/pointer",
  },
  {
    name: "sid",
    suite: "sid",
    about: "Debian sid: 7.x, bpftrace 0.27, libfuse 3.18 (FUSE over io_uring)",
    modules: ["squashfs", "loop"],
    append: ["fuse.enable_uring=1"],
    source: "request/unique",
    // Debian builds libfuse without liburing: the matrix builds the suite's own libfuse source
    // with it (and the C stand-in daemon against it); the guest needs the two runtime libraries.
    packages: ["liburing2", "libnuma1"],
    uring: true,
  },
];

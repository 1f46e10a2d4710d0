/**
 * testfs: a read-only FUSE filesystem written in TypeScript — Deno FFI to libfuse3's low-level API.
 * libfuse's ops struct is filled with `Deno.UnsafeCallback` pointers; requests are received on a
 * worker thread (nonblocking FFI call) and processed on the main thread; a delayed reply is sent
 * after an FFI `clock_nanosleep` to an absolute deadline on the worker pool (never before it), so
 * slow requests overlap unless `singleThread`.
 * @module
 */
import { buildTree, content, prng, type Tree, type TreeOptions } from "./tree.ts";
import { type InjectedError, type Latency, sample, type TestfsOp } from "./options.ts";

/** What testfs serves and how. */
export interface TestFsOptions extends TreeOptions {
  /** Injected service time per operation. */
  latency?: Partial<Record<TestfsOp, Latency>>;
  /** Injected errors per operation. */
  errors?: Partial<Record<TestfsOp, InjectedError>>;
  /** Kernel entry cache timeout, seconds (default 60, like CVMFS's long-lived catalogs). */
  entryTimeout?: number;
  /** Kernel attribute cache timeout, seconds (default 60). */
  attrTimeout?: number;
  /** Keep the page cache of files across opens (CVMFS does; default true). */
  keepCache?: boolean;
  /** Serve one request at a time: a slow request delays the next. */
  singleThread?: boolean;
  /**
   * Answer a missing name as CVMFS does: an entry with node id 0 (a negative entry the kernel
   * caches for `entryTimeout`), not an ENOENT error (which the kernel does not cache).
   */
  negativeEntries?: boolean;
}

/** A mounted testfs. */
export interface TestFs {
  mountPoint: string;
  tree: Tree;
  /** Requests served, per operation. */
  served: Record<string, number>;
  /**
   * Service times of the delayed requests as testfs saw them (callback to reply, ms), per
   * operation: what a tracer's daemon-side figure must recover, whatever this machine adds to the
   * injected delay.
   */
  serviceMs: Record<string, number[]>;
  /** Resolves when the session has ended (after `close`, or an external unmount). */
  done: Promise<void>;
  /** Unmounts and ends the session. Idempotent. */
  close(): Promise<void>;
}

/** libfuse 3 by soname: 3.14–3.16 are .so.3; 3.17 (Debian 13) and newer are .so.4. */
const LIBFUSE = ["libfuse3.so.3", "libfuse3.so.4"];
const OPS_SLOTS = 44; // struct fuse_lowlevel_ops in libfuse 3.14: 352 bytes
const SLOT: Record<string, number> = {
  init: 0,
  lookup: 2,
  forget: 3,
  getattr: 4,
  open: 14,
  read: 15,
  flush: 17,
  release: 18,
  opendir: 20,
  readdir: 21,
  releasedir: 22,
};
const FUSE_CAP_PARALLEL_DIROPS = 1 << 18;
const ENOENT = 2;
const ENOTDIR = 20;
const EINTR = 4;
const EAGAIN = 11;

function open() {
  const fuse = dlopenFirst(LIBFUSE, {
    fuse_session_new: { parameters: ["pointer", "pointer", "usize", "pointer"], result: "pointer" },
    fuse_session_mount: { parameters: ["pointer", "buffer"], result: "i32" },
    fuse_session_fd: { parameters: ["pointer"], result: "i32" },
    fuse_session_unmount: { parameters: ["pointer"], result: "void" },
    fuse_session_destroy: { parameters: ["pointer"], result: "void" },
    receive: {
      name: "fuse_session_receive_buf",
      parameters: ["pointer", "pointer"],
      result: "i32",
      nonblocking: true,
    },
    receive_now: {
      name: "fuse_session_receive_buf",
      parameters: ["pointer", "pointer"],
      result: "i32",
    },
    fuse_session_process_buf: { parameters: ["pointer", "pointer"], result: "void" },
    fuse_reply_entry: { parameters: ["pointer", "buffer"], result: "i32" },
    fuse_reply_attr: { parameters: ["pointer", "buffer", "f64"], result: "i32" },
    fuse_reply_err: { parameters: ["pointer", "i32"], result: "i32" },
    fuse_reply_none: { parameters: ["pointer"], result: "void" },
    fuse_reply_open: { parameters: ["pointer", "buffer"], result: "i32" },
    fuse_reply_buf: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
    fuse_add_direntry: {
      parameters: ["pointer", "buffer", "usize", "buffer", "buffer", "i64"],
      result: "usize",
    },
  });
  const libc = Deno.dlopen("libc.so.6", {
    poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
    clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
    clock_nanosleep: {
      parameters: ["i32", "i32", "buffer", "pointer"],
      result: "i32",
      nonblocking: true,
    },
    umount2: { parameters: ["buffer", "i32"], result: "i32" },
    prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  });
  return { fuse: fuse.symbols, libc: libc.symbols, close: () => (fuse.close(), libc.close()) };
}

function dlopenFirst<S extends Deno.ForeignLibraryInterface>(names: string[], symbols: S) {
  for (const name of names.slice(0, -1)) {
    try {
      return Deno.dlopen(name, symbols);
    } catch { /* try the next soname */ }
  }
  return Deno.dlopen(names[names.length - 1]!, symbols);
}

function cstr(s: string): Uint8Array {
  return new TextEncoder().encode(`${s}\0`);
}

const CLOCK_MONOTONIC = 1;
const TIMER_ABSTIME = 1;

/**
 * Sleeps on the FFI worker pool until an absolute deadline, `ms` after the call: never less (an
 * absolute clock_nanosleep does not end early; an interrupted one sleeps on to the same
 * deadline). A wake-up is late by the scheduler's latency and the event loop's dispatch (tens of
 * µs here, hundreds under load, ms under emulation): that lateness is measured in what the reply
 * reports (`serviceMs`), never taken off a later sleep — an injected service time is a floor, the
 * ground truth a trace is checked against. Resolves to a clock of the time since the call, in ms.
 */
function deadlineSleeper(libc: ReturnType<typeof open>["libc"]) {
  const now = () => {
    const ts = new BigInt64Array(2);
    libc.clock_gettime(CLOCK_MONOTONIC, ts);
    return ts[0]! * 1_000_000_000n + ts[1]!;
  };
  return async (ms: number): Promise<() => number> => {
    const start = now();
    const deadline = start + BigInt(Math.ceil(ms * 1e6));
    const ts = new BigInt64Array([deadline / 1_000_000_000n, deadline % 1_000_000_000n]);
    while (await libc.clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, ts, null) === EINTR);
    return () => Number(now() - start) / 1e6;
  };
}

/** `struct stat` (144 bytes, x86_64) of a node. */
function stat(tree: Tree, ino: number): Uint8Array {
  const n = tree.nodes[ino]!;
  const b = new Uint8Array(144);
  const v = new DataView(b.buffer);
  v.setBigUint64(8, BigInt(ino), true);
  v.setBigUint64(
    16,
    BigInt(n.dir ? 2 + [...n.children.values()].filter((c) => tree.nodes[c]!.dir).length : 1),
    true,
  );
  v.setUint32(24, n.dir ? 0o40555 : 0o100444, true);
  v.setBigInt64(48, BigInt(n.size), true);
  v.setBigInt64(56, 4096n, true);
  v.setBigInt64(64, BigInt(Math.ceil(n.size / 512)), true);
  return b;
}

/**
 * Mounts testfs at `mountPoint` in this process. Its requests are served on this thread, so this
 * process must not touch the mount with synchronous calls; tests use {@link spawnTestFs} instead.
 * @throws {Error} when libfuse cannot mount
 */
export function mountTestFs(mountPoint: string, o: TestFsOptions = {}): TestFs {
  const lib = open();
  const { fuse, libc } = lib;
  libc.prctl(29, 1n, 0n, 0n, 0n); // PR_SET_TIMERSLACK = 1 ns: precise wake-ups
  const tree = buildTree(o);
  const rnd = prng((o.seed ?? 1) + 7);
  const served: Record<string, number> = {};
  const serviceMs: Record<string, number[]> = {};
  const entryTimeout = o.entryTimeout ?? 60;
  const attrTimeout = o.attrTimeout ?? 60;
  const keepCache = o.keepCache ?? true;
  const sleeper = deadlineSleeper(libc);
  let queue: Promise<void> = Promise.resolve();

  /** Replies after the operation's injected service time (and error), or at once. */
  const serve = (op: TestfsOp, reply: (errno: number) => void) => {
    served[op] = (served[op] ?? 0) + 1;
    const err = o.errors?.[op];
    const errno = err && rnd() < err.p ? err.errno : 0;
    const l = o.latency?.[op];
    const want = l ? sample(l, rnd) : 0;
    const safe = (e: number) => {
      try {
        reply(e);
      } catch {
        /* a reply must never throw into libfuse */
      }
    };
    if (want <= 0) return safe(errno);
    const run = sleeper(want).then((ms) => {
      safe(errno);
      (serviceMs[op] ??= []).push(ms());
    });
    if (o.singleThread) queue = run;
  };

  const fiCopy = (fi: Deno.PointerValue) => {
    const b = new Uint8Array(64);
    if (fi) b.set(new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(fi, 40)));
    if (keepCache) b[4]! |= 0x4;
    return b;
  };
  const isNode = (ino: bigint) => ino >= 1n && ino < BigInt(tree.nodes.length);

  const callbacks: Record<string, { pointer: Deno.PointerObject; close(): void }> = {
    // Ask for parallel lookups/readdirs in one directory (else the kernel serialises them).
    init: new Deno.UnsafeCallback(
      { parameters: ["pointer", "pointer"], result: "void" },
      (_userdata, conn) => {
        if (!conn) return;
        const view = new DataView(Deno.UnsafePointerView.getArrayBuffer(conn, 28));
        const capable = view.getUint32(20, true);
        const want = view.getUint32(24, true);
        view.setUint32(24, want | (capable & FUSE_CAP_PARALLEL_DIROPS), true);
      },
    ),
    lookup: new Deno.UnsafeCallback(
      { parameters: ["pointer", "u64", "pointer"], result: "void" },
      (req, parent, namePtr) => {
        const name = Deno.UnsafePointerView.getCString(namePtr!);
        const p = tree.nodes[Number(parent)];
        const ino = p?.children.get(name);
        serve("lookup", (errno) => {
          if (errno || (!ino && !o.negativeEntries)) {
            return void fuse.fuse_reply_err(req, errno || ENOENT);
          }
          const e = new Uint8Array(176);
          const v = new DataView(e.buffer);
          v.setBigUint64(0, BigInt(ino ?? 0), true);
          if (ino) e.set(stat(tree, ino), 16);
          v.setFloat64(160, attrTimeout, true);
          v.setFloat64(168, entryTimeout, true);
          fuse.fuse_reply_entry(req, e);
        });
      },
    ),
    forget: new Deno.UnsafeCallback(
      { parameters: ["pointer", "u64", "u64"], result: "void" },
      (req) => fuse.fuse_reply_none(req),
    ),
    getattr: new Deno.UnsafeCallback(
      { parameters: ["pointer", "u64", "pointer"], result: "void" },
      (req, ino) => {
        serve("getattr", (errno) => {
          if (errno || !isNode(ino)) return void fuse.fuse_reply_err(req, errno || ENOENT);
          fuse.fuse_reply_attr(req, stat(tree, Number(ino)), attrTimeout);
        });
      },
    ),
    open: new Deno.UnsafeCallback(
      { parameters: ["pointer", "u64", "pointer"], result: "void" },
      (req, _ino, fi) => {
        const copy = fiCopy(fi);
        serve(
          "open",
          (errno) =>
            void (errno ? fuse.fuse_reply_err(req, errno) : fuse.fuse_reply_open(req, copy)),
        );
      },
    ),
    read: new Deno.UnsafeCallback(
      { parameters: ["pointer", "u64", "usize", "i64", "pointer"], result: "void" },
      (req, ino, size, off) => {
        serve("read", (errno) => {
          if (errno || !isNode(ino)) return void fuse.fuse_reply_err(req, errno || ENOENT);
          const n = tree.nodes[Number(ino)]!;
          const from = Number(off);
          const len = Math.max(0, Math.min(Number(size), n.size - from));
          fuse.fuse_reply_buf(req, content(n.ino, from, len), BigInt(len));
        });
      },
    ),
    flush: new Deno.UnsafeCallback(
      { parameters: ["pointer", "u64", "pointer"], result: "void" },
      (req) => serve("flush", (errno) => void fuse.fuse_reply_err(req, errno)),
    ),
    release: new Deno.UnsafeCallback(
      { parameters: ["pointer", "u64", "pointer"], result: "void" },
      (req) => serve("release", (errno) => void fuse.fuse_reply_err(req, errno)),
    ),
    opendir: new Deno.UnsafeCallback(
      { parameters: ["pointer", "u64", "pointer"], result: "void" },
      (req, ino, fi) => {
        const copy = fiCopy(fi);
        serve("opendir", (errno) => {
          if (errno || !tree.nodes[Number(ino)]?.dir) {
            return void fuse.fuse_reply_err(req, errno || ENOTDIR);
          }
          fuse.fuse_reply_open(req, copy);
        });
      },
    ),
    readdir: new Deno.UnsafeCallback(
      { parameters: ["pointer", "u64", "usize", "i64", "pointer"], result: "void" },
      (req, ino, size, off) => {
        serve("readdir", (errno) => {
          const dir = tree.nodes[Number(ino)];
          if (errno || !dir?.dir) return void fuse.fuse_reply_err(req, errno || ENOTDIR);
          const entries: [string, number][] = [[".", dir.ino], ["..", dir.parent], ...dir.children];
          const buf = new Uint8Array(Number(size));
          let used = 0;
          for (let i = Number(off); i < entries.length; i++) {
            const [name, child] = entries[i]!;
            const rest = buf.subarray(used);
            const need = Number(
              fuse.fuse_add_direntry(
                req,
                rest,
                BigInt(rest.length),
                cstr(name),
                stat(tree, child),
                BigInt(i + 1),
              ),
            );
            if (need > rest.length) break;
            used += need;
          }
          fuse.fuse_reply_buf(req, buf.subarray(0, used), BigInt(used));
        });
      },
    ),
    releasedir: new Deno.UnsafeCallback(
      { parameters: ["pointer", "u64", "pointer"], result: "void" },
      (req) => serve("releasedir", (errno) => void fuse.fuse_reply_err(req, errno)),
    ),
  };
  const ops = new BigUint64Array(OPS_SLOTS);
  for (const [name, cb] of Object.entries(callbacks)) {
    ops[SLOT[name]!] = BigInt(Deno.UnsafePointer.value(cb.pointer));
  }

  const argv = ["testfs", "-o", "fsname=testfs,subtype=testfs,auto_unmount"].map(cstr);
  const argvPtrs = new BigUint64Array([
    ...argv.map((a) => BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(a)))),
    0n,
  ]);
  const args = new BigUint64Array(3);
  args[0] = BigInt(argv.length);
  args[1] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(argvPtrs)));
  const se = fuse.fuse_session_new(
    Deno.UnsafePointer.of(args),
    Deno.UnsafePointer.of(ops),
    BigInt(ops.byteLength),
    null,
  );
  if (!se) throw new Error("fuse_session_new failed");
  if (fuse.fuse_session_mount(se, cstr(mountPoint)) !== 0) {
    fuse.fuse_session_destroy(se);
    throw new Error(`Cannot mount testfs at "${mountPoint}"`);
  }
  const fd = fuse.fuse_session_fd(se);
  const fbuf = new Uint8Array(40);
  const fbufPtr = Deno.UnsafePointer.of(fbuf);
  const pfd = new Uint8Array(8);
  new DataView(pfd.buffer).setInt32(0, fd, true);
  pfd[4] = 1; // POLLIN

  let closing = false;
  const done = (async () => {
    for (;;) {
      await queue;
      pfd[6] = 0;
      const ready = libc.poll(pfd, 1n, 0) > 0;
      const n = ready ? fuse.receive_now(se, fbufPtr) : await fuse.receive(se, fbufPtr);
      if (n === -EINTR || n === -EAGAIN) continue;
      if (n <= 0) break;
      fuse.fuse_session_process_buf(se, fbufPtr);
    }
    fuse.fuse_session_unmount(se);
    fuse.fuse_session_destroy(se);
    for (const cb of Object.values(callbacks)) cb.close();
    lib.close();
  })();
  const close = async () => {
    if (!closing) {
      closing = true;
      libc.umount2(cstr(mountPoint), 2); // MNT_DETACH: the pending read then ends the loop
    }
    await done;
  };
  return { mountPoint, tree, served, serviceMs, done, close };
}

/**
 * The kernel matrix's tests, run inside each guest (tests/vm/matrix.ts) on that guest's kernel and
 * bpftrace: the source `auto` picks, exact counts against what the filesystem itself served, every
 * counted request timed, injected service time recovered, `count` live, `doctor` checked against
 * real attaches, Ctrl-C writing the CSV, every golden program of the guest's bpftrace, a Python
 * start-up with requests and kernel callbacks side by side, FUSE over io_uring (sid). Results for
 * the summary go to /payload/out/summary.json.
 */
import { GUESTS } from "./guests.ts";
import {
  detectCapabilities,
  findBpftrace,
  parseVersion,
  versionAtLeast,
} from "../../probes/capabilities.ts";
import { prepare, prepareCount, type Prepared, run } from "../../mod.ts";
import { sourcesLabel, unavailable } from "../../probes/sources.ts";
import type { NegativeSection, RequestersSection, SizesSection } from "../../plugins/mod.ts";
import { mountTestFs, type TestFs } from "../../testfs/fs.ts";
import type { TestFsOptions } from "../../testfs/fs.ts";
import { bucketOf, bucketRange, totalCount } from "../../probes/hist.ts";
import { findRow, type Report, summarize } from "../../probes/report.ts";
import { connectionUnreadable, holdsIoUring } from "../../probes/daemon.ts";
import { formatSideBySide, formatTable } from "../../reporters/table.ts";
import { withStub } from "../_stub.ts";
import { readCsv } from "../../reporters/csv.ts";
import { type Client, HttpServer, IMPORTS, mountClient } from "../cvmfs/harness.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  runCli,
  spawnCli,
  withPythonSquashfs,
} from "../_helpers.ts";

const guest = GUESTS.find((g) => g.name === Deno.env.get("FUSETRACE_GUEST"));
const OUT = "/payload/out";
const summary: Record<string, string> = {};
function note(key: string, value: string) {
  summary[key] = value;
  if (guest) Deno.writeTextFileSync(`${OUT}/summary.json`, JSON.stringify(summary));
}

const caps = guest ? detectCapabilities() : undefined;
if (guest) Deno.writeTextFileSync(`${OUT}/capabilities.json`, JSON.stringify(caps) + "\n");
// Emulation adds a few ms past the delay (up to 5 seen on Debian 12 with three guests on two
// cores): 100 ms keeps the 10 % tolerance clear of that.
const INJECTED_MS = 100;
const SHAPE: TestFsOptions = { depth: 2, fanout: 3, files: 4, entryTimeout: 600, attrTimeout: 600 };

/** Mounts testfs in this process (its requests are served here, so the workload is async). */
async function withTestFs<T>(o: TestFsOptions, fn: (fs: TestFs) => Promise<T>): Promise<T> {
  const dir = Deno.makeTempDirSync({ prefix: "fusetrace-guest-" });
  const fs = mountTestFs(dir, o);
  try {
    return await fn(fs);
  } finally {
    await fs.close();
    Deno.removeSync(dir);
  }
}

/** Walks, stats and reads every file (async: testfs serves on this thread). */
async function workload(root: string): Promise<void> {
  const walk = async (dir: string): Promise<void> => {
    for await (const e of Deno.readDir(dir)) {
      const p = `${dir}/${e.name}`;
      await Deno.stat(p);
      if (e.isDirectory) await walk(p);
      else await Deno.readFile(p);
    }
  };
  await walk(root);
  // RELEASE is sent in the background: let it arrive before the trace stops.
  await new Promise((r) => setTimeout(r, 500));
}

/** Runs a prepared trace (default: auto sources on this mount) while `work` runs. */
async function traced(
  fs: Pick<TestFs, "mountPoint">,
  p: Prepared = prepare({ mounts: [fs.mountPoint] }),
  work: () => Promise<void> = () => workload(fs.mountPoint),
): Promise<Report> {
  const ac = new AbortController();
  let running: Promise<void> | undefined;
  const report = await run(p, {
    signal: ac.signal,
    onReady: () => (running = work().finally(() => ac.abort())),
  });
  await running;
  return report;
}

/** The sources `auto` picks here, as the summary names them. */
function picked(): string {
  return sourcesLabel(prepare({}).sources);
}

/** Kernel callbacks that send exactly one request of a testfs operation each (long timeouts). */
const ONE_REQUEST: Record<string, string> = {
  fuse_lookup: "lookup",
  fuse_open: "open",
  fuse_dir_open: "opendir",
  fuse_release: "release",
  fuse_dir_release: "releasedir",
};

const OPCODE_OF: Record<string, string> = {
  lookup: "LOOKUP",
  getattr: "GETATTR",
  open: "OPEN",
  read: "READ",
  release: "RELEASE",
  opendir: "OPENDIR",
  readdir: "READDIR",
  releasedir: "RELEASEDIR",
  flush: "FLUSH",
};

Deno.test({
  name: `guest: auto picks the source this kernel and bpftrace allow`,
  ignore: !guest,
  fn() {
    const got = picked();
    note("source", got);
    assertEquals(got, guest!.source);
  },
});

Deno.test({
  name: "guest: counts equal what testfs served, every counted request timed, injected p50",
  ignore: !guest,
  async fn() {
    const o = { ...SHAPE, latency: { lookup: { kind: "fixed" as const, ms: INJECTED_MS } } };
    await withTestFs(o, async (fs) => {
      const r = await traced(fs);
      const request = picked().startsWith("request");
      const served = { ...fs.served };
      const got: Record<string, number> = {};
      const want: Record<string, number> = {};
      if (request) {
        for (const [op, n] of Object.entries(served)) {
          want[OPCODE_OF[op]!] = n;
          got[OPCODE_OF[op]!] = r.rows.find((x) => x.operation === OPCODE_OF[op])?.count ?? 0;
        }
      } else {
        for (const [fn, op] of Object.entries(ONE_REQUEST)) {
          want[fn] = served[op] ?? 0;
          got[fn] = r.rows.find((x) => x.source === "kernel" && x.operation === fn)?.count ?? 0;
        }
      }
      note("counts", JSON.stringify(got) === JSON.stringify(want) ? "yes" : "NO");
      const untimed = r.rows.filter((x) =>
        x.operation !== "FORGET" && totalCount(x.buckets) + x.inFlight !== x.count
      );
      note("timed", untimed.length ? `NO (${untimed.map((x) => x.operation)})` : "yes");
      const lookup = r.rows.find((x) => x.operation === (request ? "LOOKUP" : "fuse_lookup"));
      assert(lookup, `no LOOKUP row: ${JSON.stringify(r.rows.map((x) => [x.operation, x.count]))}`);
      const p50 = summarize(lookup).p50 / 1e6;
      // Under emulation testfs replies a few ms after the injected delay: compare with the
      // service time it measured itself (callback to reply), and that with the injected one.
      const own = fs.serviceMs.lookup!.toSorted((a, b) => a - b);
      const ownP50 = own[Math.floor(own.length / 2)]!;
      note("p50", `${p50.toFixed(1)} ms vs ${ownP50.toFixed(1)} served (${INJECTED_MS} injected)`);
      assertEquals(got, want);
      assert(want[request ? "LOOKUP" : "fuse_lookup"]! > 10, "the workload looked names up");
      assertEquals(untimed.map((x) => x.operation), []);
      assertEquals(r.unpairable ?? 0, 0);
      // testfs brings its deadline forward by its fastest recent wake-up, so a reply is rarely a
      // little early; under emulation up to 14 ms late.
      assert(
        ownP50 >= INJECTED_MS * 0.95 && ownP50 <= INJECTED_MS * 1.2,
        `testfs served LOOKUP in ${ownP50} ms`,
      );
      // Kernel-side p50 recovers what testfs measured itself within 15 % of the injected time
      // (under emulation the kernel callbacks on Debian 12 add up to 10.6 ms past testfs's own).
      assert(
        Math.abs(p50 - ownP50) <= INJECTED_MS * 0.15,
        `p50 ${p50} ms vs served ${ownP50} ms`,
      );
    });
  },
});

Deno.test({
  name: "guest: count lists fuse kernel functions with exact counts of the workload",
  // The count program is kprobes (every guest of the matrix has them).
  ignore: !guest || !caps!.kprobes,
  async fn() {
    await withTestFs(SHAPE, async (fs) => {
      const r = await traced(fs, prepareCount({}));
      const counted = (fn: string) => r.rows.find((x) => x.operation === fn)?.count ?? 0;
      const got = Object.fromEntries(Object.keys(ONE_REQUEST).map((f) => [f, counted(f)]));
      const want = Object.fromEntries(
        Object.entries(ONE_REQUEST).map(([f, op]) => [f, fs.served[op] ?? 0]),
      );
      note(
        "count",
        JSON.stringify(got) === JSON.stringify(want) ? `yes (${r.rows.length} fns)` : "NO",
      );
      assertEquals(got, want);
      assert(r.rows.length > 20, `${r.rows.length} functions counted`);
    });
  },
});

/** Does a one-probe bpftrace program attach here? */
async function attaches(probe: string): Promise<boolean> {
  const o = await new Deno.Command(findBpftrace(), {
    args: ["-e", `${probe} { @ = count(); } interval:ms:100 { exit(); }`],
    stdout: "null",
    stderr: "null",
  }).output();
  return o.success;
}

Deno.test({
  name: "guest: doctor's claims match what really attaches",
  ignore: !guest,
  async fn() {
    const r = await runCli(["doctor"]);
    assertEquals(r.code, 0, r.stdout + r.stderr);
    const said = (what: string) => new RegExp(`^\\[ok\\] ${what}`, "m").test(r.stdout);
    const v = parseVersion(caps!.bpftrace)!;
    const fentry = versionAtLeast(v, [0, 20, 0]) ? "fentry" : "kfunc";
    assertEquals(
      said("fuse request tracepoints"),
      await attaches("tracepoint:fuse:fuse_request_send"),
    );
    assertEquals(said("kprobes"), await attaches("kprobe:fuse_getattr"));
    assertEquals(said("fentry"), await attaches(`${fentry}:fuse_getattr`));
  },
});

Deno.test({
  name: "guest: Ctrl-C still writes the CSV",
  ignore: !guest,
  async fn() {
    const dir = Deno.makeTempDirSync();
    const csv = `${dir}/run.csv`;
    // testfs in a child here: the CLI traces, this process only drives the workload.
    const { spawnTestFs } = await import("../../testfs/spawn.ts");
    Deno.mkdirSync(`${dir}/mnt`);
    const fs = await spawnTestFs(`${dir}/mnt`, SHAPE);
    try {
      const t = await spawnCli(["trace", "-m", fs.mountPoint, "--csv", csv]);
      await workload(fs.mountPoint);
      t.child.kill("SIGINT");
      const { status } = await t.finish();
      assertEquals(status.code, 0);
      const report = readCsv(Deno.readTextFileSync(csv), csv);
      assert(
        report.rows.some((x) => x.operation.includes("LOOKUP") || x.operation === "fuse_lookup"),
      );
    } finally {
      await fs.close();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

/** What a golden program needs to attach, by the probe types it uses. */
function needs(program: string): string | undefined {
  const c = caps!;
  if (/^rawtracepoint:/m.test(program) && !(c.fuseTracepoints && c.rawTracepoints)) {
    return "raw fuse tracepoints";
  }
  // Pairing by pointer reads struct fuse_req as 6.12–6.17 lay it out; only those kernels use it.
  if (/^rawtracepoint:/m.test(program) && c.uniqueAtSend) return "unique-0 kernel";
  for (
    const m of program.matchAll(/^(?:kprobe|kretprobe|kfunc|kretfunc|fentry|fexit):([^\s,]+)/gm)
  ) {
    if (!c.functions.includes(m[1]!)) return `function ${m[1]}`;
  }
  if (/^tracepoint:fuse:/m.test(program) && !c.fuseTracepoints) return "fuse tracepoints";
  if (/^tracepoint:fuse:fuse_request_sent/m.test(program) && !c.requestSent) {
    return "fuse_request_sent";
  }
  if (/^kprobe:/m.test(program) && !c.kprobes) return "kprobes";
  if (/^(kfunc|fentry):/m.test(program) && !c.fentry) return "fentry";
  // The daemons' connections read from their /dev/fuse descriptors need struct fuse_dev (BTF).
  if (/struct fuse_dev \*/.test(program) && fuseDevUnreadable) return "readable struct fuse_dev";
  return undefined;
}
const fuseDevUnreadable = guest ? connectionUnreadable(findBpftrace(), caps!) : undefined;

Deno.test({
  name: "guest: every golden program of this bpftrace version compiles and runs",
  ignore: !guest,
  async fn() {
    const [major, minor] = parseVersion(caps!.bpftrace)!;
    const dir = new URL("../testdata/golden/", import.meta.url).pathname;
    const mine = [...Deno.readDirSync(dir)].map((e) => e.name)
      .filter((n) => n.endsWith(`-${major}.${minor}.0.bt`)).sort();
    assert(mine.length >= 6, `goldens for bpftrace ${major}.${minor}: ${mine}`);
    const ran: string[] = [];
    const skipped: string[] = [];
    for (const name of mine) {
      const program = Deno.readTextFileSync(dir + name);
      const why = needs(program);
      if (why) {
        skipped.push(`${name} (no ${why})`);
        continue;
      }
      const o = await new Deno.Command(findBpftrace(), {
        args: ["-e", `${program}\ninterval:ms:300 { exit(); }\n`],
        env: { BPFTRACE_MAX_MAP_KEYS: "4096", BPFTRACE_MAP_KEYS_MAX: "4096" },
        stdout: "null",
        stderr: "piped",
      }).output();
      const err = new TextDecoder().decode(o.stderr);
      assert(o.success && !/ERROR/.test(err), `${name} did not run:\n${err}`);
      ran.push(name);
    }
    note("goldens", `${ran.length} ran${skipped.length ? `, ${skipped.length} skipped` : ""}`);
    console.log(`ran: ${ran.join(" ")}\nskipped: ${skipped.join(" ")}`);
  },
});

Deno.test({
  name: "guest: FUSE over io_uring: detected, counted, timed, split at fuse_request_sent",
  ignore: !guest?.uring,
  async fn() {
    assert(caps!.fuseUring, "booted with fuse.enable_uring=1");
    assert(caps!.requestSent, "this kernel has fuse:fuse_request_sent");
    const N = 10;
    await withStub(INJECTED_MS, async (mnt, pid) => {
      assert(holdsIoUring(pid), "libfuse started its rings");
      const lookups = async () => {
        for (let i = 0; i < N; i++) await Deno.stat(`${mnt}/f${i}`);
      };
      // The daemon source sees none of the requests: they never pass through read()/writev().
      const blind = await traced(
        { mountPoint: mnt },
        prepare({ mounts: [mnt], sources: ["daemon"], daemonPids: [pid] }),
        lookups,
      );
      assertEquals(blind.rows.filter((x) => x.operation === "LOOKUP").map((x) => x.count), []);
      const p = prepare({ mounts: [mnt], sources: ["auto", "daemon"], daemonPids: [pid] });
      assertEquals(p.ioUring?.map((x) => x.split(" ")[1]), [String(pid)]);
      assert(p.sources.sent && !p.sources.daemon, "the split comes from fuse_request_sent");
      const r = await traced({ mountPoint: mnt }, p, async () => {
        for (let i = N; i < 2 * N; i++) await Deno.stat(`${mnt}/f${i}`);
      });
      const total = findRow(r, { source: "request", operation: "LOOKUP" })!;
      const queue = findRow(r, { source: "queue", operation: "LOOKUP" })!;
      const served = findRow(r, { source: "served", operation: "LOOKUP" })!;
      assertEquals([total.count, queue.count, served.count], [N, N, N]);
      assertEquals(queue.sumNs + served.sumNs, total.sumNs, "queue + served = total, exactly");
      const p50 = summarize(served).p50 / 1e6;
      note(
        "io_uring",
        `${N}/${N} timed, served p50 ${p50.toFixed(1)} ms (${INJECTED_MS} injected)`,
      );
      // No request is served faster than the daemon slept: none below the injected time's bucket.
      // A percentile is interpolated inside its bucket (1/32 of its value wide), so the p50 may
      // read up to that bucket's lower bound (98.6 ms for 100 ms: seen 99.9).
      const floor = bucketOf(INJECTED_MS * 1e6);
      assert(Math.min(...served.buckets.keys()) >= floor, `served faster than injected`);
      assert(
        p50 >= bucketRange(floor)[0] / 1e6 && p50 <= INJECTED_MS * 1.1,
        `served p50 ${p50} ms`,
      );
      assertMatch(formatTable(r), /serves FUSE over io_uring/);
    }, { fuseOpts: "io_uring" });
  },
});

Deno.test({
  name: "guest: a Python start-up from squashfuse, requests and kernel callbacks side by side",
  ignore: !guest || !caps!.fuseTracepoints || !(caps!.kprobes || caps!.fentry),
  async fn() {
    await withPythonSquashfs(async (mnt) => {
      const p = prepare({ mounts: [mnt], sources: ["request", "kernel"] });
      const r = await traced({ mountPoint: mnt }, p, async () => {
        const o = await new Deno.Command("python3", {
          args: ["-c", "import json, email.parser, http.client, urllib.request, xml.dom.minidom"],
          env: { PYTHONPATH: mnt },
          stdout: "null",
        }).output();
        assert(o.success, "python3 imported from the mount");
        await new Promise((res) => setTimeout(res, 500)); // RELEASE arrives in the background
      });
      const req = (op: string) => findRow(r, { source: "request", operation: op });
      const ker = (fn: string) => findRow(r, { source: "kernel", operation: fn })?.count ?? 0;
      const lookup = req("LOOKUP")!;
      // Each open of a file or directory sends one OPEN / OPENDIR, and each last close one
      // RELEASE / RELEASEDIR: two mechanisms, one number.
      const pairs: [string, string][] = [
        ["OPEN", "fuse_open"],
        ["OPENDIR", "fuse_dir_open"],
        ["RELEASE", "fuse_release"],
        ["RELEASEDIR", "fuse_dir_release"],
      ];
      const got = pairs.map(([op, fn]) => [op, req(op)?.count ?? 0, ker(fn)]);
      note(
        "python",
        `${r.rows.filter((x) => x.source === "request").reduce((s, x) => s + x.count, 0)} ` +
          `requests, ${lookup.errors[2] ?? 0} negative lookups`,
      );
      for (const [op, n, k] of got) assertEquals(n, k, `${op} requests vs callbacks`);
      assert((req("OPEN")?.count ?? 0) > 10, "python opened modules from the mount");
      assert((lookup.errors[2] ?? 0) > 0, "python looked up names the mount does not have");
      assert(lookup.count >= ker("fuse_lookup"), "every fuse_lookup call sends a LOOKUP");
      for (const row of r.rows.filter((x) => x.source === "request" && x.operation !== "FORGET")) {
        assertEquals(totalCount(row.buckets) + row.inFlight, row.count, `${row.operation} timed`);
      }
      assert(formatSideBySide(r).includes("fuse_open"), "side by side");
    });
  },
});

/** Runs a command to its end (async: testfs serves on this thread); its pid. */
async function runAs(cmd: string, args: string[]): Promise<number> {
  const child = new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).spawn();
  await child.status;
  return child.pid;
}

Deno.test({
  name: "guest: the analyses: negative names (kernel's side), requesters and sizes (requests)",
  ignore: !guest,
  async fn() {
    const request = !unavailable("request", caps!);
    await withTestFs({ ...SHAPE, files: 12 }, async (fs) => {
      const mnt = fs.mountPoint;
      const dir = fs.tree.dirs.find((d) => d.includes("/"))!;
      const size = (f: string) =>
        fs.tree.nodes[f.split("/").reduce((i, n) => fs.tree.nodes[i]!.children.get(n)!, 1)]!.size;
      const files = fs.tree.files.filter((f) => size(f) <= 65536).slice(0, 3); // one READ each
      // negative from the kernel (kprobes on fuse_lookup_name): no daemon source, no --daemon-pid.
      const p = prepare({
        mounts: [mnt],
        plugins: ["lookup", "negative", ...(request ? ["read", "requesters", "sizes"] : [])],
      });
      assert(!p.sources.daemon, "negative takes the kernel's side where kprobes attach");
      let asker = 0;
      const r = await traced(fs, p, async () => {
        await runAs("stat", ["-f", mnt]); // the daemon thread blocked in read() at attach
        asker = await runAs("stat", [`${mnt}/nope`, `${mnt}/nope`, `${mnt}/${dir}/x.py`]);
        if (request) await runAs("cat", files.map((f) => `${mnt}/${f}`));
      });
      const s = r.sections!.negative as NegativeSection;
      const comm = "stat";
      assertEquals(s.total, 3);
      assertEquals(
        s.names.map((n) => [n.parent, n.name, n.kind, n.count, n.requesters]),
        [
          // testfs says ENOENT; the kernel keeps no trace of which answer it was
          ["", "nope", "negative", 2, [{ pid: asker, comm, count: 2 }]],
          [dir, "x.py", "negative", 1, [{ pid: asker, comm, count: 1 }]],
        ],
      );
      let more = "";
      if (request) {
        const q = r.sections!.requesters as RequestersSection;
        const a = q.processes.find((x) => x.pid === asker)!;
        assertEquals([a.comm, a.errors], ["stat", 3]);
        const z = r.sections!.sizes as SizesSection;
        assertEquals(
          z.histograms.map((h) => [h.operation, h.count, h.bytes]),
          [["READ", files.length, files.reduce((n, f) => n + size(f), 0)]],
        );
        more = ", requesters, sizes exact";
      }
      note("analyses", `negative names exact (kprobes)${more}`);
    });
  },
});

Deno.test({
  name:
    "guest: --sample auto switches with exact counts where requests carry ids; refused where not",
  ignore: !guest,
  async fn() {
    if (unavailable("request", caps!)) {
      note("auto", "no request source");
      return;
    }
    await withTestFs({ ...SHAPE, files: 150 }, async (fs) => {
      const o = { mounts: [fs.mountPoint], sample: 8, autoSampleRate: 1 };
      if (!caps!.uniqueAtSend) {
        // 6.12–6.17 send unique 0: requests are paired by address, which cannot be sampled.
        let refused = "";
        try {
          prepare(o);
        } catch (e) {
          refused = String(e);
        }
        assertMatch(refused, /--sample needs request ids/);
        note("auto", "refused (unique 0 at send)");
        return;
      }
      const r = await traced(fs, prepare(o), async () => {
        await workload(fs.mountPoint);
        await new Promise((r) => setTimeout(r, 1200)); // the program looks at the rate each second
      });
      const lookup = findRow(r, { operation: "LOOKUP", source: "request" })!;
      note("auto", r.autoSample?.switched ? `switched ${r.autoSample.switched.afterS} s in` : "NO");
      assert(r.autoSample?.switched, JSON.stringify(r.autoSample));
      assertEquals([lookup.count, lookup.sample], [fs.served.lookup, 8]);
      assert(summarize(lookup).timed <= lookup.count);
    });
  },
});

/** The real CernVM-FS client staged by the matrix (bookworm: the release it was built on). */
const CVMFS_CLIENT = "/payload/cvmfs";
const hasCvmfs = (() => {
  try {
    return Deno.statSync(`${CVMFS_CLIENT}/bin/cvmfs2`).isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "guest: real CernVM-FS — kernel callbacks and count equal the requests CVMFS counted",
  // The seed's method: CVMFS's FUSE kernel callbacks with kprobes (or fentry), and every fuse
  // kernel function counted, on the client it was made for.
  ignore: !guest?.cvmfs || !hasCvmfs || !caps!.kprobes,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // The repository's server is on loopback, down in a guest without a network.
    await new Deno.Command("ip", { args: ["link", "set", "lo", "up"] }).output();
    // CVMFS's resolver reads these (the guest has no network, and an image without them).
    for (
      const [f, text] of [["/etc/hosts", "127.0.0.1 localhost\n"], [
        "/etc/resolv.conf",
        "nameserver 127.0.0.1\n",
      ]]
    ) {
      try {
        Deno.statSync(f!);
      } catch {
        Deno.writeTextFileSync(f!, text!);
      }
    }
    const work = Deno.makeTempDirSync({ prefix: "fusetrace-guest-cvmfs-" });
    const repo = {
      fqrn: "test.local",
      work,
      srv: "/payload/cvmfs-repo/srv",
      pub: "/payload/cvmfs-repo/test.local.pub",
    };
    const http = await HttpServer.start(repo.srv);
    let client: Client | undefined;
    try {
      const c = client = await mountClient(CVMFS_CLIENT, repo, http.port, `${work}/cache`, [
        `CVMFS_DEBUGLOG=${work}/debug.log`,
      ]).catch((e) => {
        let log = "";
        try {
          log = Deno.readTextFileSync(`${work}/debug.log`).split("\n").slice(-40).join("\n");
        } catch { /* none */ }
        const served = http.takeLog().map((f) => `${f.status} ${f.path}`).join("\n");
        throw new Error(`${(e as Error).message}\n${log}\nserved:\n${served}`);
      });
      const startUp = () =>
        new Deno.Command("python3", {
          args: ["-c", IMPORTS],
          env: { PYTHONPATH: `${c.mnt}/py` },
        }).output();
      const delta = async (fn: () => Promise<unknown>) => {
        Deno.writeTextFileSync("/proc/sys/vm/drop_caches", "3");
        const before = await c.counters();
        await fn();
        const after = await c.counters();
        return (k: string) => after.get(`cvmfs.${k}`)! - before.get(`cvmfs.${k}`)!;
      };
      const want = (d: (k: string) => number) => ({
        fuse_lookup: d("n_fs_lookup"),
        fuse_open: d("n_fs_open"),
        fuse_dir_open: d("n_fs_dir_open"),
      });
      // --source kernel: the callbacks timed, each as often as CVMFS served its request.
      let report: Report | undefined;
      const d1 = await delta(async () => {
        report = await traced(
          { mountPoint: c.mnt },
          prepare({ mounts: [c.mnt], sources: ["kernel"] }),
          async () => void await startUp(),
        );
      });
      const kernel = (fn: string) =>
        report!.rows.find((r) => r.source === "kernel" && r.operation === fn);
      const got: Record<string, number> = Object.fromEntries(
        Object.keys(want(d1)).map((f) => [f, kernel(f)?.count ?? 0]),
      );
      assertEquals(got, want(d1));
      assert(d1("n_fs_lookup") > 20 && d1("n_fs_open") > 20, JSON.stringify(got));
      for (const [f, n] of Object.entries(got)) assertEquals(summarize(kernel(f)!).timed, n);
      // count: every fuse kernel function, machine-wide, over a second start-up.
      let counted: Report | undefined;
      const d2 = await delta(async () => {
        counted = await traced(
          { mountPoint: c.mnt },
          prepareCount({}),
          async () => void await startUp(),
        );
      });
      const count = (fn: string) => counted!.rows.find((r) => r.operation === fn)?.count ?? 0;
      assertEquals(
        Object.fromEntries(Object.keys(want(d2)).map((f) => [f, count(f)])),
        want(d2),
      );
      note("cvmfs", `yes (${got.fuse_lookup} lookups, ${got.fuse_open} opens)`);
    } finally {
      await client?.unmount();
      await http.close();
      Deno.removeSync(work, { recursive: true });
    }
  },
});

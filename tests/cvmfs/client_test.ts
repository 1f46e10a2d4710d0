/**
 * fusetrace on the real CernVM-FS client (built from ../shared/cvmfs/ by the harness), each number
 * against an independent truth: a Python start-up's requests against CVMFS's own counters,
 * negative entries against `n_fs_lookup_negative`, callback times against a plain uprobe pair,
 * `cvmfs_talk latency` of the same run, doctor against the client's settings. Skipped by name
 * where the source is absent.
 */
import { assert, assertEquals, assertMatch, runCli, spawnCli } from "../_helpers.ts";
import {
  type Client,
  type HttpServer,
  pythonStartUp,
  unavailable,
  withPythonClient,
} from "./harness.ts";
import { type Report, summarize } from "../../probes/report.ts";
import { readJson } from "../../reporters/json.ts";
import type { NegativeSection } from "../../plugins/negative.ts";

const FQRN = "test.local";
/** The HTTP server's delay per object of a cold start (a slow network, a cold Stratum 1). */
const DELAY_MS = 5;
const why = unavailable();
if (why) console.error(`cvmfs tests skipped: ${why}`);

/** Serves test.local (objects `delayMs` late) and mounts it with a new cache; cleans up. */
function withClient<T>(
  delayMs: number,
  fn: (c: Client, http: HttpServer) => Promise<T>,
  settings: string[] = [],
): Promise<T> {
  return withPythonClient(FQRN, { delayMs, settings }, fn);
}

/** The change of CVMFS's counters while `fn` ran. */
async function counted(c: Client, fn: () => Promise<void>): Promise<Map<string, number>> {
  const before = await c.counters();
  await fn();
  const after = await c.counters();
  return new Map([...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)]));
}

function requestRows(r: Report, mnt: string) {
  return new Map(
    r.rows.filter((x) => x.source === "request" && x.mount === mnt).map((x) => [x.operation, x]),
  );
}

const opts = { ignore: why !== undefined, sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: "cvmfs: a Python start-up's requests equal CVMFS's own counters, every one timed",
  ...opts,
  fn: () =>
    withClient(0, async (c) => {
      const json = Deno.makeTempFileSync({ suffix: ".json" });
      let res;
      const delta = await counted(c, async () => {
        res = await runCli([
          "trace",
          "-m",
          c.mnt,
          "--json",
          json,
          "--",
          ...pythonStartUp(c.mnt),
        ]);
      });
      assertEquals(res!.code, 0, res!.stderr);
      const rows = requestRows(JSON.parse(Deno.readTextFileSync(json)) as Report, c.mnt);
      const count = (op: string) => rows.get(op)?.count ?? 0;
      const want = {
        LOOKUP: delta.get("cvmfs.n_fs_lookup"),
        GETATTR: delta.get("cvmfs.n_fs_stat"),
        OPEN: delta.get("cvmfs.n_fs_open"),
        OPENDIR: delta.get("cvmfs.n_fs_dir_open"),
        READ: delta.get("cvmfs.n_fs_read"),
        READLINK: delta.get("cvmfs.n_fs_readlink"),
      };
      const got = Object.fromEntries(Object.keys(want).map((op) => [op, count(op)]));
      assertEquals(got, want);
      assert(want.LOOKUP! > 50 && want.OPEN! > 20 && want.READ! > 20, JSON.stringify(want));
      for (const [op, row] of rows) {
        if (op === "FORGET" || op === "BATCH_FORGET") continue;
        assertEquals([op, row.timed ?? row.count, row.inFlight], [op, row.count, 0]);
      }
      Deno.removeSync(json);
    }),
});

Deno.test({
  name: "cvmfs: negative entries named and counted as CVMFS counts them, a cached one not invented",
  ...opts,
  fn: () =>
    withClient(0, async (c) => {
      const json = Deno.makeTempFileSync({ suffix: ".json" });
      // Each missing name stat'ed twice: the second finds the kernel's negative entry.
      const missing = Array.from({ length: 40 }, (_, i) => `files/d${i % 4}/missing${i}`);
      const script = missing.map((m) => `stat ${c.mnt}/${m} ${c.mnt}/${m}`).join("; ");
      let res;
      const delta = await counted(c, async () => {
        res = await runCli([
          "trace",
          "-m",
          c.mnt,
          "--plugins",
          "lookup,negative",
          "--top",
          "100",
          "--json",
          json,
          "--",
          "sh",
          "-c",
          `${script} 2>/dev/null; true`,
        ]);
      });
      assertEquals(res!.code, 0, res!.stderr);
      const report = JSON.parse(Deno.readTextFileSync(json)) as Report & {
        sections: { negative: NegativeSection };
      };
      const neg = report.sections.negative;
      assertEquals(neg.total, delta.get("cvmfs.n_fs_lookup_negative"));
      assertEquals(neg.total, missing.length);
      assertEquals(
        neg.names.map((n) => `${n.parent}/${n.name} ${n.kind} ${n.count}`).sort(),
        missing.map((m) => `${m} zero-nodeid 1`).sort(),
      );
      // The lookups the daemon answered: the 4 directories and each missing name once.
      assertEquals(requestRows(report, c.mnt).get("LOOKUP")?.count, delta.get("cvmfs.n_fs_lookup"));
      Deno.removeSync(json);
    }),
});

/**
 * A plain uprobe/uretprobe pair on `symbol` of `lib` in `pid`, its durations in a linear histogram
 * of 250 ns steps (0–250 µs): `stop()` returns the count and the p50 (its bucket's middle).
 */
async function reference(lib: string, symbol: string, pid: number) {
  // BEGIN runs once every probe is attached ("Attaching N probes" comes before).
  const program = `BEGIN { printf("attached\\n"); }
uprobe:${lib}:${symbol} /pid == ${pid}/ { @s[tid] = nsecs; }
uretprobe:${lib}:${symbol} /@s[tid]/ { @h = lhist(nsecs - @s[tid], 0, 250000, 250); @n = count(); delete(@s[tid]); }`;
  const child = new Deno.Command("bpftrace", {
    args: ["-f", "json", "-e", program],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const out = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes('"attached\\n"')) {
    const { value, done } = await out.read();
    if (done) throw new Error("the reference bpftrace ended before attaching");
    text += value;
  }
  return {
    stop: async (): Promise<{ count: number; p50: number }> => {
      child.kill("SIGINT");
      for (;;) {
        const { value, done } = await out.read();
        if (done) break;
        text += value;
      }
      await child.status;
      let count = 0;
      let buckets: { min?: number; max?: number; count: number }[] = [];
      for (const line of text.split("\n")) {
        if (!line.startsWith("{")) continue;
        const m = JSON.parse(line) as { type: string; data: Record<string, unknown> };
        if (m.type === "map" && "@n" in m.data) count = m.data["@n"] as number;
        if (m.type === "hist" && "@h" in m.data) buckets = m.data["@h"] as typeof buckets;
      }
      let seen = 0;
      for (const b of buckets) {
        seen += b.count;
        if (seen * 2 >= count) return { count, p50: ((b.min ?? 0) + (b.max ?? 0) + 1) / 2 };
      }
      return { count, p50: NaN };
    },
  };
}

Deno.test({
  name: "cvmfs: --daemon cvmfs times callbacks as a plain uprobe pair does, split at the reply",
  ...opts,
  fn: () =>
    withClient(0, async (c) => {
      const json = Deno.makeTempFileSync({ suffix: ".json" });
      const lib = Deno.readTextFileSync(`/proc/${c.pid}/maps`).split("\n")
        .map((l) => l.split(/\s+/)[5] ?? "").find((p) => /\/libcvmfs_fuse3\.so/.test(p))!;
      let res;
      let ref = { count: 0, p50: NaN };
      const delta = await counted(c, async () => {
        const trace = await spawnCli([
          "trace",
          "-m",
          c.mnt,
          "-s",
          "request,daemon",
          "--daemon",
          "cvmfs",
          "--plugins",
          "lookup",
          "--json",
          json,
        ]);
        // The reference attaches after fusetrace: where both time a call, the later one's
        // handlers run first (at entry and return alike), so neither interval holds the other's
        // return handler.
        const r = await reference(lib, "_ZN5cvmfsL12cvmfs_lookupEP8fuse_reqmPKc", c.pid);
        await new Deno.Command("sh", {
          args: [
            "-c",
            `for d in 0 1 2 3 4 5 6 7 8 9; do stat ${c.mnt}/files/d$d/* >/dev/null; done`,
          ],
        }).output();
        ref = await r.stop();
        trace.child.kill("SIGINT");
        res = await trace.finish();
      });
      assertEquals(res!.status.code, 0, res!.stderr);
      const report = readJson(Deno.readTextFileSync(json), json);
      const row = (source: string, operation: string) =>
        report.rows.find((r) => r.source === source && r.operation === operation)!;
      const whole = row("uprobe", "cvmfs_lookup");
      const before = row("uprobe", "cvmfs_lookup to reply");
      const after = row("uprobe", "cvmfs_lookup after reply");
      const lookups = delta.get("cvmfs.n_fs_lookup")!;
      // Every lookup the daemon counted, in each view.
      assertEquals(
        [whole.count, before.count, after.count, ref.count, row("daemon", "LOOKUP").count],
        [lookups, lookups, lookups, lookups, lookups],
      );
      assert(lookups > 1000, `${lookups} lookups`);
      // The same calls, the same p50 (within 10 %), as a plain uprobe/uretprobe pair.
      const p50 = summarize(whole).p50;
      assert(Math.abs(p50 - ref.p50) <= 0.1 * ref.p50, `p50 ${p50} ns, reference ${ref.p50} ns`);
      // The parts add up to the whole, exactly; the part before the reply lies inside the
      // daemon's service (its read → its reply) and that inside the request.
      assertEquals(before.sumNs + after.sumNs, whole.sumNs);
      const service = summarize(row("daemon", "LOOKUP")).p50;
      const request = summarize(row("request", "LOOKUP")).p50;
      const res32 = 1 + 2 / 32;
      assert(summarize(before).p50 <= service * res32, `to reply ${summarize(before).p50}`);
      assert(service <= request * res32, `service ${service}, request ${request}`);
      Deno.removeSync(json);
    }),
});

Deno.test({
  name: "cvmfs: doctor says repository, daemon, cvmfs_talk and CVMFS_INSTRUMENT_FUSE",
  ...opts,
  fn: async () => {
    for (const instrument of ["yes", "no"]) {
      await withClient(0, async (c) => {
        const d = await runCli(["doctor"]);
        assertEquals(d.code, 0, d.stderr);
        const at = d.stdout.split("\n").findIndex((l) => l.startsWith(`  ${c.mnt} `));
        assert(at >= 0, d.stdout);
        const [mount, what, talk] = d.stdout.split("\n").slice(at, at + 3);
        assertMatch(mount!, new RegExp(`daemon pid ${c.pid}$`));
        assertMatch(
          what!,
          /CernVM-FS repository test\.local: .*libcvmfs_fuse3\.so\.2\.12\.0 \(version 2\.12\.0\)/,
        );
        assertMatch(
          talk!,
          new RegExp(`cvmfs_talk answers at ${c.cache}/test\\.local/cvmfs_io\\.test\\.local`),
        );
        assertMatch(
          talk!,
          instrument === "yes" ? /CVMFS_INSTRUMENT_FUSE on/ : /CVMFS_INSTRUMENT_FUSE off/,
        );
      }, [`CVMFS_INSTRUMENT_FUSE=${instrument}`]);
    }
  },
});

Deno.test({
  name: "cvmfs: report --cvmfs-latency sets this client's own times beside the run's, honestly",
  ...opts,
  fn: () =>
    withClient(0, async (c) => {
      const dir = Deno.makeTempDirSync();
      const res = await runCli([
        "trace",
        "-m",
        c.mnt,
        "--json",
        `${dir}/run.json`,
        "--",
        ...pythonStartUp(c.mnt),
      ]);
      assertEquals(res.code, 0, res.stderr);
      const latency = await c.talk("latency");
      Deno.writeTextFileSync(`${dir}/cvmfs.csv`, latency);
      const r = await runCli(["report", `${dir}/run.json`, "--cvmfs-latency", `${dir}/cvmfs.csv`]);
      assertEquals(r.code, 0, r.stderr);
      const table = r.stdout.slice(r.stdout.indexOf("CVMFS's own latency"));
      const line = (op: string) =>
        table.split("\n").find((l) => new RegExp(`^${c.mnt}\\s+${op}\\s`).test(l))!;
      // The trace spanned the mount's life: the same lookups on both sides.
      const lookup = line("LOOKUP").trim().split(/\s+/);
      assertEquals(lookup[2], lookup[6], line("LOOKUP"));
      // Each side's quantile only with 10 samples beyond it; the difference as an interval.
      for (const l of table.split("\n").filter((x) => x.startsWith(c.mnt))) {
        const cells = l.trim().split(/\s+/);
        const [n, kn] = [Number(cells[2]), Number(cells[6])];
        assertEquals(cells[3] === "-", n < 20, l);
        assertEquals(cells[5] === "-", n < 1000, l);
        if (kn < 20 || n < 20) assertEquals(cells.at(-1), "-", l);
        else if (kn !== n) assertMatch(l, /other requests$/);
        else assertMatch(cells.slice(10).join(" "), /^(~0 \()?[-+]\S+\.\.[-+]\S+\)?$/, l);
      }
      assertMatch(table, /power-of-two bins/);
      Deno.removeSync(dir, { recursive: true });
    }),
});

Deno.test({
  name: "cvmfs: a cold start-up against a warm one — the daemon's time spent fetching, per object",
  ...opts,
  fn: () =>
    withClient(DELAY_MS, async (c, http) => {
      const dir = Deno.makeTempDirSync();
      const startUp = async (name: string) => {
        // The kernel's caches dropped: the warm run asks the daemon again, whose cache is warm.
        Deno.writeTextFileSync("/proc/sys/vm/drop_caches", "3");
        http.takeLog();
        const res = await runCli([
          "trace",
          "-m",
          c.mnt,
          "-s",
          "request,daemon",
          "--daemon",
          "cvmfs",
          "--csv",
          `${dir}/${name}.csv`,
          "--json",
          `${dir}/${name}.json`,
          "--",
          ...pythonStartUp(c.mnt),
        ]);
        assertEquals(res.code, 0, res.stderr);
        return {
          report: readJson(Deno.readTextFileSync(`${dir}/${name}.json`), name),
          fetched: http.takeLog().filter((f) => f.path.includes("/data/")),
        };
      };
      const cold = await startUp("cold");
      const warm = await startUp("warm");
      const rows = (r: Report, source: string) =>
        new Map(r.rows.filter((x) => x.source === source).map((x) => [x.operation, x]));
      const up = rows(cold.report, "uprobe");
      const download = up.get("download")!;
      // Every object the server sent, downloaded by the daemon, none faster than its delay.
      assertEquals(download.count, cold.fetched.length);
      assert(cold.fetched.length > 20 && cold.fetched.every((f) => f.delayed));
      assert(download.minNs >= DELAY_MS * 1e6 * (1 - 1 / 32), `fastest ${download.minNs} ns`);
      // Each within the callback it served: a cache miss per OPEN, nothing else fetching.
      const fetching = [...up.values()].filter((r) => r.operation.endsWith(" fetching"));
      assertEquals(fetching.map((r) => [r.operation, r.count]), [[
        "cvmfs_open fetching",
        rows(cold.report, "request").get("OPEN")!.count,
      ]]);
      assertEquals(fetching[0]!.sumNs, download.sumNs);
      // Fetching is most of the daemon's time for OPEN (its service: read → reply).
      const openService = rows(cold.report, "daemon").get("OPEN")!;
      assert(download.sumNs > 0.5 * openService.sumNs, `${download.sumNs} of ${openService.sumNs}`);
      // Warm: nothing fetched, nothing downloaded; the same opens.
      assertEquals(warm.fetched, []);
      assertEquals(rows(warm.report, "uprobe").get("download"), undefined);
      assertEquals(
        rows(warm.report, "request").get("OPEN")!.count,
        rows(cold.report, "request").get("OPEN")!.count,
      );
      // diff names OPEN (its request, its service, cvmfs_open) as the change, and nothing else.
      const d = await runCli([
        "diff",
        `${dir}/cold.csv`,
        `${dir}/warm.csv`,
        "--only-changed",
        "--color",
        "never",
      ]);
      assertEquals(d.code, 0, d.stderr);
      const changed = d.stdout.split("\n").filter((l) => /(improvement|regression)/.test(l))
        .filter((l) => !/TOTAL/.test(l));
      assert(changed.length >= 2, d.stdout);
      for (const l of changed) assertMatch(l, /(OPEN|cvmfs_open) .*improvement/);
      Deno.removeSync(dir, { recursive: true });
    }),
});

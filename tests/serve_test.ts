/**
 * `serve`: the exposition (exact cumulative buckets, escaping, OpenMetrics), counters carried
 * across a mount that goes away and comes back, the textfile, and a real Prometheus (Debian's
 * package) scraping it: its histogram_quantile agrees with fusetrace's own percentiles within a
 * bucket, its request count equals the CSV's.
 */
import {
  addFamilies,
  boundsNs,
  bucketOf,
  buildTree,
  cumulativeCounts,
  detectCapabilities,
  emptyRow,
  exposition,
  familiesOf,
  findRow,
  histogramOf,
  keepMounts,
  loadRun,
  parseListen,
  type Report,
  summarize,
  unavailable,
  UsageError,
} from "../mod.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertThrows,
  root,
  runCli,
  spawnCli,
  spawnUntil,
  testMeta,
  withTestFs,
} from "./_helpers.ts";

const caps = Deno.uid() === 0 ? detectCapabilities() : undefined;
const live = !!caps && !unavailable("request", caps);

function report(rows: ReturnType<typeof emptyRow>[]): Report {
  return {
    meta: testMeta(),
    rows,
    lostEvents: 0,
    unmatched: 0,
  };
}

Deno.test("bounds are edges of fusetrace's buckets: cumulative counts are exact", () => {
  const values = [700, 1024, 1025, 3000, 2 ** 20, 2 ** 20 * 1.74, 2 ** 20 * 1.76, 5e9, 1e12];
  const h = histogramOf(values);
  for (const perOctave of [1, 4, 32]) {
    const bounds = boundsNs(perOctave);
    assertEquals(bounds.length, 26 * perOctave + 1);
    assertEquals(bounds[0], 1024);
    assertEquals(bounds.at(-1), 2 ** 36);
    const got = cumulativeCounts(h, bounds);
    bounds.forEach((b, i) => assertEquals(got[i], values.filter((v) => v < b).length, `le ${b}`));
  }
  assertThrows(() => boundsNs(3), RangeError);
  // A value exactly at a bound belongs above it: buckets are [lo, hi), le is "≤".
  assertEquals(cumulativeCounts(histogramOf([1024]), [1024, 2048]), [0, 1]);
  assertEquals(bucketOf(1024) > bucketOf(1023), true);
});

Deno.test("exposition: histogram series, escaped labels, errors, bytes; OpenMetrics naming", async () => {
  const r = emptyRow({
    source: "request",
    mount: '/c"v\\m\nfs',
    plugin: "lookup",
    operation: "LOOKUP",
  });
  r.count = 5;
  r.buckets = histogramOf([1500, 3000, 2_000_000, 2_100_000]);
  r.sumNs = 4_104_500;
  r.errors = { 2: 1 };
  const rd = emptyRow({ source: "request", mount: "/m", plugin: "read", operation: "READ" });
  rd.count = 2;
  rd.bytesOut = 8192;
  rd.inFlight = 1;
  const text = (await exposition(familiesOf(report([r, rd])))).text;
  const m = 'mount="/c\\"v\\\\m\\nfs",operation="LOOKUP",source="request"';
  assertMatch(text, new RegExp(`^fusetrace_requests_total\\{${esc(m)}\\} 5$`, "m"));
  assertMatch(
    text,
    new RegExp(
      `^fusetrace_request_duration_seconds_bucket\\{${esc(m)},le="0.000002048"\\} 1$`,
      "m",
    ),
  );
  assertMatch(
    text,
    new RegExp(
      `^fusetrace_request_duration_seconds_bucket\\{${esc(m)},le="0.002097152"\\} 3$`,
      "m",
    ),
  );
  assertMatch(
    text,
    new RegExp(`^fusetrace_request_duration_seconds_bucket\\{${esc(m)},le="\\+Inf"\\} 4$`, "m"),
  );
  assertMatch(text, new RegExp(`^fusetrace_request_duration_seconds_count\\{${esc(m)}\\} 4$`, "m"));
  assertMatch(
    text,
    new RegExp(`^fusetrace_request_duration_seconds_sum\\{${esc(m)}\\} 0.0041045$`, "m"),
  );
  assertMatch(
    text,
    new RegExp(`^fusetrace_request_errors_total\\{${esc(m)},errno="ENOENT"\\} 1$`, "m"),
  );
  assertMatch(
    text,
    /^fusetrace_bytes_total\{mount="\/m",operation="READ",source="request",direction="from_daemon"\} 8192$/m,
  );
  assertMatch(text, /^fusetrace_requests_in_flight\{mount="\/m",operation="READ"\} 1$/m);
  // READ has no histogram (nothing timed).
  assert(!/duration_seconds_count\{mount="\/m"/.test(text));
  const om = await exposition(familiesOf(report([r])), { openMetrics: true });
  assertMatch(om.contentType, /^application\/openmetrics-text; version=1.0.0/);
  assertMatch(om.text, /^# TYPE fusetrace_requests counter$/m);
  assertMatch(om.text, /^fusetrace_lost_events_total 0$/m);
  assert(om.text.endsWith("# EOF\n"));
});

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

Deno.test("families add across traces (counters, histograms), gauges from the later; unmounted paths dropped", () => {
  const a = emptyRow({ source: "request", mount: "/a", plugin: "lookup", operation: "LOOKUP" });
  a.count = 3;
  a.buckets = histogramOf([1000, 2000, 3000]);
  a.sumNs = 6000;
  a.inFlight = 2;
  const b = { ...a, count: 1, buckets: histogramOf([5000]), sumNs: 5000, inFlight: 0 };
  const sum = addFamilies(familiesOf(report([a])), familiesOf(report([b])));
  const get = (name: string) => sum.find((f) => f.name === name)!;
  assertEquals((get("fusetrace_requests_total").samples[0] as { value: number }).value, 4);
  assertEquals((get("fusetrace_requests_in_flight").samples[0] as { value: number }).value, 0);
  const h = get("fusetrace_request_duration_seconds").samples[0] as { sumNs: number };
  assertEquals(h.sumNs, 11000);
  const kept = keepMounts(sum, (m) => m !== "/a");
  assertEquals(kept.find((f) => f.name === "fusetrace_requests_total")!.samples.length, 0);
  assertEquals(kept.find((f) => f.name === "fusetrace_lost_events_total")!.samples.length, 1);
});

Deno.test("--listen: PORT, HOST:PORT, [IPv6]:PORT; loopback by default; bad ones refused", () => {
  assertEquals(parseListen("9469"), { hostname: "127.0.0.1", port: 9469 });
  assertEquals(parseListen("0.0.0.0:80"), { hostname: "0.0.0.0", port: 80 });
  assertEquals(parseListen("[::1]:9469"), { hostname: "::1", port: 9469 });
  assertEquals(parseListen(":9469"), { hostname: "127.0.0.1", port: 9469 });
  for (const bad of ["", "x", "1:2:3", "host:0", "host:70000", "[::1]"]) {
    assertThrows(() => parseListen(bad), UsageError);
  }
});

/** A free TCP port on loopback. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** The value of a series in an exposition (first match), NaN when absent. */
function valueOf(text: string, series: RegExp): number {
  for (const line of text.split("\n")) {
    if (series.test(line)) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return NaN;
}

async function scrape(port: number): Promise<string> {
  return await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

async function until<T>(what: string, f: () => Promise<T>, ok: (x: T) => boolean, ms = 30_000) {
  const end = Date.now() + ms;
  let last: T | undefined;
  while (Date.now() < end) {
    last = await f();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)?.slice(0, 400)}`);
}

const TREE = { files: 120, depth: 2, fanout: 3, seed: 5 };

/** Stats every entry of the tree: one LOOKUP each on a fresh mount (entries stay cached). */
function statAll(mnt: string, paths: string[]): void {
  for (const p of paths) Deno.statSync(`${mnt}/${p}`);
}

Deno.test({
  name: "serve: a mount that goes away stops being exported, comes back, and its counters go on",
  ignore: !live,
  async fn() {
    const tree = buildTree(TREE);
    const lookups = tree.dirs.length + tree.files.length;
    const mnt = Deno.makeTempDirSync({ prefix: "fusetrace-serve-" });
    const port = freePort();
    const textfile = `${Deno.makeTempDirSync()}/fusetrace.prom`;
    let served: Awaited<ReturnType<typeof spawnUntil>> | undefined;
    try {
      await withTestFs(TREE, async () => {
        served = await spawnUntil([
          `${root}cli.ts`,
          "serve",
          "-m",
          mnt,
          "--listen",
          `127.0.0.1:${port}`,
          "-i",
          "500ms",
          "--textfile",
          textfile,
        ], "fusetrace serve: tracing");
        statAll(mnt, [...tree.dirs, ...tree.files]);
        const lookup = /^fusetrace_requests_total\{mount="[^"]*",operation="LOOKUP"/;
        await until("the first lookups", () => scrape(port), (t) => valueOf(t, lookup) === lookups);
        // The textfile says the same.
        await until(
          "the textfile",
          () => Deno.readTextFile(textfile),
          (t) => valueOf(t, lookup) === lookups,
        );
      }, mnt);
      // Unmounted: no series of it, up 0, a restart counted.
      const gone = await until(
        "the mount's series to go",
        () => scrape(port),
        (t) => !t.includes(`mount="${mnt}"`) && valueOf(t, /^fusetrace_up /) === 0,
      );
      assertEquals(valueOf(gone, /^fusetrace_trace_restarts_total /), 1);
      await withTestFs(TREE, async () => {
        await until(
          "the trace again",
          () => scrape(port),
          (t) => valueOf(t, /^fusetrace_up /) === 1,
        );
        statAll(mnt, [...tree.dirs, ...tree.files]);
        const lookup = /^fusetrace_requests_total\{mount="[^"]*",operation="LOOKUP"/;
        const t = await until(
          "the lookups added",
          () => scrape(port),
          (t) => valueOf(t, lookup) >= 2 * lookups,
        );
        assertEquals(valueOf(t, lookup), 2 * lookups);
      }, mnt);
      served!.child.kill("SIGINT");
      const end = await served!.finish();
      assertEquals(end.status.code, 0, end.stderr);
      // The last textfile says the exporter is down.
      assertEquals(valueOf(Deno.readTextFileSync(textfile), /^fusetrace_up /), 0);
    } finally {
      try {
        served?.child.kill("SIGKILL");
      } catch { /* ended */ }
      try {
        Deno.removeSync(mnt);
      } catch { /* withTestFs removed it */ }
    }
  },
});

Deno.test({
  name: "serve: requests in flight at a snapshot (a 3 s LOOKUP), OpenMetrics when asked for",
  ignore: !live,
  async fn() {
    const port = freePort();
    await withTestFs({ ...TREE, latency: { lookup: { kind: "fixed", ms: 3000 } } }, async (fs) => {
      const served = await spawnUntil([
        `${root}cli.ts`,
        "serve",
        "-m",
        fs.mountPoint,
        "--listen",
        `127.0.0.1:${port}`,
        "-i",
        "300ms",
      ], "fusetrace serve: tracing");
      try {
        const inFlight = /^fusetrace_requests_in_flight\{mount="[^"]*",operation="LOOKUP"\}/;
        const stat = new Deno.Command("stat", {
          args: [`${fs.mountPoint}/${buildTree(TREE).files[0]}`],
          stdout: "null",
        }).spawn();
        await until("the LOOKUP in flight", () => scrape(port), (t) => valueOf(t, inFlight) === 1);
        await stat.status;
        await until("no LOOKUP in flight", () => scrape(port), (t) => valueOf(t, inFlight) === 0);
        const om = await fetch(`http://127.0.0.1:${port}/metrics`, {
          headers: { accept: "application/openmetrics-text; version=1.0.0" },
        });
        assertMatch(om.headers.get("content-type")!, /^application\/openmetrics-text/);
        const text = await om.text();
        assert(text.endsWith("# EOF\n"));
        assertMatch(text, /^# TYPE fusetrace_requests counter$/m);
        const nope = await fetch(`http://127.0.0.1:${port}/nope`);
        assertEquals(nope.status, 404);
        await nope.body?.cancel();
      } finally {
        served.child.kill("SIGINT");
        assertEquals((await served.finish()).status.code, 0);
      }
    });
  },
});

Deno.test({
  name: "serve: an address in use is refused (one line, exit 2) before it traces",
  ignore: !live,
  async fn() {
    const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const port = (busy.addr as Deno.NetAddr).port;
      const r = await runCli(["serve", "--listen", `127.0.0.1:${port}`]);
      assertEquals(r.code, 2);
      assertMatch(r.stderr, new RegExp(`^fusetrace: Cannot listen on 127.0.0.1:${port}: .*in use`));
      assertEquals(r.stderr.trim().split("\n").length, 1);
    } finally {
      busy.close();
    }
  },
});

/** An instant PromQL query's single value (NaN when the result is empty). */
async function promQuery(port: number, q: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = await res.json() as {
    status: string;
    data: { result: { value: [number, string] }[] };
  };
  if (body.status !== "success") throw new Error(`query ${q}: ${JSON.stringify(body)}`);
  return body.data.result.length ? Number(body.data.result[0]!.value[1]) : NaN;
}

const PROMETHEUS = "/usr/bin/prometheus";

Deno.test({
  name:
    "a real Prometheus scraping serve: histogram_quantile p50/p99 within a bucket of fusetrace's own, request count = the CSV's",
  ignore: !live,
  sanitizeResources: false,
  async fn() {
    const tree = buildTree(TREE);
    const paths = [...tree.dirs, ...tree.files];
    const mnt = Deno.makeTempDirSync({ prefix: "fusetrace-prom-" });
    const dir = Deno.makeTempDirSync({ prefix: "fusetrace-prometheus-" });
    const exporter = freePort();
    const promPort = freePort();
    const csv = `${dir}/run.csv`;
    const children: Deno.ChildProcess[] = [];
    try {
      await withTestFs(
        { ...TREE, latency: { lookup: { kind: "uniform", minMs: 1, maxMs: 4 } } },
        async () => {
          const served = await spawnUntil([
            `${root}cli.ts`,
            "serve",
            "-m",
            mnt,
            "--listen",
            `127.0.0.1:${exporter}`,
            "-i",
            "1s",
            "--buckets-per-octave",
            "4",
          ], "fusetrace serve: tracing");
          children.push(served.child);
          const traced = await spawnCli(["trace", "-m", mnt, "--csv", csv]);
          children.push(traced.child);
          Deno.writeTextFileSync(
            `${dir}/prometheus.yml`,
            [
              "global:",
              "  scrape_interval: 1s",
              "scrape_configs:",
              "  - job_name: fusetrace",
              "    static_configs:",
              `      - targets: ["127.0.0.1:${exporter}"]`,
              "",
            ].join("\n"),
          );
          const prom = new Deno.Command(PROMETHEUS, {
            args: [
              `--config.file=${dir}/prometheus.yml`,
              `--storage.tsdb.path=${dir}/data`,
              `--web.listen-address=127.0.0.1:${promPort}`,
            ],
            stdout: "null",
            stderr: "null",
          }).spawn();
          children.push(prom);
          // One lookup first, so the series exists when the rate window starts.
          statAll(mnt, paths.slice(0, 1));
          await until(
            "Prometheus to scrape the first lookup",
            () =>
              promQuery(
                promPort,
                'count_over_time(fusetrace_requests_total{operation="LOOKUP"}[1m])',
              )
                .catch(() => NaN),
            (n) => n >= 2,
            60_000,
          );
          statAll(mnt, paths.slice(1));
          const total = await until(
            "Prometheus to see every lookup",
            () => promQuery(promPort, 'sum(fusetrace_requests_total{operation="LOOKUP"})'),
            (n) => n === paths.length,
          );
          await new Promise((r) => setTimeout(r, 2500)); // two more scrapes of the final counts
          const q = (p: number) =>
            promQuery(
              promPort,
              `histogram_quantile(${p}, sum by (le) (rate(fusetrace_request_duration_seconds_bucket{operation="LOOKUP"}[1m])))`,
            );
          const [p50, p99] = [await q(0.5), await q(0.99)];
          traced.child.kill("SIGINT");
          const end = await traced.finish();
          assertEquals(end.status.code, 0, end.stderr);
          const row = findRow(loadRun(csv), { operation: "LOOKUP" })!;
          assertEquals(row.count, paths.length);
          assertEquals(total, row.count);
          const own = summarize(row);
          // Within the Prometheus bucket (4 per power of two) holding fusetrace's own value.
          const bounds = boundsNs(4);
          for (
            const [name, prom, mine] of [["p50", p50, own.p50], ["p99", p99, own.p99]] as const
          ) {
            const i = bounds.findIndex((b) => b > mine);
            const width = (bounds[i]! - bounds[i - 1]!) / 1e9;
            assert(
              Math.abs(prom - mine / 1e9) <= width,
              `${name}: Prometheus ${prom} s, fusetrace ${mine / 1e9} s, bucket ${width} s wide`,
            );
          }
          served.child.kill("SIGINT");
          assertEquals((await served.finish()).status.code, 0);
        },
        mnt,
      );
    } finally {
      for (const c of children) {
        try {
          c.kill("SIGKILL");
        } catch { /* ended */ }
      }
      for (const c of children) await c.status;
      Deno.removeSync(dir, { recursive: true });
      try {
        Deno.removeSync(mnt);
      } catch { /* withTestFs removed it */ }
    }
  },
});

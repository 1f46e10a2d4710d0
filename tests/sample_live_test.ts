/**
 * `--sample N` live: beside a full trace of the same requests (bpftrace programs attached at
 * once), every request is counted exactly; the p50, p90 and p99 of 1 in 8 sit at their ranks among
 * all the requests, within sampling error (p50 and p90 also within 5 %).
 * `--sample auto` beside them: below its rate it times every request like the full trace; above
 * it (auto:100) it switches and times exactly the requests `--sample 8` times.
 */
import {
  bucketRange,
  type Buckets,
  buildTree,
  detectCapabilities,
  findRow,
  loadRun,
  type Report,
  summarize,
  totalTimeNs,
  traceDuring,
  unavailable,
} from "../mod.ts";
import { assert, assertEquals, runCli, spawnCli, withTestFs } from "./_helpers.ts";

const caps = Deno.uid() === 0 ? detectCapabilities() : undefined;
const TREE = { files: 10000, depth: 2, fanout: 12, seed: 11 };

Deno.test({
  name:
    "--sample 8 and auto: counts exact, p50/p90/p99 at their ranks among all requests (10 000 lookups)",
  ignore: !caps || !!unavailable("request", caps),
  async fn() {
    const tree = buildTree(TREE);
    const paths = [...tree.dirs, ...tree.files];
    const dir = Deno.makeTempDirSync();
    await withTestFs(
      { ...TREE, latency: { lookup: { kind: "uniform", minMs: 0.2, maxMs: 5 } } },
      async (fs) => {
        const traceTo = (name: string, ...args: string[]) =>
          spawnCli(["trace", "-m", fs.mountPoint, ...args, "--csv", `${dir}/${name}.csv`]);
        const full = await traceTo("full");
        const sampled = await traceTo("sampled", "--sample", "8");
        const auto = await traceTo("auto", "--sample", "auto");
        const switched = await traceTo("switched", "--sample", "auto:100");
        await statAll(paths.map((p) => `${fs.mountPoint}/${p}`));
        const out: string[] = [];
        for (const t of [switched, auto, sampled, full]) {
          t.child.kill("SIGINT");
          const end = await t.finish();
          assertEquals(end.status.code, 0, end.stderr);
          out.push(end.stdout);
        }
        // The switch is announced; a run that stayed below the rate says so too.
        assert(
          /from 1 in 8 requests since the trace began \(--sample auto switched \d+ s in, at \d+ requests\/s, above 100\)/
            .test(out[0]!),
          out[0],
        );
        assert(
          /every request timed \(--sample auto: the rate stayed at or below 10000 requests\/s\)/
            .test(out[1]!),
        );
        const sampledRun = await runCli(["report", `${dir}/sampled.csv`]);
        assert(/latency, errors and reply bytes from 1 in 8 requests/.test(sampledRun.stdout));
      },
    );
    const a = findRow(loadRun(`${dir}/full.csv`), { operation: "LOOKUP" })!;
    const b = findRow(loadRun(`${dir}/sampled.csv`), { operation: "LOOKUP" })!;
    assertEquals([a.count, b.count], [paths.length, paths.length], "every request counted");
    assertEquals([a.sample, b.sample], [undefined, 8]);
    const [sa, sb] = [summarize(a), summarize(b)];
    // Ids go to every opcode: LOOKUPs get about 1 in 8 of them.
    assert(Math.abs(sb.timed / a.count - 1 / 8) < 0.02, `${sb.timed} of ${a.count} timed`);
    // p50 and p90 lie in the injected spread (0.2–5 ms): within 5 % of the full trace's.
    for (const p of ["p50", "p90"] as const) {
      assert(Math.abs(sb[p] / sa[p] - 1) < 0.05, `${p}: sampled ${sb[p]} ns, full ${sa[p]} ns`);
    }
    // Each sampled quantile sits at its rank among ALL the requests, within the sampling error of
    // 1 in 8 (4 σ of a quantile's rank over the requests timed, plus a bucket's width): the p99
    // lies in this VM's tail (replies late by the scheduler: above the injected 5 ms), where its
    // value moves 10 % for one request more or less, its rank does not.
    for (const [p, q] of [["p50", 0.5], ["p90", 0.9], ["p99", 0.99]] as const) {
      const rank = rankOf(a.buckets, sb[p]);
      const err = 4 * Math.sqrt(q * (1 - q) / sb.timed) + 1 / 64;
      assert(Math.abs(rank - q) <= err, `${p}: sampled ${sb[p]} ns at rank ${rank} of the full`);
    }
    // The total time of the sampled run is the timed ones' mean over every request.
    assert(Math.abs(totalTimeNs(b) / totalTimeNs(a) - 1) < 0.05);
    // auto below its rate: the full trace's requests, each timed (two clocks a few µs apart).
    const c = findRow(loadRun(`${dir}/auto.csv`), { operation: "LOOKUP" })!;
    assertEquals([c.count, c.sample, summarize(c).timed], [a.count, undefined, sa.timed]);
    for (const p of ["p50", "p90", "p99"] as const) {
      assert(Math.abs(summarize(c)[p] / sa[p] - 1) < 0.02, `${p}: auto ${summarize(c)[p]}`);
    }
    // auto above its rate: switched, the same 1 in 8 as --sample 8 over the whole trace.
    const d = findRow(loadRun(`${dir}/switched.csv`), { operation: "LOOKUP" })!;
    assertEquals([d.count, d.sample, summarize(d).timed], [a.count, 8, sb.timed]);
    for (const p of ["p50", "p90", "p99"] as const) {
      assert(Math.abs(summarize(d)[p] / sb[p] - 1) < 0.02, `${p}: switched ${summarize(d)[p]}`);
    }
    Deno.removeSync(dir, { recursive: true });
  },
});

Deno.test({
  name: "--sample auto switches mid-trace: interval reports add up to the trace's exact counts",
  ignore: !caps || !!unavailable("request", caps),
  async fn() {
    const tree = buildTree({ files: 3000, depth: 2, fanout: 12, seed: 12 });
    const paths = [...tree.dirs, ...tree.files];
    const slow = 60; // stat()s one by one, 20 ms apart: ≈ 50 a second, below the rate
    await withTestFs({ files: 3000, depth: 2, fanout: 12, seed: 12 }, async (fs) => {
      const intervals: Report[] = [];
      const { report } = await traceDuring({
        mounts: [fs.mountPoint],
        sample: 8,
        autoSampleRate: 500,
        intervalMs: 500,
        onInterval: (r) => intervals.push(r),
      }, async () => {
        const slowly = async (some: string[]) => {
          for (const p of some) {
            Deno.statSync(`${fs.mountPoint}/${p}`);
            await new Promise((r) => setTimeout(r, 20));
          }
        };
        await slowly(paths.slice(0, slow));
        // Then thousands a second; then slowly again, past the switch (the program looks at the
        // rate at each whole second) and the snapshots after it.
        await statAll(paths.slice(slow, -2 * slow).map((p) => `${fs.mountPoint}/${p}`));
        await slowly(paths.slice(-2 * slow));
      });
      const lookups = (r: Report) => findRow(r, { operation: "LOOKUP", source: "request" });
      assert(report.autoSample?.switched, JSON.stringify(report.autoSample));
      assertEquals(report.autoSample.switched.afterS >= 1, true);
      const whole = lookups(report)!;
      assertEquals([whole.count, whole.sample], [paths.length, 8]);
      // Each interval: before the switch every request timed, after it 1 in 8; never negative.
      const rows = intervals.flatMap((r) => {
        const row = lookups(r);
        return row ? [row] : [];
      });
      const before = rows.filter((r) => !r.sample);
      const after = rows.filter((r) => r.sample === 8);
      assert(
        before.length >= 1 && after.length >= 1,
        `${before.length} before, ${after.length} after`,
      );
      assertEquals(before.length + after.length, rows.length);
      // Counted at send, timed at the end: one client has at most one request in flight at a
      // snapshot.
      for (const r of before) assert(Math.abs(summarize(r).timed - r.count) <= 1);
      for (const r of rows) {
        assert(
          r.count >= 0 && summarize(r).timed <= r.count + 1,
          `${r.count} ${summarize(r).timed}`,
        );
        assert([...r.buckets.values()].every((n) => n > 0), "no negative bucket");
      }
      assertEquals(rows.reduce((n, r) => n + r.count, 0), paths.length, "intervals add up");
    });
  },
});

/**
 * stat()s each path, one client: concurrent ones queue in the daemon on 2 CPUs, and the tail
 * becomes the queue.
 */
async function statAll(paths: string[]): Promise<void> {
  const xargs = new Deno.Command("xargs", {
    args: ["-n", "300", "stat", "--printf", ""],
    stdin: "piped",
  }).spawn();
  const w = xargs.stdin.getWriter();
  await w.write(new TextEncoder().encode(paths.join("\n")));
  await w.close();
  assertEquals((await xargs.status).code, 0);
}

/** The fraction of a histogram's values below `v` (interpolated inside its bucket). */
function rankOf(buckets: Buckets, v: number): number {
  let below = 0;
  let total = 0;
  for (const [b, c] of buckets) {
    total += c;
    const [lo, hi] = bucketRange(b);
    if (hi <= v) below += c;
    else if (lo < v) below += c * (v - lo) / (hi - lo);
  }
  return below / total;
}

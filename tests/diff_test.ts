import { histogramOf } from "../probes/hist.ts";
import { emptyRow, type OpRow, type Report } from "../probes/report.ts";
import { writeCsv } from "../reporters/csv.ts";
import {
  compareRuns,
  DEFAULT_THRESHOLDS,
  type DiffRow,
  relabelMounts,
  topRows,
} from "../reporters/diff.ts";
import { readLegacy } from "../reporters/legacy.ts";
import { formatDiffTable } from "../reporters/diff_render.ts";
import { assert, assertEquals, assertGolden, assertMatch, rng, runCli } from "./_helpers.ts";

const meta = {
  host: "h",
  kernel: "6.18",
  tool: "fusetrace 0.1.0",
  bpftrace: "0.17.0",
  start: "2026-11-29T00:00:00.000Z",
  durationS: 10,
};

function row(operation: string, count: number, latencies: number[] = []): OpRow {
  const r = emptyRow({ source: "request", mount: "/m", plugin: "p", operation });
  r.count = count;
  if (latencies.length) {
    r.buckets = histogramOf(latencies);
    r.minNs = Math.min(...latencies);
    r.maxNs = Math.max(...latencies);
    r.sumNs = latencies.reduce((a, b) => a + b, 0);
  }
  return r;
}

function report(rows: OpRow[]): Report {
  return { meta, rows, lostEvents: 0, unmatched: 0 };
}

function classOf(a: number, b: number): DiffRow["class"] {
  return compareRuns([report([row("X", a)])], [report([row("X", b)])]).rows[0]!.class;
}

Deno.test("count-only rows keep the original colours at every threshold edge", () => {
  // Absolute edges (relative change large, so the absolute class decides).
  assertEquals(classOf(100, 200), "green"); // Δ 100
  assertEquals(classOf(100, 201), "blue"); // Δ 101
  assertEquals(classOf(100, 600), "blue"); // Δ 500
  assertEquals(classOf(100, 601), "yellow"); // Δ 501
  assertEquals(classOf(601, 100), "yellow"); // decreases too
  // Relative edges (absolute change large, so the relative class decides).
  assertEquals(classOf(10000, 11000), "green"); // 10 %
  assertEquals(classOf(10000, 11001), "blue"); // 10.01 %
  assertEquals(classOf(10000, 12500), "blue"); // 25 %
  assertEquals(classOf(10000, 12501), "yellow"); // 25.01 %
  assertEquals(classOf(0, 501), "yellow"); // new
  assertEquals(classOf(0, 0), "green");
  const up = compareRuns([report([row("X", 100)])], [report([row("X", 601)])]).rows[0]!;
  assertEquals(up.verdict, "regression", "more requests");
});

const exp = (r: () => number, mean: number, n: number) =>
  Array.from({ length: n }, () => Math.round(20_000 + -Math.log(1 - r()) * mean));

const verdictOf = (a: Report[], b: Report[], t = DEFAULT_THRESHOLDS) =>
  compareRuns(a, b, t).rows.find((x) => x.operation === "L")!;

Deno.test("one run per side: sampling error, and run-to-run variation assumed", () => {
  const r = rng(7);
  const exact = { ...DEFAULT_THRESHOLDS, runNoisePct: 0 }; // a machine without run noise
  for (let trial = 0; trial < 20; trial++) {
    const a = [report([row("L", 3000, exp(r, 100_000, 3000))])];
    const same = [report([row("L", 3000, exp(r, 100_000, 3000))])];
    const slower = [report([row("L", 3000, exp(r, 125_000, 3000))])]; // p50 +21 %, p99 +24 %
    assertEquals(verdictOf(a, same, exact).verdict, "same", `trial ${trial}: resample flagged`);
    const sh = verdictOf(a, slower, exact);
    assertEquals(sh.verdict, "regression", `trial ${trial}: shift not detected`);
    assertEquals(sh.class, "yellow");
    assertEquals(sh.latency.p50.change, "up");
    // At the defaults one run per side cannot tell +21 % from run-to-run variation (±25 %).
    assertEquals(verdictOf(a, slower).verdict, "same", `trial ${trial}`);
  }
  const faster = [report([row("L", 3000, exp(r, 40_000, 3000))])];
  const twice = [report([row("L", 3000, exp(r, 250_000, 3000))])];
  const base = [report([row("L", 3000, exp(r, 100_000, 3000))])];
  assertEquals(verdictOf(base, twice).verdict, "regression", "×2 is beyond the assumed noise");
  assertEquals(verdictOf(twice, base).verdict, "improvement");
  assertEquals(verdictOf(twice, base).class, "blue");
  assertEquals(verdictOf(base, faster, exact).verdict, "improvement");
});

Deno.test("several runs per side: the change is compared with the spread between runs", () => {
  const r = rng(11);
  // Each run shifts as a whole by up to ±5 %, 1 500 requests, 5 runs a side.
  const runs = (mean: number, k: number) =>
    Array.from({ length: k }, () => {
      const f = 0.95 + 0.1 * r();
      return report([row("L", 1500, exp(r, mean, 1500).map((x) => Math.round(x * f)))]);
    });
  let caught = 0;
  for (let trial = 0; trial < 10; trial++) {
    const a = runs(2_000_000, 5);
    assertEquals(verdictOf(a, runs(2_000_000, 5)).verdict, "same", `trial ${trial}: noise`);
    const v = verdictOf(a, runs(2_500_000, 5)); // +25 %
    assert(v.verdict !== "improvement");
    if (v.verdict === "regression") caught++;
  }
  assert(caught >= 9, `a 25 % shift with 5 runs a side caught ${caught} of 10 times`);
});

Deno.test("percentiles judged only where the sample supports them; (max) said", () => {
  const r = rng(3);
  const d = compareRuns(
    [report([row("L", 85, exp(r, 100_000, 85))])],
    [report([row("L", 85, exp(r, 100_000, 85))])],
  ).rows.find((x) => x.operation === "L")!;
  assertEquals([d.latency.p50.judged, d.latency.p90.judged, d.latency.p99.judged], [
    true,
    false, // 8.5 requests above it
    false,
  ]);
  assertEquals(d.latency.p99.isMax, true, "the p99 of 85 requests is their maximum");
  assertEquals(d.latency.p90.isMax, false);
});

Deno.test("a TOTAL row leads each mount and source; rows rank by added total time", () => {
  const r = rng(5);
  const m2 = (x: OpRow) => ({ ...x, mount: "/n" });
  const a = report([
    row("BIG", 2000, exp(r, 1_000_000, 2000)),
    row("SMALL", 2000, exp(r, 10_000, 2000)),
    m2(row("OTHER", 100, exp(r, 10_000, 100))),
  ]);
  const b = report([
    row("BIG", 2000, exp(r, 3_000_000, 2000)),
    row("SMALL", 2000, exp(r, 40_000, 2000)), // ×4 per request, but < 3 % of the mount's time
    m2(row("OTHER", 100, exp(r, 10_000, 100))),
  ]);
  const d = compareRuns([a], [b]);
  assertEquals(d.rows.map((x) => `${x.mount} ${x.operation} ${x.verdict}`), [
    "/m TOTAL regression",
    "/m BIG regression",
    "/m SMALL same",
    "/n TOTAL same",
    "/n OTHER same",
  ]);
  const total = d.rows[0]!;
  assertEquals(total.countA, 4000);
  assertEquals(total.addedNs, d.rows[1]!.addedNs + d.rows[2]!.addedNs);
  assertEquals(total.verdict, "regression", "net time of the changed rows (BIG) > 0");
  assertEquals(topRows(d.rows, 1).map((x) => x.operation), ["TOTAL", "BIG", "TOTAL"]);
});

Deno.test("--as pairs runs made on different mount points; no shared rows is said", () => {
  const a = report([row("L", 10)]);
  const b = report([{ ...row("L", 10), mount: "/elsewhere" }]);
  const apart = compareRuns([a], [b]);
  assertEquals(apart.rows.length, 2);
  assertMatch(apart.notes[0]!, /share no rows \(mounts \/m \| \/elsewhere\): --as NAME/);
  const paired = compareRuns([relabelMounts(a, ["t"], "a")], [relabelMounts(b, ["t"], "b")]);
  assertEquals(paired.rows.map((x) => [x.mount, x.operation, x.delta]), [["t", "L", 0]]);
  assertEquals(paired.notes, []);
  const two = report([row("L", 1), { ...row("L", 1), mount: "/x" }]);
  assertEquals(relabelMounts(two, ["/x=t"], "f").rows.map((x) => x.mount), ["/m", "t"]);
  let err = "";
  try {
    relabelMounts(two, ["t"], "f.csv");
  } catch (e) {
    err = (e as Error).message;
  }
  assertMatch(err, /--as t: f\.csv has 2 mounts \(\/m, \/x\); name each: --as PATH=NAME/);
});

const dir = Deno.makeTempDirSync({ prefix: "fusetrace-diff-" });
function file(name: string, text: string): string {
  Deno.writeTextFileSync(`${dir}/${name}`, text);
  return `${dir}/${name}`;
}
const A = file(
  "a.csv",
  writeCsv(
    report([row("LOOKUP", 1000, exp(rng(1), 50_000, 1000)), row("OPEN", 100), row("READ", 40)]),
  ),
);
const B = file(
  "b.csv",
  writeCsv(
    report([row("LOOKUP", 1700, exp(rng(2), 150_000, 1700)), row("OPEN", 350), row("STATFS", 2)]),
  ),
);
const LEGACY_A = file(
  "fuse_calls_count_20190801-120000",
  "ADDR,FUNC,COUNT\n18446744071580000000,fuse_lookup,1200\n18446744071580000100,fuse_getattr,50\n",
);
const LEGACY_B = file(
  "fuse_calls_count_20190801-130000",
  "ADDR,FUNC,COUNT\n18446744071580000000,fuse_lookup,1900\n18446744071580000200,fuse_readdir,7\n",
);

Deno.test("diff CLI: golden tables with and without colour, --only-changed, --top", async () => {
  const plain = await runCli(["diff", A, B, "--color", "never"]);
  assertEquals(plain.code, 0, plain.stderr);
  assertGolden("diff-plain.txt", plain.stdout);
  const col = await runCli(["diff", A, B, "--color", "always"]);
  assertGolden("diff-color.txt", col.stdout);
  assert(col.stdout.includes("\x1b[33m") && col.stdout.includes("\x1b[32m"));
  const auto = await runCli(["diff", A, B]); // a pipe: no colour
  assert(!auto.stdout.includes("\x1b["));
  const top = await runCli(["diff", A, B, "--top", "1", "--color", "never"]);
  assertEquals(top.stdout.split("\n").slice(1, 3).map((l) => l.split(/\s+/)[1]), [
    "TOTAL",
    "LOOKUP",
  ]);
  const changed = await runCli(["diff", A, B, "--only-changed", "--format", "json"]);
  assert(JSON.parse(changed.stdout).every((r: DiffRow) => r.class !== "green"));
});

Deno.test("diff CLI: X X is all green; several runs a side; --fail-on regression|change", async () => {
  const same = await runCli(["diff", A, A, "--fail-on", "change", "--format", "json"]);
  assertEquals(same.code, 0, same.stderr);
  assert(JSON.parse(same.stdout).every((r: DiffRow) => r.verdict === "same"));
  const worse = await runCli(["diff", A, B, "--fail-on", "regression"]);
  assertEquals(worse.code, 1);
  assertMatch(worse.stderr, /^fusetrace: regression: \/m LOOKUP/m);
  const better = await runCli(["diff", B, A, "--fail-on", "regression"]);
  assertEquals(better.code, 0, "an improvement does not fail the gate");
  assertEquals((await runCli(["diff", B, A, "--fail-on", "change"])).code, 1);
  const calm = file("calm.csv", writeCsv(report([row("OPEN", 110)])));
  const base = file("base.csv", writeCsv(report([row("OPEN", 100)])));
  assertEquals((await runCli(["diff", base, calm, "--fail-on", "change"])).code, 0);
  const multi = await runCli(["diff", "--format", "json", A, A, "--", B, B]);
  assertEquals(multi.code, 0, multi.stderr);
  const look = JSON.parse(multi.stdout).find((r: DiffRow) => r.operation === "LOOKUP");
  assertEquals([look.countA, look.countB], [1000, 1700]);
  for (
    const [args, re] of [
      [[A, B, A], /diff takes two runs, A B, or several of each/],
      [[A, "--", B, "--color", "never"], /"--color": options go before --, runs after it/],
      [[A, B, "--min-rel", "0"], /Invalid --min-rel "0"/],
      [[A, B, "--min-abs", "x"], /Invalid --min-abs "x"/],
      [
        [A, B, "--alpha", "0.9"],
        /Invalid --alpha "0.9": expected a number above 0 and at most 0.5/,
      ],
    ] as [string[], RegExp][]
  ) {
    const r = await runCli(["diff", ...args]);
    assertEquals(r.code, 2, args.join(" "));
    assertMatch(r.stderr, re);
  }
});

Deno.test("diff CLI: --format csv and json", async () => {
  const json = JSON.parse((await runCli(["diff", A, B, "--format", "json"])).stdout);
  assertEquals(json.find((r: DiffRow) => r.operation === "READ").countB, 0);
  assertEquals(json.find((r: DiffRow) => r.operation === "STATFS").deltaPct, null);
  assertEquals(json.find((r: DiffRow) => r.operation === "LOOKUP").p50Change, "up");
  const csv = (await runCli(["diff", A, B, "--format", "csv"])).stdout.split("\n");
  assertMatch(
    csv[0]!,
    /^source,mount,plugin,operation,countA,countB,delta,deltaPct,sumA,sumB,added/,
  );
  assertEquals(csv.filter(Boolean).length, 6, "header, TOTAL and 4 rows");
});

Deno.test("diff reads the original ADDR,FUNC,COUNT files, alone and against fusetrace CSV", async () => {
  const l = readLegacy(Deno.readTextFileSync(LEGACY_A), "x");
  assertEquals(l.rows.map((r) => [r.operation, r.count]), [["fuse_lookup", 1200], [
    "fuse_getattr",
    50,
  ]]);
  const r = await runCli(["diff", LEGACY_A, LEGACY_B, "--format", "json"]);
  const rows = JSON.parse(r.stdout) as DiffRow[];
  assertEquals(rows.map((x) => [x.operation, x.delta, x.class]), [
    ["fuse_lookup", 700, "yellow"],
    ["fuse_getattr", -50, "green"],
    ["fuse_readdir", 7, "green"],
  ]);
  const k = emptyRow({ source: "kernel", mount: "-", plugin: "lookup", operation: "fuse_lookup" });
  k.count = 1250;
  const mixed = file("mixed.csv", writeCsv(report([k, row("LOOKUP", 5)])));
  const m = JSON.parse((await runCli(["diff", LEGACY_A, mixed, "--format", "json"])).stdout);
  assertEquals(m.map((x: DiffRow) => [x.operation, x.countA, x.countB]), [
    ["fuse_getattr", 50, 0],
    ["fuse_lookup", 1200, 1250],
  ]);
});

Deno.test("diff: every malformed input gives one line naming the file, exit 2", async () => {
  const fifo = `${dir}/fifo`;
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  const good = Deno.readTextFileSync(A).split("\n");
  const cases: [string, RegExp][] = [
    [`${dir}/missing.csv`, /missing\.csv: cannot read: no such file/],
    [file("empty.csv", ""), /empty\.csv: empty file/],
    [file("hdr.csv", "a,b\n1,2\n"), /hdr\.csv:1: unknown header/],
    [file("ragged.csv", `${good[0]}\n${good[1]}\n1,2,3\n`), /ragged\.csv:3: expected 28 columns/],
    [
      file("nan", "ADDR,FUNC,COUNT\n1,fuse_x,many\n"),
      /nan:2: COUNT "many" is not a whole number ≥ 0/,
    ],
    [file("rag", "ADDR,FUNC,COUNT\n1,fuse_x\n"), /rag:2: expected 3 columns/],
    [
      file("v9.csv", `${good[0]}\n${good[1]!.replace("fusetrace-1", "fusetrace-9")}\n`),
      /v9\.csv:2: schema "fusetrace-9"/,
    ],
    [
      file("neg.csv", `${good[0]}\n${good[1]!.replace(",LOOKUP,1000,", ",LOOKUP,-1000,")}\n`),
      /neg\.csv:2: count "-1000" is not a whole number ≥ 0/,
    ],
    [
      file("inf.csv", `${good[0]}\n${good[1]!.replace(/,10,request,/, ",Infinity,request,")}\n`),
      /inf\.csv:2: duration_s "Infinity" is not a whole number ≥ 0/,
    ],
    [
      file("dup.csv", `${good[0]}\n${good[1]}\n${good[1]}\n`),
      /dup\.csv:3: the same source.*line 2/,
    ],
    [
      file("dupaddr", "ADDR,FUNC,COUNT\n1,fuse_x,1\n1,fuse_y,2\n"),
      /dupaddr:3: ADDR 1 is listed twice/,
    ],
    ["/dev/zero", /\/dev\/zero: not a regular file/],
    [fifo, /fifo: not a regular file/],
  ];
  for (const [f, re] of cases) {
    const r = await runCli(["diff", A, f]);
    assertEquals(r.code, 2, `${f}: ${r.stderr}`);
    assertEquals(r.stderr.trim().split("\n").length, 1);
    assertMatch(r.stderr, re);
  }
  const bad = await runCli(["diff", A, B, "--count-abs", "500,100"]);
  assertEquals(bad.code, 2);
  assertMatch(bad.stderr, /Invalid --count-abs "500,100"/);
});

Deno.test("diff: mount paths with newlines and escapes read back and print escaped", async () => {
  const odd = "/tmp/a\nb\x1b[31mred";
  const f = file("odd.csv", writeCsv(report([{ ...row("L", 5), mount: odd }])));
  const r = await runCli(["diff", f, f, "--color", "never"]);
  assertEquals(r.code, 0, r.stderr);
  assert(r.stdout.includes("/tmp/a\\nb\\x1b[31mred L"), r.stdout);
  assert(!r.stdout.includes("\x1b"), "no raw escape reaches the terminal");
});

globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

Deno.test("diff verdict names only what moved its way: a regression never names a p90 that fell", () => {
  const p = (a: number, b: number, change: "up" | "down" | "none") => ({
    a,
    b,
    judged: true,
    isMax: false,
    change,
  });
  const row: DiffRow = {
    source: "request",
    mount: "/m",
    plugin: "lookup",
    operation: "LOOKUP",
    countA: 1000,
    countB: 3000,
    delta: 2000,
    deltaPct: 200,
    sumA: 1e9,
    sumB: 2e9,
    addedNs: 1e9,
    latency: {
      p50: p(1e6, 2e6, "up"),
      p90: p(5e6, 1e6, "down"),
      p99: p(9e6, 9e6, "none"),
    },
    countClass: "yellow",
    verdict: "regression",
    class: "yellow",
  };
  const line = (r: DiffRow) => formatDiffTable([r], "", false).split("\n")[1]!;
  assertMatch(line(row), /regression \(p50,count\)$/);
  // An improvement with fewer requests: the count moved its way, the p50 that rose is not named.
  assertMatch(
    line({ ...row, countB: 500, delta: -500, deltaPct: -50, verdict: "improvement" }),
    /improvement \(p90,count\)$/,
  );
  // More requests beside an improvement: not named.
  assertMatch(line({ ...row, verdict: "improvement" }), /improvement \(p90\)$/);
});

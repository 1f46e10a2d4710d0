import { histogramOf } from "../probes/hist.ts";
import { emptyRow, type OpRow, type Report } from "../probes/report.ts";
import { writeCsv } from "../reporters/csv.ts";
import { compareReports, type DiffRow, ksDiffers } from "../reporters/diff.ts";
import { readLegacy } from "../reporters/legacy.ts";
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
  return compareReports(report([row("X", a)]), report([row("X", b)]))[0]!.class;
}

Deno.test("count classes at every threshold edge", () => {
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
});

const exp = (r: () => number, mean: number, n: number) =>
  Array.from({ length: n }, () => Math.round(20_000 + -Math.log(1 - r()) * mean));

Deno.test("latency: a real shift is flagged, a resample of the same distribution is not", () => {
  const r = rng(7);
  for (let trial = 0; trial < 20; trial++) {
    const a = exp(r, 100_000, 3000);
    const same = exp(r, 100_000, 3000);
    const slower = exp(r, 140_000, 3000);
    const eq = compareReports(report([row("L", 3000, a)]), report([row("L", 3000, same)]))[0]!;
    assertEquals(eq.class, "green", `trial ${trial}: equal distributions flagged`);
    assert(!eq.latencySignificant);
    const sh = compareReports(report([row("L", 3000, a)]), report([row("L", 3000, slower)]))[0]!;
    assert(sh.latencySignificant, `trial ${trial}: shift not detected`);
    assertEquals(sh.class, "yellow", `trial ${trial}: +40 % mean`);
  }
  assert(!ksDiffers(new Map(), histogramOf([1, 2])), "an empty side is never significant");
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
    report([row("LOOKUP", 1700, exp(rng(2), 90_000, 1700)), row("OPEN", 350), row("STATFS", 2)]),
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
  assertEquals(top.stdout.split("\n")[1]!.split(/\s+/)[1], "LOOKUP");
  const same = await runCli(["diff", A, A.replace("a.csv", "./a.csv"), "--only-changed"]);
  assertEquals(same.code, 2, "the same file twice");
});

Deno.test("diff CLI: --fail-on exit statuses, --format csv and json", async () => {
  assertEquals((await runCli(["diff", A, B, "--fail-on", "yellow"])).code, 1);
  assertEquals((await runCli(["diff", A, B, "--fail-on", "blue"])).code, 1);
  const calm = file("calm.csv", writeCsv(report([row("OPEN", 110)])));
  const base = file("base.csv", writeCsv(report([row("OPEN", 100)])));
  assertEquals((await runCli(["diff", base, calm, "--fail-on", "blue"])).code, 0);
  const json = JSON.parse((await runCli(["diff", A, B, "--format", "json"])).stdout);
  assertEquals(json.find((r: DiffRow) => r.operation === "READ").countB, 0);
  assertEquals(json.find((r: DiffRow) => r.operation === "STATFS").deltaPct, null);
  const csv = (await runCli(["diff", A, B, "--format", "csv"])).stdout.split("\n");
  assertMatch(csv[0]!, /^source,mount,plugin,operation,countA,countB,delta/);
  assertEquals(csv.filter(Boolean).length, 5);
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
  const good = Deno.readTextFileSync(A).split("\n");
  const cases: [string, RegExp][] = [
    [`${dir}/missing.csv`, /missing\.csv: cannot read: no such file/],
    [file("empty.csv", ""), /empty\.csv: empty file/],
    [file("hdr.csv", "a,b\n1,2\n"), /hdr\.csv:1: unknown header/],
    [file("ragged.csv", `${good[0]}\n${good[1]}\n1,2,3\n`), /ragged\.csv:3: expected 27 columns/],
    [file("nan", "ADDR,FUNC,COUNT\n1,fuse_x,many\n"), /nan:2: COUNT "many" is not a number/],
    [file("rag", "ADDR,FUNC,COUNT\n1,fuse_x\n"), /rag:2: expected 3 columns/],
    [
      file("v9.csv", `${good[0]}\n${good[1]!.replace("fusetrace-1", "fusetrace-9")}\n`),
      /v9\.csv:2: schema "fusetrace-9"/,
    ],
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

globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

/**
 * `cvmfs_talk latency` beside fusetrace: the sample file is written in the format of CVMFS's
 * TalkManager::FormatLatencies (header with %0.5f quantiles, a row per callback, nanoseconds);
 * it pairs with a run by the repository's mount, and every malformed input is refused by line.
 */
import {
  compareCvmfs,
  emptyRow,
  formatCvmfsComparison,
  histogramOf,
  isCvmfsLatency,
  readCvmfsLatency,
  type Report,
  UsageError,
  writeCsv,
} from "../mod.ts";
import { assertEquals, assertMatch, assertThrows, root, runCli, testMeta } from "./_helpers.ts";

const SAMPLE = `${root}tests/testdata/cvmfs_talk_latency.csv`;

function run(): Report {
  const lookup = emptyRow({
    source: "request",
    mount: "/cvmfs/sft.cern.ch",
    plugin: "lookup",
    operation: "LOOKUP",
  });
  const ns = Array.from({ length: 1000 }, (_, i) => 150_000 + i * 100); // p50 ≈ 200 µs
  lookup.count = ns.length;
  lookup.buckets = histogramOf(ns);
  lookup.sumNs = ns.reduce((a, b) => a + b, 0);
  lookup.minNs = ns[0]!;
  lookup.maxNs = ns.at(-1)!;
  return {
    meta: testMeta(),
    rows: [lookup],
    lostEvents: 0,
    unmatched: 0,
  };
}

Deno.test("cvmfs_talk latency: read, actions as FUSE opcodes, units, quantiles in ns", () => {
  const text = Deno.readTextFileSync(SAMPLE);
  assertEquals(isCvmfsLatency(text), true);
  const rows = readCvmfsLatency(text, "s.csv");
  assertEquals(rows.length, 11);
  const lookup = rows.find((r) => r.action === "lookup")!;
  assertEquals([lookup.operation, lookup.count, lookup.quantiles.get(0.5)], [
    "LOOKUP",
    5840,
    120_000,
  ]);
  assertEquals(rows.find((r) => r.action === "forget_multi")!.operation, "BATCH_FORGET");
  const us = readCvmfsLatency(
    '"repository","action","total_count","time_unit",0.50000\n"r","read",3,"microseconds",7\n',
    "u.csv",
  );
  assertEquals(us[0]!.quantiles.get(0.5), 7000);
});

Deno.test("cvmfs_talk latency beside a run: paired by the repository's mount, p50 outside CVMFS", () => {
  const cmp = compareCvmfs(run(), readCvmfsLatency(Deno.readTextFileSync(SAMPLE), "s.csv"));
  const lookup = cmp.find((c) => c.operation === "LOOKUP")!;
  assertEquals(lookup.mount, "/cvmfs/sft.cern.ch");
  assertEquals(lookup.cvmfs.p50, 120_000);
  assertEquals(Math.abs(lookup.kernel.p50 - 200_000) < 200_000 / 32, true);
  const text = formatCvmfsComparison(cmp);
  assertMatch(
    text,
    /\/cvmfs\/sft\.cern\.ch\s+LOOKUP\s+5840\s+120us\s+300us\s+900us\s+1000\s+\S+\s+\S+\s+\S+\s+\+(79|80)\.\dus/,
  );
  // GETATTR was not traced: the kernel's side is empty, not made up.
  assertMatch(text, /GETATTR\s+1200\s+14\.0us\s+28\.0us\s+60\.0us\s+0\s+-\s+-\s+-\s+-/);
  // Another repository's mount is never guessed.
  const other = compareCvmfs(
    run(),
    readCvmfsLatency(
      '"repository","action","total_count","time_unit",0.50000\n"atlas.cern.ch","lookup",3,"nanoseconds",7\n',
      "o.csv",
    ),
  );
  assertEquals(other[0]!.mount, undefined);
});

Deno.test("cvmfs_talk latency: malformed input refused with file and line", () => {
  for (
    const [text, msg] of [
      ['"sft","lookup",1,"nanoseconds",5\n', /x\.csv:1: no "repository"/],
      [
        '"repository","action","total_count","time_unit",0.50000\n"r","lookup",1,"fortnights",5\n',
        /x\.csv:2: unknown time unit "fortnights"/,
      ],
      [
        '"repository","action","total_count","time_unit",0.50000\n"r","lookup",x,"nanoseconds",5\n',
        /x\.csv:2: total_count "x"/,
      ],
      [
        '"repository","action","total_count","time_unit",0.50000\n"r","lookup",1,"nanoseconds"\n',
        /x\.csv:2: expected 1 quantile values/,
      ],
      [
        '"repository","action","total_count","time_unit",1.5\n',
        /x\.csv:1: quantiles must lie between 0 and 1/,
      ],
      ['"repository","action","total_count","time_unit",0.50000\n', /x\.csv: no latency rows/],
    ] as const
  ) {
    assertThrows(
      () => readCvmfsLatency(text, "x.csv"),
      (e: Error) => e instanceof UsageError && msg.test(e.message),
    );
  }
});

Deno.test("report --cvmfs-latency prints the comparison; a file of another kind is refused (exit 2)", async () => {
  const dir = Deno.makeTempDirSync();
  Deno.writeTextFileSync(`${dir}/run.csv`, writeCsv(run()));
  const r = await runCli(["report", `${dir}/run.csv`, "--cvmfs-latency", SAMPLE]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /CVMFS's own latency \(cvmfs_talk latency\) beside the kernel's/);
  assertMatch(r.stdout, /LOOKUP\s+5840\s+120us/);
  for (
    const bad of [[`${dir}/run.csv`, "--cvmfs-latency", `${dir}/run.csv`], [
      `${dir}/run.csv`,
      "--cvmfs-latency",
      `${dir}/none`,
    ]]
  ) {
    const x = await runCli(["report", ...bad]);
    assertEquals(x.code, 2, x.stderr);
    assertEquals(x.stderr.trim().split("\n").length, 1);
  }
  Deno.removeSync(dir, { recursive: true });
});

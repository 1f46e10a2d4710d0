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
  // CVMFS counted 5840 since its start, the trace 1000: not the same requests, no difference.
  assertMatch(
    text,
    /\/cvmfs\/sft\.cern\.ch\s+LOOKUP\s+5840\s+120us\s+300us\s+900us\s+1000\s+\S+\s+\S+\s+\S+\s+other requests\n/,
  );
  // The same 1000 requests (a trace over the daemon's life): the difference, as an interval.
  const same = Deno.readTextFileSync(SAMPLE).replace('"lookup",5840', '"lookup",1000');
  assertMatch(
    formatCvmfsComparison(compareCvmfs(run(), readCvmfsLatency(same, "s.csv"))),
    /LOOKUP\s+1000\s+120us\s+300us\s+900us\s+1000\s+\S+\s+\S+\s+\S+\s+\+6\d\.\dus\.\.\+14\dus\n/,
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

Deno.test("cvmfs_talk latency beside a run: too few samples, within resolution, negative, each said", () => {
  const header = '"repository","action","total_count","time_unit",0.50000,0.90000,0.99000\n';
  const text = header +
    // One GETATTR: CVMFS prints its lowest bin's edge for a p50 of one sample.
    '"sft.cern.ch","getattr",1,"nanoseconds",0,0,0\n' +
    // 1000 lookups, p50 150 us: in the bin [131, 262) us, which holds the kernel's 200 us.
    '"sft.cern.ch","lookup",1000,"nanoseconds",150000,200000,250000\n' +
    // READ p50 500 us, the kernel's 200 us: the callback outlasts its request.
    '"sft.cern.ch","read",1000,"nanoseconds",500000,600000,700000\n';
  const r = run();
  r.rows.push({ ...r.rows[0]!, operation: "READ" });
  const getattr = { ...emptyRow(r.rows[0]!), operation: "GETATTR", count: 1 };
  getattr.buckets = histogramOf([145_000]);
  getattr.timed = 1;
  r.rows.push(getattr);
  const cmp = compareCvmfs(r, readCvmfsLatency(text, "s.csv"));
  const by = (op: string) => cmp.find((c) => c.operation === op)!;
  assertEquals([by("GETATTR").cvmfs.p50, by("GETATTR").kernel.p50], [NaN, NaN]);
  assertEquals(by("GETATTR").outside, undefined);
  assertEquals(by("LOOKUP").outside![0] < 0 && by("LOOKUP").outside![1] > 0, true);
  assertEquals(by("READ").outside![1] < 0, true);
  // p99 of 1000 samples has 10 beyond it: shown; p99 of 999 would not be.
  assertEquals(by("LOOKUP").cvmfs.p99, 250_000);
  const out = formatCvmfsComparison(cmp);
  assertMatch(out, /GETATTR\s+1\s+-\s+-\s+-\s+1\s+-\s+-\s+-\s+-\n/);
  assertMatch(out, /LOOKUP\s+1000\s+150us .*~0 \(-\S+\.\.\+\S+\)\n/);
  assertMatch(out, /READ\s+1000\s+500us .* -\S+us\.\.-\S+us\n/);
  assertMatch(out, /fewer than 10 samples beyond it is not shown/);
  assertMatch(out, /Negative: CVMFS's timer runs until the callback returns, after its reply/);
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

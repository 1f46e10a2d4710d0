import { histogramOf } from "../probes/hist.ts";
import { emptyRow, type OpRow, type Report } from "../probes/report.ts";
import { formatHistogram } from "../reporters/histogram.ts";
import { formatSideBySide, formatSplit, formatTable } from "../reporters/table.ts";
import { assertGolden } from "./_helpers.ts";

function row(
  source: OpRow["source"],
  mount: string,
  plugin: string,
  operation: string,
  ns: number[],
) {
  const r = emptyRow({ source, mount, plugin, operation });
  r.count = ns.length;
  r.buckets = histogramOf(ns);
  r.minNs = Math.min(...ns);
  r.maxNs = Math.max(...ns);
  r.sumNs = ns.reduce((a, b) => a + b, 0);
  return r;
}

const times = (base: number, n: number) => Array.from({ length: n }, (_, i) => base + i * 97);
const report: Report = {
  meta: { host: "h", kernel: "6.12", tool: "t", bpftrace: "0.23.2", start: "", durationS: 1 },
  rows: [
    row("request", "/cvmfs/a", "lookup", "LOOKUP", times(40_000, 50)),
    row("kernel", "-", "lookup", "fuse_lookup", times(9_000, 120)),
    row("kernel", "-", "lookup", "fuse_dentry_revalidate", times(900, 400)),
    row("queue", "/cvmfs/a", "lookup", "LOOKUP", times(5_000, 50)),
    row("daemon", "/cvmfs/a", "lookup", "LOOKUP", times(30_000, 50)),
    row("transit", "/cvmfs/a", "lookup", "LOOKUP", times(5_000, 50)),
  ],
  lostEvents: 0,
  unmatched: 2,
};
report.rows[0]!.errors = { 2: 7 };
report.rows[0]!.inFlight = 1;

Deno.test("report layouts: table, side by side, split, histogram (golden)", () => {
  assertGolden("table.txt", formatTable(report) + "\n");
  assertGolden("side-by-side.txt", formatSideBySide(report) + "\n");
  assertGolden("split.txt", formatSplit(report) + "\n");
  assertGolden("histogram.txt", formatHistogram(report.rows[1]!) + "\n");
});

/**
 * Latency histograms in the layout of bpftrace and BCC (`[256, 512)  485 |@@@@  |`), folded to
 * powers of two in microseconds for reading; the fine buckets stay in the report and CSV.
 * @module
 */
import { bucketRange } from "../probes/hist.ts";
import type { OpRow, Report } from "../probes/report.ts";
import { sanitize } from "../util/format.ts";

/** One histogram, power-of-two microsecond rows. */
export function formatHistogram(row: OpRow, width = 40): string {
  const pow = new Map<number, number>();
  for (const [b, c] of row.buckets) {
    const us = bucketRange(b)[0] / 1000;
    const e = us < 1 ? -1 : Math.floor(Math.log2(us));
    pow.set(e, (pow.get(e) ?? 0) + c);
  }
  if (!pow.size) return "";
  const keys = [...pow.keys()].sort((a, b) => a - b);
  const max = Math.max(...pow.values());
  const lines = [`${" ".repeat(10)}usecs : count    distribution`];
  for (let e = keys[0]!; e <= keys[keys.length - 1]!; e++) {
    const lo = e < 0 ? 0 : 2 ** e;
    const hi = 2 ** (e + 1);
    const c = pow.get(e) ?? 0;
    const bar = "@".repeat(Math.round((c / max) * width)).padEnd(width);
    lines.push(`${`[${lo}, ${hi})`.padStart(20)} ${String(c).padStart(8)} |${bar}|`);
  }
  return lines.join("\n");
}

/** Every timed row's histogram, titled. */
export function formatHistograms(report: Report): string {
  return report.rows
    .filter((r) => r.buckets.size)
    .map((r) => `${r.source} ${sanitize(r.mount)} ${r.operation}:\n${formatHistogram(r)}`)
    .join("\n\n");
}

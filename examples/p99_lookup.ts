/**
 * Traces LOOKUP on one mount for N seconds and prints its p99 as a typed value.
 *
 *   deno run -A examples/p99_lookup.ts /cvmfs/sft.cern.ch 10
 */
import { findRow, summarize, trace } from "../mod.ts";

const [mount, seconds = "10"] = Deno.args;
if (!mount) {
  console.error("usage: p99_lookup.ts MOUNT [SECONDS]");
  Deno.exit(2);
}
const report = await trace({
  plugins: ["lookup"],
  mounts: [mount],
  durationMs: Number(seconds) * 1000,
  onReady: () => console.error("attached"),
});
const row = findRow(report, { operation: "LOOKUP", source: "request" });
const p99: number = row ? summarize(row).p99 : NaN;
console.log(JSON.stringify({ mount, lookups: row?.count ?? 0, p99_ns: Math.round(p99) }));

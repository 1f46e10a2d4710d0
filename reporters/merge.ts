/**
 * `merge`: many runs (nodes of a fleet, repeats on one node) added into one, exactly — counts,
 * errors, bytes, sums and histogram buckets add; min and max are the extremes — so a site can
 * trace 100 nodes and read one distribution. The plugins' sections are not merged (they are
 * top-N lists, which do not add).
 * @module
 */
import { addBuckets, totalCount } from "../probes/hist.ts";
import { type OpRow, type Report, rowKey, type RunInput, SOURCE_NAMES } from "../probes/report.ts";
import { UsageError } from "../util/errors.ts";
import { VERSION } from "../util/version.ts";

/** How rows pair across runs: by mount and operation (default), or by operation alone. */
export type MergeBy = "mount,operation" | "operation";

/** The mount of rows merged across mounts (`--by operation`). */
export const ALL_MOUNTS = "*";

/**
 * Adds runs into one report. Metadata: the hosts, kernels and bpftrace versions joined with
 * `;` (each once), the earliest start, the summed duration (node-seconds traced), and the
 * inputs in `meta.inputs`.
 * @example Three nodes, one distribution per operation
 * ```ts
 * import { mergeReports } from "./merge.ts";
 * import type { Report } from "../probes/report.ts";
 * declare const runs: { file: string; report: Report }[];
 * const fleet = mergeReports(runs, "operation");
 * ```
 */
export function mergeReports(
  runs: readonly { file: string; report: Report }[],
  by: MergeBy = "mount,operation",
): Report {
  const rows = new Map<string, OpRow>();
  for (const { report } of runs) {
    for (const r of report.rows) {
      const id = { ...r, mount: by === "operation" && r.mount !== "-" ? ALL_MOUNTS : r.mount };
      const k = rowKey(id);
      const m = rows.get(k);
      rows.set(k, m ? addRows(m, id) : { ...id, errors: { ...r.errors } });
    }
  }
  const each = <T>(f: (r: Report) => T) => runs.map(({ report }) => f(report));
  const once = (xs: string[]) => [...new Set(xs)].join(";");
  const sum = (f: (r: Report) => number | undefined) =>
    each(f).reduce<number>((a, b) => a + (b ?? 0), 0);
  const optional = (name: keyof Report, f: (r: Report) => number | undefined) => {
    const n = sum(f);
    return n ? { [name]: n } : {};
  };
  const inputs: RunInput[] = runs.map(({ file, report }) => ({
    file,
    host: report.meta.host,
    start: report.meta.start,
    durationS: report.meta.durationS,
  }));
  const at = (s: OpRow["source"]) => SOURCE_NAMES.indexOf(s);
  return {
    meta: {
      host: once(each((r) => r.meta.host)),
      kernel: once(each((r) => r.meta.kernel)),
      tool: `fusetrace ${VERSION} merge`,
      bpftrace: once(each((r) => r.meta.bpftrace)),
      start: each((r) => r.meta.start).filter(Boolean).sort()[0] ?? "",
      durationS: sum((r) => r.meta.durationS),
      inputs,
    },
    // Stable: source in report order, then mount, plugin and operation as the first run had them.
    rows: [...rows.values()].sort((a, b) =>
      at(a.source) - at(b.source) || (a.mount < b.mount ? -1 : a.mount > b.mount ? 1 : 0)
    ),
    lostEvents: sum((r) => r.lostEvents),
    unmatched: sum((r) => r.unmatched),
    ...optional("unpairable", (r) => r.unpairable),
    ...optional("daemonMissed", (r) => r.daemonMissed),
    ...optional("histogramDropped", (r) => r.histogramDropped),
    ...(runs.some(({ report }) => report.pairingFull) ? { pairingFull: true } : {}),
  };
}

/** The timed requests of a row (its histogram's total where it does not say). */
function timedOf(r: OpRow): number {
  return r.timed ?? totalCount(r.buckets);
}

/**
 * `a + b`, row-wise (same identity).
 * @throws {UsageError} when their latencies were sampled differently (`--sample`)
 */
export function addRows(a: OpRow, b: OpRow): OpRow {
  if ((a.sample ?? 1) !== (b.sample ?? 1)) {
    throw new UsageError(
      `${a.mount} ${a.operation}: runs timed 1 in ${a.sample ?? 1} and 1 in ${b.sample ?? 1} ` +
        "requests do not add up to one distribution: merge runs of one --sample",
    );
  }
  const errors = { ...a.errors };
  for (const [k, v] of Object.entries(b.errors)) errors[Number(k)] = (errors[Number(k)] ?? 0) + v;
  const [ta, tb] = [timedOf(a), timedOf(b)];
  return {
    ...a,
    count: a.count + b.count,
    errors,
    bytesIn: a.bytesIn + b.bytesIn,
    bytesOut: a.bytesOut + b.bytesOut,
    ...(a.timed !== undefined || b.timed !== undefined ? { timed: ta + tb } : {}),
    minNs: !ta ? b.minNs : !tb ? a.minNs : Math.min(a.minNs, b.minNs),
    maxNs: Math.max(a.maxNs, b.maxNs),
    sumNs: a.sumNs + b.sumNs,
    buckets: addBuckets(a.buckets, b.buckets),
    inFlight: a.inFlight + b.inFlight,
  };
}

/**
 * CVMFS's own view beside the kernel's: `cvmfs_talk latency` prints, per repository, the
 * quantiles of the time each FUSE callback spent inside cvmfs2 (its Log2Histograms):
 *
 * ```text
 * "repository","action","total_count","time_unit",0.10000,0.20000,…,0.99990
 * "sft.cern.ch","lookup",1234,"nanoseconds",52000,…
 * ```
 * fusetrace's request source times the same requests end to end in the kernel; what the kernel
 * sees and CVMFS does not is the queue before the daemon reads a request and the transit of its
 * reply. Rows pair by mount: a repository's mount is the one whose last path component is its
 * name (`/cvmfs/sft.cern.ch`), never a guess.
 * @module
 */
import { parse } from "npm:csv-parse@^6.1.0/sync";
import { type Report, summarize } from "../probes/report.ts";
import { UsageError } from "../util/errors.ts";
import { columns, fmtNs } from "../util/format.ts";

/** CVMFS's callback names → FUSE opcode names. */
export const CVMFS_ACTIONS: Record<string, string> = {
  lookup: "LOOKUP",
  forget: "FORGET",
  forget_multi: "BATCH_FORGET",
  getattr: "GETATTR",
  readlink: "READLINK",
  opendir: "OPENDIR",
  releasedir: "RELEASEDIR",
  readdir: "READDIR",
  open: "OPEN",
  read: "READ",
  release: "RELEASE",
};

const UNITS: Record<string, number> = {
  nanoseconds: 1,
  microseconds: 1e3,
  milliseconds: 1e6,
  seconds: 1e9,
};

/** One callback of one repository, as CVMFS measured it. */
export interface CvmfsLatency {
  repository: string;
  /** CVMFS's name (`lookup`) and the FUSE opcode it serves (`LOOKUP`). */
  action: string;
  operation: string;
  count: number;
  /** Quantile → ns. */
  quantiles: Map<number, number>;
}

/** Whether a text is `cvmfs_talk latency` output. */
export function isCvmfsLatency(text: string): boolean {
  return /^"?repository"?,"?action"?,"?total_count"?,"?time_unit"?/.test(text);
}

/**
 * Reads `cvmfs_talk latency` output (one or several repositories' outputs concatenated).
 * @throws {UsageError} naming the file and line on anything malformed
 */
export function readCvmfsLatency(text: string, file: string): CvmfsLatency[] {
  let records: string[][];
  try {
    records = parse(text, { relax_column_count: true, skip_empty_lines: true, trim: true });
  } catch (e) {
    throw new UsageError(`${file}: not CSV: ${(e as Error).message.split("\n")[0]}`);
  }
  const out: CvmfsLatency[] = [];
  let qs: number[] | undefined;
  records.forEach((rec, i) => {
    const where = `${file}:${i + 1}`;
    if (rec[0] === "repository") {
      qs = rec.slice(4).map(Number);
      if (!qs.length || qs.some((q) => !(q > 0 && q < 1))) {
        throw new UsageError(`${where}: quantiles must lie between 0 and 1: ${rec.slice(4)}`);
      }
      return;
    }
    if (!qs) throw new UsageError(`${where}: no "repository","action",… header before this row`);
    const [repository = "", action = "", count = "", unit = ""] = rec;
    const scale = UNITS[unit];
    if (scale === undefined) {
      throw new UsageError(
        `${where}: unknown time unit "${unit}" (${Object.keys(UNITS).join(", ")})`,
      );
    }
    if (!/^\d+$/.test(count)) {
      throw new UsageError(`${where}: total_count "${count}" is not a count`);
    }
    const values = rec.slice(4);
    if (values.length !== qs.length || values.some((v) => !/^\d+(\.\d+)?$/.test(v))) {
      throw new UsageError(`${where}: expected ${qs.length} quantile values`);
    }
    out.push({
      repository,
      action,
      operation: CVMFS_ACTIONS[action] ?? action.toUpperCase(),
      count: Number(count),
      quantiles: new Map(qs.map((q, j) => [q, Number(values[j]) * scale])),
    });
  });
  if (!out.length) throw new UsageError(`${file}: no latency rows`);
  return out;
}

/** One operation seen by CVMFS and by the kernel. */
export interface CvmfsComparison {
  repository: string;
  /** The mount paired with the repository, or undefined when the report has none of that name. */
  mount?: string;
  operation: string;
  cvmfs: { count: number; p50: number; p90: number; p99: number };
  /** The kernel's view (request source): NaN where the report has no such row. */
  kernel: { count: number; p50: number; p90: number; p99: number };
}

/**
 * Pairs CVMFS's rows with the report's request rows (same repository's mount, same operation).
 * CVMFS's counters run since its start, a trace's only while it ran: compare shapes, not counts,
 * unless the trace spanned the daemon's life.
 */
export function compareCvmfs(report: Report, cvmfs: readonly CvmfsLatency[]): CvmfsComparison[] {
  const mounts = [...new Set(report.rows.map((r) => r.mount))];
  return cvmfs.map((c) => {
    const mount = mounts.find((m) => m.replace(/\/+$/, "").split("/").pop() === c.repository);
    const row = mount !== undefined
      ? report.rows.find((r) =>
        r.source === "request" && r.mount === mount && r.operation === c.operation
      )
      : undefined;
    const s = row ? summarize(row) : undefined;
    const q = (p: number) => c.quantiles.get(p) ?? NaN;
    return {
      repository: c.repository,
      ...(mount !== undefined ? { mount } : {}),
      operation: c.operation,
      cvmfs: { count: c.count, p50: q(0.5), p90: q(0.9), p99: q(0.99) },
      kernel: {
        count: row?.count ?? 0,
        p50: s?.p50 ?? NaN,
        p90: s?.p90 ?? NaN,
        p99: s?.p99 ?? NaN,
      },
    };
  });
}

/** The comparison's header and cells (terminal and HTML tables). */
export function cvmfsCells(
  rows: readonly CvmfsComparison[],
): { head: string[]; cells: string[][] } {
  const ns = (v: number) => Number.isFinite(v) ? fmtNs(v) : "-";
  const outside = (k: number, c: number) =>
    Number.isFinite(k) && Number.isFinite(c)
      ? `${k >= c ? "+" : "-"}${fmtNs(Math.abs(k - c))}`
      : "-";
  return {
    head: [
      "MOUNT",
      "OPERATION",
      "CVMFS N",
      "CVMFS P50",
      "P90",
      "P99",
      "KERNEL N",
      "KERNEL P50",
      "P90",
      "P99",
      "P50 OUTSIDE CVMFS",
    ],
    cells: rows.map((r) => [
      r.mount ?? `(${r.repository}: not traced)`,
      r.operation,
      String(r.cvmfs.count),
      ns(r.cvmfs.p50),
      ns(r.cvmfs.p90),
      ns(r.cvmfs.p99),
      r.mount !== undefined ? String(r.kernel.count) : "-",
      ns(r.kernel.p50),
      ns(r.kernel.p90),
      ns(r.kernel.p99),
      outside(r.kernel.p50, r.cvmfs.p50),
    ]),
  };
}

/**
 * The comparison as a table: CVMFS's in-daemon quantiles beside the kernel's end-to-end ones;
 * the last column is the kernel's p50 minus CVMFS's (queueing and transit CVMFS cannot see; a
 * difference of medians, not the median of a difference).
 */
export function formatCvmfsComparison(rows: readonly CvmfsComparison[]): string {
  const { head, cells } = cvmfsCells(rows);
  return `CVMFS's own latency (cvmfs_talk latency) beside the kernel's\n${
    columns([head, ...cells])
  }`;
}

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

/**
 * Samples that must lie beyond a quantile for it to be shown: with fewer, a p99 is the largest of a
 * handful of values (and CVMFS answers a p50 of one sample with its lowest bin's edge, 0 ns).
 */
export const MIN_BEYOND = 10;

/** Whether `count` samples give quantile `q` (at least {@link MIN_BEYOND} samples beyond it). */
export function quantileKnown(count: number, q: number): boolean {
  return count * (1 - q) >= MIN_BEYOND;
}

/**
 * Where the true value of a quantile CVMFS printed as `ns` lies: its Log2Histogram's bins are
 * [2^k, 2^(k+1)) ns and a quantile is interpolated inside its bin, so anywhere in that bin.
 */
export function cvmfsBin(ns: number): [number, number] {
  if (ns < 2) return [0, 2];
  const lo = 2 ** Math.floor(Math.log2(ns));
  return [lo, 2 * lo];
}

/** Where the true value of a quantile fusetrace printed as `ns` lies: its bins are 1/32 wide. */
export function kernelBin(ns: number): [number, number] {
  return [ns * (1 - 1 / 32), ns * (1 + 1 / 32)];
}

/** One operation seen by CVMFS and by the kernel. */
export interface CvmfsComparison {
  repository: string;
  /** The mount paired with the repository, or undefined when the report has none of that name. */
  mount?: string;
  operation: string;
  /** Quantiles in ns; NaN where the count is too small for one ({@link quantileKnown}). */
  cvmfs: { count: number; p50: number; p90: number; p99: number };
  /** The kernel's view (request source): NaN where the report has no such row or too few. */
  kernel: { count: number; p50: number; p90: number; p99: number };
  /**
   * The kernel's p50 minus CVMFS's, as the interval the true difference lies in given both
   * sides' resolution; undefined where either p50 is unknown or the two sides counted different
   * numbers of requests (CVMFS counts since its start, a trace while it ran).
   */
  outside?: [number, number];
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
    const timed = row ? row.timed ?? row.count : 0;
    const cq = (p: number) => quantileKnown(c.count, p) ? c.quantiles.get(p) ?? NaN : NaN;
    const kq = (p: number, v: number | undefined) =>
      v !== undefined && quantileKnown(timed, p) ? v : NaN;
    const cvmfsSide = { count: c.count, p50: cq(0.5), p90: cq(0.9), p99: cq(0.99) };
    const kernel = {
      count: row?.count ?? 0,
      p50: kq(0.5, s?.p50),
      p90: kq(0.9, s?.p90),
      p99: kq(0.99, s?.p99),
    };
    let outside: [number, number] | undefined;
    // Medians of different requests say nothing of one request: only where both sides saw the
    // same ones (a trace over the daemon's whole life).
    if (Number.isFinite(kernel.p50) && Number.isFinite(cvmfsSide.p50) && c.count === timed) {
      const [klo, khi] = kernelBin(kernel.p50);
      const [clo, chi] = cvmfsBin(cvmfsSide.p50);
      outside = [klo - chi, khi - clo];
    }
    return {
      repository: c.repository,
      ...(mount !== undefined ? { mount } : {}),
      operation: c.operation,
      cvmfs: cvmfsSide,
      kernel,
      ...(outside ? { outside } : {}),
    };
  });
}

/** A signed duration: `+12.3us`, `-4.00us`. */
function signed(ns: number): string {
  return `${ns < 0 ? "-" : "+"}${fmtNs(Math.abs(ns))}`;
}

/**
 * The difference column: its interval, `~0` (and the interval) when it holds zero, `other
 * requests` where both medians exist but of different requests.
 */
function outsideCell(r: CvmfsComparison): string {
  const o = r.outside;
  if (!o) {
    return Number.isFinite(r.cvmfs.p50) && Number.isFinite(r.kernel.p50) ? "other requests" : "-";
  }
  const range = `${signed(o[0])}..${signed(o[1])}`;
  return o[0] <= 0 && o[1] >= 0 ? `~0 (${range})` : range;
}

/** The comparison's header and cells (terminal and HTML tables). */
export function cvmfsCells(
  rows: readonly CvmfsComparison[],
): { head: string[]; cells: string[][] } {
  const ns = (v: number) => Number.isFinite(v) ? fmtNs(v) : "-";
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
      "KERNEL-CVMFS P50",
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
      outsideCell(r),
    ]),
  };
}

/** What the comparison's numbers mean, under its table (terminal and HTML). */
export function cvmfsNotes(rows: readonly CvmfsComparison[]): string[] {
  const notes = [
    "CVMFS's quantiles come from power-of-two bins and lie anywhere in theirs (a printed 120us: " +
    "65.5us..131us); the kernel's from bins 1/32 wide (±3 %).",
    `A quantile with fewer than ${MIN_BEYOND} samples beyond it is not shown (-).`,
    "KERNEL-CVMFS P50: the interval the difference of the two medians lies in, given both " +
    "resolutions (~0 where it holds zero), only where both sides counted the same requests " +
    "(CVMFS counts since its start: trace from the mount on); positive: time outside the " +
    "callback (the request's queue and the reply's transit).",
  ];
  if (rows.some((r) => r.outside && r.outside[1] < 0)) {
    notes.push(
      "Negative: CVMFS's timer runs until the callback returns, after its reply: work done once " +
        "the kernel has its answer counts in CVMFS's time and not in the request's.",
    );
  }
  return notes;
}

/**
 * The comparison as a table: CVMFS's in-daemon quantiles beside the kernel's end-to-end ones,
 * the difference of the medians within both resolutions, and what the numbers mean.
 */
export function formatCvmfsComparison(rows: readonly CvmfsComparison[]): string {
  const { head, cells } = cvmfsCells(rows);
  return `CVMFS's own latency (cvmfs_talk latency) beside the kernel's\n${
    columns([head, ...cells])
  }\n${cvmfsNotes(rows).join("\n")}`;
}

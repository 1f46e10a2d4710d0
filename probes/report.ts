/**
 * The typed result of a trace: one row per (source, mount, plugin, operation). Reporters take a
 * `Report` and nothing else.
 * @module
 */
import { addBuckets, bucketRange, type Buckets, quantile, totalCount } from "./hist.ts";
import { UNWAITED } from "./opcodes.ts";

export { ERRNO, errnoName, errnoNumber } from "../util/errno.ts";

/** Where a row's numbers come from. */
export type SourceName =
  | "request"
  | "kernel"
  | "probe"
  | "daemon"
  | "queue"
  | "transit"
  | "served"
  | "uprobe";

/** Every source name, in report order. */
export const SOURCE_NAMES: readonly SourceName[] = [
  "request",
  "queue",
  "served",
  "daemon",
  "transit",
  "kernel",
  "uprobe",
  "probe",
];

/** One operation of one plugin on one mount, seen by one source. */
export interface OpRow {
  /**
   * `request` (fuse tracepoints: total time), `queue` (send → daemon read, or → the daemon's
   * receipt), `daemon` (daemon read → reply write: service time), `transit` (reply write → request
   * end), `served` (the daemon's receipt → request end: service + transit, from
   * fuse:fuse_request_sent), `kernel` (callback functions), `uprobe` (daemon functions) or `probe`
   * (plugin probes).
   */
  source: SourceName;
  /** Mount point, or `-` where the source does not know the mount. */
  mount: string;
  /** Plugin that owns the operation. */
  plugin: string;
  /** Opcode name (`LOOKUP`), kernel function or probe operation. */
  operation: string;
  /** Requests or calls seen, including untimed ones. */
  count: number;
  /** Replies carrying an error, by errno number. */
  errors: Record<number, number>;
  /** Bytes sent to the daemon by WRITE and SETXATTR (request length minus the 40-byte header). */
  bytesIn: number;
  /**
   * Bytes of the replies that carry data — READ, READDIR(PLUS), READLINK, GETXATTR, LISTXATTR —
   * (reply length minus the 16-byte header).
   */
  bytesOut: number;
  /**
   * Requests timed, exactly (the histogram may hold fewer when its map ran out of keys); absent:
   * the histogram's total.
   */
  timed?: number;
  /**
   * Minimum and maximum of the timed latencies to the histogram's resolution (the lowest bucket's
   * lower edge, the highest's upper edge: within 1/32), and their exact sum, in ns.
   */
  minNs: number;
  maxNs: number;
  sumNs: number;
  /** Latency histogram (log-linear buckets, see hist.ts), in ns. */
  buckets: Buckets;
  /** Requests still unanswered when the trace stopped. */
  inFlight: number;
  /**
   * `--sample N`: latencies (and the errors, bytes and parts of replies) are of 1 in N requests;
   * `count` is still every request. Absent: every request was timed.
   */
  sample?: number;
  /**
   * `--sample auto` before its switch: what of this row is of the 1 in N (what the row of a
   * later, switched snapshot holds), so an interval across the switch subtracts like from like.
   * In memory only: never written to a file.
   */
  sampledPart?: SampledPart;
}

/** The fields of a row that `--sample auto` keeps apart for its 1 in N. */
export type SampledPart = Pick<
  OpRow,
  "count" | "timed" | "errors" | "bytesOut" | "sumNs" | "buckets"
>;

/** What a run was. */
export interface RunMeta {
  host: string;
  kernel: string;
  tool: string;
  bpftrace: string;
  /** Start time, ISO 8601. */
  start: string;
  /** Seconds traced. */
  durationS: number;
  /** The runs a merged report was made of (`merge`). */
  inputs?: RunInput[];
}

/** One run of a merged report. */
export interface RunInput {
  file: string;
  host: string;
  start: string;
  durationS: number;
}

/** The result of a trace. */
export interface Report {
  meta: RunMeta;
  rows: OpRow[];
  /** Events bpftrace reported lost. */
  lostEvents: number;
  /** Replies whose request was sent before tracing began (or did not fit the map). */
  unmatched: number;
  /**
   * Requests sent with unique 0 (Linux 6.12–6.17 fires the send tracepoint before assigning it):
   * they cannot be paired by unique, so they are neither counted nor timed.
   */
  unpairable?: number;
  /**
   * FUSE daemons serving over io_uring (`pid N (command)`): the daemon source (read()/writev()) sees
   * none of the requests they serve on rings; the request source and fuse:fuse_request_sent do.
   */
  ioUring?: string[];
  /**
   * Daemon reads that began before tracing and whose arguments could not be read from the saved
   * user registers (their request is counted, not timed, by the daemon).
   */
  daemonMissed?: number;
  /** Timed requests missing from the histograms because a map ran out of keys (raise mapKeys). */
  histogramDropped?: number;
  /**
   * The pairing map was full at the end (`--map-keys` too small, or requests that never end):
   * requests to be timed that were sent meanwhile were neither timed nor counted.
   */
  pairingFull?: boolean;
  /**
   * Why the trace ended otherwise than asked: a traced mount went away, or bpftrace died (then
   * the report is its last snapshot).
   */
  ended?: string;
  /**
   * Sections of the analysis plugins, by plugin name (what each plugin's `parse` returned). Whole
   * trace only: interval reports carry none.
   */
  sections?: Record<string, unknown>;
  /** The command traced (`trace -- COMMAND`): its wall time and exit status. */
  command?: { argv: string[]; wallMs: number; status: number };
  /** `--sample auto`: what it chose. */
  autoSample?: AutoSample;
}

/**
 * `--sample auto`: every request is timed until the request rate exceeds `above` per second, then
 * 1 in `sample`; once `switched`, the report's latencies are those of the 1 in N over the whole
 * trace (they were kept apart from the start).
 */
export interface AutoSample {
  above: number;
  sample: number;
  /** When (seconds into the trace) and at what rate (requests per second, measured 1 in 64). */
  switched?: { afterS: number; rate: number };
}

/** The FUSE time of one mount, as one source saw it. */
export interface MountTotal {
  mount: string;
  /** `request` where it ran (the kernel's view, end to end), else `daemon`. */
  source: SourceName;
  requests: number;
  /** Summed latency of the timed requests, ns (concurrent requests overlap: it may exceed the wall time). */
  sumNs: number;
  /**
   * The requests a process waited for, and their summed latency: all but those sent in the
   * background or without a reply ({@link UNWAITED}: RELEASE, RELEASEDIR, FORGET, BATCH_FORGET).
   */
  waitedRequests: number;
  waitedNs: number;
}

/**
 * The total FUSE time per mount: the request source's rows where there are any, else the
 * daemon's; sorted by mount.
 */
export function mountTotals(report: Report): MountTotal[] {
  const source = endToEndSource(report.rows);
  const by = new Map<string, MountTotal>();
  for (const r of report.rows) {
    if (r.source !== source) continue;
    const t = by.get(r.mount) ??
      { mount: r.mount, source, requests: 0, sumNs: 0, waitedRequests: 0, waitedNs: 0 };
    t.requests += r.count;
    t.sumNs += totalTimeNs(r);
    if (!UNWAITED.has(r.operation)) {
      t.waitedRequests += r.count;
      t.waitedNs += totalTimeNs(r);
    }
    by.set(r.mount, t);
  }
  return [...by.values()].sort((a, b) => a.mount < b.mount ? -1 : a.mount > b.mount ? 1 : 0);
}

/**
 * The source that saw requests end to end: `request` where it ran, else `daemon` (the daemon's
 * side alone).
 */
export function endToEndSource(rows: readonly Pick<OpRow, "source">[]): SourceName {
  return rows.some((r) => r.source === "request") ? "request" : "daemon";
}

/** One request slower than the `--slow` threshold. */
export interface SlowRequest {
  mount: string;
  plugin: string;
  operation: string;
  /** Latency, ns. */
  ns: number;
  /** The requesting process (tgid), 0 when unknown. */
  pid: number;
  /** errno of the reply, 0 for success. */
  errno: number;
  /** Wall-clock time of the request's end, `HH:MM:SS.ffffff`, from the kernel. */
  time: string;
  /** The requester's command name, taken at the request (it may have exited since). */
  comm: string;
}

/** Summary statistics of a row's latencies, in ns (NaN when nothing was timed). */
export interface LatencySummary {
  timed: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * The time a row's requests took in all, ns: the exact sum, or for a sampled row (`--sample`) the
 * sum of the timed ones scaled to all the row's answered requests.
 */
export function totalTimeNs(row: OpRow): number {
  const timed = row.timed ?? totalCount(row.buckets);
  if (!row.sample || row.sample <= 1 || !timed) return row.sumNs;
  return row.sumNs * Math.max(row.count - row.inFlight, timed) / timed;
}

/** The `--sample` rates of some rows (1 in N), each once, ascending; empty when none is sampled. */
export function sampledRates(rows: readonly OpRow[]): number[] {
  return [...new Set(rows.flatMap((r) => (r.sample ? [r.sample] : [])))].sort((a, b) => a - b);
}

/**
 * What a report's latencies are of, in one sentence, where `--sample` made them of fewer than
 * every request or `--sample auto` had a choice; undefined for a plain full trace.
 */
export function samplingNote(report: Report): string | undefined {
  const a = report.autoSample;
  if (a && !a.switched) {
    return `every request timed (--sample auto: the rate stayed at or below ${a.above} requests/s)`;
  }
  const rates = sampledRates(report.rows);
  if (!rates.length) return undefined;
  const why = a?.switched
    ? ` since the trace began (--sample auto switched ${
      a.switched.afterS.toFixed(0)
    } s in, at ${a.switched.rate} requests/s, above ${a.above})`
    : " (--sample)";
  return `latency, errors and reply bytes from 1 in ${
    rates.join(" or ")
  } requests${why}; counts are of every request`;
}

/** Number of error replies of a row. */
export function errorCount(row: OpRow): number {
  return Object.values(row.errors).reduce((a, b) => a + b, 0);
}

/**
 * Percentiles and mean of a row.
 * @example p99 of lookups
 * ```ts
 * import { summarize, type Report } from "./report.ts";
 * declare const report: Report;
 * const row = report.rows.find((r) => r.operation === "LOOKUP");
 * if (row) console.log(summarize(row).p99);
 * ```
 */
export function summarize(row: OpRow): LatencySummary {
  const timed = Math.max(row.timed ?? 0, totalCount(row.buckets));
  const q = (p: number) => quantile(row.buckets, p, row.minNs, row.maxNs);
  return {
    timed,
    min: timed ? row.minNs : NaN,
    mean: timed ? row.sumNs / timed : NaN,
    p50: q(0.5),
    p90: q(0.9),
    p99: q(0.99),
    p999: q(0.999),
    max: timed ? row.maxNs : NaN,
  };
}

/**
 * A daemon function split at its reply (`--daemon cvmfs` with the daemon source): the row of the
 * part before the reply (what the request waited for) and of the part after it (the reply's
 * write, and what the function does once the kernel has its answer) are named
 * `FUNCTION to reply` and `FUNCTION after reply`; with the function's own row they add up.
 */
export const REPLY_PARTS = ["to reply", "after reply"] as const;

/**
 * The part of a daemon function's time spent in a function it calls (`--daemon cvmfs`: CVMFS's
 * downloads, `FUNCTION fetching`): count and time of the calls made while it ran.
 */
export const FETCHING = "fetching";

/** The operation name of part `i` (0 before the reply, 1 after) of a daemon function. */
export function replyPart(operation: string, i: 0 | 1): string {
  return `${operation} ${REPLY_PARTS[i]}`;
}

/**
 * A row's operation as the function it is part of, and which part (0 whole, 1 to reply, 2 after
 * it, 3 fetching).
 */
export function functionPartOf(operation: string): { whole: string; part: number } {
  for (const [i, p] of [...REPLY_PARTS, FETCHING].entries()) {
    if (operation.endsWith(` ${p}`)) {
      return { whole: operation.slice(0, -p.length - 1), part: i + 1 };
    }
  }
  return { whole: operation, part: 0 };
}

/** The identity of a row: source, mount, plugin, operation. */
export function rowKey(r: Pick<OpRow, "source" | "mount" | "plugin" | "operation">): string {
  return `${r.source}\u0000${r.mount}\u0000${r.plugin}\u0000${r.operation}`;
}

/** A row with nothing in it. */
export function emptyRow(
  id: Pick<OpRow, "source" | "mount" | "plugin" | "operation">,
): OpRow {
  const { source, mount, plugin, operation } = id; // the identity only, of a row too
  return {
    source,
    mount,
    plugin,
    operation,
    count: 0,
    errors: {},
    bytesIn: 0,
    bytesOut: 0,
    minNs: 0,
    maxNs: 0,
    sumNs: 0,
    buckets: new Map(),
    inFlight: 0,
  };
}

/**
 * The first row matching the given fields.
 * @example
 * ```ts
 * import { findRow, type Report } from "./report.ts";
 * declare const report: Report;
 * findRow(report, { operation: "LOOKUP", mount: "/cvmfs/sft.cern.ch" });
 * ```
 */
export function findRow(report: Report, match: Partial<OpRow>): OpRow | undefined {
  const hits = report.rows.filter((r) =>
    Object.entries(match).every(([k, v]) => r[k as keyof OpRow] === v)
  );
  // Without a source asked for: the request source's row, else the first source in report order.
  const at = (r: OpRow) => SOURCE_NAMES.indexOf(r.source);
  return hits.sort((a, b) => at(a) - at(b))[0];
}

/**
 * `later − earlier`, row by row: what happened between two cumulative snapshots. Min and max of
 * the interval are known to bucket precision only.
 */
export function subtractReports(later: Report, earlier: Report): Report {
  const before = new Map(earlier.rows.map((r) => [rowKey(r), r]));
  const rows: OpRow[] = [];
  for (const { sampledPart: _, ...r } of later.rows) {
    const had = before.get(rowKey(r));
    if (!had) {
      rows.push(r);
      continue;
    }
    // Across the switch of --sample auto: the later row holds the 1 in N only.
    const e = r.sample && !had.sample && had.sampledPart ? { ...had, ...had.sampledPart } : had;
    const errors: Record<number, number> = {};
    for (const [k, v] of Object.entries(r.errors)) {
      const d = v - (e.errors[Number(k)] ?? 0);
      if (d) errors[Number(k)] = d;
    }
    const row: OpRow = {
      ...r,
      count: r.count - e.count,
      errors,
      bytesIn: r.bytesIn - e.bytesIn,
      bytesOut: r.bytesOut - e.bytesOut,
      sumNs: r.sumNs - e.sumNs,
      ...(r.timed !== undefined ? { timed: r.timed - (e.timed ?? totalCount(e.buckets)) } : {}),
      buckets: addBuckets(r.buckets, e.buckets, -1),
    };
    // Extremes of the interval, to bucket precision, within the run's exact ones.
    const used = [...row.buckets.keys()].sort((a, b) => a - b);
    if (used.length) {
      row.minNs = Math.max(r.minNs, bucketRange(used[0]!)[0]);
      row.maxNs = Math.min(r.maxNs, bucketRange(used[used.length - 1]!)[1]);
    }
    if (row.count || row.inFlight) rows.push(row);
  }
  return {
    meta: later.meta,
    rows,
    lostEvents: later.lostEvents - earlier.lostEvents,
    unmatched: later.unmatched - earlier.unmatched,
    ...(later.unpairable ? { unpairable: later.unpairable - (earlier.unpairable ?? 0) } : {}),
    ...(later.daemonMissed
      ? { daemonMissed: later.daemonMissed - (earlier.daemonMissed ?? 0) }
      : {}),
    ...(later.histogramDropped
      ? { histogramDropped: later.histogramDropped - (earlier.histogramDropped ?? 0) }
      : {}),
    ...(later.pairingFull ? { pairingFull: true } : {}),
    ...(later.ioUring ? { ioUring: later.ioUring } : {}),
    ...(later.ended ? { ended: later.ended } : {}),
    ...(later.autoSample ? { autoSample: later.autoSample } : {}),
  };
}

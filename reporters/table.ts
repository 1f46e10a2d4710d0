/**
 * The terminal report: per source and mount, one line per operation with count, errors, p50, p90,
 * p99, max, mean and bytes.
 * @module
 */
import {
  errnoName,
  errorCount,
  functionPartOf,
  type OpRow,
  type Report,
  samplingNote,
  type SlowRequest,
  summarize,
} from "../probes/report.ts";
import { columns, fmtBytes, fmtNs, sanitize } from "../util/format.ts";

const HEAD = ["OPERATION", "COUNT", "ERR", "P50", "P90", "P99", "MAX", "MEAN", "BYTES"];

const TITLE: Record<string, string> = {
  request: "requests",
  queue: "queue wait (send → daemon read)",
  daemon: "daemon service (read → reply)",
  transit: "reply transit (reply → end)",
};

function groupKey(r: OpRow): string {
  return r.mount !== "-"
    ? `${TITLE[r.source] ?? r.source} on ${sanitize(r.mount)}`
    : `${r.source} probes`;
}

/**
 * Rows by count, largest first, then by name; a daemon function's parts before and after its
 * reply right below the function.
 */
function sortRows(rows: readonly OpRow[]): OpRow[] {
  const whole = new Map(rows.map((r) => [`${r.plugin}:${r.operation}`, r.count]));
  const key = (r: OpRow) => {
    const p = functionPartOf(r.operation);
    const name = `${r.plugin}:${p.whole}`;
    return { count: whole.get(name) ?? r.count, name, part: p.part };
  };
  return [...rows].sort((a, b) => {
    const x = key(a), y = key(b);
    return y.count - x.count || x.name.localeCompare(y.name) || x.part - y.part;
  });
}

/**
 * Formats a report as text tables, one per source and mount; rows sorted by count.
 * @example
 * ```ts
 * import { formatTable } from "./table.ts";
 * import type { Report } from "../probes/report.ts";
 * declare const report: Report;
 * console.log(formatTable(report));
 * ```
 */
export function formatTable(report: Report): string {
  const groups = new Map<string, OpRow[]>();
  for (const r of report.rows) {
    const k = groupKey(r);
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const out: string[] = [];
  for (const [title, rows] of groups) {
    out.push(`${title}:`);
    const lines = [HEAD];
    for (
      const r of sortRows(rows)
    ) {
      const s = summarize(r);
      lines.push([
        r.mount !== "-" ? r.operation : `${r.plugin}:${r.operation}`,
        String(r.count),
        String(errorCount(r)),
        fmtNs(s.p50),
        fmtNs(s.p90),
        fmtNs(s.p99),
        fmtNs(s.max),
        fmtNs(s.mean),
        fmtBytes(r.bytesIn + r.bytesOut),
      ]);
    }
    out.push(columns(lines), "");
    const errs = rows.filter((r) => errorCount(r) > 0).map((r) =>
      `${r.operation} ${
        Object.entries(r.errors).map(([e, n]) => `${errnoName(Number(e))}×${n}`).join(" ")
      }`
    );
    if (errs.length) out.push(`errors: ${errs.join("; ")}`, "");
    const flying = rows.filter((r) => r.inFlight > 0).map((r) => `${r.operation} ${r.inFlight}`);
    if (flying.length) out.push(`in flight at stop (counted, not timed): ${flying.join(", ")}`, "");
  }
  if (!report.rows.length) out.push("No FUSE activity seen.", "");
  const sampling = samplingNote(report);
  if (sampling) out.push(`note: ${sampling}`);
  if (report.lostEvents) out.push(`WARNING: bpftrace lost ${report.lostEvents} events`);
  if (report.unpairable) {
    out.push(
      `WARNING: ${report.unpairable} requests were sent with unique 0 (a Linux 6.12–6.17 kernel ` +
        "fires the send tracepoint before assigning it) and could not be timed or counted: " +
        "use a bpftrace ≥ 0.18 with BTF (pairs by request pointer) or --source kernel",
    );
  }
  if (report.pairingFull) {
    out.push(
      "WARNING: the map pairing requests with their replies was full: requests to be timed " +
        "that were sent meanwhile were neither timed nor counted: raise --map-keys",
    );
  }
  if (report.histogramDropped) {
    out.push(
      `WARNING: ${report.histogramDropped} latencies did not fit the histogram maps ` +
        "(counts and sums are exact; percentiles and extremes miss them): raise --map-keys",
    );
  }
  if (report.ended) out.push(`note: the trace ended early: ${report.ended}`);
  for (const d of report.ioUring ?? []) {
    out.push(
      `note: ${d} serves FUSE over io_uring (it holds /dev/fuse and an io_uring instance): the ` +
        "daemon source (read/writev on /dev/fuse) sees none of the requests it serves on rings; " +
        "requests and the fuse_request_sent split (Linux 7.x) do",
    );
  }
  if (report.unmatched) {
    out.push(
      `note: ${report.unmatched} replies to requests sent before tracing began (not counted)`,
    );
  }
  return out.join("\n").trimEnd();
}

/** Counts only, sorted, as `FUNC COUNT` lines (the original fuse_calls_count output). */
export function formatCounts(report: Report, head: "FUNC" | "OPCODE" = "FUNC"): string {
  const rows = [...report.rows].sort((a, b) =>
    b.count - a.count || a.operation.localeCompare(b.operation)
  );
  return columns([[head, "COUNT"], ...rows.map((r) => [r.operation, String(r.count)])]);
}

/** The parts of a split, by the sources that measured them, and their column heads. */
const SPLITS = [
  { sources: ["queue", "daemon", "transit"], heads: ["QUEUE", "SERVICE", "TRANSIT"], p50: "Q/S/T" },
  // fuse:fuse_request_sent marks the daemon's receipt: service and transit are one part.
  { sources: ["queue", "served"], heads: ["QUEUE", "SERVICE+TRANSIT"], p50: "Q/S+T" },
] as const;

/**
 * Where each request's time goes, per mount and operation: total (request source) = queue (send →
 * daemon read or receipt) + service (daemon read → reply) + transit (reply → end), or queue +
 * service-and-transit where the split comes from fuse:fuse_request_sent. Means add up exactly;
 * p50s are shown for each part. Empty when the report has no split.
 */
export function formatSplit(report: Report): string {
  const part = (source: string, mount: string, op: string) =>
    report.rows.find((r) => r.source === source && r.mount === mount && r.operation === op);
  const out: string[] = [];
  const mounts = [...new Set(report.rows.filter((r) => r.source === "queue").map((r) => r.mount))];
  for (const mount of mounts) {
    const shape = SPLITS.find((s) => report.rows.some((r) => r.source === s.sources[1])) ??
      SPLITS[0];
    const lines = [["OPERATION", "SPLIT", "TOTAL", ...shape.heads, `p50 ${shape.p50}`]];
    const totals = report.rows.filter((r) => r.source === "request" && r.mount === mount);
    for (const t of totals.sort((a, b) => b.count - a.count)) {
      const parts = shape.sources.map((src) => part(src, mount, t.operation));
      if (parts.some((p) => !p)) continue;
      const ps = parts as OpRow[];
      const timed = summarize(ps[0]!).timed;
      // The parts are aggregated over the same requests: their means add up to the total.
      const total = ps.reduce((s, p) => s + p.sumNs, 0) / timed;
      const cell = (r: OpRow) => {
        const m = summarize(r).mean;
        return `${fmtNs(m)} ${Math.round((m / total) * 100)}%`;
      };
      lines.push([
        t.operation,
        `${timed}/${t.count}`,
        fmtNs(total),
        ...ps.map(cell),
        ps.map((r) => fmtNs(summarize(r).p50)).join("/"),
      ]);
    }
    out.push(
      `where the time goes on ${sanitize(mount)} (means over the requests seen at every stage):`,
      columns(lines),
      "",
    );
  }
  if (report.daemonMissed) {
    out.push(
      `note: ${report.daemonMissed} daemon reads began before tracing (counted, not timed, ` +
        "their names unseen): where their registers cannot be read (x86-64 with BTF can), " +
        "make each daemon thread answer once after attach, e.g. one `stat -f MOUNT` per thread",
    );
  }
  return out.join("\n").trimEnd();
}

/**
 * Request and kernel-callback rows of each plugin side by side (when a trace ran both sources):
 * the kernel callbacks also count cache hits that never reach the daemon. Empty otherwise.
 */
export function formatSideBySide(report: Report): string {
  const plugins = [...new Set(report.rows.map((r) => r.plugin))];
  const lines = [["PLUGIN", "REQUESTS", "COUNT", "P50", "KERNEL CALLBACKS", "COUNT", "P50"]];
  for (const plugin of plugins) {
    const req = report.rows.filter((r) => r.plugin === plugin && r.source === "request");
    const ker = report.rows.filter((r) => r.plugin === plugin && r.source === "kernel");
    if (!req.length || !ker.length) continue;
    for (let i = 0; i < Math.max(req.length, ker.length); i++) {
      const a = req[i];
      const b = ker[i];
      lines.push([
        i ? "" : plugin,
        a ? `${a.mount === "-" ? "" : `${a.mount} `}${a.operation}` : "",
        a ? String(a.count) : "",
        a ? fmtNs(summarize(a).p50) : "",
        b?.operation ?? "",
        b ? String(b.count) : "",
        b ? fmtNs(summarize(b).p50) : "",
      ]);
    }
  }
  return lines.length > 1 ? `requests and kernel callbacks side by side:\n${columns(lines)}` : "";
}

/**
 * One slow request, its time and requester from the kernel:
 * `12:03:04.567890 SLOW LOOKUP 23.4ms /cvmfs/x pid 1234 (python3) ENOENT`.
 */
export function formatSlow(r: SlowRequest): string {
  return `${r.time} SLOW ${r.operation} ${fmtNs(r.ns)} ${sanitize(r.mount)} pid ${r.pid}${
    r.comm ? ` (${sanitize(r.comm)})` : ""
  }${r.errno ? ` ${errnoName(r.errno)}` : ""}`;
}

/**
 * The CSV schema (version 1): a serialised `Report`, one row per (source, mount, plugin,
 * operation), each carrying the run's metadata. Columns:
 *
 * | column | meaning |
 * |---|---|
 * | schema | `fusetrace-1` |
 * | host, kernel, tool, bpftrace | where and with what the run was made |
 * | start | ISO 8601 start time; duration_s: seconds traced |
 * | source | `request`, `queue`, `daemon`, `transit`, `kernel`, `uprobe`, `probe` (see report.ts) |
 * | mount, plugin, operation | the row's identity (`-` for sources without a mount) |
 * | count | requests/calls; timed: how many of them have a latency; in_flight: unanswered at stop |
 * | errors | error replies; errnos: `ENOENT:3;ENOSYS:1` |
 * | bytes_in, bytes_out | payload bytes to / from the daemon |
 * | min_ns … max_ns | min, mean, p50, p90, p99, p99.9, max latency (mean and percentiles derived) |
 * | sum_ns | exact sum of latencies |
 * | buckets | the histogram, `index:count;…` (log-linear buckets, see probes/hist.ts) |
 * | sample | N when latencies are of 1 in N requests (`--sample`), else empty |
 * @module
 */
import { parse } from "npm:csv-parse@^6.1.0/sync";
import { stringify } from "npm:csv-stringify@^6.6.0/sync";
import { UsageError } from "../util/errors.ts";
import {
  errnoName,
  errnoNumber,
  errorCount,
  type OpRow,
  type Report,
  rowKey,
  SOURCE_NAMES,
  type SourceName,
  summarize,
} from "../probes/report.ts";
import { totalCount } from "../probes/hist.ts";

/** The schema tag in the first column. */
export const SCHEMA = "fusetrace-1";

/** Column names, in order. */
export const COLUMNS = [
  "schema",
  "host",
  "kernel",
  "tool",
  "bpftrace",
  "start",
  "duration_s",
  "source",
  "mount",
  "plugin",
  "operation",
  "count",
  "timed",
  "in_flight",
  "errors",
  "errnos",
  "bytes_in",
  "bytes_out",
  "min_ns",
  "mean_ns",
  "p50_ns",
  "p90_ns",
  "p99_ns",
  "p999_ns",
  "max_ns",
  "sum_ns",
  "buckets",
  "sample",
] as const;

/** The columns of files written before `sample` was added (read as unsampled). */
const COLUMNS_BEFORE_SAMPLE = COLUMNS.slice(0, -1);

function num(x: number): string {
  return Number.isFinite(x) ? String(Math.round(x)) : "";
}

/**
 * Serialises a report. A report without rows gives a header and one row of metadata only
 * (operation empty), so the run is still identifiable.
 */
export function writeCsv(report: Report): string {
  const m = report.meta;
  const head = [SCHEMA, m.host, m.kernel, m.tool, m.bpftrace, m.start, String(m.durationS)];
  const rows = report.rows.map((r) => {
    const s = summarize(r);
    return [
      ...head,
      r.source,
      r.mount,
      r.plugin,
      r.operation,
      String(r.count),
      String(s.timed),
      String(r.inFlight),
      String(errorCount(r)),
      Object.entries(r.errors).map(([e, n]) => `${errnoName(Number(e))}:${n}`).join(";"),
      String(r.bytesIn),
      String(r.bytesOut),
      num(s.min),
      num(s.mean),
      num(s.p50),
      num(s.p90),
      num(s.p99),
      num(s.p999),
      num(s.max),
      String(r.sumNs),
      [...r.buckets].sort((a, b) => a[0] - b[0]).map(([b, c]) => `${b}:${c}`).join(";"),
      r.sample ? String(r.sample) : "",
    ];
  });
  if (!rows.length) rows.push([...head, ...COLUMNS.slice(head.length).map(() => "")]);
  return stringify([[...COLUMNS], ...rows]);
}

/** A CSV record with the line it ends on. */
export interface CsvRecord {
  record: string[];
  info: { lines: number };
}

/**
 * Parses CSV text into records with line numbers (ragged rows allowed: callers check widths).
 * @throws {UsageError} `file:line: reason` on malformed CSV
 */
export function parseRecords(text: string, file: string): CsvRecord[] {
  try {
    return parse(text, {
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
    }) as unknown as CsvRecord[];
  } catch (e) {
    const line = (e as { lines?: number }).lines;
    throw new UsageError(`${file}:${line ?? 1}: ${(e as Error).message.split(":")[0]}`);
  }
}

/** Is this text a fusetrace CSV (by its header)? */
export function isFusetraceCsv(text: string): boolean {
  return text.startsWith(COLUMNS_BEFORE_SAMPLE.join(","));
}

/**
 * Parses a fusetrace CSV back into a report (exactly what {@link writeCsv} wrote).
 * @param file name used in error messages
 * @throws {UsageError} `file:line: reason` on any malformed content
 */
export function readCsv(text: string, file: string): Report {
  if (!text.trim()) throw new UsageError(`${file}: empty file`);
  const records = parseRecords(text, file);
  const header = records[0]!.record;
  const width = header.join(",") === COLUMNS.join(",")
    ? COLUMNS.length
    : header.join(",") === COLUMNS_BEFORE_SAMPLE.join(",")
    ? COLUMNS_BEFORE_SAMPLE.length
    : 0;
  if (!width) {
    throw new UsageError(`${file}:1: not a fusetrace CSV header (expected "${COLUMNS[0]},…")`);
  }
  const rows: OpRow[] = [];
  const seen = new Map<string, number>();
  let meta: Report["meta"] | undefined;
  for (const { record, info } of records.slice(1)) {
    const at = `${file}:${info.lines}`;
    if (record.length !== width) {
      throw new UsageError(`${at}: expected ${width} columns, found ${record.length}`);
    }
    const f = Object.fromEntries(COLUMNS.map((c, i) => [c, record[i] ?? ""])) as Record<
      typeof COLUMNS[number],
      string
    >;
    if (f.schema !== SCHEMA) {
      throw new UsageError(`${at}: schema "${f.schema}" is not supported (expected "${SCHEMA}")`);
    }
    // Counts, bytes and nanoseconds are whole numbers ≥ 0; seconds may have a fraction.
    const int = (c: typeof COLUMNS[number], empty = false) => {
      const v = f[c];
      if (empty && v === "") return 0;
      const ok = c === "duration_s" ? /^\d+(\.\d+)?$/.test(v) : /^\d+$/.test(v);
      if (!ok || !Number.isSafeInteger(Math.floor(Number(v)))) {
        throw new UsageError(`${at}: ${c} "${v}" is not a whole number ≥ 0`);
      }
      return Number(v);
    };
    meta ??= {
      host: f.host,
      kernel: f.kernel,
      tool: f.tool,
      bpftrace: f.bpftrace,
      start: f.start,
      durationS: int("duration_s"),
    };
    if (f.operation === "" && f.source === "") continue; // a run without rows
    if (!SOURCE_NAMES.includes(f.source as SourceName)) {
      throw new UsageError(`${at}: unknown source "${f.source}"`);
    }
    const errors: Record<number, number> = {};
    for (const part of f.errnos ? f.errnos.split(";") : []) {
      const [name, n] = part.split(":");
      const e = errnoNumber(name ?? "");
      if (e === undefined || !/^\d+$/.test(n ?? "")) {
        throw new UsageError(`${at}: bad errnos entry "${part}"`);
      }
      errors[e] = Number(n);
    }
    const buckets = new Map<number, number>();
    for (const part of f.buckets ? f.buckets.split(";") : []) {
      const m = /^(\d{1,4}):(\d{1,15})$/.exec(part);
      if (!m) throw new UsageError(`${at}: bad bucket "${part}"`);
      buckets.set(Number(m[1]), Number(m[2]));
    }
    const row: OpRow = {
      source: f.source as SourceName,
      mount: f.mount,
      plugin: f.plugin,
      operation: f.operation,
      count: int("count"),
      errors,
      bytesIn: int("bytes_in"),
      bytesOut: int("bytes_out"),
      minNs: int("min_ns", true),
      maxNs: int("max_ns", true),
      sumNs: int("sum_ns"),
      buckets,
      inFlight: int("in_flight"),
    };
    // The histogram holds every timed request, or fewer when its map ran out of keys.
    if (totalCount(buckets) > int("timed")) {
      throw new UsageError(`${at}: timed ${f.timed} is below the buckets' total`);
    }
    if (int("timed") > totalCount(buckets)) row.timed = int("timed");
    if (f.sample !== "") {
      const n = int("sample");
      if (n < 2 || (n & (n - 1)) !== 0) {
        throw new UsageError(`${at}: sample "${f.sample}" is not a power of two ≥ 2`);
      }
      row.sample = n;
    }
    const first = seen.get(rowKey(row));
    if (first !== undefined) {
      throw new UsageError(`${at}: the same source, mount, plugin and operation as line ${first}`);
    }
    seen.set(rowKey(row), info.lines);
    rows.push(row);
  }
  if (!meta) throw new UsageError(`${file}: no data rows`);
  return { meta, rows, lostEvents: 0, unmatched: 0 };
}

/** `fusetrace_YYYYmmdd-HHMMSS.csv` for a date (local time). */
export function defaultCsvName(d: Date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `fusetrace_${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${
    p(d.getMinutes())
  }${p(d.getSeconds())}.csv`;
}

/** The directory a path names a file in. */
function dirOf(path: string): string {
  return path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
}

/** Is the path standard output or a device (written in place, never replaced)? */
function isStream(path: string): boolean {
  return /^\/(dev\/(stdout|stderr|null|fd\/\d+)|proc\/self\/fd\/\d+)$/.test(path);
}

/**
 * Checks, before a long run, that `path` can be written: a regular file (new, or replaced — said
 * on stderr) in an existing, writable directory, or standard output / /dev/null. A FIFO (which
 * would block until a reader comes) and a directory are refused.
 * @throws {UsageError} naming the option and the reason
 */
export function checkOutputPath(path: string, what: string): void {
  if (!path) throw new UsageError(`Invalid ${what} "": give a file name`);
  if (isStream(path)) return;
  let st: Deno.FileInfo | undefined;
  try {
    st = Deno.lstatSync(path);
  } catch { /* new */ }
  if (st && !st.isFile && !st.isSymlink) {
    throw new UsageError(`Cannot write ${what} "${path}": not a regular file`);
  }
  const dir = dirOf(path);
  try {
    if (!Deno.statSync(dir).isDirectory) throw new Error("not a directory");
    // Writable: create and remove a file there, exclusively (never through a planted link).
    Deno.removeSync(Deno.makeTempFileSync({ dir, prefix: ".fusetrace-check-" }));
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "no such directory"
      : (e as Error).message.split(":")[0];
    throw new UsageError(`Cannot write ${what} "${path}": ${dir}: ${why}`);
  }
  if (st) console.error(`fusetrace: ${path} exists and will be replaced`);
}

/**
 * Writes a file whole or not at all: a new temporary file in the same directory (created
 * exclusively, with a random name: a link planted there is never followed), then renamed over the
 * target. Standard output and /dev/null are written in place.
 * @throws {UsageError} when the file cannot be written
 */
export function writeFileAtomic(path: string, text: string): void {
  if (isStream(path)) {
    try {
      return Deno.writeTextFileSync(path, text);
    } catch (e) {
      throw new UsageError(`Cannot write "${path}": ${(e as Error).message.split(":")[0]}`);
    }
  }
  const dir = dirOf(path);
  let tmp = "";
  try {
    tmp = Deno.makeTempFileSync({ dir, prefix: ".fusetrace-", suffix: ".tmp" });
    Deno.writeTextFileSync(tmp, text);
    Deno.chmodSync(tmp, 0o644);
    Deno.renameSync(tmp, path);
  } catch (e) {
    try {
      if (tmp) Deno.removeSync(tmp);
    } catch { /* never created */ }
    throw new UsageError(`Cannot write "${path}": ${(e as Error).message.split(":")[0]}`);
  }
}

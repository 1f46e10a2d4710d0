/**
 * The original tool's files (cvmfs_fuse_perf's fuse_calls_count_csv.py): header `ADDR,FUNC,COUNT`,
 * decimal addresses, no extension. Read as a `Report` of kernel-function counts, so `diff` can
 * compare them with each other or, by function name, with fusetrace's own CSV.
 * @module
 */
import { UsageError } from "../util/errors.ts";
import { emptyRow, type Report } from "../probes/report.ts";
import { isFusetraceCsv, parseRecords, readCsv } from "./csv.ts";
import { isJsonReport, readJson } from "./json.ts";

/** Largest file read as a run (a run of every opcode on 1 000 mounts is a few MB). */
export const MAX_RUN_BYTES = 256 * 1024 * 1024;

/** The tool name a legacy file's report carries in its metadata. */
export const LEGACY_TOOL = "fuse_calls_count";

/**
 * Parses an `ADDR,FUNC,COUNT` file.
 * @throws {UsageError} `file:line: reason`
 */
export function readLegacy(text: string, file: string): Report {
  const records = parseRecords(text, file);
  const rows = new Map<string, ReturnType<typeof emptyRow>>();
  const addrs = new Set<string>();
  for (const { record, info } of records.slice(1)) {
    const at = `${file}:${info.lines}`;
    if (record.length !== 3) {
      throw new UsageError(`${at}: expected 3 columns, found ${record.length}`);
    }
    const [addr, func, count] = record as [string, string, string];
    if (!/^\d+$/.test(addr)) throw new UsageError(`${at}: ADDR "${addr}" is not a decimal address`);
    if (!/^\d{1,15}$/.test(count)) {
      throw new UsageError(`${at}: COUNT "${count}" is not a whole number ≥ 0`);
    }
    if (!func) throw new UsageError(`${at}: empty FUNC`);
    if (addrs.has(addr)) throw new UsageError(`${at}: ADDR ${addr} is listed twice`);
    addrs.add(addr);
    // One name at several addresses (static functions of the same name) is one row by name.
    const row = rows.get(func) ??
      emptyRow({ source: "kernel", mount: "-", plugin: "-", operation: func });
    row.count += Number(count);
    rows.set(func, row);
  }
  return {
    meta: { host: "", kernel: "", tool: LEGACY_TOOL, bpftrace: "", start: "", durationS: 0 },
    rows: [...rows.values()],
    lostEvents: 0,
    unmatched: 0,
  };
}

/**
 * The text of an input file: a regular file (a FIFO or a device would block or never end) of at
 * most {@link MAX_RUN_BYTES}.
 * @throws {UsageError} naming the file when it cannot be read
 */
export function readInputFile(file: string): string {
  try {
    const st = Deno.statSync(file);
    if (!st.isFile) throw new UsageError(`${file}: not a regular file`);
    if (st.size > MAX_RUN_BYTES) {
      throw new UsageError(`${file}: ${st.size} bytes, larger than any run (${MAX_RUN_BYTES})`);
    }
    return Deno.readTextFileSync(file);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
    throw new UsageError(`${file}: cannot read: ${why.split(",")[0]}`);
  }
}

/**
 * Reads a run from a file: a fusetrace CSV or JSON report, or an original `ADDR,FUNC,COUNT` file.
 * @throws {UsageError} naming the file (and line) on anything unreadable or malformed
 */
export function loadRun(file: string): Report {
  const text = readInputFile(file);
  if (!text.trim()) throw new UsageError(`${file}: empty file`);
  if (isFusetraceCsv(text)) return readCsv(text, file);
  if (isJsonReport(text)) return readJson(text, file);
  if (/^ADDR,FUNC,COUNT\r?\n/.test(text)) return readLegacy(text, file);
  const head = text.split("\n")[0]!.slice(0, 40);
  throw new UsageError(
    `${file}:1: unknown header "${head}" (expected a fusetrace CSV or JSON report, or ADDR,FUNC,COUNT)`,
  );
}

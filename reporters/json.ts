/**
 * The JSON report (schema `fusetrace-report`, version 1): the whole `Report` — metadata, rows with
 * their histograms, the plugins' sections, per-mount totals, the traced command — as one JSON
 * object. `diff` reads it as it reads the CSV.
 *
 * ```text
 * { "format": "fusetrace-report", "version": 1,
 *   "meta": { host, kernel, tool, bpftrace, start, durationS, inputs? (merged runs) },
 *   "rows": [ { source, mount, plugin, operation, count, timed?, sample?, inFlight, errors: {errno: n},
 *               bytesIn, bytesOut, minNs, maxNs, sumNs,
 *               buckets: [[index, count], …],              // log-linear, see probes/hist.ts
 *               summary: { timed, min, mean, p50, p90, p99, p999, max } } ],   // derived, ns
 *   "totals": [ { mount, source, requests, sumNs, waitedRequests, waitedNs } ],
 *   "sections": { plugin: what its parser returned, … },
 *   "command"?: { argv, wallMs, status },
 *   "lostEvents", "unmatched", and when they occurred: "unpairable", "daemonMissed",
 *   "histogramDropped", "pairingFull", "ioUring", "ended", "autoSample" (--sample auto: what it
 *   chose, see probes/report.ts) }
 * ```
 * A reader must refuse a `version` it does not know; fields may be added within a version.
 * @module
 */
import { UsageError } from "../util/errors.ts";
import {
  mountTotals,
  type OpRow,
  type Report,
  rowKey,
  SOURCE_NAMES,
  type SourceName,
  summarize,
} from "../probes/report.ts";

/** The format tag and the version of the JSON report. */
export const JSON_FORMAT = "fusetrace-report";
export const JSON_VERSION = 1;

/** A report as JSON text (two-space indented, NaN as null). */
export function writeJson(report: Report): string {
  const rows = report.rows.map((r) => {
    const { buckets, sampledPart: _, ...rest } = r;
    const s = summarize(r);
    return {
      ...rest,
      buckets: [...buckets].sort(([a], [b]) => a - b),
      summary: Object.fromEntries(
        Object.entries(s).map(([k, v]) => [k, Number.isFinite(v) ? v : null]),
      ),
    };
  });
  const { meta, rows: _rows, ...rest } = report;
  return JSON.stringify(
    {
      format: JSON_FORMAT,
      version: JSON_VERSION,
      meta,
      rows,
      totals: mountTotals(report),
      ...rest,
    },
    null,
    2,
  ) + "\n";
}

/** Whether a text is a JSON report (by its first bytes). */
export function isJsonReport(text: string): boolean {
  return /^\s*\{/.test(text);
}

/**
 * Reads a JSON report back.
 * @throws {UsageError} naming the file on invalid JSON, another format or version, bad rows
 */
export function readJson(text: string, file: string): Report {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file}: not valid JSON (${(e as Error).message.split("\n")[0]})`);
  }
  const bad = (why: string): never => {
    throw new UsageError(`${file}: ${why}`);
  };
  if (typeof o !== "object" || o === null) bad("not a JSON object");
  if (o.format !== JSON_FORMAT) bad(`not a fusetrace JSON report (format "${o.format}")`);
  if (o.version !== JSON_VERSION) {
    bad(`JSON report version ${o.version}; this fusetrace reads version ${JSON_VERSION}`);
  }
  const meta = o.meta as Report["meta"];
  if (typeof meta !== "object" || meta === null) bad("no meta");
  if (!Array.isArray(o.rows)) bad("no rows");
  const count = (v: unknown, what: string, i: number): number =>
    typeof v === "number" && Number.isSafeInteger(v) && v >= 0
      ? v
      : bad(`row ${i + 1}: ${what} is not a non-negative integer`);
  const seen = new Set<string>();
  const rows: OpRow[] = (o.rows as Record<string, unknown>[]).map((r, i) => {
    if (typeof r !== "object" || r === null) bad(`row ${i + 1}: not an object`);
    if (!SOURCE_NAMES.includes(r.source as SourceName)) bad(`row ${i + 1}: source "${r.source}"`);
    for (const f of ["mount", "plugin", "operation"]) {
      if (typeof r[f] !== "string") bad(`row ${i + 1}: ${f} is not a string`);
    }
    if (!Array.isArray(r.buckets)) bad(`row ${i + 1}: buckets is not a list`);
    const buckets = new Map<number, number>();
    for (const b of r.buckets as unknown[]) {
      if (!Array.isArray(b) || b.length !== 2) bad(`row ${i + 1}: a bucket is not [index, count]`);
      const [k, n] = b as unknown[];
      buckets.set(count(k, "a bucket index", i), count(n, "a bucket count", i));
    }
    const errors: Record<number, number> = {};
    for (const [k, v] of Object.entries((r.errors ?? {}) as Record<string, unknown>)) {
      errors[count(Number(k), "an errno", i)] = count(v, "an error count", i);
    }
    const row: OpRow = {
      source: r.source as SourceName,
      mount: r.mount as string,
      plugin: r.plugin as string,
      operation: r.operation as string,
      count: count(r.count, "count", i),
      errors,
      bytesIn: count(r.bytesIn ?? 0, "bytesIn", i),
      bytesOut: count(r.bytesOut ?? 0, "bytesOut", i),
      minNs: count(r.minNs ?? 0, "minNs", i),
      maxNs: count(r.maxNs ?? 0, "maxNs", i),
      sumNs: count(r.sumNs ?? 0, "sumNs", i),
      buckets,
      inFlight: count(r.inFlight ?? 0, "inFlight", i),
      ...(r.timed !== undefined ? { timed: count(r.timed, "timed", i) } : {}),
      ...(r.sample !== undefined ? { sample: count(r.sample, "sample", i) } : {}),
    };
    const k = rowKey(row);
    if (seen.has(k)) bad(`row ${i + 1}: a second row for ${row.source} ${row.operation}`);
    seen.add(k);
    return row;
  });
  const { format: _f, version: _v, totals: _t, rows: _r, ...rest } = o;
  return { ...(rest as unknown as Report), meta, rows };
}

/**
 * Renders a diff as a coloured table, CSV or JSON.
 * @module
 */
import pc from "npm:picocolors@^1.1.1";
import { stringify } from "npm:csv-stringify@^6.6.0/sync";
import { type DiffClass, type DiffRow, type PercentileDiff, PERCENTILES } from "./diff.ts";
import { columns, fmtNs } from "../util/format.ts";

function fmtPct(p: number): string {
  if (!Number.isFinite(p)) return Number.isNaN(p) ? "-" : "new";
  return `${p > 0 ? "+" : ""}${p.toFixed(1)}%`;
}

function fmtCount(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

function signedNs(ns: number): string {
  return ns === 0 ? "0" : `${ns > 0 ? "+" : "-"}${fmtNs(Math.abs(ns))}`;
}

/** `a→b` with `~` on values too thinly sampled to judge. */
function percentile(l: PercentileDiff): string {
  if (Number.isNaN(l.a) && Number.isNaN(l.b)) return "-";
  const mark = l.judged ? "" : "~";
  return `${mark}${fmtNs(l.a)}→${mark}${fmtNs(l.b)}`;
}

function percentileChange(l: PercentileDiff): string {
  if (Number.isNaN(l.a) || Number.isNaN(l.b)) return "-";
  const p = fmtPct(((l.b - l.a) / l.a) * 100);
  return l.judged ? p : l.isMax ? "(max)" : `(${p})`;
}

/** A row's name: `mount OPERATION`; other sources: `mount plugin:operation [source]`. */
export function rowLabel(r: DiffRow): string {
  const op = r.source === "request" || r.operation === "TOTAL"
    ? r.operation
    : `${r.plugin}:${r.operation}`.replace(/^-:/, "");
  const src = r.source === "request" || r.source === "kernel" && r.mount === "-"
    ? ""
    : ` [${r.source}]`;
  return `${r.mount === "-" ? "" : `${r.mount} `}${op}${src}`;
}

/** The diff table's header and cells, row by row (shared by the terminal and HTML tables). */
export function diffCells(rows: DiffRow[]): { head: string[]; cells: string[][] } {
  const head = ["OPERATION", "COUNT A→B", "Δ", "TIME A→B", "ΔTIME"];
  for (const [p] of PERCENTILES) head.push(`${p.toUpperCase()} A→B`, "Δ%");
  head.push("VERDICT");
  const cells = rows.map((r) => {
    const timed = r.sumA > 0 || r.sumB > 0;
    return [
      rowLabel(r),
      `${fmtCount(r.countA)}→${fmtCount(r.countB)}`,
      `${r.delta > 0 ? "+" : ""}${fmtCount(r.delta)} (${fmtPct(r.deltaPct)})`,
      timed ? `${fmtNs(r.sumA)}→${fmtNs(r.sumB)}` : "-",
      timed ? signedNs(r.addedNs) : "-",
      ...PERCENTILES.flatMap(([p]) => [percentile(r.latency[p]), percentileChange(r.latency[p])]),
      timed ? verdictText(r) : r.class,
    ];
  });
  return { head, cells };
}

/** A table; `color` paints each row by its class. */
export function formatDiffTable(rows: DiffRow[], legendLine: string, color: boolean): string {
  const c = pc.createColors(color);
  const paint: Record<DiffClass, (s: string) => string> = {
    green: c.green,
    blue: c.blue,
    yellow: c.yellow,
  };
  const { head, cells } = diffCells(rows);
  const text = columns([head, ...cells]).split("\n");
  const body = text.slice(1).map((l, i) => paint[rows[i]!.class](l));
  return [text[0], ...body, "", `legend: ${legendLine}`].join("\n");
}

function verdictText(r: DiffRow): string {
  if (r.verdict === "same") return "same";
  // Only what moved the verdict's way: a regression names what rose, never a p90 that fell.
  const up = r.verdict === "regression";
  const which = PERCENTILES.filter(([p]) => r.latency[p].change === (up ? "up" : "down"))
    .map(([p]) => p);
  const count = r.countClass === "yellow" && r.operation !== "TOTAL" && (r.delta > 0) === up
    ? ["count"]
    : [];
  const why = [...which, ...count].join(",");
  return why ? `${r.verdict} (${why})` : r.verdict;
}

/** Flat records of the rows (one column per percentile side), for CSV and JSON. */
function flat(rows: DiffRow[]): Record<string, string | number | boolean>[] {
  return rows.map(({ latency, ...r }) => {
    const out: Record<string, string | number | boolean> = { ...r };
    for (const [p] of PERCENTILES) {
      const l = latency[p];
      Object.assign(out, {
        [`${p}A`]: l.a,
        [`${p}B`]: l.b,
        [`${p}Judged`]: l.judged,
        [`${p}Change`]: l.change,
      });
    }
    return out;
  });
}

/** CSV of the diff rows. */
export function formatDiffCsv(rows: DiffRow[]): string {
  const recs = flat(rows);
  const keys = Object.keys(recs[0] ?? {});
  return stringify([keys, ...recs.map((r) => keys.map((k) => String(r[k])))]);
}

/** JSON of the diff rows (NaN and Infinity as null). */
export function formatDiffJson(rows: DiffRow[]): string {
  return JSON.stringify(
    flat(rows),
    (_, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v),
    2,
  );
}

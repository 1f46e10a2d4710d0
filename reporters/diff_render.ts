/**
 * Renders diff rows as a coloured table, CSV or JSON.
 * @module
 */
import pc from "picocolors";
import { stringify } from "csv-stringify/sync";
import type { DiffClass, DiffRow } from "./diff.ts";
import { columns, fmtNs } from "./format.ts";

function fmtPct(p: number): string {
  if (!Number.isFinite(p)) return Number.isNaN(p) ? "-" : "new";
  return `${p > 0 ? "+" : ""}${p.toFixed(1)}%`;
}

function latency(a: number, b: number): string {
  return Number.isNaN(a) && Number.isNaN(b) ? "-" : `${fmtNs(a)}→${fmtNs(b)}`;
}

function latPct(a: number, b: number): string {
  return Number.isNaN(a) || Number.isNaN(b) ? "-" : fmtPct(((b - a) / a) * 100);
}

/** A table; `color` paints each row by its class. */
export function formatDiffTable(rows: DiffRow[], legendLine: string, color: boolean): string {
  const c = pc.createColors(color);
  const paint: Record<DiffClass, (s: string) => string> = {
    green: c.green,
    blue: c.blue,
    yellow: c.yellow,
  };
  const head = ["OPERATION", "COUNT A", "COUNT B", "Δ", "Δ%", "P50 A→B", "Δ%", "P99 A→B", "Δ%"];
  const lines = rows.map((r) => [
    `${r.mount === "-" ? "" : `${r.mount} `}${
      r.source === "request" ? r.operation : `${r.plugin}:${r.operation}`
    }`
      .replace(/^-:/, ""),
    String(r.countA),
    String(r.countB),
    `${r.delta > 0 ? "+" : ""}${r.delta}`,
    fmtPct(r.deltaPct),
    latency(r.p50A, r.p50B),
    latPct(r.p50A, r.p50B),
    latency(r.p99A, r.p99B),
    latPct(r.p99A, r.p99B),
  ]);
  const text = columns([head, ...lines]).split("\n");
  const body = text.slice(1).map((l, i) => paint[rows[i]!.class](`${l}  ${rows[i]!.class}`));
  return [text[0], ...body, "", `legend: ${legendLine}`].join("\n");
}

/** CSV of the diff rows. */
export function formatDiffCsv(rows: DiffRow[]): string {
  const keys = Object.keys(rows[0] ?? {}) as (keyof DiffRow)[];
  return stringify([keys, ...rows.map((r) => keys.map((k) => String(r[k])))]);
}

/** JSON of the diff rows (NaN and Infinity as null). */
export function formatDiffJson(rows: DiffRow[]): string {
  return JSON.stringify(
    rows,
    (_, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v),
    2,
  );
}

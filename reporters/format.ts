/**
 * Number formatting shared by the reporters.
 * @module
 */

/** A latency in ns as `850ns`, `12.3us`, `4.56ms`, `1.20s`; `-` for NaN. */
export function fmtNs(ns: number): string {
  if (!Number.isFinite(ns)) return "-";
  if (ns < 1e3) return `${Math.round(ns)}ns`;
  if (ns < 1e6) return `${(ns / 1e3).toPrecision(3)}us`;
  if (ns < 1e9) return `${(ns / 1e6).toPrecision(3)}ms`;
  return `${(ns / 1e9).toFixed(2)}s`;
}

/** Bytes as `512B`, `1.5K`, `3.2M`, `1.1G`. */
export function fmtBytes(n: number): string {
  if (n < 1024) return `${n}B`;
  const units = ["K", "M", "G", "T"];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toPrecision(v < 10 ? 2 : 3)}${units[u]}`;
}

/** Pads a table: first column left-aligned, the others right-aligned. */
export function columns(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => widths[i] = Math.max(widths[i] ?? 0, c.length));
  return rows.map((r) =>
    r.map((c, i) => i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)).join("  ").trimEnd()
  ).join("\n");
}

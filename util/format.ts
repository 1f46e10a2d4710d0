/**
 * Formatting shared by the reporters, the plugins' renderers and doctor.
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

/**
 * A string from the system (mount path, command name, file name) made safe for a terminal: control
 * characters (newline, escape, DEL, C1) become visible escapes (`\n`, `\x1b`); backslashes double.
 */
export function sanitize(s: string): string {
  // deno-lint-ignore no-control-regex
  return s.replace(/[\\\x00-\x1f\x7f-\x9f]/g, (ch) => {
    if (ch === "\\") return "\\\\";
    if (ch === "\n") return "\\n";
    if (ch === "\t") return "\\t";
    return `\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
}

/** Pads a table (every cell {@link sanitize}d): first column left-aligned, the others right. */
export function columns(cells: string[][]): string {
  const rows = cells.map((r) => r.map(sanitize));
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => widths[i] = Math.max(widths[i] ?? 0, c.length));
  return rows.map((r) =>
    r.map((c, i) => i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)).join("  ").trimEnd()
  ).join("\n");
}

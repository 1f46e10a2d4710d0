/**
 * The terminal rendering of what a report holds besides its rows: each plugin's section (drawn by
 * the plugin's own renderer) and the total FUSE time per mount, beside the traced command's wall
 * time.
 * @module
 */
import type { ProbePlugin, SectionTable } from "../probes/plugin.ts";
import { mountTotals, type Report } from "../probes/report.ts";
import { columns, fmtNs, sanitize } from "../util/format.ts";

/**
 * One line per mount: the FUSE time processes waited for (summed; concurrent requests overlap),
 * the time of every traced request beside it where some were sent in the background, and with a
 * traced command, its wall time: "FUSE requests traced on /m: processes waited 58.6ms (1200
 * requests); 61.2ms with 34 in the background (RELEASE, RELEASEDIR, FORGET) — of a 412ms run of
 * python3".
 */
export function formatTotals(report: Report): string {
  const cmd = report.command;
  return mountTotals(report).map((t) => {
    const what = t.source === "request"
      ? "FUSE requests traced"
      : "FUSE requests traced (daemon's side)";
    const line = cmd?.argv.join(" ") ?? "";
    const of = cmd
      ? ` — of a ${fmtNs(cmd.wallMs * 1e6)} run of ${
        sanitize(line.length > 60 ? `${line.slice(0, 59)}…` : line)
      }`
      : "";
    const background = t.requests - t.waitedRequests;
    const all = background
      ? `; ${fmtNs(t.sumNs)} with ${background} in the background (RELEASE, RELEASEDIR, FORGET)`
      : "";
    return `${what} on ${sanitize(t.mount)}: processes waited ${fmtNs(t.waitedNs)} ` +
      `(${t.waitedRequests} requests)${all}${of}`;
  }).join("\n");
}

/** Tables as text: title, aligned columns, note. */
export function formatTables(tables: readonly SectionTable[]): string {
  return tables.map((t) =>
    [t.title, ...(t.rows.length ? [columns([t.head, ...t.rows])] : []), ...(t.note ? [t.note] : [])]
      .join("\n")
  ).join("\n\n");
}

/** A plugin's section as text: its renderer, else its tables; "" when it draws nothing. */
export function renderSection(p: ProbePlugin, section: unknown, top: number): string {
  if (p.render) return p.render(section, { top });
  return p.tables ? formatTables(p.tables(section, { top })) : "";
}

/** Each section a selected plugin renders, in plugin order, separated by blank lines. */
export function formatSections(
  report: Report,
  plugins: readonly ProbePlugin[],
  top = 20,
): string {
  const out: string[] = [];
  for (const p of plugins) {
    const s = report.sections?.[p.name];
    const text = s === undefined ? "" : renderSection(p, s, top);
    if (text) out.push(text);
  }
  return out.join("\n\n");
}

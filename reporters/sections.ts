/**
 * The terminal rendering of what a report holds besides its rows: each plugin's section (drawn by
 * the plugin's own renderer) and the total FUSE time per mount, beside the traced command's wall
 * time.
 * @module
 */
import type { ProbePlugin } from "../probes/plugin.ts";
import { mountTotals, type Report } from "../probes/report.ts";
import { fmtNs, sanitize } from "../util/format.ts";

/**
 * One line per mount: the FUSE time its requests took (summed; concurrent requests overlap), and
 * with a traced command, its wall time: "FUSE requests on /m took 58.6ms (1234 requests) of a
 * 412ms run of python3".
 */
export function formatTotals(report: Report): string {
  const cmd = report.command;
  return mountTotals(report).map((t) => {
    const what = t.source === "request" ? "FUSE requests" : "FUSE requests (daemon's side)";
    const line = cmd?.argv.join(" ") ?? "";
    const of = cmd
      ? ` of a ${fmtNs(cmd.wallMs * 1e6)} run of ${
        sanitize(line.length > 60 ? `${line.slice(0, 59)}…` : line)
      }`
      : "";
    return `${what} on ${sanitize(t.mount)} took ${fmtNs(t.sumNs)} (${t.requests} requests)${of}`;
  }).join("\n");
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
    if (s === undefined || !p.render) continue;
    out.push(p.render(s, { top }));
  }
  return out.join("\n\n");
}

/**
 * `report --html` / `trace --html`: one self-contained page that opens offline. Per mount: the
 * figures as tables (readable without JavaScript), requests and time per operation, each
 * operation's latency distribution (log-scaled time axis, p50/p90/p99 marked; two runs
 * overlaid), the queue/service/transit split, the plugins' sections; with two runs the diff,
 * coloured as `diff` colours it; with `cvmfs_talk latency` output, CVMFS's own quantiles beside
 * the kernel's. The charts are Chart.js, inlined from its npm package: the page loads nothing.
 * @module
 */
import { createRequire } from "node:module";
import type { ProbePlugin } from "../probes/plugin.ts";
import { bucketRange, type Buckets, totalCount } from "../probes/hist.ts";
import {
  endToEndSource,
  errorCount,
  type OpRow,
  type Report,
  samplingNote,
  summarize,
  totalTimeNs,
} from "../probes/report.ts";
import { fmtNs } from "../util/format.ts";
import { VERSION } from "../util/version.ts";
import { cvmfsCells, type CvmfsComparison, cvmfsNotes } from "./cvmfs.ts";
import { compareRuns, DEFAULT_THRESHOLDS, legend } from "./diff.ts";
import { diffCells } from "./diff_render.ts";

const totalTimeOf = (r: OpRow | undefined) => (r ? totalTimeNs(r) : 0);

/** One run on the page, with its label (the file it came from). */
export interface HtmlRun {
  label: string;
  report: Report;
}

/** What else goes on the page. */
export interface HtmlOptions {
  /** Plugins that draw the runs' sections (by name; others' sections are left out). */
  plugins?: readonly ProbePlugin[];
  /** Entries per section table (default 20). */
  top?: number;
  /** CVMFS's quantiles beside the kernel's, per run (`cvmfs_talk latency`). */
  cvmfs?: readonly CvmfsComparison[];
  /** Operations drawn per mount, by total time (default 8). */
  charts?: number;
}

/** Display bins of the distributions: 4 per power of two. */
const BINS_PER_OCTAVE = 4;
/** Series colours: run A, run B, … (Okabe–Ito, readable by the colour-blind). */
const COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"];
const SPLIT_COLORS = { queue: "#999999", service: "#0072B2", transit: "#E69F00" };

const ESC: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };
function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ESC[c]!);
}

function table(head: string[], rows: string[][], classes?: string[]): string {
  return `<div class="wide"><table><thead><tr>${
    head.map((h) => `<th>${esc(h)}</th>`).join("")
  }</tr></thead><tbody>${
    rows.map((r, i) =>
      `<tr${classes?.[i] ? ` class="${classes[i]}"` : ""}>${
        r.map((c, j) => `<td${j ? ' class="n"' : ""}>${esc(c)}</td>`).join("")
      }</tr>`
    ).join("")
  }</tbody></table></div>`;
}

/** The display bin of a value: power of two and quarter. */
function binOf(ns: number): number {
  const v = Math.max(ns, 1);
  const e = Math.floor(Math.log2(v));
  return e * BINS_PER_OCTAVE +
    Math.min(BINS_PER_OCTAVE - 1, Math.floor((v / 2 ** e - 1) * BINS_PER_OCTAVE));
}
const binLow = (bin: number) =>
  2 ** Math.floor(bin / BINS_PER_OCTAVE) * (1 + (bin % BINS_PER_OCTAVE) / BINS_PER_OCTAVE);

function displayBins(b: Buckets): Map<number, number> {
  const out = new Map<number, number>();
  for (const [k, c] of b) {
    const bin = binOf(bucketRange(k)[0]);
    out.set(bin, (out.get(bin) ?? 0) + c);
  }
  return out;
}

/** Where a value falls on the bin axis: bin index (from `first`) plus the fraction inside. */
function position(ns: number, first: number): number {
  const bin = binOf(ns);
  const lo = binLow(bin), hi = binLow(bin + 1);
  return bin - first + Math.min(Math.max((ns - lo) / (hi - lo), 0), 1);
}

/** A run's letter: A, B, … */
const letter = (i: number) => String.fromCharCode(65 + i);

/** Chart.js configurations, by canvas id (JSON: the page adds no functions). */
type Charts = Record<string, unknown>;

/** A mount's rows of the source that saw its requests end to end. */
function timedRows(report: Report, mount: string): OpRow[] {
  const source = endToEndSource(report.rows);
  return report.rows.filter((r) => r.mount === mount && r.source === source);
}

function distributionChart(op: string, rows: (OpRow | undefined)[], labels: string[]) {
  const bins = rows.map((r) => (r ? displayBins(r.buckets) : new Map<number, number>()));
  const used = bins.flatMap((b) => [...b.keys()]);
  const first = Math.min(...used), last = Math.max(...used);
  const axis = Array.from({ length: last - first + 1 }, (_, i) => first + i);
  const marks = rows.flatMap((r, i) => {
    if (!r || !totalCount(r.buckets)) return [];
    const s = summarize(r);
    return (["p50", "p90", "p99"] as const).map((p, j) => ({
      pos: position(s[p], first),
      label: `${p}${rows.length > 1 ? ` ${letter(i)}` : ""} ${fmtNs(s[p])}`,
      color: COLORS[i % COLORS.length],
      row: i * 3 + j,
    }));
  });
  return {
    type: "bar",
    data: {
      labels: axis.map((b) => fmtNs(binLow(b))),
      datasets: rows.map((r, i) => {
        const total = r ? totalCount(r.buckets) : 0;
        return {
          label: rows.length > 1 ? `${letter(i)}: ${labels[i]}` : labels[i],
          data: axis.map((b) => (total ? (bins[i]!.get(b) ?? 0) / total * 100 : 0)),
          backgroundColor: `${COLORS[i % COLORS.length]}99`,
          borderColor: COLORS[i % COLORS.length],
          borderWidth: 1,
          grouped: false,
          barPercentage: 1,
          categoryPercentage: 1,
        };
      }),
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      plugins: {
        title: { display: true, text: `${op}: latency (% of timed requests)` },
        legend: { display: rows.length > 1 },
        marks: { marks },
      },
      scales: {
        x: { title: { display: true, text: "latency (log scale: 4 bins per power of two)" } },
        y: { title: { display: true, text: "% of requests" }, beginAtZero: true },
      },
    },
  };
}

function perOperationChart(
  title: string,
  ops: string[],
  runs: (Map<string, OpRow>)[],
  labels: string[],
  value: (r: OpRow) => number,
  axis: string,
) {
  return {
    type: "bar",
    data: {
      labels: ops,
      datasets: runs.map((m, i) => ({
        label: labels[i],
        data: ops.map((op) => (m.has(op) ? value(m.get(op)!) : 0)),
        backgroundColor: COLORS[i % COLORS.length],
      })),
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      plugins: { title: { display: true, text: title }, legend: { display: runs.length > 1 } },
      scales: { y: { title: { display: true, text: axis }, beginAtZero: true } },
    },
  };
}

/** Mean queue / service / transit per request, per operation and run (where the split ran). */
function splitChart(report: Report[], mount: string, labels: string[]) {
  const parts = [["queue", "queue"], ["service", "daemon"], ["transit", "transit"]] as const;
  const bars: { label: string; values: Record<string, number> }[] = [];
  report.forEach((r, i) => {
    const ops = [
      ...new Set(
        r.rows.filter((x) => x.mount === mount && x.source === "daemon").map((x) => x.operation),
      ),
    ];
    for (const op of ops) {
      const values: Record<string, number> = {};
      for (const [name, source] of parts) {
        const row = r.rows.find((x) =>
          x.mount === mount && x.source === source && x.operation === op
        );
        const n = row ? totalCount(row.buckets) : 0;
        values[name] = n ? row!.sumNs / n / 1e3 : 0;
      }
      if (Object.values(values).some((v) => v > 0)) {
        bars.push({ label: report.length > 1 ? `${op} (${labels[i]})` : op, values });
      }
    }
  });
  if (
    !bars.length ||
    !report.some((r) => r.rows.some((x) => x.mount === mount && x.source === "queue"))
  ) {
    return undefined;
  }
  return {
    type: "bar",
    data: {
      labels: bars.map((b) => b.label),
      datasets: parts.map(([name]) => ({
        label: name,
        data: bars.map((b) => b.values[name]),
        backgroundColor: SPLIT_COLORS[name],
      })),
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      indexAxis: "y",
      plugins: {
        title: { display: true, text: "Mean time per request: queue, service, transit (µs)" },
      },
      scales: { x: { stacked: true, title: { display: true, text: "µs" } }, y: { stacked: true } },
    },
  };
}

/** Where Chart.js's UMD build is: beside the main file of its npm package. */
async function chartJs(): Promise<string> {
  // Imported (not used) so that the package is installed with the checkout's modules.
  await import("npm:chart.js@^4.5.1");
  const main = createRequire(import.meta.url).resolve("chart.js");
  const umd = main.replace(/[^/]+$/, "chart.umd.min.js");
  return Deno.readTextFileSync(umd).replace(/<\/script/gi, "<\\/script");
}

/** The page's own script: draws every canvas from the embedded configurations. */
const PAGE_SCRIPT = `(() => {
  const text = document.getElementById("fusetrace-data").textContent;
  const data = JSON.parse(text);
  // The configurations as written (Chart.js rewrites those it is given).
  window.fusetraceData = JSON.parse(text);
  Chart.register({
    id: "marks",
    afterDatasetsDraw(chart, _args, opts) {
      const x = chart.scales.x, area = chart.chartArea, ctx = chart.ctx;
      for (const m of (opts && opts.marks) || []) {
        const i = Math.floor(m.pos), f = m.pos - i;
        const at = (k) => x.getPixelForValue(k);
        const w = x.ticks.length > 1 ? at(1) - at(0) : area.right - area.left;
        const px = at(i) + (f - 0.5) * w;
        ctx.save();
        ctx.strokeStyle = m.color;
        ctx.setLineDash([4, 3]);
        ctx.beginPath();
        ctx.moveTo(px, area.top);
        ctx.lineTo(px, area.bottom);
        ctx.stroke();
        ctx.fillStyle = m.color;
        ctx.font = "11px sans-serif";
        ctx.fillText(m.label, px + 3, area.top + 11 + 12 * m.row);
        ctx.restore();
      }
    },
  });
  window.fusetraceCharts = [];
  for (const canvas of document.querySelectorAll("canvas[data-chart]")) {
    window.fusetraceCharts.push(new Chart(canvas, data.charts[canvas.dataset.chart]));
  }
})();`;

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em auto;max-width:1400px;padding:0 1em;color:#1b1b1b}
h1{font-size:1.5em}h2{margin-top:2em;border-bottom:1px solid #ccc}h3{font-size:1.05em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:13px}.wide{overflow-x:auto}td,th{padding:.2em .6em;border-bottom:1px solid #e5e5e5;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f3f3}
tr.green td{background:#eaf7ea}tr.blue td{background:#e6f0fb}tr.yellow td{background:#fdf3cf}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:1em}
.chart{position:relative;height:280px;border:1px solid #e5e5e5;padding:.4em}
.meta td{border:0;padding:0 1em 0 0}.note{color:#555;white-space:pre-wrap}pre{background:#f7f7f7;padding:.5em}`;

/**
 * The page, as one HTML string.
 * @example The demo's two runs
 * ```ts ignore
 * import { renderHtml } from "./html.ts";
 * import { loadRun } from "./legacy.ts";
 * const page = await renderHtml([
 *   { label: "before", report: loadRun("fusetrace_demo_1.csv") },
 *   { label: "after", report: loadRun("fusetrace_demo_2.csv") },
 * ]);
 * Deno.writeTextFileSync("report.html", page);
 * ```
 */
export async function renderHtml(runs: readonly HtmlRun[], o: HtmlOptions = {}): Promise<string> {
  if (!runs.length) throw new TypeError("renderHtml: no run");
  const labels = runs.map((r) => r.label);
  const reports = runs.map((r) => r.report);
  const charts: Charts = {};
  let n = 0;
  const canvas = (config: unknown) => {
    const id = `c${n++}`;
    charts[id] = config;
    return `<div class="chart"><canvas data-chart="${id}" role="img"></canvas></div>`;
  };
  const body: string[] = [];
  body.push(`<h1>fusetrace report</h1>`);
  body.push(
    table(
      ["RUN", "HOST", "KERNEL", "BPFTRACE", "START", "TRACED", "COMMAND"],
      runs.map(({ label, report: r }) => [
        label,
        r.meta.host,
        r.meta.kernel,
        r.meta.bpftrace,
        r.meta.start,
        `${r.meta.durationS.toFixed(1)} s`,
        r.command ? `${r.command.argv.join(" ")} (${fmtNs(r.command.wallMs * 1e6)})` : "",
      ]),
    ),
  );
  body.push(
    `<noscript><p class="note">The charts need JavaScript; the tables hold every figure.</p></noscript>`,
  );
  for (const note of new Set(reports.map(samplingNote))) {
    if (note) body.push(`<p class="note">${esc(note[0]!.toUpperCase() + note.slice(1))}.</p>`);
  }

  if (runs.length === 2) {
    const d = compareRuns([reports[0]!], [reports[1]!]);
    // The end-to-end rows first; the other sources' (queue, service, …) folded away.
    const main = d.rows.some((r) => r.source === "request") ? "request" : d.rows[0]?.source;
    const part = (keep: boolean) => {
      const rows = d.rows.filter((r) => (r.source === main) === keep);
      const { head, cells } = diffCells(rows);
      return rows.length ? table(head, cells, rows.map((r) => r.class)) : "";
    };
    body.push(`<h2>Diff: ${esc(labels[0]!)} → ${esc(labels[1]!)}</h2>`, part(true));
    const others = part(false);
    if (others) body.push(`<details><summary>The other sources' rows</summary>${others}</details>`);
    body.push(
      `<p class="note">${esc(`legend: ${legend(DEFAULT_THRESHOLDS, [1, 1])}`)}</p>`,
      ...d.notes.map((x) => `<p class="note">${esc(x)}</p>`),
    );
  }

  const mounts = [...new Set(reports.flatMap((r) => r.rows.map((x) => x.mount)))]
    .filter((m) => m !== "-").sort();
  for (const mount of mounts) {
    body.push(`<h2>${esc(mount)}</h2>`);
    const byOp = reports.map((r) => new Map(timedRows(r, mount).map((x) => [x.operation, x])));
    const total = (op: string) => Math.max(...byOp.map((m) => totalTimeOf(m.get(op))));
    const ops = [...new Set(byOp.flatMap((m) => [...m.keys()]))].sort((a, b) =>
      total(b) - total(a) || a.localeCompare(b)
    );
    const rows: string[][] = [];
    for (const op of ops) {
      byOp.forEach((m, i) => {
        const r = m.get(op);
        if (!r) return;
        const s = summarize(r);
        const ns = (v: number) => (Number.isFinite(v) ? fmtNs(v) : "-");
        rows.push([
          op,
          ...(runs.length > 1 ? [labels[i]!] : []),
          String(r.count),
          String(errorCount(r)),
          ns(s.p50),
          ns(s.p90),
          ns(s.p99),
          ns(s.max),
          fmtNs(totalTimeNs(r)),
        ]);
      });
    }
    const grid: string[] = [
      canvas(
        perOperationChart("Requests per operation", ops, byOp, labels, (r) => r.count, "requests"),
      ),
      canvas(
        perOperationChart(
          "Time per operation (sum of latencies)",
          ops,
          byOp,
          labels,
          (r) => totalTimeNs(r) / 1e6,
          "ms",
        ),
      ),
    ];
    const split = splitChart(reports, mount, labels);
    if (split) grid.push(canvas(split));
    for (const op of ops.slice(0, o.charts ?? 8)) {
      const rs = byOp.map((m) => m.get(op));
      if (rs.some((r) => r && totalCount(r.buckets))) {
        grid.push(canvas(distributionChart(op, rs, labels)));
      }
    }
    body.push(`<div class="grid">${grid.join("")}</div>`);
    body.push(
      table(
        [
          "OPERATION",
          ...(runs.length > 1 ? ["RUN"] : []),
          "COUNT",
          "ERRORS",
          "P50",
          "P90",
          "P99",
          "MAX",
          "TOTAL",
        ],
        rows,
      ),
    );
    const cv = (o.cvmfs ?? []).filter((c) => c.mount === mount);
    if (cv.length) {
      const { head, cells } = cvmfsCells(cv);
      body.push(
        `<h3>CVMFS's own latency beside the kernel's</h3>`,
        table(head, cells),
        ...cvmfsNotes(cv).map((n) => `<p class="note">${esc(n)}</p>`),
      );
    }
  }
  const untraced = (o.cvmfs ?? []).filter((c) => c.mount === undefined);
  if (untraced.length) {
    const { head, cells } = cvmfsCells(untraced);
    body.push(`<h2>CVMFS repositories not traced</h2>`, table(head, cells));
  }

  for (const [i, r] of reports.entries()) {
    for (const p of o.plugins ?? []) {
      const s = r.sections?.[p.name];
      if (s === undefined) continue;
      body.push(`<h2>${esc(p.name)}${runs.length > 1 ? ` (${esc(labels[i]!)})` : ""}</h2>`);
      if (p.tables) {
        for (const t of p.tables(s, { top: o.top ?? 20 })) {
          body.push(`<h3>${esc(t.title)}</h3>`);
          if (t.rows.length) body.push(table(t.head, t.rows));
          if (t.note) body.push(`<p class="note">${esc(t.note)}</p>`);
        }
      } else if (p.render) body.push(`<pre>${esc(p.render(s, { top: o.top ?? 20 }))}</pre>`);
    }
  }
  body.push(`<p class="note">Made by fusetrace ${VERSION}.</p>`);
  // JSON inside a script element: "<" escaped so no text can close it.
  const json = JSON.stringify({ charts }).replace(/</g, "\\u003c");
  return [
    "<!DOCTYPE html>",
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>fusetrace: ${esc(labels.join(" vs "))}</title>`,
    `<style>${STYLE}</style></head><body>`,
    ...body,
    `<script type="application/json" id="fusetrace-data">${json}</script>`,
    `<script>${await chartJs()}</script>`,
    `<script>${PAGE_SCRIPT}</script>`,
    "</body></html>",
    "",
  ].join("\n");
}

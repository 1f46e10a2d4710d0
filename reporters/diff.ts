/**
 * Comparison of two runs — the original show_diff, made fit for regression checks.
 *
 * Each row (source, mount, plugin, operation; by function name when one side is an original
 * `ADDR,FUNC,COUNT` file) gets a class:
 * - counts: the absolute change (≤ 100 green, ≤ 500 blue, else yellow — the original rule) AND the
 *   relative change (≤ 10 % green, ≤ 25 % blue, else yellow); the milder of the two wins, so a
 *   large relative change of a tiny count, or a large absolute change of a huge count, stays green.
 * - latency (p50 and p99, where both runs timed the operation): the relative change of the
 *   percentile (≤ 10 % green, ≤ 25 % blue, else yellow), counted only when it is larger than the
 *   histogram resolution (two bucket widths, 6.25 %) AND the two distributions differ by a
 *   two-sample Kolmogorov–Smirnov test on the binned histograms at α = 0.01.
 * The row's class is the worse of the count and latency classes.
 * @module
 */
import { totalCount } from "../probes/hist.ts";
import { type OpRow, type Report, rowKey, summarize } from "../probes/report.ts";
import { LEGACY_TOOL } from "./legacy.ts";

/** Severity of a change. */
export type DiffClass = "green" | "blue" | "yellow";
const RANK: Record<DiffClass, number> = { green: 0, blue: 1, yellow: 2 };

/** Thresholds of the classes: [blue above, yellow above]. */
export interface Thresholds {
  /** Absolute count change (default [100, 500], the original tool's). */
  countAbs: [number, number];
  /** Relative count change in % (default [10, 25]). */
  countRel: [number, number];
  /** Relative latency percentile change in % (default [10, 25]). */
  latencyRel: [number, number];
  /** Significance level of the KS test (default 0.01). */
  alpha: number;
}

/** Default thresholds. */
export const DEFAULT_THRESHOLDS: Thresholds = {
  countAbs: [100, 500],
  countRel: [10, 25],
  latencyRel: [10, 25],
  alpha: 0.01,
};

/** Smallest latency change (relative) the histograms can resolve: two bucket widths. */
export const RESOLUTION = 2 / 32;

/** One compared row. */
export interface DiffRow {
  source: string;
  mount: string;
  plugin: string;
  operation: string;
  countA: number;
  countB: number;
  delta: number;
  /** Relative change in %; Infinity when A is 0 and B is not. */
  deltaPct: number;
  /** p50/p99 in ns of each side, NaN where a side timed nothing. */
  p50A: number;
  p50B: number;
  p99A: number;
  p99B: number;
  /** Latency changes judged significant (KS test and resolution). */
  latencySignificant: boolean;
  countClass: DiffClass;
  latencyClass: DiffClass;
  class: DiffClass;
}

function classify(v: number, [blue, yellow]: [number, number]): DiffClass {
  return v > yellow ? "yellow" : v > blue ? "blue" : "green";
}

function milder(a: DiffClass, b: DiffClass): DiffClass {
  return RANK[a] <= RANK[b] ? a : b;
}

function worse(a: DiffClass, b: DiffClass): DiffClass {
  return RANK[a] >= RANK[b] ? a : b;
}

/** Relative change a → b in %. */
export function pct(a: number, b: number): number {
  if (a === b) return 0;
  if (a === 0) return Infinity;
  return ((b - a) / a) * 100;
}

/**
 * Two-sample Kolmogorov–Smirnov test on two histograms with the same bucket boundaries.
 * Returns true when the distributions differ at level `alpha`.
 */
export function ksDiffers(a: OpRow["buckets"], b: OpRow["buckets"], alpha = 0.01): boolean {
  const n = totalCount(a);
  const m = totalCount(b);
  if (!n || !m) return false;
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort((x, y) => x - y);
  let fa = 0;
  let fb = 0;
  let d = 0;
  for (const k of keys) {
    fa += (a.get(k) ?? 0) / n;
    fb += (b.get(k) ?? 0) / m;
    d = Math.max(d, Math.abs(fa - fb));
  }
  const c = Math.sqrt(-Math.log(alpha / 2) / 2);
  return d > c * Math.sqrt((n + m) / (n * m));
}

/**
 * Compares two runs row by row (missing = 0).
 * @example
 * ```ts
 * import { compareReports } from "./diff.ts";
 * import type { Report } from "../probes/report.ts";
 * declare const a: Report, b: Report;
 * const regressions = compareReports(a, b).filter((r) => r.class === "yellow");
 * ```
 */
export function compareReports(
  a: Report,
  b: Report,
  t: Thresholds = DEFAULT_THRESHOLDS,
): DiffRow[] {
  const byName = a.meta.tool === LEGACY_TOOL || b.meta.tool === LEGACY_TOOL;
  const key = (r: OpRow) => (byName ? r.operation : rowKey(r));
  const rowsOf = (rep: Report) => {
    const m = new Map<string, OpRow>();
    for (const r of rep.rows) {
      if (byName && r.source === "request") continue; // only functions compare by name
      m.set(key(r), r);
    }
    return m;
  };
  const ra = rowsOf(a);
  const rb = rowsOf(b);
  const out: DiffRow[] = [];
  for (const k of new Set([...ra.keys(), ...rb.keys()])) {
    const x = ra.get(k);
    const y = rb.get(k);
    const id = (y && y.plugin !== "-" ? y : x ?? y)!;
    const countA = x?.count ?? 0;
    const countB = y?.count ?? 0;
    const delta = countB - countA;
    const deltaPct = pct(countA, countB);
    const countClass = milder(
      classify(Math.abs(delta), t.countAbs),
      classify(Math.abs(deltaPct), t.countRel),
    );
    const sa = x ? summarize(x) : undefined;
    const sb = y ? summarize(y) : undefined;
    let latencyClass: DiffClass = "green";
    let latencySignificant = false;
    if (sa?.timed && sb?.timed && ksDiffers(x!.buckets, y!.buckets, t.alpha)) {
      for (const [p, q] of [[sa.p50, sb.p50], [sa.p99, sb.p99]] as const) {
        const change = Math.abs(pct(p, q));
        if (change / 100 > RESOLUTION) {
          latencySignificant = true;
          latencyClass = worse(latencyClass, classify(change, t.latencyRel));
        }
      }
    }
    out.push({
      source: id.source,
      mount: id.mount,
      plugin: id.plugin,
      operation: id.operation,
      countA,
      countB,
      delta,
      deltaPct,
      p50A: sa?.p50 ?? NaN,
      p50B: sb?.p50 ?? NaN,
      p99A: sa?.p99 ?? NaN,
      p99B: sb?.p99 ?? NaN,
      latencySignificant,
      countClass,
      latencyClass,
      class: worse(countClass, latencyClass),
    });
  }
  // Worst class first; within it, the largest count change, then the largest latency change.
  const latencyChange = (r: DiffRow) =>
    Math.max(...[pct(r.p50A, r.p50B), pct(r.p99A, r.p99B)].map((x) => Math.abs(x) || 0));
  return out.sort((p, q) =>
    RANK[q.class] - RANK[p.class] || Math.abs(q.delta) - Math.abs(p.delta) ||
    latencyChange(q) - latencyChange(p) || p.operation.localeCompare(q.operation)
  );
}

/** The legend line stating the rule in force. */
export function legend(t: Thresholds = DEFAULT_THRESHOLDS): string {
  return `green ≤ ${t.countAbs[0]} or ≤ ${t.countRel[0]} % < blue ≤ ${t.countAbs[1]} or ≤ ` +
    `${t.countRel[1]} % < yellow (counts: the milder of absolute and relative); latency p50/p99: ` +
    `≤ ${t.latencyRel[0]} % green, ≤ ${t.latencyRel[1]} % blue, else yellow, only when KS ` +
    `α=${t.alpha} and > ${RESOLUTION * 100} % resolution`;
}

/**
 * Did it get better or worse? The comparison of two sides — one run each, or several runs each
 * (`diff A1 A2 … -- B1 B2 …`) — row by row (source, mount, plugin, operation; by function name when
 * one side is an original `ADDR,FUNC,COUNT` file).
 *
 * A latency percentile (p50, p90, p99) is judged only where both sides' samples support it: at
 * least 10 requests above it (a p99 needs 1 000 requests; the p99 of 85 is their maximum). A judged
 * change is a regression or an improvement only when ALL of these hold:
 * - it is large enough to matter: ≥ `minRelPct` of the baseline and ≥ `minAbsNs` per request, and
 *   the row's total time moved by ≥ `minTotalNs` and ≥ `minSharePct` of the mount's total time
 *   (with one run a side: ≥ 0.4 × `runNoisePct`, see {@link shareOf})
 *   (its requests' time where the request source ran);
 * - it is larger than run-to-run variation. With several runs on each side, that variation is
 *   measured: a Welch t-test on the runs' log percentiles. With one run on a side it is unknown:
 *   it is assumed to be ±`runNoisePct` (two identical start-ups on a busy VM differ by 30 % and
 *   more), so the change — and that of the row's total time — must exceed twice that, and the
 *   percentiles' sampling confidence intervals (order statistics of the histograms) must not
 *   overlap.
 * - the tests of all judged percentiles of the diff share one family-wise level `alpha`
 *   (Bonferroni).
 * Counts keep the original show_diff rule (absolute ≤ 100 green, ≤ 500 blue, else yellow, and
 * relative ≤ 10 % / ≤ 25 %; the milder wins): a yellow count change is a regression when requests
 * grew, an improvement when they fell, unless the runs of a side spread as widely.
 *
 * Rows of timed runs are green (same), yellow (regression) or blue (improvement); count-only rows
 * (the original files, `count` runs) keep the original colours by size of change. Each (mount,
 * source) block starts with a TOTAL row — its verdict is the net time the changed rows added or
 * saved; rows within it rank by added total time.
 * @module
 */
// jStat: one module (the @stdlib packages doing the same are hundreds, and cost every command
// line start 0.3 s here, seconds under emulation).
import jStat from "npm:jstat@^1.9.6";
import { addBuckets, type Buckets, quantile, totalCount } from "../probes/hist.ts";
import {
  emptyRow,
  type OpRow,
  type Report,
  rowKey,
  SOURCE_NAMES,
  totalTimeNs,
} from "../probes/report.ts";
import { UsageError } from "../util/errors.ts";
import { LEGACY_TOOL } from "./legacy.ts";

/** Colour of a row. */
export type DiffClass = "green" | "blue" | "yellow";
/** What changed, in which direction. */
export type Verdict = "same" | "regression" | "improvement";

/** The rules in force. */
export interface Thresholds {
  /** Absolute count change: [blue above, yellow above] (default [100, 500], the original tool's). */
  countAbs: [number, number];
  /** Relative count change in %: [blue above, yellow above] (default [10, 25]). */
  countRel: [number, number];
  /** Smallest relative latency change judged, % of the baseline (default 10). */
  minRelPct: number;
  /** Smallest latency change per request judged, ns (default 1 µs). */
  minAbsNs: number;
  /** Smallest change of a row's total time judged, ns (default 1 ms). */
  minTotalNs: number;
  /**
   * ... and this % of the mount's total time (its requests' when the request source ran, else
   * the row's source's; default 3): a part of a request (queue, transit) is judged by what it
   * means for the whole request.
   */
  minSharePct: number;
  /** Run-to-run variation assumed where a side has one run, % (default 25). */
  runNoisePct: number;
  /** Family-wise significance level over all percentiles judged (default 0.01). */
  alpha: number;
}

/** Default thresholds. */
export const DEFAULT_THRESHOLDS: Thresholds = {
  countAbs: [100, 500],
  countRel: [10, 25],
  minRelPct: 10,
  minAbsNs: 1_000,
  minTotalNs: 1_000_000,
  minSharePct: 3,
  runNoisePct: 25,
  alpha: 0.01,
};

/** The percentiles compared. */
export const PERCENTILES = [["p50", 0.5], ["p90", 0.9], ["p99", 0.99]] as const;
/** A percentile's name. */
export type PercentileName = typeof PERCENTILES[number][0];
/** Requests a sample must have above a percentile for it to be judged. */
export const MIN_TAIL = 10;

/** One percentile of a row on both sides. */
export interface PercentileDiff {
  /** ns, NaN where a side timed nothing (pooled over the side's runs). */
  a: number;
  b: number;
  /** Both samples support it (≥ {@link MIN_TAIL} requests above it on each side). */
  judged: boolean;
  /** On a side it is the maximum (fewer than one request above it). */
  isMax: boolean;
  /** `up` / `down` when the change passed every test, else `none`. */
  change: "up" | "down" | "none";
}

/** One compared row. */
export interface DiffRow {
  source: string;
  mount: string;
  plugin: string;
  /** Operation, or `TOTAL` for the (mount, source) total. */
  operation: string;
  /** Requests per run (mean over a side's runs). */
  countA: number;
  countB: number;
  delta: number;
  /** Relative change in %; Infinity when A is 0 and B is not. */
  deltaPct: number;
  /** Total latency per run, ns (mean over a side's runs), and B − A. */
  sumA: number;
  sumB: number;
  addedNs: number;
  latency: Record<PercentileName, PercentileDiff>;
  /** The original show_diff class of the count change. */
  countClass: DiffClass;
  verdict: Verdict;
  class: DiffClass;
}

/** A diff: its rows, in display order, and what a reader must know about them. */
export interface Diff {
  rows: DiffRow[];
  /** Lines to show beside the table (no rows shared, sides of different kinds, …). */
  notes: string[];
  runsA: number;
  runsB: number;
}

function classify(v: number, [blue, yellow]: [number, number]): DiffClass {
  return v > yellow ? "yellow" : v > blue ? "blue" : "green";
}

/** Relative change a → b in %. */
export function pct(a: number, b: number): number {
  if (a === b) return 0;
  if (a === 0) return Infinity;
  return ((b - a) / a) * 100;
}

/** The rows of one side for one key, one per run (a run without the row counts 0). */
interface Side {
  runs: OpRow[];
  pooled: Buckets;
  timed: number;
}

function sideOf(rows: (OpRow | undefined)[], id: OpRow): Side {
  const runs = rows.map((r) => r ?? emptyRow(id));
  const pooled = runs.reduce<Buckets>((acc, r) => addBuckets(acc, r.buckets), new Map());
  return { runs, pooled, timed: totalCount(pooled) };
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

/** Value interval of quantile q of a histogram of n samples, at normal quantile z. */
function interval(b: Buckets, n: number, q: number, z: number): [number, number] {
  const half = z * Math.sqrt(n * q * (1 - q));
  const at = (rank: number) => quantile(b, Math.min(Math.max(rank / n, 0), 1));
  return [at(Math.floor(n * q - half)), at(Math.ceil(n * q + half))];
}

function perRun(s: Side, q: number): number[] {
  return s.runs.filter((r) => totalCount(r.buckets) > 0).map((r) =>
    quantile(r.buckets, q, r.minNs, r.maxNs)
  );
}

/** Relabels mounts: `PATH=NAME` entries, or one `NAME` for a report with a single mount. */
export function relabelMounts(report: Report, as: string[], file: string): Report {
  if (!as.length) return report;
  const mounts = [...new Set(report.rows.map((r) => r.mount).filter((m) => m !== "-"))];
  const map = new Map<string, string>();
  for (const a of as) {
    const eq = a.lastIndexOf("=");
    if (eq > 0) map.set(a.slice(0, eq), a.slice(eq + 1));
    else if (mounts.length > 1) {
      throw new UsageError(
        `--as ${a}: ${file} has ${mounts.length} mounts (${mounts.join(", ")}); ` +
          "name each: --as PATH=NAME",
      );
    } else if (mounts.length === 1) map.set(mounts[0]!, a);
  }
  return {
    ...report,
    rows: report.rows.map((r) => map.has(r.mount) ? { ...r, mount: map.get(r.mount)! } : r),
  };
}

/**
 * Compares side A (the baseline: one or more runs) with side B.
 * @example
 * ```ts
 * import { compareRuns } from "./diff.ts";
 * import type { Report } from "../probes/report.ts";
 * declare const before: Report[], after: Report[];
 * const regressions = compareRuns(before, after).rows.filter((r) => r.verdict === "regression");
 * ```
 */
export function compareRuns(
  a: Report[],
  b: Report[],
  t: Thresholds = DEFAULT_THRESHOLDS,
): Diff {
  const all = [...a, ...b];
  const byName = all.some((r) => r.meta.tool === LEGACY_TOOL);
  const key = (r: OpRow) => (byName ? r.operation : rowKey(r));
  const index = (rep: Report) => {
    const m = new Map<string, OpRow>();
    for (const r of rep.rows) {
      if (byName && r.source !== "kernel") continue; // only kernel functions compare by name
      m.set(key(r), r);
    }
    return m;
  };
  const ia = a.map(index);
  const ib = b.map(index);
  const keys = [...new Set([...ia, ...ib].flatMap((m) => [...m.keys()]))];
  const shared = keys.filter((k) => ia.some((m) => m.has(k)) && ib.some((m) => m.has(k)));
  const notes: string[] = [];
  if (keys.length && !shared.length) {
    const mountsOf = (rs: Report[]) =>
      [...new Set(rs.flatMap((r) => r.rows.map((x) => x.mount)))].join(", ") || "-";
    notes.push(
      byName
        ? "the two sides share no kernel functions (an original ADDR,FUNC,COUNT file pairs only " +
          "with kernel function counts: fusetrace count where kprobes exist)"
        : `the two sides share no rows (mounts ${mountsOf(a)} | ${mountsOf(b)}): ` +
          "--as NAME pairs runs made on different mount points",
    );
  }
  const prepared = keys.map((k) => {
    const xa = ia.map((m) => m.get(k));
    const xb = ib.map((m) => m.get(k));
    const id = [...xb, ...xa].find((r) => r && r.plugin !== "-") ?? [...xb, ...xa].find(Boolean)!;
    return { id, sa: sideOf(xa, id), sb: sideOf(xb, id) };
  });
  const blockTotal = new Map<string, number>();
  for (const { id, sa } of prepared) {
    const k = blockOf(id);
    blockTotal.set(k, (blockTotal.get(k) ?? 0) + mean(sa.runs.map(totalTimeNs)));
  }
  const mountTotal = (r: OpRow) =>
    blockTotal.get(blockOf({ mount: r.mount, source: "request" })) ?? blockTotal.get(blockOf(r))!;
  // The tests of every judged percentile share one family-wise alpha.
  const tests = prepared.reduce(
    (s, p) =>
      s + PERCENTILES.filter(([, q]) => supports(p.sa.timed, q) && supports(p.sb.timed, q)).length,
    0,
  );
  const level = t.alpha / Math.max(1, tests);
  const rows = prepared.map(({ id, sa, sb }) =>
    compareRow(
      id,
      sa,
      sb,
      t,
      level,
      Math.max(t.minTotalNs, (shareOf(t, a.length, b.length) / 100) * mountTotal(id)),
    )
  );
  return { rows: order(withTotals(rows)), notes, runsA: a.length, runsB: b.length };
}

/**
 * The share of the mount's time a change must move: `minSharePct`, and with one run a side also
 * 0.4 × the assumed run-to-run variation (10 % at ±25 %): the time of an operation served in
 * microseconds can double between identical runs on a busy machine.
 */
export function shareOf(t: Thresholds, runsA: number, runsB: number): number {
  return runsA < 2 || runsB < 2 ? Math.max(t.minSharePct, 0.4 * t.runNoisePct) : t.minSharePct;
}

const blockOf = (r: { mount: string; source: string }) => `${r.mount}\u0000${r.source}`;
const supports = (n: number, q: number) => n * (1 - q) >= MIN_TAIL;

/** Two-sided p-value of Welch's t-test; 1 when a side has fewer than two values. */
export function welch(xs: number[], ys: number[]): number {
  if (xs.length < 2 || ys.length < 2) return 1;
  const varOf = (v: number[], m: number) =>
    v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1);
  const [mx, my] = [mean(xs), mean(ys)];
  const va = varOf(xs, mx) / xs.length;
  const vb = varOf(ys, my) / ys.length;
  const d = my - mx;
  if (va + vb === 0) return d === 0 ? 1 : 0;
  const tStat = d / Math.sqrt(va + vb);
  const df = (va + vb) ** 2 / (va ** 2 / (xs.length - 1) + vb ** 2 / (ys.length - 1));
  return 2 * (1 - jStat.studentt.cdf(Math.abs(tStat), df));
}

function compareRow(
  id: OpRow,
  sa: Side,
  sb: Side,
  t: Thresholds,
  level: number,
  minTotalNs: number,
): DiffRow {
  const single = sa.runs.length < 2 || sb.runs.length < 2;
  const minRel = (single ? Math.max(t.minRelPct, 2 * t.runNoisePct) : t.minRelPct) / 100;
  const z = jStat.normal.inv(1 - level / 2, 0, 1);
  const countsA = sa.runs.map((r) => r.count);
  const countsB = sb.runs.map((r) => r.count);
  const countA = mean(countsA);
  const countB = mean(countsB);
  const delta = countB - countA;
  const deltaPct = pct(countA, countB);
  const countClass = [
    classify(Math.abs(delta), t.countAbs),
    classify(Math.abs(deltaPct), t.countRel),
  ]
    .sort((x, y) => ORDER[x] - ORDER[y])[0]!;
  const spread = (xs: number[]) => Math.max(...xs) - Math.min(...xs);
  const countMoved = countClass === "yellow" &&
    Math.abs(delta) > Math.max(spread(countsA), spread(countsB));
  const sumA = mean(sa.runs.map(totalTimeNs));
  const sumB = mean(sb.runs.map(totalTimeNs));
  const addedNs = sumB - sumA;
  const latency = {} as Record<PercentileName, PercentileDiff>;
  for (const [name, q] of PERCENTILES) {
    const va = sa.timed ? quantile(sa.pooled, q) : NaN;
    const vb = sb.timed ? quantile(sb.pooled, q) : NaN;
    const judged = supports(sa.timed, q) && supports(sb.timed, q);
    const isMax = (sa.timed > 0 && sa.timed * (1 - q) < 1) ||
      (sb.timed > 0 && sb.timed * (1 - q) < 1);
    let change: PercentileDiff["change"] = "none";
    if (judged) {
      const d = vb - va;
      const big = Math.abs(d) >= minRel * va && Math.abs(d) >= t.minAbsNs &&
        Math.abs(addedNs) >= minTotalNs;
      let real: boolean;
      if (single) {
        // The row's total time (its mean) must move beyond the assumed variation too.
        const [loA, hiA] = interval(sa.pooled, sa.timed, q, z);
        const [loB, hiB] = interval(sb.pooled, sb.timed, q, z);
        real = (d > 0 ? loB > hiA : hiB < loA) && Math.abs(addedNs) >= minRel * sumA &&
          Math.sign(addedNs) === Math.sign(d);
      } else real = welch(perRun(sa, q).map(Math.log), perRun(sb, q).map(Math.log)) < level;
      if (big && real) change = d > 0 ? "up" : "down";
    }
    latency[name] = { a: va, b: vb, judged, isMax, change };
  }
  const changes = Object.values(latency).map((l) => l.change);
  const verdict: Verdict = changes.includes("up") || (countMoved && delta > 0)
    ? "regression"
    : changes.includes("down") || (countMoved && delta < 0)
    ? "improvement"
    : "same";
  const timed = sa.timed > 0 || sb.timed > 0;
  return {
    source: id.source,
    mount: id.mount,
    plugin: id.plugin,
    operation: id.operation,
    countA,
    countB,
    delta,
    deltaPct,
    sumA,
    sumB,
    addedNs,
    latency,
    countClass,
    verdict,
    class: timed ? VERDICT_CLASS[verdict] : countClass,
  };
}

const ORDER: Record<DiffClass, number> = { green: 0, blue: 1, yellow: 2 };
const VERDICT_CLASS: Record<Verdict, DiffClass> = {
  same: "green",
  regression: "yellow",
  improvement: "blue",
};

/**
 * A TOTAL row per (mount, source) of timed rows: requests and time added up, no percentiles; its
 * verdict is the net time added (regression) or saved (improvement) by the rows that changed.
 */
function withTotals(rows: DiffRow[]): DiffRow[] {
  const groups = new Map<string, DiffRow[]>();
  for (const r of rows) {
    if (!(r.sumA || r.sumB)) continue;
    groups.set(blockOf(r), [...(groups.get(blockOf(r)) ?? []), r]);
  }
  const none: PercentileDiff = { a: NaN, b: NaN, judged: false, isMax: false, change: "none" };
  const totals = [...groups.values()].map((g) => {
    const sum = (f: (r: DiffRow) => number) => g.reduce((s, r) => s + f(r), 0);
    const net = sum((r) => r.verdict === "same" ? 0 : r.addedNs);
    const verdict: Verdict = net > 0 ? "regression" : net < 0 ? "improvement" : "same";
    const countA = sum((r) => r.countA);
    const countB = sum((r) => r.countB);
    return {
      source: g[0]!.source,
      mount: g[0]!.mount,
      plugin: "-",
      operation: "TOTAL",
      countA,
      countB,
      delta: countB - countA,
      deltaPct: pct(countA, countB),
      sumA: sum((r) => r.sumA),
      sumB: sum((r) => r.sumB),
      addedNs: sum((r) => r.addedNs),
      latency: { p50: none, p90: none, p99: none },
      countClass: "green",
      verdict,
      class: VERDICT_CLASS[verdict],
    } satisfies DiffRow;
  });
  return [...totals, ...rows];
}

/**
 * Display order: by mount, then source (report order), the TOTAL row first; then by added total
 * time (largest change first), count change, operation.
 */
function order(rows: DiffRow[]): DiffRow[] {
  const src = (s: string) => SOURCE_NAMES.indexOf(s as typeof SOURCE_NAMES[number]);
  return rows.sort((p, q) =>
    p.mount.localeCompare(q.mount) || src(p.source) - src(q.source) ||
    Number(q.operation === "TOTAL") - Number(p.operation === "TOTAL") ||
    Math.abs(q.addedNs) - Math.abs(p.addedNs) || Math.abs(q.delta) - Math.abs(p.delta) ||
    p.operation.localeCompare(q.operation) || p.plugin.localeCompare(q.plugin)
  );
}

/** The rows to show with `--top N`: every TOTAL, and the N others with the largest effect. */
export function topRows(rows: DiffRow[], n: number): DiffRow[] {
  const keep = new Set(
    rows.filter((r) => r.operation !== "TOTAL").toSorted((p, q) =>
      Math.abs(q.addedNs) - Math.abs(p.addedNs) || Math.abs(q.delta) - Math.abs(p.delta)
    ).slice(0, n),
  );
  return rows.filter((r) => r.operation === "TOTAL" || keep.has(r));
}

/** The legend stating the rules in force, for runs per side. */
export function legend(
  t: Thresholds = DEFAULT_THRESHOLDS,
  runs: [number, number] = [1, 1],
): string {
  const time = (ns: number) => ns >= 1e6 ? `${ns / 1e6} ms` : `${ns / 1e3} µs`;
  const single = runs[0] < 2 || runs[1] < 2;
  return [
    "yellow = regression, blue = improvement, green = no change beyond noise (TOTAL: net time of " +
    "the rows that changed)",
    `a latency change counts when ≥ ${
      single ? Math.max(t.minRelPct, 2 * t.runNoisePct) : t.minRelPct
    } % and ≥ ${time(t.minAbsNs)} per request, moves the row's total time ≥ ${
      time(t.minTotalNs)
    } and ≥ ${shareOf(t, ...runs)} % of the mount's, and ` + (single
      ? `is beyond sampling error (α=${t.alpha} over all rows); one run per side: the row's total ` +
        `time must move as much, run-to-run ` +
        `variation assumed ±${t.runNoisePct} % — repeat runs (A1 A2 … -- B1 B2 …) to see smaller changes`
      : `passes a t-test of the runs' percentiles (${runs[0]} vs ${
        runs[1]
      } runs, α=${t.alpha} over ` +
        "all rows)"),
    `~: too few requests to judge that percentile (< ${MIN_TAIL} above it); (max): it is the maximum`,
    `counts (the original show_diff): green ≤ ${t.countAbs[0]} or ≤ ${t.countRel[0]} % < blue ≤ ` +
    `${t.countAbs[1]} or ≤ ${t.countRel[1]} % < yellow (the milder of absolute and relative wins)`,
  ].join("\n        ");
}

/**
 * Prometheus and OpenMetrics exposition of a report (`fusetrace serve`, `--textfile`): a report
 * becomes metric families (plain data, added across restarted traces), and families become the
 * text format through prom-client's registry (escaping, OpenMetrics naming, `# EOF`).
 *
 * | metric | type | labels |
 * |---|---|---|
 * | fusetrace_request_duration_seconds | histogram | mount, operation, source |
 * | fusetrace_requests_total | counter | mount, operation, source |
 * | fusetrace_request_errors_total | counter | mount, operation, source, errno |
 * | fusetrace_bytes_total | counter | mount, operation, source, direction (to_daemon, from_daemon) |
 * | fusetrace_requests_in_flight | gauge | mount, operation |
 * | fusetrace_lost_events_total | counter | |
 * | fusetrace_unmatched_replies_total | counter | |
 * | plugins' metrics (`fusetrace_negative_lookups_total`, …) | | their own |
 *
 * Histogram bounds are edges of fusetrace's own buckets (probes/hist.ts), so every cumulative
 * count is exact: by default powers of two of nanoseconds from 2^10 ns (≈ 1 µs) to 2^36 ns
 * (≈ 69 s), `perOctave` (2, 4, … 32) splits each power of two further.
 * @module
 */
import type { RegistryContentType } from "npm:prom-client@^15.1.3";
import type { ProbePlugin } from "../probes/plugin.ts";
import { addBuckets, bucketRange, type Buckets, totalCount } from "../probes/hist.ts";
import { errnoName, type Report } from "../probes/report.ts";

/** Labels of one series. */
export type Labels = Record<string, string>;

/** A counter's or gauge's value for one label set. */
export interface Sample {
  labels: Labels;
  value: number;
}

/** A histogram for one label set, in fusetrace's buckets (ns). */
export interface HistogramSample {
  labels: Labels;
  buckets: Buckets;
  sumNs: number;
}

/** A metric family: its samples, label sets distinct. */
export type Family =
  | { name: string; help: string; type: "counter" | "gauge"; samples: Sample[] }
  | { name: string; help: string; type: "histogram"; samples: HistogramSample[] };

/** Sub-buckets per power of two the exposition may use. */
export const PER_OCTAVE = [1, 2, 4, 8, 16, 32] as const;
/** Lowest and highest finite bound: 2^10 ns and 2^36 ns. */
const LOW = 10, HIGH = 36;

/** The histogram's finite upper bounds, in ns, ascending. */
export function boundsNs(perOctave = 1): number[] {
  if (!(PER_OCTAVE as readonly number[]).includes(perOctave)) {
    throw new RangeError(`buckets per octave: one of ${PER_OCTAVE.join(", ")}`);
  }
  const out: number[] = [];
  for (let e = LOW; e < HIGH; e++) {
    for (let i = 0; i < perOctave; i++) out.push(2 ** e * (1 + i / perOctave));
  }
  out.push(2 ** HIGH);
  return out;
}

/** Cumulative counts at each bound (`le`): exact, the bounds being bucket edges. */
export function cumulativeCounts(buckets: Buckets, bounds: readonly number[]): number[] {
  const sorted = [...buckets].filter(([, c]) => c > 0).sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  let i = 0, seen = 0;
  for (const bound of bounds) {
    while (i < sorted.length && bucketRange(sorted[i]![0])[1] <= bound) seen += sorted[i++]![1];
    out.push(seen);
  }
  return out;
}

function key(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0));
}

/** Collects samples by label set, adding those with equal labels. */
class FamilyBuilder {
  #families = new Map<string, Family>();
  #index = new Map<string, Map<string, Sample | HistogramSample>>();

  add(name: string, help: string, type: "counter" | "gauge", labels: Labels, value: number): void {
    const s = this.#sample(name, help, type, labels, () => ({ labels, value: 0 })) as Sample;
    s.value += value;
  }

  histogram(name: string, help: string, labels: Labels, buckets: Buckets, sumNs: number): void {
    const s = this.#sample(name, help, "histogram", labels, () => ({
      labels,
      buckets: new Map(),
      sumNs: 0,
    })) as HistogramSample;
    s.buckets = addBuckets(s.buckets, buckets);
    s.sumNs += sumNs;
  }

  #sample(
    name: string,
    help: string,
    type: Family["type"],
    labels: Labels,
    make: () => Sample | HistogramSample,
  ): Sample | HistogramSample {
    let f = this.#families.get(name);
    if (!f) {
      f = { name, help, type, samples: [] } as Family;
      this.#families.set(name, f);
      this.#index.set(name, new Map());
    }
    const idx = this.#index.get(name)!;
    const k = key(labels);
    let s = idx.get(k);
    if (!s) {
      s = make();
      idx.set(k, s);
      (f.samples as (Sample | HistogramSample)[]).push(s);
    }
    return s;
  }

  families(): Family[] {
    return [...this.#families.values()].map((f) =>
      ({
        ...f,
        samples: [...f.samples].sort((a, b) => key(a.labels).localeCompare(key(b.labels))),
      }) as Family
    );
  }
}

const H = {
  duration: "FUSE request latency as the source saw it (request: end to end in the kernel)",
  requests: "FUSE requests (or calls) seen, timed or not",
  errors: "Replies carrying an error, by errno",
  bytes: "Payload bytes: to_daemon (WRITE, SETXATTR), from_daemon (READ, READDIR, …)",
  inFlight: "Requests sent and not yet answered at the last snapshot",
  lost: "Events bpftrace reported lost",
  unmatched: "Replies whose request was sent before tracing began",
};

/**
 * The metric families of a report (cumulative counters as the report holds them), with the
 * metrics of the plugins' sections.
 */
export function familiesOf(report: Report, plugins: readonly ProbePlugin[] = []): Family[] {
  const b = new FamilyBuilder();
  for (const r of report.rows) {
    const labels = { mount: r.mount, operation: r.operation, source: r.source };
    b.add("fusetrace_requests_total", H.requests, "counter", labels, r.count);
    if (totalCount(r.buckets) > 0) {
      b.histogram("fusetrace_request_duration_seconds", H.duration, labels, r.buckets, r.sumNs);
    }
    for (const [errno, n] of Object.entries(r.errors)) {
      b.add("fusetrace_request_errors_total", H.errors, "counter", {
        ...labels,
        errno: errnoName(Number(errno)),
      }, n);
    }
    if (r.bytesIn) {
      b.add("fusetrace_bytes_total", H.bytes, "counter", {
        ...labels,
        direction: "to_daemon",
      }, r.bytesIn);
    }
    if (r.bytesOut) {
      b.add("fusetrace_bytes_total", H.bytes, "counter", {
        ...labels,
        direction: "from_daemon",
      }, r.bytesOut);
    }
    if (r.source === "request") {
      b.add("fusetrace_requests_in_flight", H.inFlight, "gauge", {
        mount: r.mount,
        operation: r.operation,
      }, r.inFlight);
    }
  }
  b.add("fusetrace_lost_events_total", H.lost, "counter", {}, report.lostEvents);
  b.add("fusetrace_unmatched_replies_total", H.unmatched, "counter", {}, report.unmatched);
  for (const p of plugins) {
    const section = report.sections?.[p.name];
    if (section === undefined || !p.metrics) continue;
    for (const m of p.metrics(section)) {
      for (const s of m.samples) b.add(m.name, m.help, m.type, s.labels, s.value);
    }
  }
  return b.families();
}

/**
 * `earlier + later` for counters and histograms (an earlier trace's totals carried into a
 * restarted one's), gauges from `later` only.
 */
export function addFamilies(earlier: readonly Family[], later: readonly Family[]): Family[] {
  const b = new FamilyBuilder();
  for (const [fams, gauges] of [[earlier, false], [later, true]] as const) {
    for (const f of fams) {
      if (f.type === "histogram") {
        for (const s of f.samples) b.histogram(f.name, f.help, s.labels, s.buckets, s.sumNs);
      } else if (f.type === "counter" || gauges) {
        for (const s of f.samples) b.add(f.name, f.help, f.type, s.labels, s.value);
      }
    }
  }
  return b.families();
}

/** Families without the samples whose `mount` label fails `keep` (samples without one stay). */
export function keepMounts(
  families: readonly Family[],
  keep: (mount: string) => boolean,
): Family[] {
  return families.map((f) =>
    ({
      ...f,
      samples: (f.samples as { labels: Labels }[]).filter((s) =>
        s.labels.mount === undefined || keep(s.labels.mount)
      ),
    }) as Family
  );
}

/** The exposition's content types. */
export const PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";
export const OPENMETRICS_TEXT = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/** Whether a scraper's Accept header asks for OpenMetrics. */
export function wantsOpenMetrics(accept: string | null): boolean {
  return /application\/openmetrics-text/i.test(accept ?? "");
}

/** Options of {@link exposition}. */
export interface ExpositionOptions {
  /** Histogram bounds per power of two (default 1). */
  perOctave?: number;
  /** OpenMetrics 1.0 instead of the Prometheus text format 0.0.4. */
  openMetrics?: boolean;
}

/** Families as exposition text, with its content type. */
export async function exposition(
  families: readonly Family[],
  o: ExpositionOptions = {},
): Promise<{ contentType: string; text: string }> {
  // Loaded here: the command line's other commands do without it.
  const { default: client } = await import("npm:prom-client@^15.1.3");
  const registry = new client.Registry<RegistryContentType>();
  registry.setContentType(
    o.openMetrics
      ? client.Registry.OPENMETRICS_CONTENT_TYPE
      : client.Registry.PROMETHEUS_CONTENT_TYPE,
  );
  const bounds = boundsNs(o.perOctave ?? 1);
  const les = bounds.map((ns) => String(ns / 1e9));
  for (const f of families) {
    if (!f.samples.length) continue;
    const values = f.type === "histogram"
      ? f.samples.flatMap((s) => {
        const total = totalCount(s.buckets);
        return [
          ...cumulativeCounts(s.buckets, bounds).map((n, i) => ({
            metricName: `${f.name}_bucket`,
            labels: { ...s.labels, le: les[i]! },
            value: n,
          })),
          { metricName: `${f.name}_bucket`, labels: { ...s.labels, le: "+Inf" }, value: total },
          { metricName: `${f.name}_sum`, labels: s.labels, value: s.sumNs / 1e9 },
          { metricName: `${f.name}_count`, labels: s.labels, value: total },
        ];
      })
      : f.samples.map((s) => ({ labels: s.labels, value: s.value }));
    // The registry renames an OpenMetrics counter (`_total` off) before it asks for the values.
    const metric = {
      name: f.name,
      help: f.help,
      type: f.type,
      aggregator: "sum",
      get: () => ({ name: metric.name, help: f.help, type: f.type, aggregator: "sum", values }),
    };
    // A collector of ready values: prom-client's own metric classes observe one value at a time.
    registry.registerMetric(metric as unknown as Parameters<typeof registry.registerMetric>[0]);
  }
  return { contentType: registry.contentType, text: await registry.metrics() };
}

/**
 * `fusetrace serve`: one trace kept running, its cumulative snapshots served as Prometheus /
 * OpenMetrics metrics on `/metrics` and/or written atomically to a node_exporter textfile.
 *
 * A scrape reads the last snapshot and never waits for bpftrace. Counters only grow while the
 * process lives: when a traced mount goes away the trace is restarted (a kernel connection
 * number can be reused by the next mount, and bpftrace's maps cannot forget one), and what the
 * ended trace had counted is carried into the new one's figures. A mount that is not mounted is
 * not exported; when it comes back its series go on from where they stood.
 * @module
 */
import { fuseMounts } from "../probes/mounts.ts";
import { prepare, type Prepared, run, type TraceOptions } from "../probes/runner.ts";
import type { Report } from "../probes/report.ts";
import { UsageError } from "../util/errors.ts";
import { VERSION } from "../util/version.ts";
import { writeFileAtomic } from "../reporters/csv.ts";
import {
  addFamilies,
  exposition,
  familiesOf,
  type Family,
  keepMounts,
  wantsOpenMetrics,
} from "../reporters/prometheus.ts";

/** Where to listen. */
export interface ListenAddress {
  hostname: string;
  port: number;
}

/** The default listening address: loopback only; binding elsewhere is explicit. */
export const DEFAULT_LISTEN: ListenAddress = { hostname: "127.0.0.1", port: 9469 };

/**
 * `PORT`, `HOST:PORT` or `[IPv6]:PORT` (a bare port listens on loopback).
 * @throws {UsageError} otherwise
 */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]*)):)?(\d{1,5})$/.exec(text.trim());
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) {
    throw new UsageError(
      `Invalid --listen "${text}": expected PORT, HOST:PORT or [IPv6]:PORT, e.g. 127.0.0.1:9469`,
    );
  }
  return { hostname: m[1] ?? (m[2] || DEFAULT_LISTEN.hostname), port };
}

/** What to serve. */
export interface ServeOptions {
  /** The trace (mounts, plugins, sources, …): as `trace()` takes it. */
  trace: TraceOptions;
  /** How often the trace takes a snapshot (ms). */
  intervalMs: number;
  /** Serve `/metrics` here. */
  listen?: ListenAddress;
  /** Write the exposition to this file (atomically, every interval), for node_exporter. */
  textfile?: string;
  /** Histogram bounds per power of two (1, 2, 4, … 32). */
  perOctave?: number;
  /** Stops serving. */
  signal: AbortSignal;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
  /** Called once the HTTP server listens. */
  onListen?: (address: ListenAddress) => void;
}

/**
 * How long to wait before preparing a trace again (a mount to come back, bpftrace to restart);
 * doubled after each trace that failed before attaching, up to MAX_RETRY_MS.
 */
const RETRY_MS = 1000;
const MAX_RETRY_MS = 30_000;

/**
 * Serves until `signal` aborts.
 * @throws {UsageError} when the first trace cannot be prepared or the address cannot be bound
 */
export async function serve(o: ServeOptions): Promise<void> {
  const log = o.log ?? (() => {});
  if (o.trace.autoSampleRate) {
    throw new UsageError(
      "--sample auto: serve's histograms are counters, and a switch to 1 in N mid-way would " +
        "mix two bases in them; give serve --sample N",
    );
  }
  const traceOptions: TraceOptions = { ...o.trace, intervalMs: o.intervalMs, inFlight: true };
  // Everything checked before serving: options, privileges, mounts, the program.
  let prepared: Prepared | undefined = prepare(traceOptions);
  const build = {
    version: VERSION,
    kernel: prepared.caps.kernel,
    bpftrace: prepared.caps.bpftrace,
    sources: [
      prepared.sources.request ? "request" : "",
      prepared.sources.daemon ? "daemon" : "",
      prepared.sources.sent ? "sent" : "",
      prepared.sources.kernel ? (prepared.sources.fentry ? "fentry" : "kprobe") : "",
    ].filter(Boolean).join(","),
  };
  const plugins = prepared.plugins;

  let carried: Family[] = []; // what ended traces counted
  let current: Family[] = []; // the running trace's last snapshot
  let up = false;
  let restarts = 0;
  let lastSnapshot = 0;
  let published: Family[] = [];
  const publish = (mounted = fuseMounts()) => {
    const live = new Set(mounted.map((m) => m.mountPoint));
    published = [
      ...keepMounts(addFamilies(carried, current), (m) => m === "-" || live.has(m)),
      ...meta(up, build, restarts, lastSnapshot),
    ];
    if (o.textfile) void writeTextfile(o.textfile, published, log, o.perOctave);
  };

  let server: Deno.HttpServer | undefined;
  if (o.listen) {
    const address = o.listen;
    try {
      server = Deno.serve({
        hostname: address.hostname,
        port: address.port,
        signal: o.signal,
        onListen: () => o.onListen?.(address),
      }, async (req) => {
        const path = new URL(req.url).pathname;
        if (path === "/") {
          return new Response(`fusetrace ${VERSION}: metrics at /metrics\n`, {
            headers: { "content-type": "text/plain; charset=utf-8" },
          });
        }
        if (path !== "/metrics") return new Response("not found\n", { status: 404 });
        const om = wantsOpenMetrics(req.headers.get("accept"));
        const e = await exposition(published, { perOctave: o.perOctave, openMetrics: om });
        return new Response(e.text, { headers: { "content-type": e.contentType } });
      });
    } catch (e) {
      throw new UsageError(
        `Cannot listen on ${address.hostname}:${address.port}: ${(e as Error).message}`,
      );
    }
  }
  publish();

  let waitingSaid = false;
  let backoff = RETRY_MS;
  while (!o.signal.aborted) {
    if (!prepared) {
      try {
        prepared = prepare(traceOptions);
        waitingSaid = false;
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        if (!waitingSaid) log(`waiting: ${e.message}`);
        waitingSaid = true;
        await sleep(RETRY_MS, o.signal);
        continue;
      }
    }
    const p = prepared;
    prepared = undefined;
    // The connections this trace has seen mounted: one of them going away restarts it.
    const seen = new Set(p.mounts.map((m) => m.dev));
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    o.signal.addEventListener("abort", onAbort, { once: true });
    let report: Report | undefined;
    let attached = false;
    try {
      report = await run(p, {
        signal: stop.signal,
        onReady: () => {
          up = attached = true;
          publish();
          log(`tracing ${p.mounts.length ? p.mounts.map((m) => m.mountPoint).join(", ") : "FUSE"}`);
        },
        onSnapshot: (r) => {
          current = familiesOf(r, plugins);
          lastSnapshot = Date.now() / 1000;
          // One read of the mount table: what is exported, and whether a traced mount went.
          const mounted = fuseMounts();
          const live = new Set(mounted.map((m) => m.dev));
          const gone = [...seen].filter((d) => !live.has(d));
          for (const d of live) seen.add(d);
          publish(mounted);
          if (gone.length) stop.abort();
        },
      });
    } catch (e) {
      log(`the trace failed: ${(e as Error).message.split("\n")[0]}`);
    } finally {
      o.signal.removeEventListener("abort", onAbort);
    }
    // The ended trace's totals (its exit report, else its last snapshot) carry over.
    carried = addFamilies(carried, report ? familiesOf(report, plugins) : current);
    current = [];
    up = false;
    if (o.signal.aborted) break;
    restarts++;
    backoff = attached ? RETRY_MS : Math.min(backoff * 2, MAX_RETRY_MS);
    log(
      `a traced mount went away or the trace ended: restarting in ${backoff / 1000} s ` +
        `(restart ${restarts})`,
    );
    publish();
    await sleep(backoff, o.signal);
  }
  publish();
  if (o.textfile) await writeTextfile(o.textfile, published, log, o.perOctave);
  await server?.finished;
}

/** The exporter's own metrics. */
function meta(
  up: boolean,
  build: Record<string, string>,
  restarts: number,
  lastSnapshot: number,
): Family[] {
  return [
    {
      name: "fusetrace_up",
      help: "1 while the trace is attached, 0 while it is (re)starting or waiting for a mount",
      type: "gauge",
      samples: [{ labels: {}, value: up ? 1 : 0 }],
    },
    {
      name: "fusetrace_build_info",
      help: "fusetrace's version, the kernel, bpftrace and the sources traced",
      type: "gauge",
      samples: [{ labels: build, value: 1 }],
    },
    {
      name: "fusetrace_trace_restarts_total",
      help: "Traces restarted (a traced mount went away, or bpftrace ended)",
      type: "counter",
      samples: [{ labels: {}, value: restarts }],
    },
    {
      name: "fusetrace_last_snapshot_timestamp_seconds",
      help: "When the trace last took a snapshot (Unix time)",
      type: "gauge",
      samples: [{ labels: {}, value: lastSnapshot }],
    },
  ];
}

let writing = Promise.resolve();

/**
 * Writes the exposition (the text format node_exporter reads) through a temporary file, one
 * write at a time; a failed write is said and the next one tried.
 */
function writeTextfile(
  path: string,
  families: readonly Family[],
  log: (line: string) => void,
  perOctave?: number,
): Promise<void> {
  writing = writing.then(async () => {
    try {
      writeFileAtomic(path, (await exposition(families, { perOctave })).text);
    } catch (e) {
      log(`cannot write ${path}: ${(e as Error).message}`);
    }
  });
  return writing;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

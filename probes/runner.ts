/**
 * The runner: options → capabilities → compose → bpftrace → decode → `Report`. It spawns
 * `bpftrace -f json`, waits until the probes are attached, streams the output through the decoder,
 * stops bpftrace with SIGINT once its probes are attached (repeated only while it has neither begun
 * to detach them nor run its END probe: one during the exit dump would cut it short) and returns the
 * exit dump as a typed report.
 * @module
 */
import {
  type Capabilities,
  detectCapabilities,
  findBpftrace,
  parseVersion,
  requireRoot,
} from "./capabilities.ts";
import {
  compose,
  composeCount,
  type Composed,
  END_MARK,
  READY_MARK,
  type UprobeTarget,
} from "./compose.ts";
import {
  cvmfsTargets,
  daemonTargets,
  fuseDaemons,
  ioUringDaemons,
  libfuseReplyTargets,
  parseUprobeSpec,
  uprobeSymbols,
} from "./daemon.ts";
import { Decoder } from "./decode.ts";
import { UsageError } from "../util/errors.ts";
import { connectionAborted, fuseMounts, type MountInfo, resolveMount } from "./mounts.ts";
import { PluginRegistry, pluginSources, type ProbePlugin } from "./plugin.ts";
import { type Report, type RunMeta, type SlowRequest, subtractReports } from "./report.ts";
import {
  chooseSources,
  type ChosenSources,
  resolveKernelFunctions,
  type SourceChoice,
  symbolsByName,
  unavailable,
} from "./sources.ts";
import { VERSION } from "../util/version.ts";

/** What to trace. */
export interface TraceOptions {
  /**
   * Plugins by name (in `registry`) or plugin objects. Default: the registry's plugins selected by
   * default.
   */
  plugins?: readonly (string | ProbePlugin)[];
  /**
   * The plugins known by name (the engine knows none of its own). The library's `trace()` passes
   * the built-ins; add a script's plugins with `registry.add()`.
   */
  registry?: PluginRegistry;
  /** The most entries each plugin section keeps (default 20). */
  top?: number;
  /** Only these mounts (paths at or below a FUSE mount point). */
  mounts?: readonly string[];
  /** Only requests of this process. */
  pid?: number;
  /** Only requests of processes with this command name. */
  comm?: string;
  /** Sources; default `["auto"]`. */
  sources?: readonly SourceChoice[];
  /** Stop after this many ms (else when `signal` aborts). */
  durationMs?: number;
  /** Snapshot every this many ms, passed to `onInterval` as the difference to the previous one. */
  intervalMs?: number;
  /** Stops the trace (like Ctrl-C). */
  signal?: AbortSignal;
  /** Called once the probes are attached, with the bpftrace process's pid. */
  onReady?: (prepared: Prepared, bpftracePid: number) => void;
  /** Called with each interval's report. */
  onInterval?: (report: Report) => void;
  /**
   * Called with each snapshot as it is (cumulative since the start, sections included; with
   * `inFlight`, its rows say what was in flight then) — what an exporter serves.
   */
  onSnapshot?: (report: Report) => void;
  /** Snapshots carry the requests in flight (each prints the pairing map: an exporter's gauge). */
  inFlight?: boolean;
  /**
   * Time 1 request in N (a power of two), chosen by a hash of its id so that the others cost no
   * map access at their end; every request is still counted (see {@link ComposeOptions.sample}).
   */
  sample?: number;
  /**
   * With `sample`: every request is timed until the request rate exceeds this many per second,
   * then 1 in `sample` (`--sample auto`; see {@link ComposeOptions.autoSampleRate}).
   */
  autoSampleRate?: number;
  /** Log requests slower than this (ms) through `onSlow`. */
  slowMs?: number;
  /** Called with each request slower than `slowMs`, as it ends. */
  onSlow?: (request: SlowRequest) => void;
  /** Capabilities to use instead of probing this machine (tests). */
  capabilities?: Capabilities;
  /** Maximum keys per bpftrace map (default 16384). */
  mapKeys?: number;
  /** Daemon processes of the (one) traced mount, instead of finding them. */
  daemonPids?: readonly number[];
  /** Daemon functions to time: `BINARY:SYMBOL_PATTERN`. */
  uprobes?: readonly string[];
  /** Presets of daemon functions: `cvmfs` (callbacks), `libfuse` (reply counts). */
  daemonPresets?: readonly ("cvmfs" | "libfuse")[];
  /**
   * The processes presets and uprobes run in (default: `daemonPids`, else every /dev/fuse holder);
   * find those of some mounts with `servedBy()` (the CLI does).
   */
  presetPids?: readonly number[];
}

/** A composed trace, ready to run. */
export interface Prepared {
  bin: string;
  caps: Capabilities;
  sources: ChosenSources;
  plugins: readonly ProbePlugin[];
  mounts: MountInfo[];
  composed: Composed;
  /** Kernel functions not found on this kernel (`plugin:function`). */
  missingFunctions: string[];
  /** Daemon functions probed (timed `--uprobe`/`--daemon cvmfs`, counted `--daemon libfuse`). */
  daemonFunctions: number;
  /** FUSE daemons serving over io_uring, `pid N (command)` (see {@link ioUringDaemons}). */
  ioUring?: string[];
  /** Interval reports asked for (else the program's snapshots are checkpoints only). */
  intervals?: boolean;
  /** `mounts` were selected (then their going away ends the trace). */
  selected?: boolean;
  /** Entries each plugin section keeps (`--top`); default 20. */
  top?: number;
}

/**
 * Keys per bpftrace map for a trace: room for ~2 000 histogram buckets (≈ 13 operations over 5
 * decades of latency) per source and mount, at least 4 096, at most 65 536. Smaller maps are
 * faster (the in-flight request map stays in cache); a histogram that still runs out of keys is
 * reported, never silently wrong.
 */
export function mapKeysFor(sources: number, mounts: number, timed: number): number {
  const want = 2048 * sources * mounts + 256 * timed;
  let keys = 4096;
  while (keys < want && keys < 65536) keys *= 2;
  return keys;
}

/**
 * `--sample auto`: every request is timed until more than `above` requests per second, then 1 in
 * `sample`. At 1–1.5 µs of BPF per timed request on a slow VM (README, Overhead), timing 10 000
 * requests a second costs 1–1.5 % of a CPU, and a client that issues them one after another is
 * slowed by that much; above it, 1 in 8 takes most of the timing cost away and keeps p99 within
 * 5 % (tests/sample_live_test.ts).
 */
export const AUTO_SAMPLE = { sample: 8, above: 10_000 } as const;

/** Snapshots taken when no interval is asked for, so a killed bpftrace loses at most this (ms). */
export const CHECKPOINT_MS = 10_000;

/**
 * Checks privileges and options, probes the machine and composes the program.
 * @throws {UsageError} on bad options, missing privileges, bpftrace or sources
 */
export function prepare(o: TraceOptions = {}): Prepared {
  const registry = o.registry ?? new PluginRegistry();
  const plugins = registry.select(o.plugins);
  if (!plugins.length) throw new UsageError("No plugin to trace with (the registry is empty)");
  if (o.durationMs !== undefined && !(o.durationMs > 0)) {
    throw new UsageError(`Invalid duration: ${o.durationMs} ms`);
  }
  if (o.intervalMs !== undefined && !(o.intervalMs > 0)) {
    throw new UsageError(`Invalid interval: ${o.intervalMs} ms`);
  }
  if (o.slowMs !== undefined && !(o.slowMs > 0)) {
    throw new UsageError(`Invalid slow-request threshold: ${o.slowMs} ms`);
  }
  const all = fuseMounts();
  const selectedMounts = (o.mounts ?? []).map((m) => resolveMount(m, all));
  if (!o.capabilities) requireRoot();
  const bin = findBpftrace();
  const caps = o.capabilities ?? detectCapabilities(bin);
  if (o.daemonPids?.length && selectedMounts.length !== 1) {
    throw new UsageError("--daemon-pid needs exactly one --mount (the mount it serves)");
  }
  const sources = withPluginSources(
    plugins,
    chooseSources(
      [...(o.sources ?? ["auto"]), ...(o.daemonPids?.length ? ["daemon" as const] : [])],
      caps,
    ),
    !o.sources?.length || o.sources.includes("auto"),
    caps,
  );
  if (o.slowMs && !sources.request) {
    throw new UsageError("--slow needs the request source (fuse tracepoints, Linux ≥ 6.12)");
  }
  const resolved = sources.kernel
    ? resolveKernelFunctions(plugins, caps.functions)
    : { found: [], missing: [] };
  const scope = selectedMounts.length ? selectedMounts : all;
  const presets = o.daemonPresets ?? [];
  const daemons = sources.daemon ? daemonTargets(scope, o.daemonPids ?? [], bin, caps) : [];
  // Uprobes run in the daemons: given, or every /dev/fuse holder — which, for a preset limited to
  // some mounts, must be one process (the mount a process serves shows only in its requests).
  const holders = o.daemonPids?.length || o.presetPids?.length ? [] : fuseDaemons();
  if (presets.length && !o.presetPids?.length && selectedMounts.length && holders.length > 1) {
    throw new UsageError(
      `--daemon ${presets[0]} with --mount: ${holders.length} processes serve FUSE mounts here ` +
        `(pids ${holders.map((d) => d.pid).join(", ")}); give the one of ` +
        `${selectedMounts[0]!.mountPoint} with --daemon-pid`,
    );
  }
  const pids = [
    ...new Set([...(o.daemonPids ?? []), ...(o.presetPids ?? []), ...holders.map((d) => d.pid)]),
  ];
  const uprobes: UprobeTarget[] = (o.uprobes ?? []).flatMap((spec) => {
    const { binary, pattern } = parseUprobeSpec(spec);
    const symbols = uprobeSymbols(bin, binary, pattern);
    if (!symbols.length) throw new UsageError(`--uprobe "${spec}": no symbol matches`);
    return symbols.map((symbol) => ({ plugin: "uprobe", operation: symbol, binary, symbol }));
  });
  if (presets.includes("cvmfs")) uprobes.push(...cvmfsTargets(bin, pids, plugins));
  const uprobeCounts = presets.includes("libfuse") ? libfuseReplyTargets(bin, pids) : [];
  const known = [...registry.all(), ...plugins];
  const composed = composeOrRefuse({
    version: parseVersion(caps.bpftrace) ?? [0, 16, 0],
    plugins,
    known,
    request: sources.request,
    requestKey: sources.requestKey,
    sentSplit: sources.sent,
    kernelFunctions: resolved.found,
    kprobeSymbols: kprobeSymbols(caps),
    fentry: sources.fentry,
    ...(sources.daemon ? { daemons, savedUserRegs: !!caps.savedUserRegs } : {}),
    uprobes,
    uprobeCounts,
    ...(pids.length ? { uprobePids: pids } : {}),
    ...(selectedMounts.length ? { connections: selectedMounts.map((m) => m.dev) } : {}),
    ...(o.pid !== undefined ? { pid: o.pid } : {}),
    ...(o.comm ? { comm: o.comm } : {}),
    ...(o.durationMs ? { durationMs: Math.ceil(o.durationMs) } : {}),
    // Without intervals, a checkpoint every CHECKPOINT_MS: what a killed bpftrace loses.
    intervalMs: Math.ceil(o.intervalMs ?? CHECKPOINT_MS),
    ...(o.inFlight ? { inFlightSnapshots: true } : {}),
    ...(o.sample && o.sample > 1 ? { sample: o.sample } : {}),
    ...(o.sample && o.sample > 1 && o.autoSampleRate ? { autoSampleRate: o.autoSampleRate } : {}),
    ...(o.slowMs ? { slowNs: o.slowMs * 1e6 } : {}),
    mapKeys: o.mapKeys ?? mapKeysFor(
      // --sample auto keeps the 1 in N apart: two rows' worth of keys for each.
      (o.autoSampleRate ? 2 : 1) *
        ((sources.request ? 1 : 0) + (sources.daemon ? (sources.request ? 3 : 1) : 0) +
          (sources.sent ? 2 : 0)),
      selectedMounts.length || Math.max(1, all.length),
      resolved.found.length + uprobes.length,
    ),
    watchPid: Deno.pid,
  });
  return {
    bin,
    caps,
    sources,
    plugins,
    mounts: selectedMounts.length ? selectedMounts : all,
    composed,
    missingFunctions: resolved.missing,
    daemonFunctions: uprobes.length + uprobeCounts.length,
    ioUring: ioUringDaemons(!!caps.fuseUring),
    ...(o.intervalMs ? { intervals: true } : {}),
    ...(selectedMounts.length ? { selected: true } : {}),
    ...(o.top ? { top: o.top } : {}),
  };
}

/**
 * The sources the selected plugins' hooks need: added under `auto`, else refused in one line. The
 * daemon's hooks need its syscall probes, so where they are wanted the queue / served split at
 * fuse_request_sent gives way to the daemon's.
 * @throws {UsageError} when a needed source was left out or is not available
 */
function withPluginSources(
  plugins: readonly ProbePlugin[],
  chosen: ChosenSources,
  auto: boolean,
  caps: Capabilities,
): ChosenSources {
  const out = { ...chosen };
  const symbols = symbolsByName(kprobeSymbols(caps));
  const facts = { kernelFunction: (name: string) => symbols.has(name) };
  for (const p of plugins) {
    for (const s of pluginSources(p, facts)) {
      if (out[s]) continue;
      if (!auto) {
        throw new UsageError(`Plugin "${p.name}" needs the ${s} source: add --source ${s}`);
      }
      const why = unavailable(s, caps);
      if (why) throw new UsageError(`Plugin "${p.name}" needs the ${s} source: ${why}`);
      out[s] = true;
      if (s === "daemon") out.sent = false;
    }
  }
  return out;
}

/**
 * The kernel functions plugins may probe here: kprobes attach, and BTF types their arguments
 * (none otherwise).
 */
function kprobeSymbols(caps: Capabilities): readonly string[] {
  return caps.kprobes && caps.btf ? caps.functions : [];
}

/** compose(), its errors (two selected plugins claiming one opcode, …) as usage errors. */
function composeOrRefuse(o: Parameters<typeof compose>[0]): Composed {
  try {
    return compose(o);
  } catch (e) {
    if (e instanceof TypeError) throw new UsageError(e.message);
    throw e;
  }
}

/** Lines bpftrace prints on stderr that say nothing about the program (warnings of this VM). */
export const NOISE: RegExp = /RLIMIT_MEMLOCK|available_filter_functions|^\s*$/;
const READY = READY_MARK;

/** How many descriptors a process holds (-1: it is gone, or not ours to look at). */
function openFds(pid: number): number {
  try {
    return [...Deno.readDirSync(`/proc/${pid}/fd`)].length;
  } catch {
    return -1;
  }
}

/** Splits a byte stream into lines. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    let i;
    while ((i = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, i);
      rest = rest.slice(i + 1);
    }
  }
  if (rest) yield rest;
}

/**
 * Runs a trace to its end (duration, `signal`, or bpftrace exiting) and returns the exit report.
 * @throws {UsageError} on bad options; {Error} when bpftrace fails
 * @example Ten seconds of lookups on one mount
 * ```ts ignore
 * import { trace } from "./runner.ts";
 * const report = await trace({ plugins: ["lookup"], mounts: ["/cvmfs/sft.cern.ch"], durationMs: 10_000 });
 * ```
 */
export async function trace(o: TraceOptions = {}): Promise<Report> {
  return await run(prepare(o), o);
}

/** Runs a prepared trace (see {@link trace}). */
export async function run(p: Prepared, o: TraceOptions = {}): Promise<Report> {
  const start = new Date();
  const meta: RunMeta = {
    host: Deno.hostname(),
    kernel: p.caps.kernel,
    tool: `fusetrace ${VERSION}`,
    bpftrace: p.caps.bpftrace,
    start: start.toISOString(),
    durationS: 0,
  };
  const names = new Map(p.mounts.map((m) => [m.dev, m.mountPoint]));
  // A connection mounted after the start: read mountinfo once for it, and remember a miss.
  const mountOf = (c: number) => {
    if (!names.has(c)) {
      for (const m of fuseMounts()) if (!names.has(m.dev)) names.set(m.dev, m.mountPoint);
      if (!names.has(c)) names.set(c, `conn:${c >>> 20}:${c & 0xfffff}`);
    }
    return names.get(c)!;
  };
  const decoder = new Decoder({
    composed: p.composed,
    mountOf,
    meta,
    plugins: p.plugins,
    ...(p.top ? { top: p.top } : {}),
  });
  const child = new Deno.Command(p.bin, {
    args: ["-f", "json", "-e", p.composed.program],
    env: { ...p.composed.env, [READY]: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  let ready = false;
  const errors: string[] = [];
  // SIGINT once the probes are attached. bpftrace 0.17's poll loop acts on a SIGINT that arrives
  // outside its wait only at its next event, so one may go unheeded: it is repeated every 3 s, but
  // only while bpftrace still holds every descriptor it held once attached. Fewer means it is
  // detaching its probes (seconds for fentry or hundreds of kprobes under emulation), after which
  // it runs END and drains its output; a SIGINT then makes it drop the rest of that exit dump
  // (seen: a guest's trace ended without its report, exit status 0).
  let stopRequested = false;
  let ended = false;
  let attachedFds = -1;
  let resend: ReturnType<typeof setInterval> | undefined;
  // A bpftrace that does not stop (stopped with SIGSTOP, stuck) is continued, then killed: the
  // last checkpoint is what it had collected.
  const interrupt = () => {
    const began = Date.now();
    let exiting = false;
    const send = (signal: Deno.Signal) => {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
    };
    send("SIGINT");
    resend = setInterval(() => {
      if (ended) return;
      const waited = Date.now() - began;
      if (waited >= KILL_AFTER_MS) return send("SIGKILL");
      exiting ||= openFds(child.pid) < attachedFds;
      if (exiting) return;
      if (waited >= 5000) send("SIGCONT");
      send("SIGINT");
    }, 3000);
  };
  const markReady = () => {
    if (ready) return;
    ready = true;
    attachedFds = openFds(child.pid);
    o.onReady?.(p, child.pid);
    if (stopRequested) interrupt();
  };
  const stop = () => {
    if (stopRequested) return;
    stopRequested = true;
    if (ready) interrupt();
  };
  o.signal?.addEventListener("abort", stop, { once: true });
  if (o.signal?.aborted) stop();

  let previous: Report | undefined;
  const readOut = (async () => {
    for await (const line of lines(child.stdout)) {
      if (line.startsWith(READY)) {
        markReady();
        continue;
      }
      if (line.includes(END_MARK)) ended = true;
      let ev;
      try {
        ev = decoder.push(line);
      } catch {
        errors.push(line);
        continue;
      }
      if (ev.kind === "slow") o.onSlow?.(ev.request);
      if (ev.kind === "snapshot") {
        ev.report.meta = { ...meta, durationS: (Date.now() - start.getTime()) / 1000 };
        o.onSnapshot?.(ev.report);
        if (p.intervals) {
          o.onInterval?.(previous ? subtractReports(ev.report, previous) : ev.report);
        }
        previous = ev.report;
      }
    }
  })();
  const readErr = (async () => {
    for await (const line of lines(child.stderr)) {
      if (line.includes(READY)) markReady();
      else if (!NOISE.test(line)) errors.push(line);
    }
  })();
  // A traced mount that goes away (unmounted, even lazily, or its daemon gone: the kernel aborted
  // the connection) ends the trace: its connection number may be reused by the next mount.
  let vanished = "";
  const watch = p.selected
    ? setInterval(() => {
      const live = new Set(fuseMounts().map((m) => m.dev));
      const gone = p.mounts.map((m) =>
        !live.has(m.dev)
          ? `${m.mountPoint} was unmounted`
          : connectionAborted(m.dev)
          ? `the daemon of ${m.mountPoint} is gone (the kernel aborted its connection)`
          : ""
      ).filter(Boolean);
      if (gone.length && !vanished) {
        vanished = gone.join("; ");
        if (gone.length === p.mounts.length) stop();
      }
    }, 1000)
    : undefined;
  const status = await child.status;
  await Promise.all([readOut, readErr]);
  clearInterval(resend);
  clearInterval(watch);
  o.signal?.removeEventListener("abort", stop);
  const now = { ...meta, durationS: (Date.now() - start.getTime()) / 1000 };
  const report = decoder.finish();
  report.meta = now;
  if (p.ioUring?.length) report.ioUring = p.ioUring;
  if (vanished) report.ended = `${vanished} at ${now.durationS.toFixed(1)} s`;
  // Stopped (Ctrl-C) before the probes were attached: nothing was traced, which is no error.
  if (!ready && o.signal?.aborted) return report;
  if (ready && !ended && previous) {
    // bpftrace died (killed, crashed) before its exit report: the last checkpoint stands.
    const how = status.signal ? `was killed by ${status.signal}` : `exited with ${status.code}`;
    previous.ended = `bpftrace ${how} before its exit report: this is its last snapshot, ` +
      `${(now.durationS - previous.meta.durationS).toFixed(1)} s before the end`;
    if (p.ioUring?.length) previous.ioUring = p.ioUring;
    return withoutParts(previous);
  }
  if (!ready || !ended || (!status.success && status.signal !== "SIGINT")) {
    const why = errors.slice(0, 5).join("\n") ||
      (status.signal ? `killed by ${status.signal}` : `exit status ${status.code}`);
    throw new Error(`bpftrace failed: ${why}`);
  }
  // The last, partial interval.
  if (p.intervals) {
    const last = previous ? subtractReports(report, previous) : report;
    if (last.rows.length || !previous) o.onInterval?.(last);
  }
  return withoutParts(report);
}

/** A whole trace's report without what only interval reports need (`--sample auto`'s parts). */
function withoutParts(report: Report): Report {
  for (const r of report.rows) delete r.sampledPart;
  return report;
}

/** How long a stop may take before bpftrace is killed (its last checkpoint then stands). */
const KILL_AFTER_MS = 60_000;

/** What to count with {@link prepareCount}. */
export interface CountTraceOptions {
  /** Regular expression the function names must match (default: every fuse/cuse function). */
  regex?: string;
  durationMs?: number;
  capabilities?: Capabilities;
}

/**
 * Prepares the original fuse_calls_count: every traceable fuse kernel function (or those matching
 * `regex`), counted with kprobes.
 * @throws {UsageError} on a bad regex, no match, no kprobes (naming the fallback)
 */
export function prepareCount(o: CountTraceOptions = {}): Prepared {
  let re: RegExp | undefined;
  try {
    re = o.regex ? new RegExp(o.regex) : undefined;
  } catch {
    throw new UsageError(`Invalid regular expression "${o.regex}"`);
  }
  if (!o.capabilities) requireRoot();
  const bin = findBpftrace();
  const caps = o.capabilities ?? detectCapabilities(bin);
  if (!caps.kprobes) {
    throw new UsageError(
      `kprobes are not available on this kernel (${caps.kernel}); ` +
        "count FUSE requests per opcode instead: fusetrace trace --source request",
    );
  }
  const functions = caps.functions.filter((f) => !re || re.test(f));
  if (!functions.length) throw new UsageError(`No fuse kernel function matches "${o.regex}"`);
  return {
    bin,
    caps,
    sources: {
      request: false,
      kernel: true,
      daemon: false,
      sent: false,
      fentry: false,
      requestKey: "unique",
    },
    plugins: [],
    mounts: [],
    composed: composeCount({
      version: parseVersion(caps.bpftrace) ?? [0, 16, 0],
      functions,
      ...(o.durationMs ? { durationMs: Math.ceil(o.durationMs) } : {}),
      watchPid: Deno.pid,
    }),
    missingFunctions: (caps.skippedFunctions ?? []).filter((f) => !re || re.test(f)),
    daemonFunctions: 0,
  };
}

/**
 * Traces while `work` runs: starts it once the probes are attached, stops the trace when it
 * settles (or `signal` aborts), and returns both its result and the report.
 * @throws whatever `work` throws, after the trace has stopped
 * @example Trace one command
 * ```ts ignore
 * import { traceDuring } from "./runner.ts";
 * const { report } = await traceDuring({ mounts: ["/cvmfs/sft.cern.ch"] }, () =>
 *   new Deno.Command("python3", { args: ["-c", "import numpy"] }).output());
 * ```
 */
export async function traceDuring<T>(
  o: TraceOptions,
  work: (bpftracePid: number) => Promise<T>,
): Promise<{ result: T; report: Report }> {
  const ac = new AbortController();
  o.signal?.addEventListener("abort", () => ac.abort(), { once: true });
  let done: Promise<T> | undefined;
  const report = await run(prepare(o), {
    ...o,
    signal: ac.signal,
    onReady: (p, pid) => {
      o.onReady?.(p, pid);
      done = work(pid).finally(() => ac.abort());
    },
  });
  return { result: await done!, report };
}

/**
 * `bench`: workloads against a mount (metadata storm, tree walk, cold read, warm read, an
 * import-like start-up), each traced (or not, `--untraced`), a CSV per run and a summary; and
 * `--overhead`: the same storm untraced, traced by fusetrace, and traced by a naive one-printf-per-
 * request bpftrace script, client and daemon pinned to one CPU, as wall-time ratios over repeats.
 * @module
 */
import {
  AUTO_SAMPLE,
  builtinRegistry,
  columns,
  detectCapabilities,
  findBpftrace,
  fmtNs,
  resolveMount,
  servedBy,
  summarize,
  totalRunTimeNs,
  traceDuring,
  type TraceOptions,
  withBpfStats,
  writeCsv,
  writeFileAtomic,
} from "../mod.ts";
import { NOISE } from "../probes/runner.ts";
import type { Workload } from "./workload.ts";

const WORKLOAD = new URL("./workload.ts", import.meta.url).pathname;
const COLD: ReadonlySet<Workload> = new Set(["storm", "walk", "cold-read", "import"]);

/** What to bench. */
export interface BenchOptions {
  mount: string;
  workloads: readonly Workload[];
  /** Runs per workload (default 1). */
  repeat?: number;
  /** Baseline: run without tracing. */
  untraced?: boolean;
  /** Where to write one CSV per traced run. */
  csvDir?: string;
  /** CPU the client and the daemon are pinned to (default: `benchCpu()`, the last). */
  cpu?: number;
  progress?: (line: string) => void;
}

/** One bench run. */
export interface BenchRun {
  workload: Workload;
  run: number;
  traced: boolean;
  ms: number;
  ops: number;
  /** FUSE requests the trace saw (traced runs). */
  requests?: number;
  /** p50 of the most frequent operation, ns (traced runs). */
  p50?: number;
  top?: string;
  csv?: string;
}

/** Every file below `root` (relative paths), by a walk. */
export async function listFiles(root: string, sub = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${root}/${sub}`)) {
    const rel = sub ? `${sub}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...await listFiles(root, rel));
    else if (e.isFile) out.push(rel);
  }
  return out;
}

/** Drops the dentry, inode (and page) caches, so the next pass reaches the daemon: root only. */
export function dropCaches(level: 2 | 3 = 3): void {
  Deno.writeTextFileSync("/proc/sys/vm/drop_caches", String(level));
}

/**
 * The CPU a benchmark pins to unless told: the last. bpftrace (0.17, as seen here) binds each
 * tracepoint's perf event to CPU 0 and its programs return 1, so there every hit also makes the
 * kernel prepare a perf sample nobody reads: CPU 0 is the worst case (`--cpu 0`), one CPU in N.
 */
export function benchCpu(): number {
  return allowedCpus().at(-1)!;
}

/**
 * The CPUs this process may run on, as the kernel lists them ("0-3,8"): its affinity, which a
 * cpuset or `taskset` may narrow.
 */
export function allowedCpuList(): string {
  return /^Cpus_allowed_list:\s*(\S+)$/m.exec(Deno.readTextFileSync("/proc/self/status"))![1]!;
}

/** {@link allowedCpuList} as numbers. */
export function allowedCpus(): number[] {
  return allowedCpuList().split(",").flatMap((r) => {
    const [a, b = a] = r.split("-").map(Number);
    return Array.from({ length: b! - a! + 1 }, (_, i) => a! + i);
  });
}

async function pinDaemons(mount: string, cpu: number): Promise<number[]> {
  // The daemon by evidence (the connection its replies go to); unknown: the client pinned only.
  const m = resolveMount(mount);
  const bin = findBpftrace();
  const pids = (await servedBy(bin, detectCapabilities(bin), [m])).get(m.dev) ?? [];
  for (const pid of pids) {
    await new Deno.Command("taskset", {
      args: ["-a", "-p", "-c", String(cpu), String(pid)],
      stdout: "null",
    })
      .output();
  }
  return pids;
}

/** The command line of the workload pinned to `cpu` (taskset and its arguments). */
function pinnedWorkload(kind: Workload, mount: string, list: string, cpu: number): string[] {
  return ["taskset", "-c", String(cpu), Deno.execPath(), "run", "-A", WORKLOAD, kind, mount, list];
}

/** Runs the workload as a pinned child process. */
async function client(kind: Workload, mount: string, list: string, cpu: number) {
  const [cmd, ...args] = pinnedWorkload(kind, mount, list, cpu);
  const o = await new Deno.Command(cmd!, {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!o.success) throw new Error(`workload ${kind} failed: ${new TextDecoder().decode(o.stderr)}`);
  return JSON.parse(new TextDecoder().decode(o.stdout)) as { ms: number; ops: number };
}

async function prepareWorkload(kind: Workload, mount: string, list: string, cpu: number) {
  if (kind === "warm-read") await client("warm-read", mount, list, cpu);
  if (COLD.has(kind)) dropCaches(3);
}

/** Runs the workloads; traced unless `untraced`. */
export async function runBench(o: BenchOptions): Promise<BenchRun[]> {
  const cpu = o.cpu ?? benchCpu();
  const log = o.progress ?? (() => {});
  const files = await listFiles(o.mount);
  const list = Deno.makeTempFileSync({ suffix: ".list" });
  Deno.writeTextFileSync(list, files.join("\n"));
  await pinDaemons(o.mount, cpu);
  if (o.csvDir) Deno.mkdirSync(o.csvDir, { recursive: true });
  const runs: BenchRun[] = [];
  try {
    for (const kind of o.workloads) {
      for (let i = 1; i <= (o.repeat ?? 1); i++) {
        log(`${kind} run ${i}/${o.repeat ?? 1}${COLD.has(kind) ? " (caches dropped)" : ""}…`);
        await prepareWorkload(kind, o.mount, list, cpu);
        if (o.untraced) {
          runs.push({
            workload: kind,
            run: i,
            traced: false,
            ...await client(kind, o.mount, list, cpu),
          });
          continue;
        }
        const { result, report } = await traceDuring(
          { mounts: [o.mount], sources: ["request"] },
          () => client(kind, o.mount, list, cpu),
        );
        const rows = report.rows.filter((r) => r.source === "request");
        const top = [...rows].sort((a, b) => b.count - a.count)[0];
        const r: BenchRun = {
          workload: kind,
          run: i,
          traced: true,
          ...result,
          requests: rows.reduce((n, x) => n + x.count, 0),
          ...(top ? { top: top.operation, p50: summarize(top).p50 } : {}),
        };
        if (o.csvDir) {
          r.csv = `${o.csvDir}/bench_${kind}_${i}.csv`;
          writeFileAtomic(r.csv, writeCsv(report));
        }
        runs.push(r);
      }
    }
  } finally {
    Deno.removeSync(list);
  }
  return runs;
}

/** The summary table of bench runs. */
export function formatBench(runs: BenchRun[]): string {
  const lines = [["WORKLOAD", "RUN", "TRACED", "WALL", "OPS", "REQUESTS", "TOP OP", "P50"]];
  for (const r of runs) {
    lines.push([
      r.workload,
      String(r.run),
      r.traced ? "yes" : "no",
      `${r.ms.toFixed(1)}ms`,
      String(r.ops),
      r.requests === undefined ? "-" : String(r.requests),
      r.top ?? "-",
      r.p50 === undefined ? "-" : fmtNs(r.p50),
    ]);
  }
  return columns(lines);
}

/** A traced variant of the overhead measurement. */
export type Variant =
  | "untraced"
  | "fusetrace"
  | "fusetrace --sample 8"
  | "fusetrace --sample auto"
  | "fusetrace --sample auto (switched)"
  | "fusetrace+daemon"
  | "fusetrace+daemon --sample 8"
  | "fusetrace+analyses"
  | "minimal.bt"
  | "printf.bt"
  | "empty.bt"
  | "count.bt";

/** The variants, in the table's order. */
export const VARIANTS: readonly Variant[] = [
  "untraced",
  "fusetrace",
  "fusetrace --sample 8",
  "fusetrace --sample auto",
  "fusetrace --sample auto (switched)",
  "fusetrace+daemon",
  "fusetrace+daemon --sample 8",
  "fusetrace+analyses",
  "minimal.bt",
  "printf.bt",
  "empty.bt",
  "count.bt",
];

/** What each fusetrace variant traces. */
const TRACED: Partial<
  Record<Variant, Pick<TraceOptions, "sources" | "plugins" | "sample" | "autoSampleRate">>
> = {
  fusetrace: { sources: ["request"] },
  "fusetrace --sample 8": { sources: ["request"], sample: 8 },
  // A storm shorter than a second ends before the program's first look at the rate: every
  // request timed, plus what auto costs before its switch.
  "fusetrace --sample auto": {
    sources: ["request"],
    sample: AUTO_SAMPLE.sample,
    autoSampleRate: AUTO_SAMPLE.above,
  },
  // Switched by unmeasured storms first (at any rate: what it costs after the switch does not
  // depend on the rate that made it switch).
  "fusetrace --sample auto (switched)": {
    sources: ["request"],
    sample: AUTO_SAMPLE.sample,
    autoSampleRate: 1,
  },
  "fusetrace+daemon": { sources: ["request", "daemon"] },
  "fusetrace+daemon --sample 8": { sources: ["request", "daemon"], sample: 8 },
  // Every timing plugin and the three analyses (which need the daemon's side too).
  "fusetrace+analyses": {
    sources: ["request", "daemon"],
    plugins: [
      ...builtinRegistry().select().map((p) => p.name),
      "negative",
      "requesters",
      "sizes",
    ],
  },
};

/** Overhead figures of one variant: wall time relative to the untraced run of the same round. */
export interface OverheadResult {
  /** A built-in variant, or the path of a script of the user's. */
  variant: Variant | string;
  ms: number[];
  ratios: number[];
  min: number;
  median: number;
  max: number;
  /** Median BPF program run time per stat() call, ns (kernel.bpf_stats_enabled accounting). */
  bpfNsPerOp: number;
  /** The same per FUSE request (the storm's requests, as fusetrace counted them). */
  bpfNsPerRequest: number;
  /** FUSE requests per storm (median of the fusetrace variants' counts). */
  requests: number;
}

/** Parts of an overhead storm (at least 500 files each). */
const STORM_PARTS = 8;

/** The reference scripts of the overhead table, shipped beside this file. */
const SCRIPTS = new URL("./scripts/", import.meta.url).pathname;

/** A variant's bpftrace script: a reference script shipped here, or a file of the user's. */
function scriptOf(v: string): string {
  return (VARIANTS as readonly string[]).includes(v) ? `${SCRIPTS}${v}` : v;
}

/** Runs `fn` under a bpftrace script (its output read and discarded, as a consumer would). */
async function scriptRun<T>(script: string, fn: (bpftracePid: number) => Promise<T>): Promise<T> {
  const child = new Deno.Command(findBpftrace(), {
    args: [scriptOf(script)],
    env: { __BPFTRACE_NOTIFY_PROBES_ATTACHED: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let attached: () => void;
  const ready = new Promise<void>((r) => (attached = r));
  let errors = "";
  const watch = async (s: ReadableStream<Uint8Array>, keep: boolean) => {
    for await (const chunk of s.pipeThrough(new TextDecoderStream())) {
      if (chunk.includes("__BPFTRACE_NOTIFY_PROBES_ATTACHED")) attached!();
      if (keep && errors.length < 4096) errors += chunk;
    }
  };
  const drained = Promise.all([watch(child.stdout, false), watch(child.stderr, true)]);
  // A script that does not compile or attach: bpftrace's own words, not a hang.
  if (await Promise.race([ready.then(() => false), child.status.then(() => true)])) {
    await drained;
    const said = errors.split("\n").filter((l) => !NOISE.test(l));
    const line = said.find((l) => /error/i.test(l)) ?? said[0] ?? "no message";
    throw new Error(`${script}: bpftrace did not attach it: ${line.trim()}`);
  }
  try {
    return await fn(child.pid);
  } finally {
    const kill = setInterval(() => {
      try {
        child.kill("SIGINT");
      } catch { /* gone */ }
    }, 500);
    child.kill("SIGINT");
    await child.status;
    clearInterval(kill);
    await drained;
  }
}

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor((s.length - 1) / 2)]!, max: s[s.length - 1]! };
}

/**
 * Measures tracing overhead on a metadata storm: per round, the storm traced by each variant
 * (fusetrace's modes, the reference scripts), in a rotated order, each between two untraced
 * storms; its ratio is to their mean.
 */
export async function measureOverhead(
  o: {
    mount: string;
    repeat?: number;
    cpu?: number;
    progress?: (s: string) => void;
    /**
     * Default: every variant. A name ending in `.bt` that is not a reference script is a path to
     * a bpftrace script of the user's, measured like them. The untraced run is always measured.
     */
    variants?: readonly (Variant | string)[];
  },
): Promise<OverheadResult[]> {
  const cpu = o.cpu ?? benchCpu();
  const files = await listFiles(o.mount);
  // The storm in parts, caches dropped before each: a round's time is the median part times
  // their number, so a burst of the host's noise spoils one part, not the round.
  const all = Deno.makeTempFileSync({ suffix: ".list" });
  Deno.writeTextFileSync(all, files.join("\n"));
  const parts = Math.max(1, Math.min(STORM_PARTS, Math.floor(files.length / 500)));
  const lists = Array.from({ length: parts }, (_, k) => {
    const list = Deno.makeTempFileSync({ suffix: ".list" });
    Deno.writeTextFileSync(list, files.filter((_, i) => i % parts === k).join("\n"));
    return list;
  });
  await pinDaemons(o.mount, cpu);
  const variants = o.variants
    ? ["untraced", ...o.variants.filter((v) => v !== "untraced")]
    : VARIANTS;
  const requests: number[] = [];
  const ms = new Map<string, number[]>(variants.map((v) => [v, []]));
  const bpf = new Map<string, number[]>(variants.map((v) => [v, []]));
  const ratios = new Map<string, number[]>(variants.map((v) => [v, []]));
  // One storm; with a tracer's pid, also the BPF run time it cost per stat() call.
  const storm = async (v: string, pid?: number) => {
    const before = pid ? totalRunTimeNs(pid) : 0;
    const times: number[] = [];
    for (const list of lists) {
      dropCaches(2);
      times.push((await client("storm", o.mount, list, cpu)).ms);
    }
    if (pid) bpf.get(v)!.push((totalRunTimeNs(pid) - before) / files.length);
    return stats(times).median * parts;
  };
  try {
    await storm("untraced"); // warm the binaries and the daemon
    const rounds = o.repeat ?? 5;
    const traced = variants.filter((v) => v !== "untraced");
    await withBpfStats(async () => {
      for (let i = 0; i < rounds; i++) {
        const order = traced.map((_, k) => traced[(k + i) % traced.length]!);
        o.progress?.(`round ${i + 1}/${rounds}: ${order.join(", ")}`);
        // Each traced storm between two untraced ones, its ratio to their mean: the host's noise
        // comes in phases of seconds to minutes, so the baseline is taken where the storm is.
        let before = await storm("untraced");
        ms.get("untraced")!.push(before);
        for (const v of order) {
          let t: number;
          if (v.endsWith(".bt")) t = await scriptRun(v, (pid) => storm(v, pid));
          else {
            const switched = v === "fusetrace --sample auto (switched)";
            let seen = false;
            const r = await traceDuring(
              {
                mounts: [o.mount],
                ...TRACED[v as Variant],
                ...(switched
                  ? { intervalMs: 500, onSnapshot: (s) => void (seen ||= !!s.autoSample?.switched) }
                  : {}),
              },
              async (pid) => {
                // Storms until a snapshot shows the switch (the program looks once a second).
                for (let i = 0; switched && !seen; i++) {
                  if (i === 30) throw new Error(`${v}: the program did not switch`);
                  // Not measured; in one client, for a rate without the parts' start-up gaps.
                  dropCaches(2);
                  await client("storm", o.mount, all, cpu);
                  await new Promise((r) => setTimeout(r, 500));
                }
                return storm(v, pid);
              },
            );
            t = r.result;
            if (!switched) {
              requests.push(
                r.report.rows.filter((x) => x.source === "request").reduce(
                  (n, x) => n + x.count,
                  0,
                ),
              );
            }
          }
          const after = await storm("untraced");
          ms.get("untraced")!.push(after);
          ms.get(v)!.push(t);
          ratios.get(v)!.push(t / ((before + after) / 2));
          before = after;
        }
      }
    });
  } finally {
    for (const list of [all, ...lists]) Deno.removeSync(list);
  }
  const perStorm = requests.length ? stats(requests).median : files.length;
  return variants.map((v) => {
    const xs = ms.get(v)!;
    const rs = v === "untraced" ? xs.map(() => 1) : ratios.get(v)!;
    const ns = bpf.get(v)!;
    return {
      variant: v,
      ms: xs,
      ratios: rs,
      ...stats(rs),
      bpfNsPerOp: ns.length ? stats(ns).median : 0,
      bpfNsPerRequest: ns.length ? stats(ns).median * files.length / perStorm : 0,
      requests: perStorm,
    };
  });
}

/** The overhead table: wall time and ratio to untraced (min/median/max over rounds). */
export function formatOverhead(results: OverheadResult[], requests?: number): string {
  const pct = (r: number) => `${r >= 1 ? "+" : ""}${((r - 1) * 100).toFixed(1)}%`;
  const lines = [["VARIANT", "MEDIAN WALL", "MIN", "MEDIAN", "MAX", "BPF/STAT", "BPF/REQUEST"]];
  for (const r of results) {
    lines.push([
      r.variant,
      `${stats(r.ms).median.toFixed(1)}ms`,
      pct(r.min),
      pct(r.median),
      pct(r.max),
      r.bpfNsPerOp ? `${Math.round(r.bpfNsPerOp)}ns` : "-",
      r.bpfNsPerRequest ? `${Math.round(r.bpfNsPerRequest)}ns` : "-",
    ]);
  }
  return `${columns(lines)}${
    requests
      ? `\n(${requests} stat() calls, ${
        results.find((r) => r.requests)?.requests ?? "?"
      } FUSE requests per storm; BPF: kernel-accounted BPF run time per stat() and per request)`
      : ""
  }`;
}

/** One sample of a soak: memory of the tracer and of this process, and what the maps hold. */
export interface SoakSample {
  /** Seconds since the trace attached. */
  t: number;
  /** Resident memory, bytes: bpftrace, and this (Deno) process. */
  bpftraceRss: number;
  denoRss: number;
  /** Requests the trace has seen so far. */
  requests: number;
  /** Histogram buckets in use (the @lat map's keys) and requests in flight (the pairing map). */
  buckets: number;
  inFlight: number;
  /** CPU time since the previous sample, % of one core: bpftrace (user space), and Deno. */
  bpftraceCpu: number;
  denoCpu: number;
}

/** User + system CPU time of a process so far, seconds (0 when it is gone). */
function cpuSecondsOf(pid: number | "self"): number {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

function rssOf(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Keeps one trace running for `durationMs` while the storm repeats (caches dropped each time,
 * so every round sends requests), and samples every interval: the tracer's and Deno's memory
 * and the maps' fill — flat after warm-up, or something grows.
 */
export async function soak(
  o: {
    mount: string;
    durationMs: number;
    intervalMs?: number;
    cpu?: number;
    progress?: (s: SoakSample) => void;
    /** Called once the probes are attached, with the milliseconds since the trace was asked for. */
    onAttached?: (ms: number) => void;
  },
): Promise<SoakSample[]> {
  const files = await listFiles(o.mount);
  const list = Deno.makeTempFileSync({ suffix: ".list" });
  Deno.writeTextFileSync(list, files.join("\n"));
  const samples: SoakSample[] = [];
  const ac = new AbortController();
  let pid = 0;
  let began = 0;
  let last = { t: 0, bpftrace: 0, deno: 0 };
  const asked = performance.now();
  try {
    const work = traceDuring({
      mounts: [o.mount],
      // Ten samples at least: every 10 s, or a tenth of a shorter soak.
      intervalMs: o.intervalMs ?? Math.max(1000, Math.min(10_000, Math.round(o.durationMs / 10))),
      inFlight: true,
      signal: ac.signal,
      onSnapshot: (r) => {
        const rows = r.rows.filter((x) => x.source === "request");
        const t = (performance.now() - began) / 1000;
        const now = { t, bpftrace: cpuSecondsOf(pid), deno: cpuSecondsOf("self") };
        const pct = (k: "bpftrace" | "deno") => (100 * (now[k] - last[k])) / (t - last.t);
        const s: SoakSample = {
          t,
          bpftraceRss: rssOf(pid),
          denoRss: Deno.memoryUsage().rss,
          requests: rows.reduce((n, x) => n + x.count, 0),
          buckets: r.rows.reduce((n, x) => n + x.buckets.size, 0),
          inFlight: rows.reduce((n, x) => n + x.inFlight, 0),
          bpftraceCpu: pct("bpftrace"),
          denoCpu: pct("deno"),
        };
        last = now;
        samples.push(s);
        o.progress?.(s);
      },
    }, async (bpftracePid) => {
      pid = bpftracePid;
      began = performance.now();
      o.onAttached?.(began - asked);
      last = { t: 0, bpftrace: cpuSecondsOf(pid), deno: cpuSecondsOf("self") };
      // The storms in a shell loop of their own, so that this process's CPU time is the
      // tracer's alone (dropping caches is charged to the writer).
      const loop = new Deno.Command("sh", {
        args: [
          "-c",
          // Stopped with SIGTERM: the storm under way ends too (the mount may be unmounted next).
          "trap 'kill $c 2>/dev/null; wait $c; exit 0' TERM; " +
          "while :; do echo 2 > /proc/sys/vm/drop_caches || exit 1; " +
          '"$@" >/dev/null & c=$!; wait $c || exit 1; done',
          "storms",
          ...pinnedWorkload("storm", o.mount, list, o.cpu ?? benchCpu()),
        ],
        stderr: "piped",
      }).spawn();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const ended = await Promise.race([
        loop.status.then(() => true),
        new Promise<false>((r) => (timer = setTimeout(() => r(false), o.durationMs))),
      ]);
      clearTimeout(timer);
      if (ended) {
        const why = (await new Response(loop.stderr).text()).trim();
        throw new Error(`the storms stopped: ${why || "no message"}`);
      }
      loop.kill("SIGTERM");
      await loop.status;
    });
    await work;
  } finally {
    ac.abort();
    Deno.removeSync(list);
  }
  return samples;
}

/** The soak's samples as a table. */
export function formatSoak(samples: readonly SoakSample[]): string {
  const mb = (b: number) => `${(b / 1048576).toFixed(1)}M`;
  return columns([
    [
      "T",
      "BPFTRACE RSS",
      "DENO RSS",
      "REQUESTS",
      "BUCKETS",
      "IN FLIGHT",
      "BPFTRACE CPU",
      "DENO CPU",
    ],
    ...samples.map((s) => [
      `${s.t.toFixed(0)}s`,
      mb(s.bpftraceRss),
      mb(s.denoRss),
      String(s.requests),
      String(s.buckets),
      String(s.inFlight),
      `${s.bpftraceCpu.toFixed(2)}%`,
      `${s.denoCpu.toFixed(2)}%`,
    ]),
  ]);
}

/** Growth a soak tolerates after warm-up: bpftrace's maps are preallocated, Deno has a GC heap. */
const SOAK_SLACK = { bpftrace: 1 << 20, deno: 16 << 20 };

/**
 * Whether memory stayed flat after warm-up (the first fifth of the samples): RSS may grow by
 * {@link SOAK_SLACK} at most.
 */
export function soakVerdict(samples: readonly SoakSample[]): { flat: boolean; line: string } {
  if (samples.length < 3) {
    return { flat: true, line: `${samples.length} samples: too few to judge (3 at least)` };
  }
  const from = samples[Math.floor(samples.length / 5)]!;
  const last = samples[samples.length - 1]!;
  const mb = (b: number) => `${b >= 0 ? "+" : ""}${(b / 1048576).toFixed(1)}M`;
  const bpf = last.bpftraceRss - from.bpftraceRss;
  const deno = last.denoRss - from.denoRss;
  const flat = bpf <= SOAK_SLACK.bpftrace && deno <= SOAK_SLACK.deno;
  return {
    flat,
    line: `after warm-up (${from.t.toFixed(0)}s to ${last.t.toFixed(0)}s): bpftrace RSS ${
      mb(bpf)
    }, Deno RSS ${mb(deno)}, ${last.requests - from.requests} requests — ${
      flat
        ? "flat"
        : `GROWS (more than ${mb(SOAK_SLACK.bpftrace)} for bpftrace or ${
          mb(SOAK_SLACK.deno)
        } for Deno)`
    }`,
  };
}

#!/usr/bin/env -S deno run -A
/**
 * fusetrace command line: `trace`, `diff`, `demo`. Parses flags and calls the library.
 * @module
 */
import { Command, CommanderError, Option } from "npm:@commander-js/extra-typings@^14.0.0";
import {
  AUTO_SAMPLE,
  bpftraceVersion,
  builtinRegistry,
  checkComm,
  checkOutputPath,
  columns,
  compareCvmfs,
  compareRuns,
  type CvmfsComparison,
  DAY_MS,
  DEFAULT_LISTEN,
  DEFAULT_THRESHOLDS,
  defaultCsvName,
  detectCapabilities,
  diagnoseMounts,
  findBpftrace,
  formatCounts,
  formatCvmfsComparison,
  formatDiagnosis,
  formatDiffCsv,
  formatDiffJson,
  formatDiffTable,
  formatHistograms,
  formatMissingBpftrace,
  formatSections,
  formatSideBySide,
  formatSlow,
  formatSplit,
  formatTable,
  formatTotals,
  install,
  isCvmfsLatency,
  legend,
  loadPluginFile,
  loadRun,
  manPage,
  MAX_MAP_KEYS,
  mergeReports,
  mountTestFs,
  mountTotals,
  onStopSignals,
  OPCODES,
  parseDurationMs,
  parseErrors,
  parseLatency,
  parseList,
  parseListen,
  parsePid,
  parsePositiveInt,
  PER_OCTAVE,
  type PluginRegistry,
  prepare,
  prepareCount,
  type ProbePlugin,
  readCvmfsLatency,
  readInputFile,
  relabelMounts,
  renderHtml,
  resolveMount,
  rowLabel,
  run,
  sanitize,
  serve,
  servedBy,
  signalNumber,
  SOURCE_CHOICES,
  type SourceChoice,
  topRows,
  type TraceOptions,
  UsageError,
  VERSION,
  writeCsv,
  writeFileAtomic,
  writeJson,
} from "./mod.ts";

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function sourcesOf(text: string): SourceChoice[] {
  const list = parseList(text);
  for (const s of list) {
    if (!SOURCE_CHOICES.includes(s as SourceChoice)) {
      throw new UsageError(`Unknown source "${s}"; valid sources: ${SOURCE_CHOICES.join(", ")}`);
    }
  }
  return list as SourceChoice[];
}

/**
 * Checks that a command can be run (a path, or a name on PATH).
 * @throws {UsageError} otherwise
 */
function requireExecutable(cmd: string): void {
  const dirs = cmd.includes("/") ? [""] : (Deno.env.get("PATH") ?? "").split(":");
  const ok = dirs.some((d) => {
    try {
      const st = Deno.statSync(d ? `${d}/${cmd}` : cmd);
      return st.isFile && ((st.mode ?? 0) & 0o111) !== 0;
    } catch {
      return false;
    }
  });
  if (!ok) throw new UsageError(`Cannot run "${cmd}": not found or not executable`);
}

function stamp(): string {
  return new Date().toTimeString().slice(0, 8);
}

const program = new Command()
  .name("fusetrace")
  .description("Latency and counters of FUSE filesystems (CernVM-FS first), with bpftrace")
  .option("-V, --version", "print the versions of fusetrace, Deno and bpftrace")
  .addHelpText(
    "after",
    `
Examples:
  fusetrace demo                                  trace testfs twice and diff the runs
  fusetrace trace -m /cvmfs/sft.cern.ch -- python3 -c "import numpy"
  fusetrace diff before.csv after.csv
  fusetrace doctor                                what can this machine trace?
  fusetrace COMMAND --help                        a command's options, with examples`,
  )
  .exitOverride()
  .configureOutput({ writeErr: () => {} });

/** Examples after a command's options in its --help (and in the man page). */
function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  ${l}`).join("\n")}`;
}

/** A command's help as --help prints it, examples included. */
function fullHelp(
  c: { configureOutput(o: { writeOut(s: string): void }): unknown; outputHelp(): void },
): string {
  let out = "";
  c.configureOutput({ writeOut: (s) => (out += s) });
  c.outputHelp();
  return out;
}

/** `fusetrace 0.1.0 (deno 2.x, bpftrace 0.17.0)`. */
function versions(): string {
  let bpftrace = "not found";
  try {
    bpftrace = bpftraceVersion(findBpftrace()).join(".");
  } catch { /* not installed, or too old: said as not found */ }
  return `fusetrace ${VERSION} (deno ${Deno.version.deno}, bpftrace ${bpftrace})`;
}

/** The options of `trace` and `serve` that say what to trace. */
interface TraceFlags {
  plugins?: string;
  pluginFile: string[];
  listPlugins?: true;
  top: string;
  mount: string[];
  pid?: string;
  comm?: string;
  source: string;
  daemonPid: string[];
  uprobe: string[];
  daemon: string[];
  mapKeys?: string;
  sample?: string;
}

/** Adds the {@link TraceFlags} options to a command. */
function withTraceFlags<C>(command: C): C {
  (command as unknown as Command)
    .option(
      "--plugins <list>",
      "plugins to enable, comma-separated (default: every timing plugin, also named `default`, " +
        "as in default,negative; see --list-plugins)",
    )
    .option(
      "--plugin-file <file>",
      "load plugins from a TypeScript file and enable them (repeatable)",
      collect,
      [] as string[],
    )
    .option("--list-plugins", "list the plugins (with those of --plugin-file) and exit")
    .option("--top <n>", "entries kept in each plugin section (negative, requesters, …)", "20")
    .option("-m, --mount <path>", "only this FUSE mount (repeatable)", collect, [] as string[])
    .option("-p, --pid <pid>", "only requests of this process")
    .option("--comm <name>", "only requests of processes with this command name")
    .option(
      "-s, --source <list>",
      `sources: ${SOURCE_CHOICES.join(", ")} (comma-separated)`,
      "auto",
    )
    .option(
      "--daemon-pid <pid>",
      "the daemon of the (one) --mount (repeatable)",
      collect,
      [] as string[],
    )
    .option(
      "--uprobe <binary:pattern>",
      "time daemon functions (repeatable)",
      collect,
      [] as string[],
    )
    .option(
      "--daemon <preset>",
      "daemon function presets: cvmfs (callbacks), libfuse (reply counts) (repeatable)",
      collect,
      [] as string[],
    )
    .option("--map-keys <n>", "maximum keys per bpftrace map (default: sized to the trace)")
    .option(
      "--sample <n|auto>",
      `time 1 request in N (2, 4, 8, … 1024), or auto: every request until more than ${AUTO_SAMPLE.above} ` +
        `requests/s, then 1 in ${AUTO_SAMPLE.sample} (auto:RATE sets the rate); every request is still counted`,
    );
  return command;
}

/**
 * `--sample N` (a power of two from 2 to 1024), `auto` or `auto:RATE` (requests per second).
 * @throws {UsageError} on anything else
 */
function parseSample(text: string): { sample: number; autoSampleRate?: number } {
  const auto = /^auto(?::(.*))?$/.exec(text.trim());
  if (auto) {
    return {
      sample: AUTO_SAMPLE.sample,
      autoSampleRate: auto[1] === undefined
        ? AUTO_SAMPLE.above
        : parsePositiveInt(auto[1], "--sample auto:RATE (requests per second)", 1e9),
    };
  }
  const n = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!(n >= 2 && n <= 1024 && (n & (n - 1)) === 0)) {
    throw new UsageError(
      `Invalid --sample "${text}": a power of two from 2 to 1024, auto or auto:RATE`,
    );
  }
  return { sample: n };
}

/**
 * The trace options of {@link TraceFlags}, checked; undefined after `--list-plugins` (listed).
 * @throws {UsageError} on a bad value
 */
async function traceOptionsOf(
  f: TraceFlags,
): Promise<{ options: TraceOptions; top: number } | undefined> {
  const { registry, fromFiles } = await pluginRegistry(f.pluginFile);
  if (f.listPlugins) {
    console.log(listPlugins(registry));
    return undefined;
  }
  const top = parsePositiveInt(f.top, "--top", 1_000_000);
  const pid = f.pid !== undefined ? parsePid(f.pid, "pid") : undefined;
  if (f.comm !== undefined) checkComm(f.comm);
  if (f.plugins !== undefined && !parseList(f.plugins).length) {
    throw new UsageError(`Invalid --plugins "${f.plugins}": name at least one plugin`);
  }
  const daemonPids = f.daemonPid.map((x) => parsePid(x, "daemon pid"));
  const daemonPresets = f.daemon.map((d) => {
    if (d !== "cvmfs" && d !== "libfuse") {
      throw new UsageError(`Unknown daemon preset "${d}"; valid presets: cvmfs, libfuse`);
    }
    return d;
  });
  const sources = sourcesOf(f.source);
  const sampling = f.sample !== undefined ? parseSample(f.sample) : {};
  const mapKeys = f.mapKeys !== undefined
    ? parsePositiveInt(f.mapKeys, "--map-keys", MAX_MAP_KEYS)
    : undefined;
  // Presets limited to some mounts run in the processes seen serving them (evidence).
  let presetPids: number[] | undefined;
  if (f.daemon.length && f.mount.length && !daemonPids.length) {
    const bin = findBpftrace();
    const mounts = f.mount.map((m) => resolveMount(m));
    const served = await servedBy(bin, detectCapabilities(bin), mounts);
    presetPids = mounts.flatMap((m) => served.get(m.dev) ?? []);
    if (!presetPids.length) {
      throw new UsageError(
        `--daemon: no process was seen serving ${f.mount.join(", ")} (a stopped daemon, one ` +
          "serving over io_uring, or no BTF here); give it with --daemon-pid",
      );
    }
  }
  const named = f.plugins ? parseList(f.plugins) : [];
  return {
    top,
    options: {
      registry,
      top,
      ...(named.length || fromFiles.length
        ? {
          plugins: [
            ...(named.length ? named : registry.select().map((x) => x.name)),
            ...fromFiles.filter((p) => !named.includes(p.name)),
          ],
        }
        : {}),
      mounts: f.mount,
      ...(pid !== undefined ? { pid } : {}),
      ...(f.comm ? { comm: f.comm } : {}),
      sources,
      ...(mapKeys !== undefined ? { mapKeys } : {}),
      ...sampling,
      daemonPids,
      ...(presetPids ? { presetPids } : {}),
      uprobes: f.uprobe,
      daemonPresets,
    },
  };
}

withTraceFlags(
  program.command("trace")
    .description(
      "Trace FUSE requests until Ctrl-C (or --duration, or the end of COMMAND), then report per operation",
    )
    .addHelpText(
      "after",
      examples(
        "fusetrace trace                                  # every FUSE mount, until Ctrl-C",
        "fusetrace trace -m /cvmfs/sft.cern.ch -d 30s --csv",
        "fusetrace trace -m /cvmfs/sft.cern.ch --plugins lookup,negative,requesters,sizes -- python3 -c 'import numpy'",
        "fusetrace trace --plugin-file my_plugin.ts --json report.json",
        "fusetrace trace --ebpf --plugins lookup          # the composed bpftrace program",
      ),
    )
    .argument("[command...]", "run this command once the probes are attached; stop when it exits"),
)
  .option("-d, --duration <time>", "stop after this time (10s, 500ms, 2m)")
  .option("-i, --interval <time>", "print a report every interval")
  .option("-T, --timestamp", "timestamp each interval report")
  .option("--hist", "print latency histograms")
  .option("--slow <time>", "log each request slower than this, as it ends (e.g. 10ms)")
  .option("--csv [file]", "write the report as CSV (default fusetrace_YYYYmmdd-HHMMSS.csv)")
  .option("--json <file>", "write the whole report as JSON (schema fusetrace-report 1)")
  .option("--html <file>", "write the report as a self-contained HTML page with charts")
  .addOption(
    new Option("--format <fmt>", "report on stdout as a table or as JSON").choices(
      ["table", "json"] as const,
    ).default("table" as const),
  )
  .option("--print-program", "print the composed bpftrace program and exit")
  .option("--ebpf", "the same as --print-program (the BCC tools' name)")
  .action(async (command, opts) => {
    const o = opts as typeof opts & TraceFlags;
    if (command.length) requireExecutable(command[0]!);
    const t = await traceOptionsOf(o);
    if (!t) return;
    const { top } = t;
    if (o.format === "json" && o.interval !== undefined) {
      throw new UsageError(
        "--format json prints one report at the end; with --interval, write it with --json FILE",
      );
    }
    const durationMs = o.duration !== undefined ? parseDurationMs(o.duration) : undefined;
    const intervalMs = o.interval !== undefined
      ? parseDurationMs(o.interval, "interval")
      : undefined;
    const slowMs = o.slow !== undefined
      ? parseDurationMs(o.slow, "slow-request threshold", DAY_MS)
      : undefined;
    const csv = o.csv === true ? defaultCsvName() : o.csv;
    // Where the reports go is checked before the trace, not found wanting after it.
    if (csv !== undefined) checkOutputPath(csv, "--csv");
    if (o.json !== undefined) checkOutputPath(o.json, "--json");
    if (o.html !== undefined) checkOutputPath(o.html, "--html");
    const p = prepare({
      ...t.options,
      ...(durationMs ? { durationMs } : {}),
      ...(intervalMs ? { intervalMs } : {}),
      ...(slowMs ? { slowMs } : {}),
    });
    if (o.printProgram || o.ebpf) {
      console.log(p.composed.program);
      return;
    }
    const ac = new AbortController();
    const unlisten = onStopSignals(() => ac.abort());
    let commandStatus = 0;
    let commandRun: { argv: string[]; wallMs: number; status: number } | undefined;
    const what = [
      p.sources.request ? "requests" : "",
      p.sources.kernel ? `kernel callbacks (${p.sources.fentry ? "fentry" : "kprobe"})` : "",
      p.sources.daemon ? "daemon read/reply" : "",
      p.sources.sent ? "daemon receipt (fuse_request_sent)" : "",
      p.daemonFunctions ? "daemon functions" : "",
    ].filter(Boolean).join(" + ");
    const where = o.mount.length
      ? p.mounts.map((m) => sanitize(m.mountPoint)).join(", ")
      : "all FUSE mounts";
    try {
      const report = await run(p, {
        signal: ac.signal,
        onReady: () => {
          if (command.length) {
            const began = performance.now();
            const child = new Deno.Command(command[0]!, { args: command.slice(1) }).spawn();
            child.status.then((s) => {
              // Its status becomes fusetrace's, once the report is written.
              commandStatus = s.signal ? 128 + signalNumber(s.signal) : s.code;
              commandRun = {
                argv: command,
                wallMs: performance.now() - began,
                status: commandStatus,
              };
              if (!s.success) {
                console.error(
                  `fusetrace: ${command[0]} ${
                    s.signal ? `was killed by ${s.signal}` : `exited with status ${s.code}`
                  }`,
                );
              }
              ac.abort();
            });
          }
          if (p.missingFunctions.length) {
            console.error(`skipped (not on this kernel): ${p.missingFunctions.join(", ")}`);
          }
          console.error(
            `Tracing FUSE ${what} on ${where} (plugins: ${p.plugins.map((x) => x.name).join(",")})${
              durationMs ? ` for ${durationMs / 1000}s` : ""
            }${command.length ? ` while running ${command.join(" ")}` : ""}... Hit Ctrl-C to end.`,
          );
        },
        // With the JSON report on stdout, slow requests go to stderr.
        onSlow: (r) => (o.format === "json" ? console.error : console.log)(formatSlow(r)),
        onInterval: (r) => {
          console.log(`${o.timestamp ? `${stamp()}\n` : ""}${formatTable(r)}\n`);
        },
      });
      if (commandRun) report.command = commandRun;
      if (o.format === "json") console.log(writeJson(report).trimEnd());
      else {
        if (!intervalMs) console.log(formatTable(report));
        for (
          const extra of [
            formatSideBySide(report),
            formatSplit(report),
            formatSections(report, p.plugins, top),
            formatTotals(report),
          ]
        ) {
          if (extra) console.log(`\n${extra}`);
        }
        if (o.hist) console.log(`\n${formatHistograms(report)}`);
      }
      if (o.json !== undefined) {
        writeFileAtomic(o.json, writeJson(report));
        console.error(`JSON written to ${o.json}`);
      }
      if (o.html !== undefined) {
        writeFileAtomic(
          o.html,
          await renderHtml([{ label: "trace", report }], { plugins: p.plugins, top }),
        );
        console.error(`HTML written to ${o.html}`);
      }
      if (csv) {
        writeFileAtomic(csv, writeCsv(report));
        console.error(`CSV written to ${csv}`);
      }
      if (report.ended) console.error(`fusetrace: the trace ended: ${report.ended}`);
      if (commandStatus) exitCode = commandStatus;
    } finally {
      unlisten();
    }
  });

withTraceFlags(
  program.command("serve")
    .description(
      "Keep a trace running and export it: Prometheus/OpenMetrics on /metrics, and/or a " +
        "node_exporter textfile",
    )
    .addHelpText(
      "after",
      examples(
        "fusetrace serve                                  # http://127.0.0.1:9469/metrics",
        "fusetrace serve -m /cvmfs/sft.cern.ch --listen 0.0.0.0:9469",
        "fusetrace serve --textfile /var/lib/node_exporter/textfile/fusetrace.prom --no-listen",
        "fusetrace serve --plugins lookup,getattr,negative --buckets-per-octave 4",
      ),
    ),
)
  .option(
    "--listen <address>",
    `serve /metrics on PORT, HOST:PORT or [IPv6]:PORT (default ${DEFAULT_LISTEN.hostname}:${DEFAULT_LISTEN.port})`,
  )
  .option("--no-listen", "do not serve HTTP (with --textfile)")
  .option("--textfile <file.prom>", "write the metrics to this file every interval (atomically)")
  .option("-i, --interval <time>", "how often the trace takes a snapshot", "5s")
  .option(
    "--buckets-per-octave <n>",
    `histogram bounds per power of two of ns: ${PER_OCTAVE.join(", ")}`,
    "1",
  )
  .action(async (opts) => {
    const o = opts as typeof opts & TraceFlags;
    const t = await traceOptionsOf(o);
    if (!t) return;
    const intervalMs = parseDurationMs(o.interval, "interval", DAY_MS);
    const perOctave = Number(o.bucketsPerOctave);
    if (!(PER_OCTAVE as readonly number[]).includes(perOctave)) {
      throw new UsageError(
        `Invalid --buckets-per-octave "${o.bucketsPerOctave}": one of ${PER_OCTAVE.join(", ")}`,
      );
    }
    if (o.listen === false && o.textfile === undefined) {
      throw new UsageError("--no-listen needs --textfile: nothing would be exported");
    }
    const listen = o.listen === false
      ? undefined
      : typeof o.listen === "string"
      ? parseListen(o.listen)
      : DEFAULT_LISTEN;
    if (o.textfile !== undefined) {
      if (!o.textfile.endsWith(".prom")) {
        throw new UsageError(
          `--textfile "${o.textfile}": node_exporter's textfile collector reads *.prom files only`,
        );
      }
      checkOutputPath(o.textfile, "--textfile");
    }
    const ac = new AbortController();
    const unlisten = onStopSignals(() => ac.abort());
    try {
      await serve({
        trace: t.options,
        intervalMs,
        ...(listen ? { listen } : {}),
        ...(o.textfile !== undefined ? { textfile: o.textfile } : {}),
        perOctave,
        signal: ac.signal,
        log: (line) => console.error(`fusetrace serve: ${line}`),
        onListen: (a) =>
          console.error(
            `fusetrace serve: metrics on http://${
              a.hostname.includes(":") ? `[${a.hostname}]` : a.hostname
            }:${a.port}/metrics${o.textfile ? ` and in ${o.textfile}` : ""}. Hit Ctrl-C to end.`,
          ),
      });
    } finally {
      unlisten();
    }
  });

/** The built-in plugins and those of the --plugin-file files. */
async function pluginRegistry(
  files: readonly string[],
): Promise<{ registry: PluginRegistry; fromFiles: ProbePlugin[] }> {
  const registry = builtinRegistry();
  const fromFiles: ProbePlugin[] = [];
  for (const f of files) {
    for (const plugin of await loadPluginFile(f)) {
      try {
        registry.add(plugin, f);
      } catch (e) {
        throw new UsageError(`--plugin-file ${f}: ${(e as Error).message}`);
      }
      fromFiles.push(plugin);
    }
  }
  return { registry, fromFiles };
}

/** One line per plugin: name, kind, selected by default, origin, description. */
function listPlugins(registry: PluginRegistry): string {
  const rows = registry.all().map((p) => [
    p.name,
    p.program || p.parse ? "analysis" : "timing",
    p.byDefault === false ? "no" : "yes",
    registry.origin(p.name) ?? "",
    p.description,
  ]);
  // Description last and left as it is: columns() right-aligns all but the first column.
  const head = columns([["PLUGIN", "KIND", "DEFAULT", "FROM"], ...rows.map((r) => r.slice(0, 4))])
    .split("\n");
  return head.map((l, i) => i ? `${l}  ${sanitize(rows[i - 1]![4]!)}` : `${l}  DESCRIPTION`)
    .join("\n");
}

function pair(text: string, what: string): [number, number] {
  const m = /^(\d+(?:\.\d+)?),(\d+(?:\.\d+)?)$/.exec(text.trim());
  if (!m || Number(m[1]) > Number(m[2])) {
    throw new UsageError(
      `Invalid ${what} "${text}": expected LOW,HIGH with LOW ≤ HIGH, e.g. 100,500`,
    );
  }
  return [Number(m[1]), Number(m[2])];
}

program.command("diff")
  .description(
    "Did it get better or worse? Compare runs: A B, or several of each: A1 A2 … -- B1 B2 … " +
      "(fusetrace CSV, or the original ADDR,FUNC,COUNT files)",
  )
  .addHelpText(
    "after",
    examples(
      "fusetrace diff before.csv after.csv",
      "fusetrace diff --fail-on regression a1.csv a2.csv a3.csv -- b1.csv b2.csv b3.csv",
      "fusetrace diff --as old=cvmfs --as new=cvmfs old.json new.json",
    ),
  )
  .argument("<runs...>", "the baseline run(s), then the new run(s) (after -- when several)")
  .option(
    "--as <name>",
    "relabel mounts: NAME (each run has one mount) or PATH=NAME",
    collect,
    [] as string[],
  )
  .option("--only-changed", "hide rows without a change")
  .option("--top <n>", "show only the N rows with the largest change of total time")
  .addOption(
    new Option("--fail-on <what>", "exit 1 on a regression (or on any change)").choices(
      ["regression", "change"] as const,
    ),
  )
  .addOption(
    new Option("--format <fmt>", "output format").choices(["table", "csv", "json"] as const)
      .default("table" as const),
  )
  .addOption(
    new Option("--color <when>", "colour the table").choices(["auto", "always", "never"] as const)
      .default("auto" as const),
  )
  .option("--min-rel <pct>", "smallest latency change judged, % of the baseline", "10")
  .option("--min-abs <time>", "smallest latency change judged, per request", "1us")
  .option("--min-total <time>", "smallest change of a row's total time judged", "1ms")
  .option("--min-share <pct>", "... and % of the mount's total request time", "3")
  .option("--run-noise <pct>", "run-to-run variation assumed with one run a side, %", "25")
  .option("--alpha <p>", "significance level over all rows", "0.01")
  .option("--count-abs <low,high>", "count thresholds of the original colours", "100,500")
  .option("--count-rel <low,high>", "relative count thresholds of the original colours, %", "10,25")
  .action((runs, o) => {
    const positive = (text: string, what: string, max = Infinity, zero = false) => {
      const n = Number(text.trim());
      if (!/^\d+(\.\d+)?$/.test(text.trim()) || !(n > 0 || (zero && n === 0)) || n > max) {
        throw new UsageError(
          `Invalid ${what} "${text}": expected a number ${zero ? "≥" : "above"} 0${
            max < Infinity ? ` and at most ${max}` : ""
          }`,
        );
      }
      return n;
    };
    const t = {
      ...DEFAULT_THRESHOLDS,
      countAbs: pair(o.countAbs, "--count-abs"),
      countRel: pair(o.countRel, "--count-rel"),
      minRelPct: positive(o.minRel, "--min-rel"),
      minAbsNs: parseDurationMs(o.minAbs, "--min-abs") * 1e6,
      minTotalNs: parseDurationMs(o.minTotal, "--min-total") * 1e6,
      minSharePct: positive(o.minShare, "--min-share", 100, true),
      runNoisePct: positive(o.runNoise, "--run-noise", 1000, true),
      alpha: positive(o.alpha, "--alpha", 0.5),
    };
    const top = o.top ? parsePositiveInt(o.top, "--top") : undefined;
    // `A B`, or `A1 A2 … -- B1 B2 …` (everything after -- is the new side).
    const raw = argv.slice(argv.indexOf("diff") + 1);
    const sep = raw.indexOf("--");
    const nb = sep < 0 ? 1 : raw.length - sep - 1;
    if ((sep < 0 && runs.length !== 2) || (sep >= 0 && (nb < 1 || runs.length - nb < 1))) {
      throw new UsageError("diff takes two runs, A B, or several of each: A1 A2 … -- B1 B2 …");
    }
    const stray = runs.find((f) => f.startsWith("-"));
    if (stray) throw new UsageError(`"${stray}": options go before --, runs after it`);
    const load = (f: string) => relabelMounts(loadRun(f), o.as, f);
    const d = compareRuns(runs.slice(0, runs.length - nb).map(load), runs.slice(-nb).map(load), t);
    for (const n of d.notes) console.error(`fusetrace: ${n}`);
    let rows = d.rows;
    if (o.onlyChanged) rows = rows.filter((r) => r.class !== "green");
    if (top) rows = topRows(rows, top);
    const color = o.color === "always" ||
      (o.color === "auto" && Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR"));
    if (o.format === "json") console.log(formatDiffJson(rows));
    else if (o.format === "csv") {
      Deno.stdout.writeSync(new TextEncoder().encode(formatDiffCsv(rows)));
    } else console.log(formatDiffTable(rows, legend(t, [d.runsA, d.runsB]), color));
    const hit = d.rows.filter((r) =>
      r.operation !== "TOTAL" &&
      (o.failOn === "change" ? r.verdict !== "same" : r.verdict === "regression")
    );
    if (o.failOn && hit.length) {
      console.error(
        `fusetrace: ${o.failOn === "change" ? "changed" : "regression"}: ${
          hit.map(rowLabel).join(", ")
        }`,
      );
      exitCode = 1;
    }
  });

program.command("report")
  .description(
    "Report recorded runs again: tables on the terminal, or one self-contained HTML page with " +
      "charts (two runs: their diff and overlaid distributions)",
  )
  .addHelpText(
    "after",
    examples(
      "fusetrace report run.json",
      "fusetrace report before.csv after.csv --html report.html",
      "cvmfs_talk -i sft.cern.ch latency > cvmfs.csv; fusetrace report run.csv --cvmfs-latency cvmfs.csv",
    ),
  )
  .argument("<runs...>", "fusetrace CSV or JSON reports (or the original ADDR,FUNC,COUNT files)")
  .option("--html <file>", "write one HTML page (it opens offline) instead of the tables")
  .option(
    "--cvmfs-latency <file>",
    "`cvmfs_talk latency` output: CVMFS's own quantiles beside the first run's",
  )
  .option("--top <n>", "entries shown of each plugin section", "20")
  .option("--hist", "print latency histograms")
  .action(async (runs, o) => {
    const top = parsePositiveInt(o.top, "--top", 1_000_000);
    if (o.html !== undefined) checkOutputPath(o.html, "--html");
    const loaded = runs.map((file) => ({ label: file, report: loadRun(file) }));
    let cvmfs: CvmfsComparison[] | undefined;
    if (o.cvmfsLatency !== undefined) {
      const text = readInputFile(o.cvmfsLatency);
      if (!isCvmfsLatency(text)) {
        throw new UsageError(
          `${o.cvmfsLatency}: not cvmfs_talk latency output (its header starts "repository","action")`,
        );
      }
      cvmfs = compareCvmfs(loaded[0]!.report, readCvmfsLatency(text, o.cvmfsLatency));
    }
    const plugins = builtinRegistry().all();
    if (o.html !== undefined) {
      writeFileAtomic(
        o.html,
        await renderHtml(loaded, { plugins, top, ...(cvmfs ? { cvmfs } : {}) }),
      );
      console.error(`HTML written to ${o.html}`);
      return;
    }
    for (const { label, report } of loaded) {
      if (loaded.length > 1) console.log(`== ${label}`);
      console.log(formatTable(report));
      for (
        const extra of [
          formatSplit(report),
          formatSections(report, plugins, top),
          formatTotals(report),
        ]
      ) {
        if (extra) console.log(`\n${extra}`);
      }
      if (o.hist) console.log(`\n${formatHistograms(report)}`);
      if (loaded.length > 1) console.log("");
    }
    if (cvmfs) console.log(`\n${formatCvmfsComparison(cvmfs)}`);
  });

program.command("merge")
  .description(
    "Add runs into one, exactly (counts, errors, bytes, sums, histogram buckets; min and max): " +
      "many nodes, one distribution",
  )
  .addHelpText(
    "after",
    examples(
      "fusetrace merge node*.csv -o fleet.csv",
      "fusetrace merge --by operation a.csv b.json -o all.json",
      "fusetrace merge --as cvmfs old-path.csv new-path.csv   # runs on different paths pair",
    ),
  )
  .argument("<runs...>", "fusetrace CSV or JSON reports (or the original ADDR,FUNC,COUNT files)")
  .option(
    "-o, --output <file>",
    "write here: JSON if it ends in .json, else CSV (default: CSV on stdout)",
  )
  .addOption(
    new Option("--by <fields>", "rows pair by").choices(["mount,operation", "operation"] as const)
      .default("mount,operation" as const),
  )
  .option(
    "--as <name>",
    "relabel mounts: NAME (each run has one mount) or PATH=NAME",
    collect,
    [] as string[],
  )
  .action((runs, o) => {
    if (o.output !== undefined) checkOutputPath(o.output, "--output");
    const merged = mergeReports(
      runs.map((file) => ({ file, report: relabelMounts(loadRun(file), o.as, file) })),
      o.by,
    );
    const text = o.output?.endsWith(".json") ? writeJson(merged) : writeCsv(merged);
    if (o.output === undefined) Deno.stdout.writeSync(new TextEncoder().encode(text));
    else writeFileAtomic(o.output, text);
    const requests = mountTotals(merged).reduce((n, t) => n + t.requests, 0);
    console.error(
      `fusetrace: merged ${runs.length} runs (${merged.rows.length} rows, ${requests} requests` +
        `${o.output !== undefined ? `) into ${o.output}` : ")"}`,
    );
  });

program.command("count")
  .description(
    "Count calls of every fuse kernel function (kprobes), like fuse_calls_count; " +
      "without kprobes, FUSE requests per opcode",
  )
  .addHelpText(
    "after",
    examples("fusetrace count -d 10s --csv", "fusetrace count -r 'fuse_(lookup|getattr)'"),
  )
  .option("-r, --regex <re>", "only functions (or, without kprobes, opcodes) matching this")
  .option(
    "-m, --mount <path>",
    "only this FUSE mount (request counts only: kernel functions are machine-wide)",
    collect,
    [] as string[],
  )
  .option("-d, --duration <time>", "stop after this time (else Ctrl-C)")
  .option("--csv [file]", "write the counts as CSV (default fusetrace_YYYYmmdd-HHMMSS.csv)")
  .action(async (o) => {
    const durationMs = o.duration !== undefined ? parseDurationMs(o.duration) : undefined;
    const csv = o.csv === true ? defaultCsvName() : o.csv;
    if (csv !== undefined) checkOutputPath(csv, "--csv");
    let p;
    let keep = (_op: string) => true;
    try {
      p = prepareCount({
        ...(o.regex ? { regex: o.regex } : {}),
        ...(durationMs ? { durationMs } : {}),
      });
      if (o.mount.length) {
        throw new UsageError(
          "count -m: kprobes count kernel functions machine-wide, not per mount; " +
            "per mount, count requests: fusetrace trace -m PATH",
        );
      }
    } catch (e) {
      if (!(e instanceof UsageError) || !e.message.startsWith("kprobes are not available")) throw e;
      const re = o.regex ? new RegExp(o.regex) : undefined; // checked by prepareCount
      if (re && !Object.values(OPCODES).some((n) => re.test(n))) {
        throw new UsageError(`No FUSE opcode matches "${o.regex}"`);
      }
      keep = (op) => !re || re.test(op);
      console.error(
        `fusetrace: ${e.message.split(";")[0]}; counting FUSE requests per opcode instead`,
      );
      p = prepare({
        sources: ["request"],
        mounts: o.mount,
        ...(durationMs ? { durationMs } : {}),
      });
    }
    if (p.missingFunctions.length) {
      console.error(
        `not counted (cannot be probed by name: shared names, .part fragments): ${
          p.missingFunctions.join(", ")
        }`,
      );
    }
    const ac = new AbortController();
    const unlisten = onStopSignals(() => ac.abort());
    try {
      const all = await run(p, {
        signal: ac.signal,
        onReady: () => console.error("Counting... Hit Ctrl-C to end."),
      });
      const report = { ...all, rows: all.rows.filter((r) => keep(r.operation)) };
      console.log(formatCounts(report, p.sources.kernel ? "FUNC" : "OPCODE"));
      if (csv) {
        writeFileAtomic(csv, writeCsv(report));
        console.error(`CSV written to ${csv}`);
      }
    } finally {
      unlisten();
    }
  });

program.command("doctor")
  .description("Check what this machine can trace; exit 0 when tracing is possible, 1 when not")
  .addHelpText("after", examples("fusetrace doctor"))
  .action(async () => {
    try {
      const bin = findBpftrace();
      const caps = detectCapabilities(bin);
      const { text, ok } = formatDiagnosis(caps, bin, await diagnoseMounts(bin, caps));
      console.log(text);
      if (!ok) exitCode = 1;
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      console.log(formatMissingBpftrace(e.message.split(";")[0]!));
      exitCode = 1;
    }
  });

program.command("testfs")
  .description("Mount testfs, a FUSE filesystem with known latencies, until Ctrl-C/SIGTERM")
  .addHelpText(
    "after",
    examples("fusetrace testfs /tmp/t --latency lookup=2ms,read=exp:5ms --negative-entries"),
  )
  .argument("<mountpoint>", "an empty directory")
  .option("--depth <n>", "directory levels", "3")
  .option("--fanout <n>", "subdirectories per directory", "4")
  .option("--files <n>", "files in the tree", "1000")
  .option("--seed <n>", "seed of the size distribution", "1")
  .option("--size-scale <x>", "multiply every file size", "1")
  .option("--latency <list>", "service time per op: lookup=2ms,read=exp:5ms,open=uniform:1ms-3ms")
  .option("--errors <list>", "injected errors: lookup=ENOENT:1%")
  .option("--entry-timeout <s>", "kernel entry cache timeout, seconds", "60")
  .option("--attr-timeout <s>", "kernel attribute cache timeout, seconds", "60")
  .option("--no-keep-cache", "drop the page cache on open")
  .option("--single-thread", "serve one request at a time")
  .option("--negative-entries", "answer missing names with a node-id-0 entry (CVMFS), not ENOENT")
  .action(async (mnt, o) => {
    const num = (v: string, what: string, int = true) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0 || (int && !Number.isInteger(n))) {
        throw new UsageError(`Invalid ${what} "${v}"`);
      }
      return n;
    };
    try {
      if (!Deno.statSync(mnt).isDirectory) throw new Error();
    } catch {
      throw new UsageError(`Mount point "${mnt}" is not a directory`);
    }
    const opts = {
      depth: num(o.depth, "--depth"),
      fanout: num(o.fanout, "--fanout"),
      files: num(o.files, "--files"),
      seed: num(o.seed, "--seed"),
      sizeScale: num(o.sizeScale, "--size-scale", false),
      latency: parseLatency(o.latency ?? ""),
      errors: parseErrors(o.errors ?? ""),
      entryTimeout: num(o.entryTimeout, "--entry-timeout", false),
      attrTimeout: num(o.attrTimeout, "--attr-timeout", false),
      keepCache: o.keepCache,
      singleThread: !!o.singleThread,
      negativeEntries: !!o.negativeEntries,
    };
    // Signal listeners first: a SIGTERM that arrives while mounting must still unmount.
    const state: { stopped: boolean; close?: () => void } = { stopped: false };
    const onSig = () => {
      state.stopped = true;
      state.close?.();
    };
    const unlisten = onStopSignals(onSig);
    const fs = mountTestFs(Deno.realPathSync(mnt), opts);
    state.close = () => void fs.close();
    if (state.stopped) state.close();
    console.error(
      `testfs mounted at ${fs.mountPoint} (${fs.tree.files.length} files); Ctrl-C unmounts`,
    );
    await fs.done;
    unlisten();
  });

program.command("bench")
  .description("Run workloads against a mount (default: a generated squashfuse tree), traced")
  .addHelpText(
    "after",
    examples(
      "fusetrace bench --overhead -r 5",
      "fusetrace bench --soak 10m",
      "fusetrace bench /cvmfs/sft.cern.ch -w walk,cold-read",
    ),
  )
  .argument("[mount]", "a FUSE mount (default: generate a squashfs image and mount it)")
  .option(
    "-w, --workload <list>",
    "storm, walk, cold-read, warm-read, import",
    "storm,walk,cold-read,warm-read,import",
  )
  .option("-r, --repeat <n>", "runs per workload", "1")
  .option("--untraced", "baseline: run without tracing")
  .option("--csv-dir <dir>", "write one CSV per traced run here", "bench/results")
  .option("--overhead", "measure tracing overhead on a metadata storm (ratios to untraced)")
  .option(
    "--soak <duration>",
    "keep one trace running this long under repeated storms; memory and map fill over time",
  )
  .option(
    "-i, --interval <duration>",
    "with --soak: snapshot and sample this often (default: 10 s, or a tenth of a shorter soak)",
  )
  .option(
    "--variants <list>",
    "with --overhead: what to measure besides the untraced run (default: all), by name or a .bt file",
  )
  .option(
    "--cpu <n>",
    "CPU to pin the client and the daemon to (default: the last allowed; CPU 0 is bpftrace's worst case)",
  )
  .option("--files <n>", "files of the generated tree", "10000")
  .action(async (mount, o) => {
    const { WORKLOADS } = await import("./bench/workload.ts");
    const bench = await import("./bench/bench.ts");
    const workloads = parseList(o.workload).map((w) => {
      if (!(WORKLOADS as readonly string[]).includes(w)) {
        throw new UsageError(`Unknown workload "${w}"; valid workloads: ${WORKLOADS.join(", ")}`);
      }
      return w as typeof WORKLOADS[number];
    });
    const repeat = parsePositiveInt(o.repeat, "--repeat");
    const cpu = o.cpu === undefined ? bench.benchCpu() : Number(o.cpu);
    if (o.cpu !== undefined && (!/^\d+$/.test(o.cpu) || !bench.allowedCpus().includes(cpu))) {
      throw new UsageError(
        `Invalid --cpu "${o.cpu}": this process may run on CPUs ${bench.allowedCpuList()}`,
      );
    }
    const soakMs = o.soak !== undefined ? parseDurationMs(o.soak, "--soak") : undefined;
    const soakIntervalMs = o.interval !== undefined
      ? parseDurationMs(o.interval, "--interval")
      : undefined;
    if (soakIntervalMs !== undefined && soakMs === undefined) {
      throw new UsageError("--interval sets how often --soak samples: add --soak");
    }
    if (o.variants !== undefined && !o.overhead) {
      throw new UsageError("--variants selects what --overhead measures: add --overhead");
    }
    const variants = o.variants === undefined ? undefined : parseList(o.variants).map((v) => {
      if ((bench.VARIANTS as readonly string[]).includes(v)) return v;
      if (v.endsWith(".bt")) {
        readInputFile(v);
        return v;
      }
      throw new UsageError(
        `Unknown variant "${v}"; valid variants: ${bench.VARIANTS.join(", ")}, or a .bt file`,
      );
    });
    if (Deno.uid() !== 0) throw new UsageError("bench needs root (it traces and drops caches)");
    const log = (l: string) => console.error(`[bench] ${l}`);
    let made: { mountPoint: string; close(): Promise<void> } | undefined;
    // A stop signal (also while mounting) unmounts the generated tree and exits 130; a trace
    // under way ends with this process, a storm fails on the unmounted tree.
    let stopped = false;
    const stop = () => void made?.close().finally(() => Deno.exit(130));
    const unlisten = onStopSignals(() => {
      stopped = true;
      if (made) stop();
      else if (mount) Deno.exit(130);
    });
    if (mount) resolveMount(mount);
    else {
      const { ensureTools, mountSquashfs, shapeFor } = await import("./demo/squashfs.ts");
      await ensureTools(log);
      const files = parsePositiveInt(o.files, "--files");
      log(`generating a squashfs image of ${files} files, mounted with squashfuse`);
      made = await mountSquashfs(shapeFor(files));
      if (stopped) return stop();
    }
    const target = mount ?? made!.mountPoint;
    try {
      if (o.soak !== undefined) {
        const samples = await bench.soak({
          mount: target,
          durationMs: soakMs!,
          ...(soakIntervalMs !== undefined ? { intervalMs: soakIntervalMs } : {}),
          cpu,
          onAttached: (ms) =>
            log(`probes attached ${Math.round(ms)} ms after the trace was asked for`),
          progress: (x) =>
            log(
              `${x.t.toFixed(0)}s: bpftrace ${(x.bpftraceRss / 1048576).toFixed(1)}M, deno ${
                (x.denoRss / 1048576).toFixed(1)
              }M, ${x.requests} requests, ${x.buckets} buckets`,
            ),
        });
        console.log(bench.formatSoak(samples));
        const verdict = bench.soakVerdict(samples);
        console.log(verdict.line);
        if (!verdict.flat) Deno.exitCode = 1;
      } else if (o.overhead) {
        const results = await bench.measureOverhead({
          mount: target,
          repeat,
          cpu,
          progress: log,
          ...(variants ? { variants } : {}),
        });
        console.log(bench.formatOverhead(results, (await bench.listFiles(target)).length));
      } else {
        const runs = await bench.runBench({
          mount: target,
          workloads,
          repeat,
          cpu,
          ...(o.untraced ? { untraced: true } : { csvDir: o.csvDir }),
          progress: log,
        });
        console.log(bench.formatBench(runs));
        if (!o.untraced) log(`CSV files in ${o.csvDir}`);
      }
    } finally {
      unlisten();
      await made?.close();
    }
  });

program.command("demo")
  .description(
    "Trace a start-up-like workload on testfs twice (a slower LOOKUP the second time) and diff",
  )
  .addHelpText("after", examples("fusetrace demo", "fusetrace demo --files 500 --csv /tmp/d"))
  .option("--files <n>", "files in the generated tree", "2000")
  .option("--csv <prefix>", "CSV files to write: PREFIX_1.csv, PREFIX_2.csv", "fusetrace_demo")
  .action(async (o) => {
    const { runDemo } = await import("./demo/demo.ts");
    await runDemo({ files: parsePositiveInt(o.files, "files"), csv: o.csv });
  });

program.command("install")
  .description(
    "Put `fusetrace` on the PATH (a launcher running this checkout with this Deno, no network) " +
      "and its man page",
  )
  .option("--prefix <dir>", "install under DIR/bin, DIR/lib, DIR/share/man (default /usr/local)")
  .addHelpText(
    "after",
    examples("fusetrace install", "deno run -A cli.ts install --prefix ~/.local"),
  )
  .action(async (o) => {
    const page = manPage(
      fullHelp(program),
      program.commands.map((c) => [c.name(), fullHelp(c)] as [string, string]),
      new Date().toISOString().slice(0, 10),
    );
    const r = await install(page, o.prefix);
    console.error(
      `fusetrace installed: ${r.launcher} (runs ${new URL(".", import.meta.url).pathname}cli.ts ` +
        `with ${r.deno}), man page ${r.man}${
          r.onPath ? "" : `; ${r.launcher.replace(/\/fusetrace$/, "")} is not on PATH: add it`
        }`,
    );
  });

let exitCode = 0;
/** The arguments main() parses (diff reads its `--` from them; commander drops it). */
let argv: string[] = [];

/** Runs the CLI with `args`; returns the exit status (2 for usage errors). */
export async function main(args: string[]): Promise<number> {
  argv = args;
  if (!args.length) {
    console.error(program.helpInformation());
    return 2;
  }
  if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
    console.log(versions());
    return 0;
  }
  try {
    await program.parseAsync(args, { from: "user" });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return 0;
      if (e.code === "commander.help") return 0;
      console.error(e.message.replace(/^error: /, "fusetrace: "));
      return 2;
    }
    if (e instanceof UsageError) {
      console.error(`fusetrace: ${e.message}`);
      return 2;
    }
    console.error(`fusetrace: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));

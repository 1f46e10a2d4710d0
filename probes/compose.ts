/**
 * The composer: the ONLY code that writes bpftrace syntax. It turns the selected plugins, the
 * sources and the filters into one bpftrace program for a given bpftrace version, plus the table
 * the decoder needs to name what the program's maps hold.
 *
 * Every source aggregates into the same maps, keyed by (source id, connection, op, …), named in
 * schema.ts (`MAP`): latency buckets, exact stats, extremes, errors, counts, payload bytes. In-flight
 * requests stay in `MAP.inFlight` and are printed at exit. Plugins add their own probes, hook
 * statements and maps through a builder (see plugin.ts).
 * @module
 */
import { type Dialect, dialectFor, mapKeysEnv, type Version } from "./dialect.ts";
import { NO_REPLY } from "./opcodes.ts";
import {
  type Hook,
  type HookSource,
  opcodeOwners,
  type ProbePlugin,
  type ProgramBuilder,
} from "./plugin.ts";
import { SUB_BITS } from "./hist.ts";
import { FETCHING, replyPart } from "./report.ts";
import { symbolsByName } from "./sources.ts";
import {
  END_MARK,
  MAP,
  pluginMapName,
  REPORTED_MAPS,
  SLOW_MARK,
  SNAPSHOT_MARK,
  SOURCE_ID,
  UNSAMPLED,
} from "./schema.ts";

export * from "./schema.ts";

/** How the request source pairs a send with its end: `unique`, or the `struct fuse_req` pointer. */
export type RequestKey = "unique" | "pointer";

/**
 * A process that may serve FUSE connections (daemon source). Without `connection` (the usual case)
 * the connection each read()/writev() serves is read in the kernel from the /dev/fuse descriptor it
 * uses (BTF: file → struct fuse_dev → fc->dev), so a request is attributed by evidence, never by
 * what the command line looks like; with it (`--daemon-pid`), every request the process reads is
 * taken as that connection's.
 */
export interface DaemonTarget {
  pid: number;
  connection?: number;
}

/** The device number of /dev/fuse (10:229) as the kernel's dev_t (major << 20 | minor). */
const FUSE_DEV_RDEV = (10 << 20) | 229;

/**
 * x86-64: a thread's kernel stack is THREAD_SIZE bytes; the user registers its syscall saved
 * (struct pt_regs, 21 × 8 bytes) sit at its top, below 16 bytes of padding on kernels built with
 * FRED. User-mode code runs in segment __USER_CS; read() is syscall 0.
 */
const X86_64 = { threadSize: 16384, ptRegs: 168, fredPadding: 16, userCs: 0x33, sysRead: 0 };

/**
 * A read() that began before tracing has no entry from sys_enter_read; at its exit its buffer
 * (`$p`) and descriptor (`$fd`) are still in the registers the syscall saved: the pt_regs at the top
 * of the thread's kernel stack, told apart from what lies there without FRED by the user code
 * segment, and checked to be a read. Leaves `$p` 0 where they cannot be read. A thread has no
 * entry only until its first read since tracing began.
 */
function savedReadArgs(): string[] {
  const x = X86_64;
  const cs = `0x${x.userCs.toString(16)}`;
  // No look at the return value here: a second read of the tracepoint's field makes bpftrace
  // 0.17's code dereference a moved context pointer, which the verifier refuses.
  return [
    `if ($p == 0) {`,
    `  $sp = (uint64)curtask->stack + ${x.threadSize};`,
    `  $sr = (struct pt_regs *)($sp - ${x.ptRegs});`,
    `  if ($sr->cs != ${cs}) { $sr = (struct pt_regs *)($sp - ${x.ptRegs + x.fredPadding}); }`,
    `  if ($sr->cs == ${cs} && $sr->orig_ax == ${x.sysRead}) {`,
    `    $p = $sr->si;`,
    `    $fd = $sr->di;`,
    `  }`,
    `}`,
  ];
}

/** `$c` = the FUSE connection a descriptor serves, read from its file (BTF); unchanged if none. */
function connectionOfFd(fd: string): string[] {
  return [
    `$f = *(curtask->files->fdt->fd + ${fd});`,
    `if ($f->f_inode->i_rdev == ${FUSE_DEV_RDEV}) {`,
    `  $c = (uint64)((struct fuse_dev *)$f->private_data)->fc->dev;`,
    `}`,
  ];
}

/**
 * A program that records which connection each of `pids` replies to on /dev/fuse, as
 * `@served[pid, connection]` (evidence of who serves which mount); it ends after `ms`.
 */
export function composeServedBy(version: Version, pids: readonly number[], ms: number): string {
  return [
    `tracepoint:syscalls:sys_enter_writev /${pids.map((p) => `pid == ${p}`).join(" || ")}/`,
    "{",
    "  $c = (uint64)0;",
    ...indent(connectionOfFd(dialectFor(version).arg("fd"))),
    "  if ($c != 0) { @served[pid, $c] = count(); }",
    "}",
    "",
    `interval:ms:${ms} { exit(); }`,
    "",
  ].join("\n");
}

/** Arguments that make this bpftrace version compile `file` without running it. */
export function dryRunArgs(version: Version, file: string): string[] {
  return dialectFor(version).dryRunArgs(file);
}

/** A daemon function timed with uprobe/uretprobe. */
export interface UprobeTarget {
  plugin: string;
  /** Name in reports, e.g. `cvmfs_lookup`. */
  operation: string;
  /** Binary or library path. */
  binary: string;
  /** Symbol in it. */
  symbol: string;
  /**
   * Also attribute each call to the calls of these other targets (operations) under way on the
   * same thread: their `FUNCTION fetching` rows (CVMFS's downloads inside its callbacks).
   */
  within?: readonly string[];
}

/** A kernel function resolved on this machine, for the kernel source. */
export interface KernelFunction {
  plugin: string;
  /** Name as listed by the plugin (`fuse_lookup`). */
  name: string;
  /** Symbol on this kernel (`fuse_lookup` or `fuse_lookup.isra.0`). */
  symbol: string;
}

/** What to compose. */
export interface ComposeOptions {
  /** bpftrace version the program is for. */
  version: Version;
  /** Selected plugins. */
  plugins: readonly ProbePlugin[];
  /** Every plugin known (built-in and custom), to decide what `other` claims. Default: plugins. */
  known?: readonly ProbePlugin[];
  /** Trace FUSE requests with the fuse tracepoints. Default true. */
  request?: boolean;
  /**
   * Pair a request's send and end by (connection, unique) on the tracepoints (default), or by the
   * `struct fuse_req` pointer on the raw tracepoints (kernels that send unique 0: 6.12–6.17).
   */
  requestKey?: RequestKey;
  /**
   * Split each request at `fuse:fuse_request_sent` (the daemon's receipt, Linux 7.x; both /dev/fuse
   * and io_uring): queue (send → receipt) and served (receipt → end). Needs the request source.
   */
  sentSplit?: boolean;
  /** Kernel callback functions to time (kernel source); empty = none. */
  kernelFunctions?: readonly KernelFunction[];
  /** Kernel function symbols kprobes attach to here, for plugins' own probes (none: no kprobes). */
  kprobeSymbols?: readonly string[];
  /** Daemons for the daemon source (read()/writev() on /dev/fuse); empty = no daemon source. */
  daemons?: readonly DaemonTarget[];
  /**
   * The daemon source reads a read() that began before tracing from the user registers its
   * syscall saved (x86-64 with BTF, see {@link savedReadArgs}); otherwise such a read is counted
   * as missed.
   */
  savedUserRegs?: boolean;
  /** Daemon functions to time (uprobes); filtered to the daemons' pids when there are any. */
  uprobes?: readonly UprobeTarget[];
  /** Daemon functions to count (uprobes, e.g. libfuse's fuse_reply_*): `binary:symbol`. */
  uprobeCounts?: readonly string[];
  /** Processes the uprobes are limited to (the daemons); default: every process. */
  uprobePids?: readonly number[];
  /** Use fentry/fexit rather than kprobe/kretprobe for kernel functions. */
  fentry?: boolean;
  /** Only these connections (mounts). */
  connections?: readonly number[];
  /** Only requests of this process (tgid). */
  pid?: number;
  /** Only requests of processes with this command name. */
  comm?: string;
  /** Stop after this many milliseconds. */
  durationMs?: number;
  /** Log every request slower than this (ns), one line each (request source only). */
  slowNs?: number;
  /** Print a snapshot every this many milliseconds. */
  intervalMs?: number;
  /** Each snapshot also prints the requests in flight (an exporter's gauge; a trace needs none). */
  inFlightSnapshots?: boolean;
  /**
   * Time 1 request in `sample` (a power of two ≥ 2): those whose unique id hashes to 0 modulo
   * `sample` (see {@link sampledCond}), so the end of any other request touches no map. Every
   * request is still counted, at its send.
   */
  sample?: number;
  /**
   * With `sample`: every request is timed until the request rate exceeds this many per second
   * (checked each second), then 1 in `sample` — a one-way switch the program makes itself. The
   * 1 in N are aggregated apart from the start, so a switched trace reports them over its whole
   * length (see {@link UNSAMPLED}).
   */
  autoSampleRate?: number;
  /** End the trace when the thread with this id (the tracer's main thread) exits. */
  watchPid?: number;
  /** Maximum keys per map. Default 4096. */
  mapKeys?: number;
}

/** One timed function or probe of the program, by its index in the maps. */
export interface TableEntry {
  source: "kernel" | "probe" | "uprobe";
  plugin: string;
  operation: string;
}

/** A composed program. */
export interface Composed {
  program: string;
  /** Environment bpftrace needs for it. */
  env: Record<string, string>;
  /** Index → what a function/probe row is. */
  table: TableEntry[];
  /** Opcode → owning plugin name (request source); opcodes absent here are not traced. */
  opcodePlugin: Map<number, string>;
  /** Plugin that takes opcodes no table entry has (`other`), if selected. */
  otherPlugin?: string;
  /** The program counts replies without a recorded request (meaningful only without filters). */
  countsUnmatched: boolean;
  /** Plugin maps by bpftrace name (see {@link ProgramBuilder.map}). */
  pluginMaps?: Map<string, PluginMap>;
  /** Requests are timed 1 in this many (see {@link ComposeOptions.sample}). */
  sample?: number;
  /** …once the request rate exceeds this (see {@link ComposeOptions.autoSampleRate}). */
  autoSampleRate?: number;
}

/**
 * Composes one bpftrace program.
 * @throws {TypeError} when two selected plugins claim one opcode, or nothing is left to trace
 * @example The program for lookup only, bpftrace 0.17
 * ```ts
 * import { compose } from "./compose.ts";
 * import lookup from "../plugins/lookup.ts";
 * const { program } = compose({ version: [0, 17, 0], plugins: [lookup] });
 * ```
 */
export function compose(o: ComposeOptions): Composed {
  const dialect = dialectFor(o.version);
  if ((o.request ?? true) && o.requestKey === "pointer" && !dialect.rawTracepoints) {
    throw new TypeError(
      `bpftrace ${o.version.join(".")} has no raw tracepoints to pair requests by pointer`,
    );
  }
  if (o.sample !== undefined && (o.sample < 1 || (o.sample & (o.sample - 1)) !== 0)) {
    throw new TypeError(`--sample ${o.sample}: a power of two (2, 4, 8, …)`);
  }
  if (o.sample && o.sample > 1 && !(o.request ?? true)) {
    throw new TypeError("--sample needs the request source: its sends count every request");
  }
  if (
    o.autoSampleRate !== undefined &&
    (!(o.sample && o.sample > 1) || !Number.isInteger(o.autoSampleRate) || o.autoSampleRate < 1)
  ) {
    throw new TypeError(
      "--sample auto: a rate of requests per second ≥ 1, and 1 in N to switch to",
    );
  }
  // Ownership among the selected plugins only; `other` takes what no known plugin lists.
  const owners = opcodeOwners(o.plugins);
  const other = o.plugins.find((p) => p.claimsUnowned);
  const listed = new Set([...(o.known ?? []), ...o.plugins].flatMap((p) => p.opcodes ?? []));
  const opcodePlugin = new Map<number, string>();
  for (const [op, p] of owners) opcodePlugin.set(op, p.name);
  // Opcodes an analysis observes are traced too, named after a plugin that lists them.
  for (const p of o.plugins) {
    for (const op of p.observes ?? []) {
      if (opcodePlugin.has(op)) continue;
      const owner = (o.known ?? []).find((k) => k.opcodes?.includes(op));
      opcodePlugin.set(op, owner?.name ?? p.name);
    }
  }
  const tracedOp = (op: number) => opcodePlugin.has(op) || (!!other && !listed.has(op));
  const mapKeys = o.mapKeys ?? 4096;
  const traced = opcodePlugin.size > 0 || !!other;
  const request = (o.request ?? true) && traced;
  const daemons = traced ? o.daemons ?? [] : [];
  const everything = !!other && [...listed].every((op) => opcodePlugin.has(op));
  const contributions = new Contributions(dialect, { request, daemon: daemons.length > 0 }, {
    symbols: symbolsByName(o.kprobeSymbols ?? []),
    filter: (conn) => [...mountConds(o, conn), ...whoConds(o)].join(" && ") || "1",
  });
  for (const p of o.plugins) contributions.run(p);
  const timed = timedEntries(o);
  const ctx: Ctx = {
    o,
    d: dialect,
    used: new Set<string>(),
    ...opcodeFilter(tracedOp, !!other, everything),
    split: request && daemons.length > 0,
    sent: request && !!o.sentSplit && o.requestKey !== "pointer",
    filtered: o.pid !== undefined || !!o.comm || !!o.connections?.length || !everything,
    replySplit: daemons.length > 0 && timed.some((t) => t.entry.source === "uprobe"),
    hooks: contributions,
  };

  const out: string[] = [...dialect.header(mapKeys)];
  // The request's end probe goes after the daemon's: bpftrace types a map by its first assignment
  // in program order, and the end probe reads the daemon's maps.
  const req = request ? requestProbes(ctx) : { send: [], end: [] };
  out.push(...req.send, ...sentProbe(ctx), ...daemonProbes(ctx, daemons), ...req.end);
  const table = timed.map((t) => t.entry);
  out.push(...timedProbes(ctx, timed, table));
  out.push(...contributions.probes);
  if (
    !request && !daemons.length && !timed.length && !o.uprobeCounts?.length &&
    !contributions.probes.length
  ) {
    throw new TypeError("Nothing to trace: no selected plugin has a probe for the chosen sources");
  }
  if (request) out.push(...autoSwitchProbe(ctx));

  const reported = [
    ...REPORTED_MAPS.filter((m) => ctx.used.has(m)),
    ...contributions.maps.keys(),
  ];
  if (o.intervalMs) {
    out.push(
      `interval:ms:${o.intervalMs}`,
      "{",
      ...reported.map((m) => `  print(${m});`),
      ...(o.inFlightSnapshots && request ? [`  print(${MAP.inFlight});`] : []),
      `  printf("${SNAPSHOT_MARK}\\n");`,
      "}",
      "",
    );
  }
  if (o.watchPid !== undefined) {
    out.push(`tracepoint:sched:sched_process_exit /tid == ${o.watchPid}/ { exit(); }`, "");
  }
  if (o.durationMs) out.push(`interval:ms:${o.durationMs} { exit(); }`, "");
  const scratch = [
    ...(timed.length ? ["@fs"] : []),
    ...(ctx.replySplit ? [REPLY_AT] : []),
    ...(daemons.length ? ["@rd", "@dr"] : []),
    ...(ctx.split ? ["@dw"] : []),
    ...(o.slowNs && request ? ["@who", "@whoc"] : []),
    ...(ctx.sent ? ["@snt"] : []),
    ...(ctx.used.has(MAP.switched) ? [MAP.rate] : []),
    ...contributions.temporary,
  ];
  out.push("END", "{", ...scratch.map((m) => `  clear(${m});`), `  printf("${END_MARK}\\n");`, "}");

  return {
    program: out.join("\n") + "\n",
    env: mapKeysEnv(mapKeys),
    table,
    opcodePlugin,
    ...(other ? { otherPlugin: other.name } : {}),
    countsUnmatched: request && !ctx.filtered,
    pluginMaps: contributions.maps,
    ...(o.sample && o.sample > 1 ? { sample: o.sample } : {}),
    ...(o.autoSampleRate ? { autoSampleRate: o.autoSampleRate } : {}),
  };
}

/** A plugin map as the decoder needs it. */
export interface PluginMap {
  plugin: string;
  name: string;
  /** Key fields (a string field is the last and may hold commas). */
  keys: number;
}

/** Statements a plugin adds at a hook, with their opcode condition. */
interface HookStatements {
  plugin: string;
  statements: readonly string[];
  opcodes?: readonly number[];
}

/** The plugins' contributions, written through the builder each plugin is given. */
class Contributions {
  readonly hooks = new Map<Hook, HookStatements[]>();
  readonly probes: string[] = [];
  /** bpftrace map name → what the decoder hands to the plugin's parser. */
  readonly maps = new Map<string, PluginMap>();
  readonly temporary: string[] = [];

  constructor(
    readonly dialect: Dialect,
    readonly sources: Record<HookSource, boolean>,
    readonly here: { symbols: Map<string, string>; filter: (conn: string) => string },
  ) {}

  run(p: ProbePlugin): void {
    if (!p.program) return;
    const d = this.dialect;
    const b: ProgramBuilder = {
      sources: this.sources,
      map: (name, mo = {}) => {
        if (!/^[a-z][a-z0-9_]*$/.test(name)) {
          throw new TypeError(`Plugin "${p.name}": invalid map name "${name}"`);
        }
        const m = pluginMapName(p.name, name);
        if (!this.maps.has(m) && !this.temporary.includes(m)) {
          if (mo.temporary) this.temporary.push(m);
          else this.maps.set(m, { plugin: p.name, name, keys: mo.keys ?? 1 });
        }
        return m;
      },
      at: (hook, statements, ho = {}) => {
        const need: HookSource = hook.startsWith("request.") ? "request" : "daemon";
        if (!this.sources[need]) return;
        const list = this.hooks.get(hook) ?? [];
        list.push({ plugin: p.name, statements, ...(ho.opcodes ? { opcodes: ho.opcodes } : {}) });
        this.hooks.set(hook, list);
      },
      probe: (attach, statements, po = {}) => {
        const filter = po.filter ? ` /${po.filter}/` : "";
        this.probes.push(`${attach}${filter}`, "{", ...indent([...statements]), "}", "");
      },
      arg: (name) => d.arg(name),
      user: (type, addr) => d.user(type, addr),
      userString: (addr, max) => d.userString(addr, max),
      kernel: (type, addr) => d.kernel(type, addr),
      kernelString: (addr, max) => d.kernelString(addr, max),
      kernelProbe: (name) => {
        const sym = this.here.symbols.get(name);
        return sym ? [`kprobe:${sym}`, `kretprobe:${sym}`] : undefined;
      },
      filter: (conn) => this.here.filter(conn),
      local: (name) => `$${p.name}_${name}`,
      log2: (value, into) => log2Bounded(value, into),
    };
    p.program(b);
  }

  /** The statements at `hook`, each plugin's behind its opcode condition. */
  at(hook: Hook): string[] {
    return (this.hooks.get(hook) ?? []).flatMap((h) =>
      h.opcodes?.length
        ? [
          `if (${h.opcodes.map((op) => `$op == ${op}`).join(" || ")}) {`,
          ...indent([...h.statements]),
          "}",
        ]
        : [...h.statements]
    );
  }
}

/** The `--mount` filter on the connection `conn`, as conditions (none: every mount). */
function mountConds(o: ComposeOptions, conn: string): string[] {
  return o.connections?.length
    ? [`(${o.connections.map((c) => `${conn} == ${c}`).join(" || ")})`]
    : [];
}

/** The `--pid` and `--comm` filters on the current process, as conditions. */
function whoConds(o: ComposeOptions): string[] {
  return [
    ...(o.pid !== undefined ? [`pid == ${o.pid}`] : []),
    ...(o.comm ? [`comm == ${JSON.stringify(o.comm)}`] : []),
  ];
}

/** What the probe writers share. */
interface Ctx {
  o: ComposeOptions;
  d: Dialect;
  /** Maps the program assigns (for interval prints). */
  used: Set<string>;
  /** Conditions on `$op` selecting the traced opcodes (empty: all). */
  opConds: string[];
  /** Declaration of `$m`, the opcode mask, when there is a filter. */
  maskVar: string[];
  /** Request and daemon sources together: queue / service / transit split. */
  split: boolean;
  /** Queue / served split at fuse_request_sent. */
  sent: boolean;
  /** Some requests are filtered out: unmatched replies mean nothing. */
  filtered: boolean;
  /**
   * Daemon functions are timed and the daemon's replies seen: each reply's instant is kept per
   * thread (`@rp`), and a function that replied is split at it (see {@link timedProbes}).
   */
  replySplit: boolean;
  /** The plugins' hook statements. */
  hooks: Contributions;
}

/** The instant of each daemon thread's last reply (writev() of a tracked request). */
const REPLY_AT = "@rp";

const NO_REPLY_COND = [...NO_REPLY].map((op) => `$op == ${op}`).join(" || ");
const DATA_REPLY = [15, 28, 44, 5, 22, 23].map((op) => `$op == ${op}`).join(" || ");
/** A start time and an opcode in one value: (ns << 6) | opcode, opcodes ≥ 64 as 0. */
const packed = (t = "nsecs") => `(${t} << 6) | ($op < 64 ? $op : 0)`;

/** Opcode filter: a 64-bit mask of the traced opcodes below 64; 64 and above belong to `other`. */
function opcodeFilter(
  traced: (op: number) => boolean,
  other: boolean,
  everything: boolean,
): { opConds: string[]; maskVar: string[] } {
  let mask = 0n;
  for (let op = 0; op < 64; op++) if (traced(op)) mask |= 1n << BigInt(op);
  if (everything) return { opConds: [], maskVar: [] };
  return {
    opConds: [
      other ? `($op >= 64 || (($m >> ($op & 63)) & 1) == 1)` : `$op < 64 && (($m >> $op) & 1) == 1`,
    ],
    maskVar: [`$m = (uint64)0x${mask.toString(16)};`],
  };
}

/** Where the request probes find their fields: tracepoint arguments or `struct fuse_req`. */
interface RequestFields {
  send: string;
  end: string;
  /** Statements at the top of both probes. */
  prelude: string[];
  conn: string;
  opcode: string;
  /** Request length (at send) and reply length (at end). */
  len: string;
  outLen: string;
  /** What pairs a send with its end. */
  key: string;
  unique: string;
  error: string;
}

function requestFields(ctx: Ctx): RequestFields {
  const a = (name: string) => ctx.d.arg(name);
  if (ctx.o.requestKey === "pointer") {
    return {
      send: "rawtracepoint:fuse_request_send",
      end: "rawtracepoint:fuse_request_end",
      prelude: ["$fr = (struct fuse_req *)arg0;"],
      conn: "$fr->fm->fc->dev",
      opcode: "$fr->in.h.opcode",
      len: "$fr->in.h.len",
      outLen: "$fr->out.h.len",
      key: "arg0",
      unique: "$fr->in.h.unique",
      error: "$fr->out.h.error",
    };
  }
  return {
    send: "tracepoint:fuse:fuse_request_send",
    end: "tracepoint:fuse:fuse_request_end",
    prelude: [],
    conn: a("connection"),
    opcode: a("opcode"),
    len: a("len"),
    outLen: a("len"),
    key: a("unique"),
    unique: a("unique"),
    error: a("error"),
  };
}

/**
 * The request source: fuse_request_send / fuse_request_end paired on (connection, unique), or on
 * (connection, request pointer) where the kernel sends unique 0.
 */
function requestProbes(ctx: Ctx): { send: string[]; end: string[] } {
  const { o, split, filtered } = ctx;
  const f = requestFields(ctx);
  const byUnique = o.requestKey !== "pointer";
  const conds = [...ctx.opConds, ...mountConds(o, "$c"), ...whoConds(o)];
  if (o.sample && o.sample > 1) {
    if (!byUnique) {
      throw new TypeError(
        "--sample needs request ids: this kernel sends unique 0 at fuse_request_send (Linux " +
          "6.12–6.17), so requests are paired by address, which cannot be sampled fairly",
      );
    }
    if (o.slowNs) throw new TypeError("--slow logs every slow request: it cannot be sampled");
    const hooked = (["request.end", "daemon.reply"] as const).filter((h) => ctx.hooks.at(h).length);
    if (hooked.length) {
      throw new TypeError(
        `--sample: plugins that look at replies (${hooked.join(", ")}: negative, requesters, ` +
          "sizes) would see only the sampled ones; trace them without --sample",
      );
    }
  }
  const sampled = sampledCond(o, f.key);
  // --sample auto: paired at send while every request is timed, ended like a full trace (an
  // untimed end finds no entry); its aggregation keys say which part a request belongs to.
  const auto = !!o.autoSampleRate;
  const fixed = auto ? "" : sampled;
  const src = (id: number) => sourceKey(o, id);
  const timedAtSend = timedCond(o, f.key);
  const send = [
    ...f.prelude,
    `$c = (uint64)${f.conn};`,
    `$op = (uint64)${f.opcode};`,
    ...ctx.maskVar,
    ...guarded(conds, [
      // Bytes to the daemon only where a request carries data (WRITE, SETXATTR): a map
      // update per request costs more than the names LOOKUPs carry are worth.
      `if ($op == 16 || $op == 21) { ${MAP.bytesIn}[1, $c, $op] = sum(${f.len} - 40); }`,
      ...(auto ? [`if (${rateCond(f.key)}) { ${MAP.rate}++; }`] : []),
      // Every request is counted once: a timed one where it is timed (stats() at the end) or,
      // still in flight at exit, from the pairing map; one without a reply, or not timed
      // (--sample), here — a count of every request at send would be one more map update each.
      `if (!(${NO_REPLY_COND})${timedAtSend ? ` && ${timedAtSend}` : ""}) {`,
      `  ${MAP.inFlight}[$c, ${f.key}] = ${packed()};`,
      // --slow: the requester as the kernel sees it at the request (it may be gone at the end).
      ...(o.slowNs ? [`  @who[$c, ${f.key}] = pid;`, `  @whoc[$c, ${f.key}] = comm;`] : []),
      // A kernel that sends unique 0 cannot be paired this way: say so, never report nothing.
      ...(byUnique ? [`  if (${f.key} == 0) { ${MAP.unique0} = count(); }`] : []),
      `} else {`,
      `  ${MAP.count}[1, $c, $op] = count();`,
      `}`,
      ...hookPrelude(ctx, "request.send", [`$k = ${f.key};`, `$len = (uint64)${f.len};`]),
    ]),
  ];
  for (
    const m of [MAP.lat, MAP.stats, MAP.err, MAP.count, MAP.bytesIn, MAP.bytesOut]
  ) {
    ctx.used.add(m);
  }
  if (byUnique) ctx.used.add(MAP.unique0);
  if (!filtered) ctx.used.add(MAP.unmatched);
  // One clock read per probe: total = queue + service + transit exactly.
  const end = [
    // Sampled: the end of a request that was not timed reads no clock and touches no map.
    fixed ? `$now = (uint64)0;` : `$now = nsecs;`,
    ...f.prelude,
    `$c = (uint64)${f.conn};`,
    `$k = ${f.key};`,
    ...(auto ? [`$g = ${UNSAMPLED};`, `if (${sampled}) { $g = 0; }`] : []),
    ...(fixed
      ? [
        `$v = (uint64)0;`,
        `if (${sampledCond(o, "$k")}) {`,
        `  $now = nsecs;`,
        `  $v = ${MAP.inFlight}[$c, $k];`,
        `}`,
      ]
      : [`$v = ${MAP.inFlight}[$c, $k];`]),
    ...latencyVars(
      "$op",
      ...(ctx.hooks.at("request.end").length ? ["$err", "$len"] : []),
      ...(ctx.sent ? ["$s"] : []),
      ...(split ? ["$u", "$r", "$w"] : []),
      ...(o.slowNs ? ["$who"] : []),
    ),
    `if ($v != 0) {`,
    `  delete(${MAP.inFlight}[$c, $k]);`,
    `  $op = $v & 63;`,
    `  $d = $now - ($v >> 6);`,
    ...indent(aggregate(`${src(1)}, $c, $op`)),
    `  if (${f.error} != 0) { ${MAP.err}[${src(1)}, $c, $op, -${f.error}] = count(); }`,
    ...(o.slowNs
      ? [
        `  $who = @who[$c, $k];`,
        `  $wc = @whoc[$c, $k];`,
        `  delete(@who[$c, $k]);`,
        `  delete(@whoc[$c, $k]);`,
        `  if ($d >= ${Math.round(o.slowNs)}) {`,
        `    printf("${SLOW_MARK} %d %d %d %d %d %s %s\\n", $c, $op, $d, $who, -${f.error},`,
        `      strftime("%H:%M:%S.%f", $now), $wc);`,
        `  }`,
      ]
      : []),
    // Bytes from the daemon only where a reply carries data (READ, READDIR[PLUS], READLINK,
    // GETXATTR, LISTXATTR): attribute structures are not worth a map update per request.
    `  if (${DATA_REPLY}) { ${MAP.bytesOut}[${src(1)}, $c, $op] = sum(${f.outLen} - 16); }`,
    ...indent(hookPrelude(ctx, "request.end", [
      `$err = (uint64)(-${f.error});`,
      `$len = (uint64)${f.outLen};`,
    ])),
    ...(ctx.sent
      ? indent([
        `$s = @snt[$c, $k];`,
        `if ($s != 0) {`,
        `  delete(@snt[$c, $k]);`,
        `  $d = $s - ($v >> 6);`,
        ...indent(aggregate(`${src(SOURCE_ID.queue)}, $c, $op`)),
        `  $d = $now - $s;`,
        ...indent(aggregate(`${src(SOURCE_ID.served)}, $c, $op`)),
        `}`,
      ])
      : []),
    ...(split
      ? indent([
        `$u = ${f.unique};`,
        // The daemon's read and reply instants, in one entry its reply left.
        `$t = @dw[$c, $u];`,
        `$r = $t.0;`,
        `$w = $t.1;`,
        `if ($r != 0 && $w != 0) {`,
        `  delete(@dw[$c, $u]);`,
        `  $d = ($r >> 6) - ($v >> 6);`,
        ...indent(aggregate(`${src(SOURCE_ID.queue)}, $c, $op`)),
        `  $d = $w - ($r >> 6);`,
        ...indent(aggregate(`${src(SOURCE_ID.daemon)}, $c, $op`)),
        `  $d = $now - $w;`,
        ...indent(aggregate(`${src(SOURCE_ID.transit)}, $c, $op`)),
        `}`,
      ])
      : []),
    ...(filtered ? [] : [
      sampled ? `} else if (${sampledCond(o, "$k")}) {` : `} else {`,
      `  ${MAP.unmatched} = count();`,
    ]),
    `}`,
  ];
  return {
    send: [f.send, "{", ...indent(send), "}", ""],
    end: [f.end, "{", ...indent(end), "}", ""],
  };
}

/** The daemon's receipt of each tracked request (fuse_request_sent), for the queue / served split. */
function sentProbe(ctx: Ctx): string[] {
  if (!ctx.sent) return [];
  // Under --sample auto, whether the request is timed is whether it was paired at send.
  const sampled = ctx.o.autoSampleRate ? "" : sampledCond(ctx.o, "$k");
  return [
    "tracepoint:fuse:fuse_request_sent",
    "{",
    `  $c = (uint64)${ctx.d.arg("connection")};`,
    `  $k = ${ctx.d.arg("unique")};`,
    `  if (${
      sampled ? `${sampled} && ` : ""
    }${MAP.inFlight}[$c, $k] != 0) { @snt[$c, $k] = nsecs; }`,
    "}",
    "",
  ];
}

/**
 * The daemon's side, from syscalls only: read() of a request on /dev/fuse (its 40-byte
 * fuse_in_header gives length, opcode, unique) to writev() of the reply (fuse_out_header).
 * uptr(): the headers are user memory, whatever address space a bpftrace version assumes.
 */
function daemonProbes(ctx: Ctx, daemons: readonly DaemonTarget[]): string[] {
  if (!daemons.length) return [];
  const { split } = ctx;
  const a = (name: string) => ctx.d.arg(name);
  const pids = `/${daemons.map((d) => `pid == ${d.pid}`).join(" || ")}/`;
  const given = daemons.filter((d) => d.connection !== undefined);
  // The connection a descriptor serves, from the kernel (the file's struct fuse_dev), or as given.
  const conn = (fd: string) =>
    given.length
      ? (given.map((d, i) =>
        `${i ? "} else " : ""}if (pid == ${d.pid}) {\n  $c = (uint64)${d.connection};`
      ).join("\n") + "\n}").split("\n")
      : connectionOfFd(fd);
  const selected = mountConds(ctx.o, "$c").map((c) => ` && ${c}`).join("");
  const dsampled = sampledCond(ctx.o, "$u");
  // Under --sample auto a reply looks its read up (the read recorded it or not) and keys its
  // errors by part, like the request's end.
  const auto = !!ctx.o.autoSampleRate;
  const dtimed = timedCond(ctx.o, "$u");
  const src = (id: number) => sourceKey(ctx.o, id);
  for (const m of [MAP.lat, MAP.stats, MAP.err, MAP.count, MAP.daemonMissed]) {
    ctx.used.add(m);
  }
  const requestHooks = ctx.hooks.at("daemon.request").length > 0;
  // The descriptor's file only for what needs the connection: a request without a reply (counted),
  // one timed, or every one when a plugin hooks the daemon's requests. Another file, or a
  // connection not traced, leaves $c == 0.
  const needsConn = requestHooks || !dtimed ? "" : `${NO_REPLY_COND} || ${dtimed}`;
  const walk = [
    // The instant of receipt before the walk's pointer reads.
    `$now = nsecs;`,
    ...conn("$fd"),
    ...(selected ? [`if (!($c != 0${selected})) { $c = 0; }`] : []),
  ];
  const read = [
    `$t = @rd[tid];`,
    `$p = $t.0;`,
    `$fd = $t.1;`,
    `$c = (uint64)0;`,
    `$now = (uint64)0;`,
    `$op = (uint64)0;`,
    `$u = (uint64)0;`,
    ...ctx.maskVar,
    ...(ctx.o.savedUserRegs ? savedReadArgs() : []),
    // The entry stays: the thread's next read overwrites it (an update costs less than a delete
    // and an insert), and it goes when the thread does.
    // A read whose first four bytes are its length looks like a request; the file tells. Length
    // and opcode in one read (little-endian: every platform Deno runs on).
    `if ($p != 0 && ${a("ret")} >= 40) {`,
    `  $h = *uptr((uint64*)$p);`,
    `  if ((int64)($h & 0xffffffff) == ${a("ret")}) {`,
    `    $op = $h >> 32;`,
    `    $u = *uptr((uint64*)($p + 8));`,
    ...indent(indent(guarded(ctx.opConds, [
      ...(needsConn ? [`if (${needsConn}) {`, ...indent(walk), `}`] : walk),
      `if ($c != 0) {`,
      `  if (${NO_REPLY_COND}) {`,
      `    ${MAP.count}[4, $c, $op] = count();`,
      `  } else ${dtimed ? `if (${dtimed}) ` : ""}{`,
      // Keyed by what the reply's writev() shows (process, descriptor, unique): it needs no
      // look at the descriptor's file; the connection travels in the value.
      `    @dr[(uint64)pid, $fd, $u] = (${packed("$now")}, $c);`,
      `  }`,
      ...indent(hookPrelude(ctx, "daemon.request", [])),
      `}`,
    ]))),
    `  }`,
    `} else if ($p == 0 && ${a("ret")} >= 40) {`,
    `  ${MAP.daemonMissed} = count();`,
    `}`,
  ];
  const replyHooks = ctx.hooks.at("daemon.reply").length > 0;
  const key = `(uint64)pid, (uint64)${a("fd")}, $u`;
  const write = [
    // The clock only for a reply that is timed (after the lookup: the same instant to a few
    // hundred ns, and one helper call fewer for each reply of an untimed request).
    `$now = (uint64)0;`,
    `$c = (uint64)0;`,
    `$v = (uint64)0;`,
    // A writev() of another file finds no entry (its "header" is whatever its first bytes are).
    `$h = *uptr((uint64*)${a("vec")});`,
    `$u = *uptr((uint64*)($h + 8));`,
    ...guarded(dsampled && !auto ? [dsampled] : [], [
      `$t = @dr[${key}];`,
      `$v = $t.0;`,
      `$c = $t.1;`,
    ]),
    ...(auto ? [`$g = ${UNSAMPLED};`, `if (${dsampled}) { $g = 0; }`] : []),
    ...latencyVars("$op", "$q", ...(replyHooks ? ["$err", "$body"] : [])),
    `if ($v != 0) {`,
    `  $now = nsecs;`,
    `  delete(@dr[${key}]);`,
    `  $op = $v & 63;`,
    `  $q = (uint64)(-*uptr((int32*)($h + 4)));`,
    `  if ($q != 0) { ${MAP.err}[${src(SOURCE_ID.daemon)}, $c, $op, $q] = count(); }`,
    // The payload follows the header in the first iovec, or is the second.
    ...indent(hookPrelude(ctx, "daemon.reply", [
      `$err = $q;`,
      `$body = (uint64)${a("vec")};`,
      `$body = *uptr((uint64*)($body + 8)) > 16 ? $h + 16 : *uptr((uint64*)($body + 16));`,
    ])),
    // The reply's instant on this thread, for the daemon function it may end (timedProbes).
    ...(ctx.replySplit ? [`  ${REPLY_AT}[tid] = $now;`] : []),
    // With the request source, all parts are aggregated at the request's end, over the same
    // requests; alone, the service time is aggregated here.
    ...(split ? [`  @dw[$c, $u] = ($v, $now);`] : [
      `  $d = $now - ($v >> 6);`,
      ...indent(aggregate("4, $c, $op")),
    ]),
    ...(split && ctx.o.requestKey !== "pointer"
      ? [
        dtimed ? `} else if (${dtimed}) {` : `} else {`,
        // Only here the descriptor's file: a reply to a read that began before tracing is
        // counted from the request (not timed); a write to another file has no connection.
        ...indent(conn(a("fd"))),
        `  if ($c != 0${selected}) {`,
        `    $v = ${MAP.inFlight}[$c, $u];`,
        `    if ($v != 0) { ${MAP.count}[${src(SOURCE_ID.daemon)}, $c, $v & 63] = count(); }`,
        `  }`,
      ]
      : []),
    `}`,
  ];
  return [
    `tracepoint:syscalls:sys_enter_read ${pids}`,
    "{",
    // Every read's buffer and descriptor (one that began before tracing has none at its exit:
    // read from the saved registers there, or counted). Its file is looked at only at the exit,
    // and only where it matters.
    `  @rd[tid] = ((uint64)${a("buf")}, (uint64)${a("fd")});`,
    "}",
    "",
    `tracepoint:syscalls:sys_exit_read ${pids}`,
    "{",
    ...indent(read),
    "}",
    "",
    `tracepoint:syscalls:sys_enter_writev ${pids}`,
    "{",
    ...indent(write),
    "}",
    "",
    `tracepoint:sched:sched_process_exit ${pids}`,
    "{",
    `  delete(@rd[tid]);`,
    "}",
    "",
  ];
}

/** A pair of attach points timed per thread, and the row it feeds. */
interface Timed {
  entry: TableEntry;
  enter: string;
  exit: string;
  /** Operations of other timed entries each call is also attributed to when under way. */
  within?: readonly string[];
}

/** Kernel callbacks, plugin probes and daemon functions to time, in table order. */
function timedEntries(o: ComposeOptions): Timed[] {
  const timed: Timed[] = [];
  const selected = new Set(o.plugins.map((p) => p.name));
  const [kin, kout] = dialectFor(o.version).kernelProbes(!!o.fentry);
  for (const f of o.kernelFunctions ?? []) {
    if (!selected.has(f.plugin)) continue;
    timed.push({
      entry: { source: "kernel", plugin: f.plugin, operation: f.name },
      enter: `${kin}:${f.symbol}`,
      exit: `${kout}:${f.symbol}`,
    });
  }
  for (const p of o.plugins) {
    for (const pr of p.probes ?? []) {
      timed.push({
        entry: { source: "probe", plugin: p.name, operation: pr.operation },
        enter: pr.enter,
        exit: pr.exit,
      });
    }
  }
  for (const u of o.uprobes ?? []) {
    if (u.plugin !== "uprobe" && !selected.has(u.plugin)) continue;
    timed.push({
      entry: { source: "uprobe", plugin: u.plugin, operation: u.operation },
      enter: `uprobe:${u.binary}:${u.symbol}`,
      exit: `uretprobe:${u.binary}:${u.symbol}`,
      ...(u.within?.length ? { within: u.within } : {}),
    });
  }
  return timed;
}

/**
 * Entry/exit probes of the timed entries (keyed by thread and index), and the uprobe counts. With
 * the daemon's replies seen, a daemon function that replied during its call is also split at the
 * reply: the part before it (what the request waited for) and the part after (the reply's write
 * and whatever the function does once the kernel has its answer), as two more rows appended to
 * `table`; the three rows add up.
 */
function timedProbes(ctx: Ctx, timed: Timed[], table: TableEntry[]): string[] {
  const { o } = ctx;
  const out: string[] = [];
  const who = whoConds(o);
  const whoPred = who.length ? ` /${who.join(" && ")}/` : "";
  // Daemon functions: only in the daemons' processes when they are known.
  const daemonPred = o.uprobePids?.length
    ? ` /${o.uprobePids.map((p) => `pid == ${p}`).join(" || ")}/`
    : "";
  timed.forEach((t, i) => {
    for (const m of [MAP.lat, MAP.stats]) ctx.used.add(m);
    const src = SOURCE_ID[t.entry.source];
    const uprobe = t.entry.source === "uprobe";
    const pred = uprobe ? daemonPred : whoPred;
    out.push(`${t.enter}${pred}`, "{", `  @fs[tid, ${i}] = nsecs;`, "}", "");
    let parts: string[] = [];
    if (uprobe && ctx.replySplit && !t.within?.length) {
      const [before, after] = [table.length, table.length + 1];
      table.push(
        { ...t.entry, operation: replyPart(t.entry.operation, 0) },
        { ...t.entry, operation: replyPart(t.entry.operation, 1) },
      );
      parts = [
        `$w = ${REPLY_AT}[tid];`,
        `if ($w > $s) {`,
        `  $d = $w - $s;`,
        ...indent(aggregate(`${src}, 0, ${before}`)),
        `  $d = $now - $w;`,
        ...indent(aggregate(`${src}, 0, ${after}`)),
        `}`,
      ];
    }
    // Attributed to the calls under way on this thread of the functions it lies within.
    for (const [j, outer] of timed.entries()) {
      if (!t.within?.includes(outer.entry.operation) || outer.entry.source !== "uprobe") continue;
      table.push({ ...outer.entry, operation: `${outer.entry.operation} ${FETCHING}` });
      parts.push(
        `if (@fs[tid, ${j}] != 0) {`,
        ...indent(aggregate(`${src}, 0, ${table.length - 1}`)),
        `}`,
      );
    }
    const body = [
      `$s = @fs[tid, ${i}];`,
      ...(parts.length ? latencyVars("$now", "$w") : latencyVars()),
      `if ($s != 0) {`,
      `  delete(@fs[tid, ${i}]);`,
      ...(parts.length ? [`  $now = nsecs;`, `  $d = $now - $s;`] : [`  $d = nsecs - $s;`]),
      ...indent(aggregate(`${src}, 0, ${i}`)),
      ...indent(parts),
      `}`,
    ];
    out.push(t.exit, "{", ...indent(body), "}", "");
  });
  if (o.uprobeCounts?.length) {
    ctx.used.add(MAP.calls);
    out.push(o.uprobeCounts.map((t) => `uprobe:${t}`).join(",\n") + daemonPred, "{");
    out.push(`  ${MAP.calls}[probe] = count();`, "}", "");
  }
  return out;
}

/** A hook's statements, after the variables it offers (none when no plugin uses the hook). */
function hookPrelude(ctx: Ctx, hook: Hook, vars: string[]): string[] {
  const statements = ctx.hooks.at(hook);
  return statements.length ? [...vars, ...statements] : [];
}

/**
 * The condition a request's id must meet to be timed under `--sample` ("" when every request is):
 * the same at send, at the daemon's read and reply, and at the end. Ids count up in steps of 2 (the
 * low bit marks interrupts), so `unique >> 1` is the request's sequence number; a multiplicative
 * hash of it (bits 40 and up of the product with an odd 64-bit constant) picks 1 in N without
 * following the workload's rhythm — a plain `seq & (N − 1)` would time only LOOKUPs of a client
 * that alternates LOOKUP and GETATTR. ALU operations only: no helper call.
 */
function sampledCond(o: ComposeOptions, unique: string): string {
  return o.sample && o.sample > 1
    ? `((((${unique} >> 1) * ${SAMPLE_HASH}) >> 40) & ${o.sample - 1}) == 0`
    : "";
}

/**
 * The condition for pairing a request at send and at the daemon's read: the sampled ones, and
 * under `--sample auto` every request until the switch ("" when every request is timed).
 */
function timedCond(o: ComposeOptions, unique: string): string {
  const sampled = sampledCond(o, unique);
  return sampled && o.autoSampleRate ? `(${sampled} || ${MAP.switched} == 0)` : sampled;
}

/**
 * A source id in an aggregation key: under `--sample auto`, plus `$g` ({@link UNSAMPLED} for the
 * requests outside the 1 in N, which the decoder drops once the program switched).
 */
function sourceKey(o: ComposeOptions, id: number): string {
  return o.autoSampleRate ? `${id} + $g` : `${id}`;
}

/** 1 request in 64, by other bits of the same hash as {@link sampledCond}: the rate's counter. */
function rateCond(unique: string): string {
  return `((((${unique} >> 1) * ${SAMPLE_HASH}) >> 58) == 0)`;
}

/**
 * `--sample auto`: once a second, the rate counted 1 in 64; above the threshold the program
 * switches to 1 in N for good, and keeps the rate and the time of the switch for the report.
 */
function autoSwitchProbe(ctx: Ctx): string[] {
  const rate = ctx.o.autoSampleRate;
  if (!rate) return [];
  for (const m of [MAP.switched, MAP.switchedAt]) ctx.used.add(m);
  return [
    "interval:s:1",
    "{",
    `  if (${MAP.switched} == 0 && ${MAP.rate} > ${Math.floor(rate / 64)}) {`,
    `    ${MAP.switched} = ${MAP.rate} * 64;`,
    `    ${MAP.switchedAt} = elapsed / 1000000;`,
    "  }",
    `  ${MAP.rate} = 0;`,
    "}",
    "",
  ];
}

/** The multiplier of {@link sampledCond} (Knuth's MMIX LCG constant: odd, below 2^63). */
const SAMPLE_HASH = "0x5851F42D4C957F2D";

/** `into` = floor(log2(value)), 0 for 0 and 1: six comparisons, no loop. */
function log2Bounded(value: string, into: string): string[] {
  const v = `${into}_v`;
  return [
    `${v} = (uint64)(${value});`,
    `${into} = (uint64)0;`,
    `if (${v} >= 4294967296) { ${into} += 32; ${v} = ${v} >> 32; }`,
    `if (${v} >= 65536) { ${into} += 16; ${v} = ${v} >> 16; }`,
    `if (${v} >= 256) { ${into} += 8; ${v} = ${v} >> 8; }`,
    `if (${v} >= 16) { ${into} += 4; ${v} = ${v} >> 4; }`,
    `if (${v} >= 4) { ${into} += 2; ${v} = ${v} >> 2; }`,
    `if (${v} >= 2) { ${into} += 1; }`,
  ];
}

function indent(lines: string[]): string[] {
  return lines.map((l) => `  ${l}`);
}

/** Wraps `body` in `if (conds) { … }` when there are conditions. */
function guarded(conds: string[], body: string[]): string[] {
  return conds.length ? [`if (${conds.join(" && ")}) {`, ...indent(body), `}`] : body;
}

/** Declares the locals a timing probe uses at its top (bpftrace ≥ 0.22 scopes them per block). */
function latencyVars(...extra: string[]): string[] {
  return ["$d", "$x", "$e", "$b", ...extra].map((n) => `${n} = (uint64)0;`);
}

/** Aggregates latency `$d` under `key`: bucket index by a bounded log2, then the maps. */
function aggregate(key: string): string[] {
  const s = SUB_BITS;
  return [
    `$x = $d;`,
    `$e = 0;`,
    `if ($x >= 4294967296) { $e += 32; $x = $x >> 32; }`,
    `if ($x >= 65536) { $e += 16; $x = $x >> 16; }`,
    `if ($x >= 256) { $e += 8; $x = $x >> 8; }`,
    `if ($x >= 16) { $e += 4; $x = $x >> 4; }`,
    `if ($x >= 4) { $e += 2; $x = $x >> 2; }`,
    `if ($x >= 2) { $e += 1; }`,
    `$b = $d;`,
    `if ($e >= ${s}) { $b = (($e - ${s - 1}) << ${s}) + (($d >> ($e - ${s})) & ${(1 << s) - 1}); }`,
    `${MAP.lat}[${key}, $b] = count();`,
    `${MAP.stats}[${key}] = stats($d);`,
  ];
}

/** What to count with {@link composeCount}. */
export interface CountOptions {
  version: Version;
  /** Kernel function symbols to count (kprobes). */
  functions: readonly string[];
  durationMs?: number;
  watchPid?: number;
}

/**
 * The original fuse_calls_count: one kprobe per function, calls counted in the kernel by probe
 * name. No cap on the number of functions (the original's map held 256).
 * @throws {TypeError} when there is no function to count
 */
export function composeCount(o: CountOptions): Composed {
  if (!o.functions.length) throw new TypeError("No kernel function matches");
  const keys = Math.max(4096, o.functions.length * 2);
  // 0.24+ fails the whole program when one of hundreds of probes does not attach: the header
  // turns that into a warning.
  const out: string[] = [...dialectFor(o.version).header(keys)];
  out.push(
    o.functions.map((f) => `kprobe:${f}`).join(",\n"),
    "{",
    `  ${MAP.calls}[probe] = count();`,
    "}",
    "",
  );
  if (o.watchPid !== undefined) {
    out.push(`tracepoint:sched:sched_process_exit /tid == ${o.watchPid}/ { exit(); }`, "");
  }
  if (o.durationMs) out.push(`interval:ms:${o.durationMs} { exit(); }`, "");
  out.push(`END`, "{", `  printf("${END_MARK}\\n");`, "}");
  return {
    program: out.join("\n") + "\n",
    env: mapKeysEnv(keys),
    table: [],
    opcodePlugin: new Map(),
    countsUnmatched: false,
  };
}

/**
 * The probe-plugin interface. A timing plugin is plain data: the FUSE opcodes it owns, the kernel
 * callback functions and daemon-side symbols that serve them, and optional extra timed probes. An
 * analysis plugin also brings its own bpftrace snippets — written through a {@link ProgramBuilder}
 * the composer provides for the installed bpftrace version, into the built-in probes' hook points
 * or probes of its own — and a parser that turns its maps into a typed section of the `Report`,
 * with a renderer for the terminal. The composer (compose.ts) turns the selected plugins into one
 * bpftrace program; the decoder turns its output back into rows and sections named after them.
 * @module
 */
import { pathToFileURL } from "node:url";
import type { UserType } from "./dialect.ts";
import { UsageError } from "../util/errors.ts";

export type { UserType };

/** A pair of attach points timed per thread: latency from `enter` to `exit`. */
export interface TimedProbe {
  /** Name of the operation in reports, e.g. `statx`. */
  readonly operation: string;
  /** Attach point where the timing starts, e.g. `tracepoint:syscalls:sys_enter_statx`. */
  readonly enter: string;
  /** Attach point where it ends, e.g. `tracepoint:syscalls:sys_exit_statx`. */
  readonly exit: string;
}

/**
 * Where plugin statements run inside the built-in probes. Variables they may read:
 *
 * - `request.send` (fuse_request_send, every request): `$c` connection, `$op` opcode, `$k` the key
 *   pairing send and end (valid with `$c` until the end), `$len` request length with its 40-byte
 *   header; `pid`, `comm`, `cgroup` are the requester's.
 * - `request.end` (fuse_request_end of a request whose send was recorded): `$c`, `$op`, `$k`,
 *   `$d` latency in ns, `$err` errno (0: success), `$len` reply length with its 16-byte header.
 * - `daemon.request` (a daemon's read() of a request on /dev/fuse): `$c`, `$op`, `$u` unique, `$p`
 *   the user address of the request — its fuse_in_header (len +0, opcode +4, unique +8, nodeid
 *   +16, uid +24, gid +28, requester pid +32), then its arguments at `$p + 40`.
 * - `daemon.reply` (the daemon's writev() of that request's reply): `$c`, `$op`, `$u`, `$err`,
 *   `$body` the user address of the reply's payload (after its 16-byte fuse_out_header).
 *
 * Own variables: name them with {@link ProgramBuilder.local}.
 */
export type Hook = "request.send" | "request.end" | "daemon.request" | "daemon.reply";

/** The sources whose probes carry hooks. */
export type HookSource = "request" | "daemon";

/** What a plugin may ask of the kernel before its program is written. */
export interface KernelFacts {
  /** kprobes attach to this kernel function here, with BTF (see ProgramBuilder.kernelProbe). */
  kernelFunction(name: string): boolean;
}

/** The sources a plugin needs on a kernel. */
export function pluginSources(p: ProbePlugin, k: KernelFacts): readonly HookSource[] {
  return typeof p.sources === "function" ? p.sources(k) : p.sources ?? [];
}

/** What a plugin may write into the one program; every method spells for the bpftrace version. */
export interface ProgramBuilder {
  /** The sources in this program (a plugin adapts to them, or its `sources` ask for them). */
  readonly sources: Readonly<Record<HookSource, boolean>>;
  /**
   * The plugin's map `name` (its bpftrace spelling). Its entries reach {@link ProbePlugin.parse}
   * under `name`, keys split into `keys` fields — a string field must be the last. `temporary`
   * maps (per-request state) are neither printed nor decoded, and cleared at the end.
   */
  map(name: string, o?: { keys?: number; temporary?: boolean }): string;
  /** Runs `statements` at a hook of the built-in probes, for these opcodes only if given. */
  at(hook: Hook, statements: readonly string[], o?: { opcodes?: readonly number[] }): void;
  /** A probe of the plugin's own, with an optional filter (a condition, without slashes). */
  probe(attach: string, statements: readonly string[], o?: { filter?: string }): void;
  /** A tracepoint argument, for probes of the plugin's own. */
  arg(name: string): string;
  /** A value read from user memory at the address expression `addr`. */
  user(type: UserType, addr: string): string;
  /** A value read from kernel memory at `addr`. */
  kernel(type: UserType, addr: string): string;
  /** A string of at most `max` bytes read from kernel memory at `addr`. */
  kernelString(addr: string, max: number): string;
  /**
   * Entry and return attach points (kprobe, kretprobe) of a kernel function on this kernel, its
   * clone suffix resolved; undefined where it is missing, kprobes do not attach or there is no
   * BTF (casts to kernel structs need it). In them, `arg0`… are its arguments, `retval` its
   * result.
   */
  kernelProbe(name: string): readonly [string, string] | undefined;
  /**
   * The trace's filters (`--mount`, `--pid`, `--comm`) as a condition on the connection `conn`
   * and the current process, for probes of the plugin's own (`1` when there are none).
   */
  filter(conn: string): string;
  /** A string of at most `max` bytes read from user memory at `addr`. */
  userString(addr: string, max: number): string;
  /** A variable of the plugin's own (`$plugin_name`). */
  local(name: string): string;
  /** Statements setting `into` to floor(log2(value)) (0 for 0 and 1), bounded, without loops. */
  log2(value: string, into: string): string[];
}

/** One entry of a plugin map: its key fields (as printed) and its value. */
export interface MapEntry {
  key: string[];
  value: number;
}

/** What a parser is given besides the maps. */
export interface ParseContext {
  /** Mount point of a connection number. */
  mountOf(connection: number): string;
  /** The most entries a section should keep (`--top`). */
  top: number;
}

/** What a renderer is given besides the section. */
export interface RenderOptions {
  /** The most entries to show (`--top`). */
  top: number;
}

/** A table of a plugin's section: the terminal and the HTML report draw it. */
export interface SectionTable {
  /** One line above the table (what it counts, in all). */
  title: string;
  head: string[];
  rows: string[][];
  /** One line below it (`top 20 of 311`), when something was left out. */
  note?: string;
}

/** A metric a plugin's section exports (`fusetrace serve`): a counter or a gauge, by labels. */
export interface SectionMetric {
  /** `fusetrace_…`; a counter's name ends in `_total`. */
  name: string;
  help: string;
  type: "counter" | "gauge";
  samples: { labels: Record<string, string>; value: number }[];
}

/** A probe plugin: one FUSE callback group, or an analysis. */
export interface ProbePlugin<S = unknown> {
  /** Identity, lower case: `lookup`, `read`, … */
  readonly name: string;
  /** One line for `--list-plugins`. */
  readonly description: string;
  /** FUSE opcodes this plugin owns (request source). */
  readonly opcodes?: readonly number[];
  /** Claims every opcode no other selected-or-builtin plugin owns (the `other` plugin). */
  readonly claimsUnowned?: boolean;
  /** Kernel callback functions across kernel versions (kernel source); missing ones are skipped. */
  readonly kernelFunctions?: readonly string[];
  /** Daemon-side callback names (CVMFS's `cvmfs_*` callbacks) for uprobe presets. */
  readonly daemonSymbols?: readonly string[];
  /** Extra timed probes this plugin contributes (custom plugins). */
  readonly probes?: readonly TimedProbe[];
  /** Opcodes the plugin's hooks need traced even when no selected plugin owns them. */
  readonly observes?: readonly number[];
  /**
   * Sources its hooks need, or a function of the kernel saying which (a plugin that can do with
   * kernel functions where kprobes attach); `auto` adds them, an explicit `--source` without
   * them is refused.
   */
  readonly sources?: readonly HookSource[] | ((k: KernelFacts) => readonly HookSource[]);
  /** Selected when no plugin is named (default true; analyses that cost more say false). */
  readonly byDefault?: boolean;
  /** Contributes probes, hook statements and maps to the program. */
  program?(b: ProgramBuilder): void;
  /** Turns the plugin's maps into its section of the report (JSON-serialisable). */
  parse?(maps: ReadonlyMap<string, readonly MapEntry[]>, ctx: ParseContext): S;
  /** The section as tables (drawn as text where there is no `render`, and in HTML). */
  tables?(section: S, o: RenderOptions): SectionTable[];
  /** Renders the section for the terminal (default: its `tables`). */
  render?(section: S, o: RenderOptions): string;
  /**
   * The section's counters and gauges for an exporter. Counters must be cumulative over the
   * trace: the exporter adds those of a restarted trace to the earlier ones.
   */
  metrics?(section: S): SectionMetric[];
}

const NAME = /^[a-z][a-z0-9_]*$/;
const ATTACH = /^[a-z]+:[A-Za-z0-9_:.*\/+-]+$/;

/**
 * Checks a plugin and returns it unchanged, typed.
 * @throws {TypeError} on a bad name, an empty plugin or a malformed attach point
 * @example A plugin of one opcode
 * ```ts
 * import { definePlugin } from "./plugin.ts";
 * const lookup = definePlugin({ name: "lookup", description: "LOOKUP", opcodes: [1] });
 * ```
 */
export function definePlugin<S = unknown>(plugin: ProbePlugin<S>): ProbePlugin<S> {
  if (!NAME.test(plugin.name)) {
    throw new TypeError(`Invalid plugin name "${plugin.name}": use lower case letters, digits, _`);
  }
  const empty = !plugin.opcodes?.length && !plugin.claimsUnowned && !plugin.probes?.length &&
    !plugin.kernelFunctions?.length && !plugin.program;
  if (empty) throw new TypeError(`Plugin "${plugin.name}" traces nothing`);
  for (const p of plugin.probes ?? []) {
    for (const a of [p.enter, p.exit]) {
      if (!ATTACH.test(a)) {
        throw new TypeError(`Plugin "${plugin.name}": invalid attach point "${a}"`);
      }
    }
    if (!NAME.test(p.operation)) {
      throw new TypeError(`Plugin "${plugin.name}": invalid operation name "${p.operation}"`);
    }
  }
  for (const op of [...plugin.opcodes ?? [], ...plugin.observes ?? []]) {
    if (!Number.isInteger(op) || op < 1 || op > 4096) {
      throw new TypeError(`Plugin "${plugin.name}": invalid opcode ${op}`);
    }
  }
  for (const s of typeof plugin.sources === "function" ? [] : plugin.sources ?? []) {
    if (s !== "request" && s !== "daemon") {
      throw new TypeError(`Plugin "${plugin.name}": unknown source "${s}" (request, daemon)`);
    }
  }
  return plugin;
}

/** The name that selects every plugin on by default (the timing plugins): `default,negative`. */
export const DEFAULT_PLUGINS = "default";

/**
 * The plugins a trace can select from, by name: the engine takes one and knows no plugin itself.
 * @example The built-ins and one of a script's own
 * ```ts ignore
 * import { builtinRegistry } from "../plugins/mod.ts";
 * const registry = builtinRegistry().add(myPlugin);
 * ```
 */
export class PluginRegistry {
  #plugins = new Map<string, ProbePlugin>();
  #origin = new Map<string, string>();

  constructor(plugins: Iterable<ProbePlugin> = [], origin = "built-in") {
    for (const p of plugins) this.add(p, origin);
  }

  /**
   * Adds a plugin; `origin` says where it came from (`built-in`, a file).
   * @throws {TypeError} when another plugin has its name
   */
  add(plugin: ProbePlugin, origin = "script"): this {
    if (plugin.name === DEFAULT_PLUGINS) {
      throw new TypeError(
        `Plugin "${plugin.name}" (${origin}): "${DEFAULT_PLUGINS}" names the default plugins`,
      );
    }
    const prev = this.#plugins.get(plugin.name);
    if (prev && prev !== plugin) {
      throw new TypeError(
        `Plugin "${plugin.name}" (${origin}) has the name of one already known ` +
          `(${this.#origin.get(plugin.name)})`,
      );
    }
    definePlugin(plugin);
    this.#plugins.set(plugin.name, plugin);
    this.#origin.set(plugin.name, origin);
    return this;
  }

  /** The plugin of this name. */
  get(name: string): ProbePlugin | undefined {
    return this.#plugins.get(name);
  }

  /** Where a plugin came from. */
  origin(name: string): string | undefined {
    return this.#origin.get(name);
  }

  /** Every plugin, in the order added. */
  all(): ProbePlugin[] {
    return [...this.#plugins.values()];
  }

  /**
   * Plugins by name or object, in the order given; none: every plugin selected by default.
   * @throws {UsageError} naming the valid plugins when a name is unknown
   */
  select(names?: readonly (string | ProbePlugin)[]): ProbePlugin[] {
    const defaults = () => this.all().filter((p) => p.byDefault !== false);
    if (!names?.length) return defaults();
    const out: ProbePlugin[] = [];
    for (const n of names) {
      if (n === DEFAULT_PLUGINS) {
        for (const p of defaults()) if (!out.includes(p)) out.push(p);
        continue;
      }
      const p = typeof n === "string" ? this.#plugins.get(n) : n;
      if (!p) {
        throw new UsageError(
          `Unknown plugin "${n}"; valid plugins: ${
            [...this.#plugins.keys()].join(", ")
          } (and ${DEFAULT_PLUGINS}: every timing plugin)`,
        );
      }
      if (!out.includes(p)) out.push(p);
    }
    return out;
  }
}

/**
 * The owner of every opcode among `plugins`: explicit owners first, then the plugin that claims
 * the rest. Two plugins owning one opcode is an error.
 * @throws {TypeError} when two plugins claim the same opcode
 */
export function opcodeOwners(plugins: readonly ProbePlugin[]): Map<number, ProbePlugin> {
  const owners = new Map<number, ProbePlugin>();
  for (const p of plugins) {
    for (const op of p.opcodes ?? []) {
      const prev = owners.get(op);
      if (prev && prev !== p) {
        throw new TypeError(`Plugins "${prev.name}" and "${p.name}" both claim opcode ${op}`);
      }
      owners.set(op, p);
    }
  }
  return owners;
}

/**
 * The plugins a file exports (its default export and named exports that are plugins), checked.
 * @throws {UsageError} naming the file when it cannot be imported or exports no valid plugin
 */
export async function loadPluginFile(file: string): Promise<ProbePlugin[]> {
  try {
    if (!Deno.statSync(file).isFile) throw new UsageError(`--plugin-file ${file}: not a file`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`--plugin-file ${file}: no such file`);
  }
  let mod: Record<string, unknown>;
  try {
    mod = await import(pathToFileURL(Deno.realPathSync(file)).href);
  } catch (e) {
    const why = (e as Error).message.split("\n")[0];
    throw new UsageError(`--plugin-file ${file}: cannot load it: ${why}`);
  }
  const found = new Set<ProbePlugin>();
  for (const v of Object.values(mod)) {
    if (typeof v !== "object" || v === null || typeof (v as ProbePlugin).name !== "string") {
      continue;
    }
    if (typeof (v as ProbePlugin).description !== "string") continue;
    try {
      found.add(definePlugin(v as ProbePlugin));
    } catch (e) {
      throw new UsageError(`--plugin-file ${file}: ${(e as Error).message}`);
    }
  }
  if (!found.size) {
    throw new UsageError(
      `--plugin-file ${file}: exports no plugin (an object with name, description and what it traces)`,
    );
  }
  return [...found];
}

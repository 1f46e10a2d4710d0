/**
 * The probe-plugin interface. A plugin is plain data: the FUSE opcodes it owns, the kernel callback
 * functions and daemon-side symbols that serve them, and optional extra timed probes. The composer
 * (compose.ts) turns the selected plugins into one bpftrace program; the decoder turns its output
 * back into rows named after the plugin.
 * @module
 */

/** A pair of attach points timed per thread: latency from `enter` to `exit`. */
export interface TimedProbe {
  /** Name of the operation in reports, e.g. `statx`. */
  readonly operation: string;
  /** Attach point where the timing starts, e.g. `tracepoint:syscalls:sys_enter_statx`. */
  readonly enter: string;
  /** Attach point where it ends, e.g. `tracepoint:syscalls:sys_exit_statx`. */
  readonly exit: string;
}

/** A probe plugin: one FUSE callback group. */
export interface ProbePlugin {
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
export function definePlugin<P extends ProbePlugin>(plugin: P): P {
  if (!NAME.test(plugin.name)) {
    throw new TypeError(`Invalid plugin name "${plugin.name}": use lower case letters, digits, _`);
  }
  const empty = !plugin.opcodes?.length && !plugin.claimsUnowned && !plugin.probes?.length &&
    !plugin.kernelFunctions?.length;
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
  return plugin;
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

/**
 * The bpftrace dialect: the ONE place that knows how bpftrace versions differ. The composer and the
 * plugins' builder spell every version-dependent construct through a `Dialect`; nothing else in
 * fusetrace compares bpftrace versions.
 *
 * Differences handled (0.16 … 0.27): `args->x` became `args.x` (0.19); `config = { … }` blocks
 * (0.20) with `missing_probes` (0.21; 0.24 fails a program on one missing probe by default);
 * `kfunc`/`kretfunc` renamed `fentry`/`fexit` (0.20); raw tracepoints with BTF arguments (0.18);
 * `--dry-run` replaced `-d` (0.22); 0.27's `--info` no longer says whether fentry works.
 * @module
 */

/** A version as [major, minor, patch] (bpftrace's or the kernel's). */
export type Version = readonly [number, number, number];

/** Parses `bpftrace v0.17.0` (or `0.20.1-2`, `6.12.117-amd64`) into a version. */
export function parseVersion(text: string): Version | undefined {
  const m = /v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

/** a ≥ b */
export function versionAtLeast(a: Version, b: Version): boolean {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return true;
}

/** The oldest bpftrace fusetrace composes for. */
export const MIN_BPFTRACE: Version = [0, 16, 0];

/** Types of user memory a plugin may read. */
export type UserType = "u8" | "u16" | "u32" | "u64" | "s32" | "s64";

const C_TYPE: Record<UserType, string> = {
  u8: "uint8",
  u16: "uint16",
  u32: "uint32",
  u64: "uint64",
  s32: "int32",
  s64: "int64",
};

/** How one bpftrace version spells what fusetrace writes. */
export interface Dialect {
  readonly version: Version;
  /** A tracepoint argument: `args->name` or `args.name`. */
  arg(name: string): string;
  /** Lines opening a program: the map size and, where bpftrace has it, missing probes as warnings. */
  header(mapKeys: number): string[];
  /** Entry and exit probe types for kernel functions (fentry where asked and spelled so). */
  kernelProbes(fentry: boolean): readonly [string, string];
  /** A value of type `type` read from user memory at the address expression `addr`. */
  user(type: UserType, addr: string): string;
  /** A NUL-terminated string of at most `max` bytes read from user memory at `addr`. */
  userString(addr: string, max: number): string;
  /** A value of type `type` read from kernel memory at `addr`. */
  kernel(type: UserType, addr: string): string;
  /** A string of at most `max` bytes read from kernel memory at `addr`. */
  kernelString(addr: string, max: number): string;
  /** bpftrace arguments that compile `file` without running it. */
  dryRunArgs(file: string): string[];
  /** This bpftrace attaches raw tracepoints and types their arguments through BTF. */
  readonly rawTracepoints: boolean;
  /** fentry may work with this bpftrace (BTF permitting): 0.27 says so only by attaching one. */
  readonly fentrySpelled: boolean;
}

/** The dialect of a bpftrace version. */
export function dialectFor(version: Version): Dialect {
  const at = (v: Version) => versionAtLeast(version, v);
  const dot = at([0, 19, 0]);
  const config = at([0, 20, 0]);
  const missing = at([0, 21, 0]);
  return {
    version,
    arg: (name) => `${dot ? "args." : "args->"}${name}`,
    header: (keys) =>
      config
        ? [`config = { max_map_keys = ${keys}${missing ? '; missing_probes = "warn"' : ""} }`, ""]
        : [],
    kernelProbes: (fentry) =>
      fentry ? (config ? ["fentry", "fexit"] : ["kfunc", "kretfunc"]) : ["kprobe", "kretprobe"],
    user: (type, addr) => `*uptr((${C_TYPE[type]} *)(${addr}))`,
    userString: (addr, max) => `str(uptr((int8 *)(${addr})), ${max})`,
    kernel: (type, addr) => `*((${C_TYPE[type]} *)(${addr}))`,
    kernelString: (addr, max) => `str((int8 *)(${addr}), ${max})`,
    dryRunArgs: (file) => [at([0, 22, 0]) ? "--dry-run" : "-d", file],
    rawTracepoints: at([0, 18, 0]),
    fentrySpelled: config,
  };
}

/** Environment bpftrace reads the map size from (older versions), for `keys` keys per map. */
export function mapKeysEnv(keys: number): Record<string, string> {
  return { BPFTRACE_MAP_KEYS_MAX: String(keys), BPFTRACE_MAX_MAP_KEYS: String(keys) };
}
